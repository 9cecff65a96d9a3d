//! A direct 3x3, padding-1 convolution at stride 1 or 2 onto small planes
//! (16x16, 8x8 and 4x4: ResNet18's last three stages), vectorised over output
//! channels: each vector register holds sixteen (AVX2: eight) output
//! channels of one position, and the plane size is a compile-time constant, so that the taps
//! reading the padding are dropped when the code is compiled rather than
//! multiplied by zero. im2col + GEMM multiplies those zeros too: 31% of a
//! 4x4 layer's work, 16% of an 8x8 layer's, 8% of a 16x16 layer's. The
//! weight gradient is vectorised the same way. (The input gradient of a
//! stride-1 layer is the forward of the flipped kernel; a stride-2 layer's
//! stays with im2col's col2im.)

use super::conv::{Geometry, sum_in_order};
use super::isa::Isa;
use rayon::prelude::*;
use std::ops::Range;

/// Output channels per task: two AVX-512 vectors, four AVX2 ones.
const CHANNELS: usize = 32;

/// Positions per register tile.
const POSITIONS: usize = 8;

/// Whether [`forward`] and [`weight_grad`] can run this convolution with
/// instructions up to `isa`.
pub fn applies(g: &Geometry, isa: Isa) -> bool {
    g.kernel == [3, 3]
        && g.padding == [1, 1]
        && g.in_h == g.in_w
        && g.stride[0] == g.stride[1]
        && matches!(g.stride[0], 1 | 2)
        && matches!(g.out_w(), 4 | 8 | 16)
        && g.in_w == g.out_w() * g.stride[0]
        && g.out_channels.is_multiple_of(CHANNELS)
        && isa >= Isa::Avx2
}

/// `$kernel::<S, STRIDE>(args)` of the `isa` kernels for this layer's
/// output size S and stride (one of those [`applies`] accepts), both as
/// constants.
macro_rules! for_shape {
    ($g:expr, $isa:expr, $kernel:ident, $args:tt) => {
        match $isa {
            Isa::Avx512 => for_shape!(@ $g, avx512::$kernel, $args),
            _ => for_shape!(@ $g, avx2::$kernel, $args),
        }
    };
    (@ $g:expr, $($kernel:ident)::+, $args:tt) => {
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
pub fn forward(g: &Geometry, isa: Isa, x: &[f32], weight: &[f32]) -> Vec<f32> {
    assert!(applies(g, isa) && isa <= super::isa::detected());
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
            // SAFETY: the processor has `isa` (asserted above); slice
            // lengths asserted inside.
            unsafe { for_shape!(g, isa, plane, (image, w, out)) }
        });
    y
}

/// `dW = Σ_n dy[n] ⋆ x[n]`, `[C_out, C_in, 3, 3]`: one task per block of 32
/// output channels and run of images, with the batch cut into as many runs
/// as it takes to give every thread a task; the runs' sums are added in
/// order (repeatable bits).
pub fn weight_grad(g: &Geometry, isa: Isa, x: &[f32], dy: &[f32]) -> Vec<f32> {
    assert!(applies(g, isa) && isa <= super::isa::detected());
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
            // SAFETY: the processor has `isa` (asserted above); slice
            // lengths asserted inside.
            unsafe { for_shape!(g, isa, gradient, (x, c_in, &dy_t, dw)) }
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

/// The kernels for one instruction set, whose vectors hold `$lanes` floats:
/// `$vector` is their type, `$zero`, `$load`, `$store`, `$splat` and
/// `$fmadd` their intrinsics. A tile's 32 channels take `32 / $lanes`
/// vectors, computed `$vectors` at a time (as many passes as that takes)
/// so that the sums stay in registers.
macro_rules! kernels {
    (
        $isa:ident, $feature:tt, $vector:ty, $lanes:expr, vectors: $vectors:expr,
        $zero:path, $load:path, $store:path, $splat:path, $fmadd:path
    ) => {
        // Index loops over const-sized tiles, as in `direct`: unrolled by the compiler.
        #[allow(clippy::needless_range_loop)]
        mod $isa {
            use super::{CHANNELS, POSITIONS, reads};
            use std::arch::x86_64::*;

            /// Floats in one vector.
            const LANES: usize = $lanes;

            /// Vectors of sums per pass over the input.
            const VECTORS: usize = $vectors;

            /// Passes per tile: the 32 channels, `VECTORS · LANES` at a time.
            const PASSES: usize = CHANNELS / (VECTORS * LANES);

            /// One image's 32 output channels: the plane in tiles of eight positions.
            ///
            /// # Safety
            /// The CPU must support the instruction set.
            #[target_feature(enable = $feature)]
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
            #[target_feature(enable = $feature)]
            #[inline]
            unsafe fn tile<const S: usize, const STRIDE: usize, const T: usize>(
                image: &[f32],
                w: &[f32],
                c_in: usize,
                out: &mut [f32],
            ) {
                let (x, w) = (image.as_ptr(), w.as_ptr());
                let input_plane = S * S * STRIDE * STRIDE;
                for pass in 0..PASSES {
                    let first = pass * VECTORS * LANES;
                    let mut sums = [[$zero(); POSITIONS]; VECTORS];
                    for i in 0..c_in {
                        for tap in 0..9 {
                            // SAFETY: i < c_in and tap < 9 keep the reads inside the slices.
                            let weights: [$vector; VECTORS] = std::array::from_fn(|v| unsafe {
                                $load(w.add((i * 9 + tap) * CHANNELS + first + v * LANES))
                            });
                            for p in 0..POSITIONS {
                                if let Some(source) = reads::<S, STRIDE>(T * POSITIONS + p, tap) {
                                    let x = $splat(unsafe { *x.add(i * input_plane + source) });
                                    for v in 0..VECTORS {
                                        sums[v][p] = $fmadd(weights[v], x, sums[v][p]);
                                    }
                                }
                            }
                        }
                    }
                    let mut lanes = [0.0f32; LANES];
                    for (v, sums) in sums.iter().enumerate() {
                        for p in 0..POSITIONS {
                            // SAFETY: `lanes` holds a vector's floats.
                            unsafe { $store(lanes.as_mut_ptr(), sums[p]) };
                            for (c, value) in lanes.iter().enumerate() {
                                out[(first + v * LANES + c) * S * S + T * POSITIONS + p] = *value;
                            }
                        }
                    }
                }
            }

            /// `dw[o, i, tap] = Σ_n Σ_p dy[n, o, p] · x[n, i, p + tap]` for one block of
            /// 32 output channels, given its dy as `[n, position, 32]`.
            ///
            /// # Safety
            /// The CPU must support the instruction set.
            #[target_feature(enable = $feature)]
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
                    for pass in 0..PASSES {
                        let first = pass * VECTORS * LANES;
                        let mut sums = [[$zero(); VECTORS]; 9];
                        for n in 0..batch {
                            // SAFETY: n < batch and i < c_in keep the tiles' reads
                            // inside the slices (asserted above).
                            unsafe {
                                let x = x.as_ptr().add((n * c_in + i) * input_plane);
                                let dy = dy_t.as_ptr().add(n * S * S * CHANNELS + first);
                                every_tile!(gradient_tile::<S, STRIDE>(x, dy, &mut sums));
                            }
                        }
                        let mut lanes = [0.0f32; LANES];
                        for (tap, sums) in sums.iter().enumerate() {
                            for (v, sum) in sums.iter().enumerate() {
                                // SAFETY: `lanes` holds a vector's floats.
                                unsafe { $store(lanes.as_mut_ptr(), *sum) };
                                for (c, value) in lanes.iter().enumerate() {
                                    dw[((first + v * LANES + c) * c_in + i) * 9 + tap] = *value;
                                }
                            }
                        }
                    }
                }
            }

            /// Positions `8·T .. 8·T + 8` of one image's contribution to one input
            /// channel's nine taps, for the pass's channels (`dy` points at them).
            #[target_feature(enable = $feature)]
            #[inline]
            unsafe fn gradient_tile<const S: usize, const STRIDE: usize, const T: usize>(
                x: *const f32,
                dy: *const f32,
                sums: &mut [[$vector; VECTORS]; 9],
            ) {
                for p in 0..POSITIONS {
                    let at = T * POSITIONS + p;
                    // SAFETY: at < S·S: within the image's dy and x planes.
                    let d: [$vector; VECTORS] = std::array::from_fn(|v| unsafe {
                        $load(dy.add(at * CHANNELS + v * LANES))
                    });
                    for tap in 0..9 {
                        if let Some(source) = reads::<S, STRIDE>(at, tap) {
                            let x = $splat(unsafe { *x.add(source) });
                            for v in 0..VECTORS {
                                sums[tap][v] = $fmadd(d[v], x, sums[tap][v]);
                            }
                        }
                    }
                }
            }
        }
    };
}

kernels!(
    avx512, "avx512f", __m512, 16, vectors: 2,
    _mm512_setzero_ps, _mm512_loadu_ps, _mm512_storeu_ps, _mm512_set1_ps, _mm512_fmadd_ps
);

// 16 vector registers: one vector of sums per position (8), a weight and
// an input per pass.
kernels!(
    avx2, "avx2,fma", __m256, 8, vectors: 1,
    _mm256_setzero_ps, _mm256_loadu_ps, _mm256_storeu_ps, _mm256_set1_ps, _mm256_fmadd_ps
);

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
