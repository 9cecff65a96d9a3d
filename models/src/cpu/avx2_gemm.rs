//! gemm's own AVX2 + FMA matrix product, asked for by name. The `gemm` crate
//! picks its AVX-512 kernels wherever the processor has them, and
//! `deepreduce bench --isa avx2` must measure what a processor without
//! AVX-512 gets, im2col's products included. The crate has no switch for
//! that, so this calls the generic driver its dispatcher calls, with the
//! AVX2 microkernels of `gemm-f32` (the operand swap below is the one
//! `gemm::gemm` makes: the microkernels want a column-major destination).

use gemm_common::Parallelism;
use gemm_common::gemm::gemm_basic_generic;
use gemm_common::simd::V3;
use gemm_f32::microkernel::fma::f32::{H_M, H_N, H_UKR, MR_DIV_N, NR, UKR};

/// Floats per AVX2 vector.
const N: usize = 8;

/// `dst[m, n] = alpha · dst + beta · lhs[m, k] · rhs[k, n]` (`dst` read only
/// when `read_dst`), strides in elements, all positive, on this thread.
///
/// # Safety
/// As `gemm::gemm`: every index the strides reach is inside its buffer, and
/// `dst` aliases neither operand. The processor must have AVX2 and FMA.
#[allow(clippy::too_many_arguments)]
pub unsafe fn gemm(
    [m, n, k]: [usize; 3],
    dst: *mut f32,
    [dst_cs, dst_rs]: [isize; 2],
    read_dst: bool,
    lhs: *const f32,
    [lhs_cs, lhs_rs]: [isize; 2],
    rhs: *const f32,
    [rhs_cs, rhs_rs]: [isize; 2],
    alpha: f32,
    beta: f32,
) {
    debug_assert!(
        [dst_cs, dst_rs, lhs_cs, lhs_rs, rhs_cs, rhs_rs]
            .iter()
            .all(|s| *s > 0)
    );
    let simd = V3::try_new().expect("the processor has AVX2 and FMA");
    // dstᵀ = rhsᵀ · lhsᵀ: a row-major destination becomes a column-major one.
    let ((m, n), (dst_cs, dst_rs), (lhs, lhs_cs, lhs_rs), (rhs, rhs_cs, rhs_rs)) =
        if dst_cs < dst_rs {
            (
                (n, m),
                (dst_rs, dst_cs),
                (rhs, rhs_rs, rhs_cs),
                (lhs, lhs_rs, lhs_cs),
            )
        } else {
            (
                (m, n),
                (dst_cs, dst_rs),
                (lhs, lhs_cs, lhs_rs),
                (rhs, rhs_cs, rhs_rs),
            )
        };
    // SAFETY: the caller's promise, for the same buffers seen transposed.
    unsafe {
        gemm_basic_generic::<V3, f32, N, { MR_DIV_N * N }, NR, MR_DIV_N, H_M, H_N>(
            simd,
            m,
            n,
            k,
            dst,
            dst_cs,
            dst_rs,
            read_dst,
            lhs,
            lhs_cs,
            lhs_rs,
            rhs,
            rhs_cs,
            rhs_rs,
            alpha,
            beta,
            false,
            false,
            false,
            |a, b, c| a * b + c,
            &UKR,
            &H_UKR,
            false,
            Parallelism::None,
        );
    }
}
