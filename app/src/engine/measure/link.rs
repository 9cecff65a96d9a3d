//! A network between the two parties: what a measurement on loopback would
//! take over a real link. Loopback already paid the computation and a
//! near-free transfer; a link adds a round-trip time per round (message)
//! and the transfer of each party's bytes at its bandwidth (full duplex:
//! both parties send at once, so the busier one's bytes count).

use super::Report;

/// A link between the parties.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Link {
    pub name: &'static str,
    /// Round-trip time, seconds.
    pub rtt_seconds: f64,
    /// Bandwidth each way, bytes per second.
    pub bytes_per_second: f64,
}

/// A local network: 1 Gbit/s, 0.5 ms round trip.
pub const LAN: Link = Link {
    name: "LAN (1 Gbit/s, 0.5 ms RTT)",
    rtt_seconds: 0.5e-3,
    bytes_per_second: 125e6,
};

/// A wide-area network: 100 Mbit/s, 40 ms round trip.
pub const WAN: Link = Link {
    name: "WAN (100 Mbit/s, 40 ms RTT)",
    rtt_seconds: 40e-3,
    bytes_per_second: 12.5e6,
};

impl Link {
    /// The measured online time over this link: loopback time, plus a round
    /// trip per round or message (an upper bound where the framework counts
    /// messages, some of which overlap), plus each party's share of the
    /// bytes at the link's bandwidth.
    pub fn online_seconds(&self, report: &Report) -> f64 {
        let per_party = report.bytes as f64 / 2.0;
        report.online_seconds
            + report.rounds as f64 * self.rtt_seconds
            + per_party / self.bytes_per_second
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_adds_round_trips_and_transfer_to_loopback_time() {
        let mut report: Report = serde_json::from_value(serde_json::json!({
            "framework": "crypten", "version": "0", "protocol": "p", "security": "s",
            "batch": 1, "repeat": 1, "online_seconds": 0.25, "setup_seconds": 1.0,
            "bytes": 250_000_000u64, "rounds": 100, "rounds_named": "rounds",
            "max_abs_diff": 0.0, "top1_agreement": 1.0,
        }))
        .unwrap();
        // 0.25 s + 100 x 40 ms + 125 MB at 12.5 MB/s.
        assert!((WAN.online_seconds(&report) - (0.25 + 4.0 + 10.0)).abs() < 1e-9);
        assert!((LAN.online_seconds(&report) - (0.25 + 0.05 + 1.0)).abs() < 1e-9);
        report.rounds = 0;
        report.bytes = 0;
        assert_eq!(WAN.online_seconds(&report), 0.25);
    }
}
