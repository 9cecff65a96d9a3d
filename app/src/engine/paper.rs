//! Published figures of DeepReDuce (Jha et al., ICML 2021) and the prior art
//! it compares against, as summarised in shared/SPEC.md: the reference the
//! workbench's counts must match and the points its plots can overlay.

/// One row of the paper's ReLU table (ResNet18, CIFAR-100, 32x32).
#[derive(Clone, Copy, Debug)]
pub struct ReluTableRow {
    pub arch: &'static str,
    pub keep: &'static [&'static str],
    pub thin: bool,
    pub alpha: f64,
    pub rho: f64,
    pub relus: u64,
}

const fn row(
    arch: &'static str,
    keep: &'static [&'static str],
    thin: bool,
    alpha: f64,
    rho: f64,
    relus: u64,
) -> ReluTableRow {
    ReluTableRow {
        arch,
        keep,
        thin,
        alpha,
        rho,
        relus,
    }
}

const S234: &[&str] = &["S2", "S3", "S4"];
const S23: &[&str] = &["S2", "S3"];

pub const RESNET18_CIFAR100_BASELINE_RELUS: u64 = 557_056;

/// Per-stage ReLUs of the full ResNet18 on CIFAR-100.
pub const RESNET18_CIFAR100_STAGE_RELUS: [(&str, u64); 5] = [
    ("stem", 65_536),
    ("S1", 262_144),
    ("S2", 131_072),
    ("S3", 65_536),
    ("S4", 32_768),
];

pub const RELU_TABLE: [ReluTableRow; 10] = [
    row("resnet18", S234, false, 1.0, 1.0, 229_376),
    row("resnet18", S23, false, 1.0, 1.0, 196_608),
    row("resnet18", S234, true, 1.0, 1.0, 114_688),
    row("resnet18", S234, true, 0.5, 1.0, 57_344),
    row("resnet18", S23, true, 0.5, 1.0, 49_152),
    row("resnet18", S234, true, 1.0, 0.5, 28_672),
    row("resnet18", S23, true, 1.0, 0.5, 24_576),
    row("resnet18", S234, true, 0.5, 0.5, 14_336),
    row("resnet18", S23, true, 0.5, 0.5, 12_288),
    // S2*+S3*+S4*: one block per stage, i.e. ResNet10.
    row("resnet10", S234, true, 0.5, 0.5, 7_168),
];

/// A published point: ReLUs, top-1 accuracy (%), and where measured, the
/// DELPHI online latency in seconds.
#[derive(Clone, Copy, Debug)]
pub struct PublishedPoint {
    pub relus: u64,
    pub accuracy: f64,
    pub latency_seconds: Option<f64>,
}

const fn point(relus: u64, accuracy: f64, latency_seconds: Option<f64>) -> PublishedPoint {
    PublishedPoint {
        relus,
        accuracy,
        latency_seconds,
    }
}

/// DeepReDuce's Pareto points, ResNet18 CIFAR-100 with KD, in the order of
/// [`RELU_TABLE`].
pub const DEEPREDUCE_PARETO: [PublishedPoint; 10] = [
    point(229_376, 76.22, Some(4.61)),
    point(196_608, 75.51, Some(3.94)),
    point(114_688, 74.72, Some(2.38)),
    point(57_344, 72.68, Some(1.37)),
    point(49_152, 69.50, Some(1.19)),
    point(28_672, 68.68, Some(0.74)),
    point(24_576, 68.41, Some(0.56)),
    point(14_336, 65.36, Some(0.52)),
    point(12_288, 64.97, Some(0.45)),
    point(7_168, 62.30, Some(0.21)),
];

pub const CRYPTONAS: [PublishedPoint; 4] = [
    point(344_000, 75.5, None),
    point(100_000, 68.7, None),
    point(86_000, 68.1, None),
    point(50_000, 63.6, None),
];

pub const DELPHI: [PublishedPoint; 3] = [
    point(300_000, 68.0, None),
    point(180_000, 67.0, None),
    point(50_000, 66.0, None),
];
