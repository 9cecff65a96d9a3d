//! Before a training builds its model: a lower bound of the memory it needs
//! (weights, their gradients and SGD's momentum; one batch's activations),
//! refused when above what the machine has available, so an absurd network
//! is an error with the figures rather than an allocation failure that
//! aborts the process or a machine driven into swap.

use deepreduce_plugin_api::{Network, analyze};

const F32: u64 = 4;

/// What a training needs at least, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Estimate {
    /// Weights and their gradients.
    pub parameters: u64,
    /// SGD's momentum buffers.
    pub optimizer: u64,
    /// Every node's output for one batch, kept for the backward pass.
    pub activations: u64,
    pub batch_size: usize,
}

impl Estimate {
    pub fn total(&self) -> u64 {
        self.parameters
            .saturating_add(self.optimizer)
            .saturating_add(self.activations)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    #[error(
        "training this network needs at least {} (weights and gradients {}, SGD momentum {}, activations of a batch of {}: {}), but the machine has {} available; use a smaller width, batch size or input",
        gb(estimate.total()), gb(estimate.parameters), gb(estimate.optimizer),
        estimate.batch_size, gb(estimate.activations), gb(*available)
    )]
    TooLarge { estimate: Estimate, available: u64 },
    #[error("cannot estimate the memory of the network: {0}")]
    Network(#[from] deepreduce_plugin_api::IrError),
}

fn gb(bytes: u64) -> String {
    format!("{:.2} GB", bytes as f64 / 1e9)
}

/// The lower bound of what training `net` with batches of `batch_size`
/// needs. It leaves out burn's workspaces and the gradients of
/// activations, so a training that passes may still need more.
pub fn estimate(net: &Network, batch_size: usize) -> Result<Estimate, MemoryError> {
    let analysis = analyze(net)?;
    let params = analysis.total.params.saturating_mul(F32);
    let per_sample: u64 = analysis
        .nodes
        .iter()
        .fold(0u64, |sum, n| sum.saturating_add(n.output.elements()));
    Ok(Estimate {
        parameters: params.saturating_mul(2),
        optimizer: params,
        activations: per_sample
            .saturating_mul(batch_size as u64)
            .saturating_mul(F32),
        batch_size,
    })
}

/// Refuses `estimate` when above `available` bytes.
pub fn check_against(estimate: Estimate, available: u64) -> Result<(), MemoryError> {
    if estimate.total() > available {
        return Err(MemoryError::TooLarge {
            estimate,
            available,
        });
    }
    Ok(())
}

/// Refuses to train `net` when even the lower bound of its memory is above
/// what this machine has available now (not checked where that is unknown).
pub fn check(net: &Network, batch_size: usize) -> Result<(), MemoryError> {
    let estimate = estimate(net, batch_size)?;
    match available_bytes() {
        Some(available) => check_against(estimate, available),
        None => Ok(()),
    }
}

/// `MemAvailable` of /proc/meminfo: what can be allocated without swapping.
fn available_bytes() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    parse_mem_available(&info)
}

fn parse_mem_available(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;
    use deepreduce_plugin_api::testing::tiny;

    #[test]
    fn the_estimate_counts_weights_momentum_and_one_batchs_activations() {
        let net = tiny();
        let analysis = analyze(&net).unwrap();
        let e = estimate(&net, 10).unwrap();
        assert_eq!(e.parameters, analysis.total.params * 8);
        assert_eq!(e.optimizer, analysis.total.params * 4);
        let elements: u64 = analysis.nodes.iter().map(|n| n.output.elements()).sum();
        assert_eq!(e.activations, elements * 10 * 4);
        assert!(check_against(e, e.total()).is_ok());
        let text = check_against(e, e.total() - 1).unwrap_err().to_string();
        assert!(
            text.starts_with("training this network needs at least 0.00 GB"),
            "{text}"
        );
    }

    #[test]
    fn an_absurd_batch_is_refused_with_the_figures() {
        let e = estimate(&tiny(), 1 << 40).unwrap();
        let text = check_against(e, 16 << 30).unwrap_err().to_string();
        assert!(
            text.contains("activations of a batch of 1099511627776: ")
                && text.contains("but the machine has 17.18 GB available"),
            "{text}"
        );
    }

    #[test]
    fn mem_available_is_read_in_kibibytes() {
        let info = "MemTotal:       24598232 kB\nMemFree:        22000000 kB\nMemAvailable:   23000000 kB\n";
        assert_eq!(parse_mem_available(info), Some(23_000_000 * 1024));
        assert_eq!(parse_mem_available("MemTotal: 1 kB\n"), None);
    }
}
