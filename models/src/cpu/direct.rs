//! A direct 3x3, stride-1, padding-1 convolution (ResNet's and VGG's
//! workhorse) and its weight gradient, with AVX-512 and AVX2 kernels (one
//! source, two instantiations) that keep their sums in registers: no patch
//! matrix is built.
//!
//! The images of a group are laid out as a *grid* per channel: each row is
//! followed by a zero column and each image by a zero row (one zero row and
//! one zero in front of the first), so that every tap (dy, dx) of every pixel
//! sits at the constant offset `dy·R + dx` (R = W + 1) and one unaligned
//! vector load reads a tap for sixteen (AVX2: eight) consecutive positions. Positions that
//! fall on the separators are computed too and thrown away: 1/W + 1/H more
//! work, which is why smaller planes go elsewhere (see [`worth_it`]).
//!
//! im2col + GEMM copies every input nine times into the patch matrix and
//! reads it back; at a width-16 ResNet18 that copying cost as much as the
//! arithmetic. x86-64 only; elsewhere every convolution takes im2col + GEMM.

use super::conv::{Geometry, sum_in_order, with_scratch};
use super::isa::Isa;
use rayon::prelude::*;

/// Whether these kernels are the best of ours for this shape, as measured
/// on ResNet18's layers (`cargo run -p deepreduce-models --example
/// conv_layers`): planes of 32 columns and more. On 16x16 and smaller the
/// separators and the rounding of the last tile waste too much, and the
/// small-plane kernels (`super::small_planes`) were 10-25% faster on every
/// 16x16 layer measured.
fn worth_it(g: &Geometry) -> bool {
    g.in_w >= 32
}

/// Output positions per forward tile at most (three AVX-512 vectors): the
/// grids leave room for a tile's reads past the end.
const MAX_TILE: usize = 48;

/// Bytes of grids a group of images may fill: a core's L2 cache here, so
/// that the kernels' repeated passes over a group read from cache (512 KB
/// and 2 MB measured slower).
const GROUP_BYTES: usize = 1 << 20;

/// Whether [`forward`] and [`weight_grad`] can run this convolution with
/// instructions up to `isa`.
pub fn applies(g: &Geometry, isa: Isa) -> bool {
    g.kernel == [3, 3]
        && g.stride == [1, 1]
        && g.padding == [1, 1]
        && worth_it(g)
        && isa >= Isa::Avx2
}

/// The layout of a group of images' grids (see the module comment).
#[derive(Clone, Copy, Debug)]
struct Grid {
    h: usize,
    w: usize,
    images: usize,
}

impl Grid {
    fn row(&self) -> usize {
        self.w + 1
    }

    fn image(&self) -> usize {
        (self.h + 1) * self.row()
    }

    /// Zeros in front of the first image: a row and one more.
    fn lead(&self) -> usize {
        self.row() + 1
    }

    /// Positions computed, separators included.
    fn span(&self) -> usize {
        self.images * self.image()
    }

    /// Floats per channel: the lead, the images, and as much again after them
    /// for the last tile's reads past the end.
    fn channel_len(&self) -> usize {
        self.lead() + self.span() + self.lead() + MAX_TILE
    }

    /// Where tap (ky, kx) of a position is, relative to it.
    fn taps(&self) -> [isize; 9] {
        let row = self.row() as isize;
        std::array::from_fn(|t| (t / 3) as isize * row + (t % 3) as isize - row - 1)
    }

    /// Lays out `images` (`[n, C, H, W]`) as `channels` grids in `grid`.
    fn fill(&self, images: &[f32], channels: usize, grid: &mut Vec<f32>) {
        let (len, plane) = (self.channel_len(), self.h * self.w);
        grid.resize(channels * len, 0.0);
        for (c, dst) in grid.chunks_exact_mut(len).enumerate() {
            dst[..self.lead()].fill(0.0);
            for b in 0..self.images {
                let src = &images[(b * channels + c) * plane..][..plane];
                let first = self.lead() + b * self.image();
                let rows = dst[first..first + self.image()].chunks_exact_mut(self.row());
                for (y, row) in rows.enumerate() {
                    match src.get(y * self.w..(y + 1) * self.w) {
                        Some(pixels) => {
                            row[..self.w].copy_from_slice(pixels);
                            row[self.w] = 0.0;
                        }
                        None => row.fill(0.0), // the zero row under the image
                    }
                }
            }
            dst[self.lead() + self.span()..].fill(0.0);
        }
    }

    /// The pixels of `channels` grids back as images `[n, C, H, W]`.
    fn extract(&self, grid: &[f32], channels: usize, images: &mut [f32]) {
        let (len, plane) = (self.channel_len(), self.h * self.w);
        for (i, image_plane) in images.chunks_exact_mut(plane).enumerate() {
            let (b, c) = (i / channels, i % channels);
            let first = c * len + self.lead() + b * self.image();
            for (y, row) in image_plane.chunks_exact_mut(self.w).enumerate() {
                row.copy_from_slice(&grid[first + y * self.row()..][..self.w]);
            }
        }
    }
}

/// Images per group: as many as fit [`GROUP_BYTES`] of input and output
/// grids, at most a thread's share of the batch.
fn group_size(g: &Geometry) -> usize {
    let per_thread = g.batch.div_ceil(rayon::current_num_threads()).max(1);
    let grid = Grid {
        h: g.in_h,
        w: g.in_w,
        images: 1,
    };
    let per_image = (g.in_channels + g.out_channels) * grid.image() * size_of::<f32>();
    (GROUP_BYTES / per_image).clamp(1, per_thread)
}

/// The convolution of `x` `[N, C_in, H, W]` by `weight` `[C_out, C_in, 3, 3]`;
/// returns `[N, C_out, H, W]`. Only where [`applies`] holds.
pub fn forward(g: &Geometry, isa: Isa, x: &[f32], weight: &[f32]) -> Vec<f32> {
    assert!(applies(g, isa) && isa <= super::isa::detected());
    let images = group_size(g);
    let channel_tile = match isa {
        Isa::Avx512 => avx512::CHANNEL_TILE,
        _ => avx2::CHANNEL_TILE,
    };
    let packed = pack_weights(weight, g.out_channels, g.in_channels, channel_tile);
    let out_image = g.out_channels * g.in_h * g.in_w;
    let mut y = vec![0.0; g.batch * out_image];
    y.par_chunks_mut(images * out_image)
        .zip(x.par_chunks(images * g.in_channels * g.in_h * g.in_w))
        .for_each(|(y, x)| {
            with_scratch(|x_grid, y_grid| {
                let grid = Grid {
                    h: g.in_h,
                    w: g.in_w,
                    images: y.len() / out_image,
                };
                grid.fill(x, g.in_channels, x_grid);
                y_grid.resize(g.out_channels * grid.channel_len(), 0.0);
                // SAFETY: the processor has `isa` (asserted above); the grids
                // have the lengths `convolve` reads and writes (asserted inside).
                unsafe {
                    match isa {
                        Isa::Avx512 => {
                            avx512::convolve(&grid, x_grid, g.in_channels, &packed, y_grid)
                        }
                        _ => avx2::convolve(&grid, x_grid, g.in_channels, &packed, y_grid),
                    }
                };
                grid.extract(y_grid, g.out_channels, y);
            })
        });
    y
}

/// Weights `[C_out, C_in, 3, 3]` regrouped for the forward kernel: per block
/// of `tile` output channels, `[C_in, 9, block]`, so that the kernel reads
/// the block's weights for one tap as consecutive floats.
fn pack_weights(weight: &[f32], c_out: usize, c_in: usize, tile: usize) -> Vec<f32> {
    let mut packed = Vec::with_capacity(weight.len());
    for first in (0..c_out).step_by(tile) {
        let block = tile.min(c_out - first);
        for i in 0..c_in {
            for t in 0..9 {
                packed.extend((first..first + block).map(|o| weight[(o * c_in + i) * 9 + t]));
            }
        }
    }
    packed
}

/// `dW = Σ_n dy[n] ⋆ x[n]`, `[C_out, C_in, 3, 3]`, summed per thread over
/// contiguous runs of images, the runs added in order (repeatable bits).
pub fn weight_grad(g: &Geometry, isa: Isa, x: &[f32], dy: &[f32]) -> Vec<f32> {
    assert!(applies(g, isa) && isa <= super::isa::detected());
    let images = group_size(g);
    let (in_image, out_image) = (
        g.in_channels * g.in_h * g.in_w,
        g.out_channels * g.in_h * g.in_w,
    );
    let groups = g.batch.div_ceil(images);
    let runs = rayon::current_num_threads().clamp(1, groups.max(1));
    let per_run = groups.div_ceil(runs) * images;
    let partial = |run: usize| {
        let (first, last) = (
            (run * per_run).min(g.batch),
            ((run + 1) * per_run).min(g.batch),
        );
        let mut dw = vec![0.0; g.weight_len()];
        with_scratch(|x_grid, dy_grid| {
            for start in (first..last).step_by(images) {
                let end = (start + images).min(last);
                let grid = Grid {
                    h: g.in_h,
                    w: g.in_w,
                    images: end - start,
                };
                grid.fill(&x[start * in_image..end * in_image], g.in_channels, x_grid);
                grid.fill(
                    &dy[start * out_image..end * out_image],
                    g.out_channels,
                    dy_grid,
                );
                let (x_grid, c_in, c_out) = (&x_grid[..], g.in_channels, g.out_channels);
                // SAFETY: the processor has `isa` (asserted above); lengths
                // asserted inside.
                unsafe {
                    match isa {
                        Isa::Avx512 => {
                            avx512::correlate(&grid, dy_grid, c_out, x_grid, c_in, &mut dw)
                        }
                        _ => avx2::correlate(&grid, dy_grid, c_out, x_grid, c_in, &mut dw),
                    }
                };
            }
        });
        dw
    };
    let partials: Vec<Vec<f32>> = (0..runs).into_par_iter().map(partial).collect();
    sum_in_order(partials.iter().map(Vec::as_slice), g.weight_len())
}

/// The kernels for one instruction set, whose vectors hold `$lanes` floats:
/// `$zero`, `$load`, `$store`, `$splat`, `$fmadd` and `$sum` are its
/// intrinsics (`$sum` adds a vector's lanes). A forward tile keeps
/// 3 x `$channel_tile` sums in registers, a gradient tile 3 x
/// `$gradient_channels`; `$partial` and `$gradient_partial` list the
/// smaller channel blocks that end a layer.
macro_rules! kernels {
    (
        $isa:ident, $feature:tt, $lanes:expr,
        channel_tile: $channel_tile:expr, partial: [$($partial:literal)*],
        gradient_channels: $gradient_channels:expr, gradient_partial: [$($gradient_partial:literal)*],
        $zero:path, $load:path, $store:path, $splat:path, $fmadd:path, $sum:path
    ) => {
// Index loops over the const-sized tiles: written that way the compiler
// unrolls them and keeps every sum in a register.
#[allow(clippy::needless_range_loop)]
mod $isa {
    use super::Grid;
    #[allow(unused_imports)]
    use super::reductions::*;
    use std::arch::x86_64::*;

    /// Floats in one vector.
    const LANES: usize = $lanes;

    /// Output positions per forward tile: three vectors.
    const TILE: usize = 3 * LANES;

    /// Output channels per forward tile.
    pub const CHANNEL_TILE: usize = $channel_tile;

    /// Output channels per weight-gradient tile.
    const GRADIENT_CHANNELS: usize = $gradient_channels;

    /// `y_grid[o] = Σ_i Σ_t w[o, i, t] · x_grid[i] shifted by tap t`, every
    /// position of the span computed, in tiles of [`TILE`] positions by
    /// [`CHANNEL_TILE`] output channels.
    ///
    /// # Safety
    /// The CPU must support the instruction set.
    #[target_feature(enable = $feature)]
    pub unsafe fn convolve(grid: &Grid, x: &[f32], c_in: usize, packed: &[f32], y: &mut [f32]) {
        let len = grid.channel_len();
        let c_out = y.len() / len;
        assert!(
            x.len() == c_in * len && y.len() == c_out * len && packed.len() == c_out * c_in * 9
        );
        let taps = grid.taps();
        let (x, y) = (x.as_ptr(), y.as_mut_ptr());
        for first in (0..c_out).step_by(CHANNEL_TILE) {
            let w = packed[first * c_in * 9..].as_ptr();
            for q in (grid.lead()..grid.lead() + grid.span()).step_by(TILE) {
                // SAFETY: reads reach q + lead + TILE < channel_len past the
                // start of each input channel (`Grid::channel_len`); writes
                // reach q + TILE within each output channel.
                unsafe {
                    let (x, y) = (x.add(q), y.add(first * len + q));
                    match c_out - first {
                        $($partial => tile::<$partial>(x, len, c_in, &taps, w, y),)*
                        _ => tile::<CHANNEL_TILE>(x, len, c_in, &taps, w, y),
                    }
                }
            }
        }
    }

    /// One tile: `C` output channels at three vectors of positions.
    #[target_feature(enable = $feature)]
    #[inline]
    unsafe fn tile<const C: usize>(
        x: *const f32,
        len: usize,
        c_in: usize,
        taps: &[isize; 9],
        w: *const f32,
        y: *mut f32,
    ) {
        let mut sums = [[$zero(); C]; 3];
        for i in 0..c_in {
            for (t, &offset) in taps.iter().enumerate() {
                // SAFETY: within the bounds `convolve` documents.
                unsafe {
                    let src = x.add(i * len).offset(offset);
                    let v = [
                        $load(src),
                        $load(src.add(LANES)),
                        $load(src.add(2 * LANES)),
                    ];
                    let w = w.add((i * 9 + t) * C);
                    for c in 0..C {
                        let wc = $splat(*w.add(c));
                        for j in 0..3 {
                            sums[j][c] = $fmadd(v[j], wc, sums[j][c]);
                        }
                    }
                }
            }
        }
        for c in 0..C {
            for (j, s) in sums.iter().enumerate() {
                // SAFETY: as above.
                unsafe { $store(y.add(c * len + j * LANES), s[c]) };
            }
        }
    }

    /// `dw[o, i, t] += Σ_q dy_grid[o, q] · x_grid[i, q + tap t]` over the span
    /// (dy is zero on the separators, so they add nothing): per input
    /// channel, [`GRADIENT_CHANNELS`] output channels by one kernel row's
    /// three taps at a time.
    ///
    /// # Safety
    /// The CPU must support the instruction set.
    #[target_feature(enable = $feature)]
    pub unsafe fn correlate(
        grid: &Grid,
        dy: &[f32],
        c_out: usize,
        x: &[f32],
        c_in: usize,
        dw: &mut [f32],
    ) {
        let len = grid.channel_len();
        assert!(dy.len() == c_out * len && x.len() == c_in * len && dw.len() == c_out * c_in * 9);
        let taps = grid.taps();
        let vectors = grid.span().div_ceil(LANES);
        let start = grid.lead();
        for first in (0..c_out).step_by(GRADIENT_CHANNELS) {
            let block = GRADIENT_CHANNELS.min(c_out - first);
            for i in 0..c_in {
                for ky in 0..3 {
                    let row_taps = [taps[3 * ky], taps[3 * ky + 1], taps[3 * ky + 2]];
                    // SAFETY: reads reach start + 16·vectors + lead <= channel_len
                    // in each channel (`Grid::channel_len`).
                    let sums: [[f32; GRADIENT_CHANNELS]; 3] = unsafe {
                        let x = x.as_ptr().add(i * len + start);
                        let dy = dy.as_ptr().add(first * len + start);
                        match block {
                            $($gradient_partial => {
                                widen(correlate_tile::<$gradient_partial>(dy, len, x, row_taps, vectors))
                            })*
                            _ => correlate_tile::<GRADIENT_CHANNELS>(dy, len, x, row_taps, vectors),
                        }
                    };
                    for (kx, tap_sums) in sums.iter().enumerate() {
                        for (o, s) in tap_sums[..block].iter().enumerate() {
                            dw[((first + o) * c_in + i) * 9 + 3 * ky + kx] += s;
                        }
                    }
                }
            }
        }
    }

    /// A partial block's sums padded to a full block's shape.
    fn widen<const C: usize>(sums: [[f32; C]; 3]) -> [[f32; GRADIENT_CHANNELS]; 3] {
        sums.map(|tap| std::array::from_fn(|o| tap.get(o).copied().unwrap_or(0.0)))
    }

    /// `C` channels of dy against three taps (one kernel row) of one channel of x.
    #[target_feature(enable = $feature)]
    #[inline]
    unsafe fn correlate_tile<const C: usize>(
        dy: *const f32,
        len: usize,
        x: *const f32,
        taps: [isize; 3],
        vectors: usize,
    ) -> [[f32; C]; 3] {
        let mut sums = [[$zero(); C]; 3];
        // SAFETY (all pointer arithmetic below): within the bounds `correlate` documents.
        let tap_starts = taps.map(|offset| x.wrapping_offset(offset));
        let channel_starts: [*const f32; C] = std::array::from_fn(|o| dy.wrapping_add(o * len));
        for v in 0..vectors {
            let at = v * LANES;
            let mut d = [$zero(); C];
            for o in 0..C {
                d[o] = unsafe { $load(channel_starts[o].add(at)) };
            }
            for t in 0..3 {
                let xv = unsafe { $load(tap_starts[t].add(at)) };
                for o in 0..C {
                    sums[t][o] = $fmadd(d[o], xv, sums[t][o]);
                }
            }
        }
        let mut totals = [[0.0; C]; 3];
        for t in 0..3 {
            for o in 0..C {
                totals[t][o] = $sum(sums[t][o]);
            }
        }
        totals
    }
}
    };
}

kernels!(
    avx512, "avx512f", 16,
    channel_tile: 8, partial: [1 2 3 4 5 6 7],
    gradient_channels: 4, gradient_partial: [1 2 3],
    _mm512_setzero_ps, _mm512_loadu_ps, _mm512_storeu_ps, _mm512_set1_ps, _mm512_fmadd_ps,
    _mm512_reduce_add_ps
);

// 16 vector registers: 3 x 4 forward sums with three loads and a weight, 3 x
// 3 gradient sums with four loads.
kernels!(
    avx2, "avx2,fma", 8,
    channel_tile: 4, partial: [1 2 3],
    gradient_channels: 3, gradient_partial: [1 2],
    _mm256_setzero_ps, _mm256_loadu_ps, _mm256_storeu_ps, _mm256_set1_ps, _mm256_fmadd_ps,
    sum_avx2
);

mod reductions {
    use std::arch::x86_64::*;

    /// The sum of a vector's eight lanes.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub fn sum_avx2(v: __m256) -> f32 {
        let halves = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let pairs = _mm_add_ps(halves, _mm_movehl_ps(halves, halves));
        _mm_cvtss_f32(_mm_add_ss(pairs, _mm_movehdup_ps(pairs)))
    }
}
