//! Which vector instructions our convolution kernels use: the best the
//! processor has, or fewer when asked. `deepreduce bench --isa avx2` asks
//! for fewer on an AVX-512 machine, to measure what a laptop without
//! AVX-512 gets (the GEMM of im2col then takes its AVX2 kernels too).

use std::sync::atomic::{AtomicU8, Ordering};

/// Instruction sets our kernels are written for, fewest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Isa {
    /// No kernels of ours: every convolution takes im2col + GEMM.
    Baseline = 0,
    /// AVX2 with FMA (most x86-64 desktops and laptops since 2013).
    Avx2 = 1,
    /// AVX-512 Foundation.
    Avx512 = 2,
}

impl Isa {
    pub fn name(self) -> &'static str {
        match self {
            Isa::Baseline => "baseline",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
        }
    }

    fn from_u8(value: u8) -> Isa {
        match value {
            0 => Isa::Baseline,
            1 => Isa::Avx2,
            _ => Isa::Avx512,
        }
    }
}

/// The most the kernels may use; the processor may have less.
static LIMIT: AtomicU8 = AtomicU8::new(Isa::Avx512 as u8);

/// The best instruction set of this processor that we have kernels for.
pub fn detected() -> Isa {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return Isa::Avx512;
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            return Isa::Avx2;
        }
    }
    Isa::Baseline
}

/// Keeps the kernels to `isa` and below from now on, in this process.
pub fn limit_to(isa: Isa) {
    LIMIT.store(isa as u8, Ordering::Relaxed);
}

/// What the kernels use: the processor's best within the limit.
pub fn active() -> Isa {
    detected().min(Isa::from_u8(LIMIT.load(Ordering::Relaxed)))
}
