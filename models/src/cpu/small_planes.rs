//! A direct 3x3, padding-1 convolution at stride 1 or 2 onto small planes
//! (16x16, 8x8 and 4x4: ResNet18's last three stages), vectorised over output
//! channels: each vector register holds sixteen output channels of one
//! position, and the plane size is a compile-time constant, so that the taps
//! reading the padding are dropped when the code is compiled rather than
//! multiplied by zero. im2col + GEMM multiplies those zeros too: 31% of a
//! 4x4 layer's work, 16% of an 8x8 layer's, 8% of a 16x16 layer's. The
//! weight gradient is vectorised the same way. (The input gradient of a
//! stride-1 layer is the forward of the flipped kernel; a stride-2 layer's
//! stays with im2col's col2im.)

use super::conv::{Geometry, sum_in_order};
use rayon::prelude::*;
use std::ops::Range;

/// Output channels per task: two vectors of sixteen.
const CHANNELS: usize = 32;

/// Positions per register tile.
const POSITIONS: usize = 8;

/// Whether [`forward`] and [`weight_grad`] can run this convolution on this machine.
pub fn applies(g: &Geometry) -> bool {
    g.kernel == [3, 3]
        && g.padding == [1, 1]
        && g.in_h == g.in_w
        && g.stride[0] == g.stride[1]
        && matches!(g.stride[0], 1 | 2)
        && matches!(g.out_w(), 4 | 8 | 16)
        && g.in_w == g.out_w() * g.stride[0]
        && g.out_channels.is_multiple_of(CHANNELS)
        && std::arch::is_x86_feature_detected!("avx512f")
}

/// `$kernel::<S, STRIDE>(args)` for this layer's output size S and stride
/// (one of those [`applies`] accepts), both as constants.
macro_rules! for_shape {
    ($g:expr, $($kernel:ident)::+, $args:tt) => {
        match ($g.out_w(), $g.stride[0]) {
            (4, 1) => $($kernel)::+::<4, 1> $args,
            (8, 1) => $($kernel)::+::<8, 1> $args,
            (16, 1) => $($kernel)::+::<16, 1> $args,
            (4, _) => $($kernel)::+::<4, 2> $args,
            (8, _) => $($kernel)::+::<8, 2> $args,
            _ => $($kernel)::+::<16, 2> $args,
        }
    };
}

/// The convolution of `x` `[N, C_in, S·s, S·s]` by `weight`
/// `[C_out, C_in, 3, 3]` at stride s (1 or 2); returns `[N, C_out, S, S]`.
/// Only where [`applies`] holds.
pub fn forward(g: &Geometry, x: &[f32], weight: &[f32]) -> Vec<f32> {
    assert!(applies(g));
    let (c_in, plane, out_plane) = (g.in_channels, g.in_h * g.in_w, g.out_h() * g.out_w());
    let packed = pack_weights(weight, c_in);
    let blocks = g.out_channels / CHANNELS;
    let mut y = vec![0.0; g.batch * g.out_channels * out_plane];
    y.par_chunks_mut(CHANNELS * out_plane)
        .enumerate()
        .for_each(|(task, out)| {
            let (n, block) = (task / blocks, task % blocks);
            let image = &x[n * c_in * plane..][..c_in * plane];
            let w = &packed[block * c_in * 9 * CHANNELS..][..c_in * 9 * CHANNELS];
            // SAFETY: avx512f is present (`applies`); slice lengths asserted inside.
            unsafe { for_shape!(g, kernels::plane, (image, w, out)) }
        });
    y
}

/// `dW = Σ_n dy[n] ⋆ x[n]`, `[C_out, C_in, 3, 3]`: one task per block of 32
/// output channels and run of images, with the batch cut into as many runs
/// as it takes to give every thread a task; the runs' sums are added in
/// order (repeatable bits).
pub fn weight_grad(g: &Geometry, x: &[f32], dy: &[f32]) -> Vec<f32> {
    assert!(applies(g));
    let (c_in, plane) = (g.in_channels, g.in_h * g.in_w);
    let blocks = g.out_channels / CHANNELS;
    let runs = rayon::current_num_threads()
        .div_ceil(blocks)
        .min(g.batch)
        .max(1);
    let per_run = g.batch.div_ceil(runs);
    let block_len = CHANNELS * c_in * 9;
    // [run, C_out, C_in, 3, 3]: block b of run r is task r·blocks + b.
    let mut partials = vec![0.0; runs * g.weight_len()];
    partials
        .par_chunks_mut(block_len)
        .enumerate()
        .for_each(|(task, dw)| {
            let (run, block) = (task / blocks, task % blocks);
            let images = run * per_run..((run + 1) * per_run).min(g.batch);
            let dy_t = block_of_dy(g, dy, block, images.clone());
            let x = &x[images.start * c_in * plane..images.end * c_in * plane];
            // SAFETY: avx512f is present (`applies`); slice lengths asserted inside.
            unsafe { for_shape!(g, kernels::gradient, (x, c_in, &dy_t, dw)) }
        });
    sum_in_order(partials.chunks_exact(g.weight_len()), g.weight_len())
}

/// Block `block` of dy (32 output channels) for `images`, the channels
/// innermost: `[n, position, 32]`.
fn block_of_dy(g: &Geometry, dy: &[f32], block: usize, images: Range<usize>) -> Vec<f32> {
    let plane = g.out_h() * g.out_w();
    let mut dy_t = vec![0.0; images.len() * plane * CHANNELS];
    for (image, n) in dy_t.chunks_exact_mut(plane * CHANNELS).zip(images) {
        for j in 0..CHANNELS {
            let source = &dy[(n * g.out_channels + block * CHANNELS + j) * plane..][..plane];
            for (position, value) in source.iter().enumerate() {
                image[position * CHANNELS + j] = *value;
            }
        }
    }
    dy_t
}

/// Weights `[C_out, C_in, 3, 3]` as `[C_out / 32, C_in, 9, 32]`: the 32
/// output channels of a block for one input channel and tap side by side.
fn pack_weights(weight: &[f32], c_in: usize) -> Vec<f32> {
    let mut packed = vec![0.0; weight.len()];
    packed
        .par_chunks_mut(c_in * 9 * CHANNELS)
        .enumerate()
        .for_each(|(block, packed)| {
            for (j, o) in (block * CHANNELS..(block + 1) * CHANNELS).enumerate() {
                for (at, w) in weight[o * c_in * 9..][..c_in * 9].iter().enumerate() {
                    packed[at * CHANNELS + j] = *w;
                }
            }
        });
    packed
}

// Index loops over const-sized tiles, as in `direct`: unrolled by the compiler.
#[allow(clippy::needless_range_loop)]
mod kernels {
    use super::{CHANNELS, POSITIONS};
    use std::arch::x86_64::*;

    /// `$tile::<S, T>(args)` for every tile `T` of eight positions of an
    /// S x S plane, each with `T` a constant.
    macro_rules! every_tile {
        ($tile:ident::<$s:ident, $stride:ident> $args:tt) => {
            match $s {
                4 => every_tile!(@ $tile, $s, $stride, [0 1], $args),
                8 => every_tile!(@ $tile, $s, $stride, [0 1 2 3 4 5 6 7], $args),
                _ => every_tile!(@ $tile, $s, $stride, [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18
                    19 20 21 22 23 24 25 26 27 28 29 30 31], $args),
            }
        };
        (@ $tile:ident, $s:ident, $stride:ident, [$($t:literal)*], $args:tt) => {
            { $( $tile::<$s, $stride, $t> $args; )* }
        };
    }

    /// One image's 32 output channels: the plane in tiles of eight positions.
    ///
    /// # Safety
    /// The CPU must support avx512f.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn plane<const S: usize, const STRIDE: usize>(
        image: &[f32],
        w: &[f32],
        out: &mut [f32],
    ) {
        let c_in = image.len() / (S * S * STRIDE * STRIDE);
        assert!(w.len() == c_in * 9 * CHANNELS && out.len() == CHANNELS * S * S);
        // SAFETY: the asserts above bound every read and write of the tiles.
        unsafe { every_tile!(tile::<S, STRIDE>(image, w, c_in, out)) }
    }

    /// Positions `8·T .. 8·T + 8` of the plane for 32 output channels; `S`
    /// and `T` are constants, so `reads` folds to true or false per tap.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn tile<const S: usize, const STRIDE: usize, const T: usize>(
        image: &[f32],
        w: &[f32],
        c_in: usize,
        out: &mut [f32],
    ) {
        let mut sums = [[_mm512_setzero_ps(); POSITIONS]; 2];
        let (x, w) = (image.as_ptr(), w.as_ptr());
        for i in 0..c_in {
            for tap in 0..9 {
                // SAFETY: i < c_in and tap < 9 keep both reads inside the slices.
                let (w0, w1) = unsafe {
                    let at = w.add((i * 9 + tap) * CHANNELS);
                    (_mm512_loadu_ps(at), _mm512_loadu_ps(at.add(16)))
                };
                for p in 0..POSITIONS {
                    if let Some(source) = reads::<S, STRIDE>(T * POSITIONS + p, tap) {
                        let input_plane = S * S * STRIDE * STRIDE;
                        let v = _mm512_set1_ps(unsafe { *x.add(i * input_plane + source) });
                        sums[0][p] = _mm512_fmadd_ps(w0, v, sums[0][p]);
                        sums[1][p] = _mm512_fmadd_ps(w1, v, sums[1][p]);
                    }
                }
            }
        }
        let mut lanes = [0.0f32; 16];
        for (half, sums) in sums.iter().enumerate() {
            for p in 0..POSITIONS {
                // SAFETY: `lanes` holds 16 floats.
                unsafe { _mm512_storeu_ps(lanes.as_mut_ptr(), sums[p]) };
                for (c, value) in lanes.iter().enumerate() {
                    out[(16 * half + c) * S * S + T * POSITIONS + p] = *value;
                }
            }
        }
    }

    /// `dw[o, i, tap] = Σ_n Σ_p dy[n, o, p] · x[n, i, p + tap]` for one block of
    /// 32 output channels, given its dy as `[n, position, 32]`.
    ///
    /// # Safety
    /// The CPU must support avx512f.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn gradient<const S: usize, const STRIDE: usize>(
        x: &[f32],
        c_in: usize,
        dy_t: &[f32],
        dw: &mut [f32],
    ) {
        let input_plane = S * S * STRIDE * STRIDE;
        let batch = dy_t.len() / (S * S * CHANNELS);
        assert!(x.len() == batch * c_in * input_plane && dw.len() == CHANNELS * c_in * 9);
        for i in 0..c_in {
            let mut sums = [[_mm512_setzero_ps(); 2]; 9];
            for n in 0..batch {
                // SAFETY: n < batch and i < c_in keep the tiles' reads inside
                // the slices (asserted above).
                unsafe {
                    let x = x.as_ptr().add((n * c_in + i) * input_plane);
                    let dy = dy_t.as_ptr().add(n * S * S * CHANNELS);
                    every_tile!(gradient_tile::<S, STRIDE>(x, dy, &mut sums));
                }
            }
            let mut lanes = [0.0f32; 16];
            for (tap, sums) in sums.iter().enumerate() {
                for (half, sum) in sums.iter().enumerate() {
                    // SAFETY: `lanes` holds 16 floats.
                    unsafe { _mm512_storeu_ps(lanes.as_mut_ptr(), *sum) };
                    for (c, value) in lanes.iter().enumerate() {
                        dw[((16 * half + c) * c_in + i) * 9 + tap] = *value;
                    }
                }
            }
        }
    }

    /// Positions `8·T .. 8·T + 8` of one image's contribution to one input
    /// channel's nine taps.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn gradient_tile<const S: usize, const STRIDE: usize, const T: usize>(
        x: *const f32,
        dy: *const f32,
        sums: &mut [[__m512; 2]; 9],
    ) {
        for p in 0..POSITIONS {
            let at = T * POSITIONS + p;
            // SAFETY: at < S·S: within the image's dy and x planes.
            let (d0, d1) = unsafe {
                let d = dy.add(at * CHANNELS);
                (_mm512_loadu_ps(d), _mm512_loadu_ps(d.add(16)))
            };
            for tap in 0..9 {
                if let Some(source) = reads::<S, STRIDE>(at, tap) {
                    let v = _mm512_set1_ps(unsafe { *x.add(source) });
                    sums[tap][0] = _mm512_fmadd_ps(d0, v, sums[tap][0]);
                    sums[tap][1] = _mm512_fmadd_ps(d1, v, sums[tap][1]);
                }
            }
        }
    }

    /// The input position that output position `at` (of an S x S plane)
    /// reads through `tap` at this stride, or `None` where that is padding.
    #[inline(always)]
    const fn reads<const S: usize, const STRIDE: usize>(at: usize, tap: usize) -> Option<usize> {
        let size = (S * STRIDE) as isize;
        let y = ((at / S) * STRIDE + tap / 3) as isize - 1;
        let x = ((at % S) * STRIDE + tap % 3) as isize - 1;
        if y < 0 || x < 0 || y >= size || x >= size {
            None
        } else {
            Some((y * size + x) as usize)
        }
    }
}
