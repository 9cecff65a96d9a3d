//! What the Frontier panel's latency plot puts on its x axis: the DELPHI
//! estimate, or a figure a real framework measured (online seconds on
//! loopback, over a LAN or WAN model of the link, or bytes sent).

use super::measurements::{framework_name, frameworks};
use crate::engine::measure::link::{LAN, Link, WAN};
use crate::engine::measure::{Framework, Report};
use crate::format::compact;
use serde::{Deserialize, Deserializer, Serialize};

/// The latency plot's x axis.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub enum LatencyAxis {
    /// The DELPHI latency model's estimate (every network has one).
    #[default]
    Estimate,
    /// A figure of each network's latest measurement in `framework`.
    Measured {
        #[serde(deserialize_with = "framework")]
        framework: Framework,
        figure: Figure,
    },
}

/// A figure of a measurement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Figure {
    /// The online time as measured, both parties on one machine.
    Loopback,
    /// The online time over the LAN model.
    Lan,
    /// The online time over the WAN model.
    Wan,
    /// Bytes sent by both parties in the online forward.
    Bytes,
}

impl Figure {
    pub const ALL: [Figure; 4] = [Figure::Loopback, Figure::Lan, Figure::Wan, Figure::Bytes];

    fn link(self) -> Option<Link> {
        match self {
            Figure::Lan => Some(LAN),
            Figure::Wan => Some(WAN),
            Figure::Loopback | Figure::Bytes => None,
        }
    }

    /// This figure of `report`: seconds, or bytes.
    pub fn of(self, report: &Report) -> f64 {
        match (self, self.link()) {
            (Figure::Bytes, _) => report.bytes as f64,
            (_, Some(link)) => link.online_seconds(report),
            (_, None) => report.online_seconds,
        }
    }

    pub fn is_seconds(self) -> bool {
        self != Figure::Bytes
    }

    /// "online s on loopback", "online s, modelled over LAN (1 Gbit/s,
    /// 0.5 ms RTT)".
    fn name(self) -> String {
        match (self, self.link()) {
            (Figure::Bytes, _) => "bytes sent".into(),
            (_, Some(link)) => format!("online s, modelled over {}", link.name),
            (_, None) => "online s on loopback".into(),
        }
    }
}

impl LatencyAxis {
    /// Every choice, in the order offered.
    pub fn all() -> Vec<LatencyAxis> {
        let measured = frameworks().iter().flat_map(|&framework| {
            Figure::ALL.map(|figure| LatencyAxis::Measured { framework, figure })
        });
        std::iter::once(LatencyAxis::Estimate)
            .chain(measured)
            .collect()
    }

    /// The choice as offered: "DELPHI estimate", "measured in Cheetah:
    /// online s on loopback".
    pub fn label(self) -> String {
        match self {
            LatencyAxis::Estimate => "DELPHI estimate".into(),
            LatencyAxis::Measured { framework, figure } => {
                format!(
                    "measured in {}: {}",
                    framework_name(framework),
                    figure.name()
                )
            }
        }
    }

    /// The x axis' title.
    pub fn axis_title(self) -> String {
        match self {
            LatencyAxis::Estimate => "estimated online latency (s, DELPHI model)".into(),
            LatencyAxis::Measured { framework, figure } => match (figure, figure.link()) {
                (Figure::Bytes, _) => {
                    format!(
                        "bytes sent per online forward, measured in {}",
                        framework_name(framework)
                    )
                }
                (_, Some(link)) => format!(
                    "online latency (s) over {}: measured in {} on loopback, plus the link's \
                     round trips and transfer",
                    link.name,
                    framework_name(framework),
                ),
                (_, None) => format!(
                    "online latency (s) measured in {} on loopback",
                    framework_name(framework)
                ),
            },
        }
    }

    /// The framework measured, when the axis shows measurements.
    pub fn framework(self) -> Option<Framework> {
        match self {
            LatencyAxis::Estimate => None,
            LatencyAxis::Measured { framework, .. } => Some(framework),
        }
    }

    /// Whether the axis is in seconds (the DELPHI estimate can go beside).
    pub fn is_seconds(self) -> bool {
        match self {
            LatencyAxis::Estimate => true,
            LatencyAxis::Measured { figure, .. } => figure.is_seconds(),
        }
    }

    /// A value on this axis as people read it: "0.84 s", "19.6 MB".
    pub fn format(self, value: f64) -> String {
        if self.is_seconds() {
            seconds(value)
        } else {
            bytes(value)
        }
    }
}

/// 0.8437 -> "0.84 s", 12.345 -> "12.3 s".
pub fn seconds(s: f64) -> String {
    let decimals = if s < 10.0 { 2 } else { 1 };
    format!("{s:.decimals$} s")
}

/// 19615424 -> "19.6 MB", 950 -> "950 B".
pub fn bytes(b: f64) -> String {
    let text = compact(b);
    match text.strip_suffix(|c: char| c.is_ascii_alphabetic()) {
        Some(number) => format!("{number} {}B", &text[number.len()..]),
        None => format!("{text} B"),
    }
}

/// A framework as [`Framework::as_str`] names it (its serde form).
fn framework<'de, D: Deserializer<'de>>(d: D) -> Result<Framework, D::Error> {
    let name = String::deserialize(d)?;
    frameworks()
        .iter()
        .copied()
        .find(|f| f.as_str() == name)
        .ok_or_else(|| serde::de::Error::custom(format!("unknown framework {name:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_axis_survives_a_restart_and_reads_as_it_should() {
        for axis in LatencyAxis::all() {
            let text = serde_json::to_string(&axis).unwrap();
            assert_eq!(
                serde_json::from_str::<LatencyAxis>(&text).unwrap(),
                axis,
                "{text}"
            );
        }
        assert_eq!(LatencyAxis::all().len(), 1 + 2 * Figure::ALL.len());
        assert!(
            serde_json::from_str::<LatencyAxis>(
                r#"{"Measured":{"framework":"nope","figure":"Lan"}}"#
            )
            .is_err()
        );
        assert_eq!(bytes(19_615_424.0), "19.6 MB");
        assert_eq!(bytes(950.0), "950 B");
        assert_eq!(seconds(0.8437), "0.84 s");
        let wan = LatencyAxis::Measured {
            framework: Framework::Crypten,
            figure: Figure::Wan,
        };
        assert_eq!(
            wan.label(),
            "measured in CrypTen: online s, modelled over WAN (100 Mbit/s, 40 ms RTT)"
        );
    }
}
