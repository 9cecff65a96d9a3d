//! A dense 2-D convolution (groups = 1, dilation = 1, f32, NCHW) and its two
//! gradients, as im2col + one GEMM each over groups of consecutive images,
//! the groups spread over the threads.
//!
//! Everything stays in NCHW: for one image the patch matrix `cols` is
//! `[C_in·kh·kw, H_out·W_out]` (a group's sit side by side), so
//! - forward:      `y = W · cols`              (`[C_out, P]`, already NCHW),
//! - input grad:   `dcols = Wᵀ · dy`, then scattered back (col2im),
//! - weight grad:  `dW += dy · colsᵀ`, summed over the images of each thread.
//!
//! burn's flex backend reaches the same results through NHWC copies of every
//! input, a transposed convolution for the input gradient and a "batch as
//! channels" convolution for the weight gradient; these three GEMMs keep the
//! work where the FLOPs are (see `deepreduce bench`).
//!
//! The entry points first hand 3x3 layers to our AVX-512 or AVX2 kernels
//! (`super::isa`) where those are faster: `direct` for stride-1 planes 32 wide and more, `small_planes`
//! for 16x16, 8x8 and 4x4 outputs at stride 1 or 2 (see [`Kernels`]).

use gemm::{Parallelism, gemm};
use rayon::prelude::*;
use std::cell::RefCell;
use std::sync::Mutex;

/// Sizes of one convolution call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    pub batch: usize,
    pub in_channels: usize,
    pub in_h: usize,
    pub in_w: usize,
    pub out_channels: usize,
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub padding: [usize; 2],
}

impl Geometry {
    pub fn out_h(&self) -> usize {
        (self.in_h + 2 * self.padding[0] - self.kernel[0]) / self.stride[0] + 1
    }

    pub fn out_w(&self) -> usize {
        (self.in_w + 2 * self.padding[1] - self.kernel[1]) / self.stride[1] + 1
    }

    /// Rows of the patch matrix: one per (input channel, kernel row, kernel column).
    fn patch_len(&self) -> usize {
        self.in_channels * self.kernel[0] * self.kernel[1]
    }

    /// Output positions of one image.
    fn positions(&self) -> usize {
        self.out_h() * self.out_w()
    }

    fn image_len(&self) -> usize {
        self.in_channels * self.in_h * self.in_w
    }

    fn out_image_len(&self) -> usize {
        self.out_channels * self.positions()
    }

    pub fn weight_len(&self) -> usize {
        self.out_channels * self.patch_len()
    }
}

thread_local! {
    /// Each thread's working buffers (patch matrices, regrouped maps, the
    /// direct kernels' grids), kept
    /// from call to call: allocating megabytes per call costs page faults.
    static SCRATCH: RefCell<[Vec<f32>; 2]> = const { RefCell::new([Vec::new(), Vec::new()]) };
}

/// Runs `work` with this thread's two scratch buffers. The kernels never
/// nest (GEMM runs single-threaded inside them), so the borrow is exclusive.
pub(super) fn with_scratch<R>(work: impl FnOnce(&mut Vec<f32>, &mut Vec<f32>) -> R) -> R {
    SCRATCH.with(|scratch| {
        let [a, b] = &mut *scratch.borrow_mut();
        work(a, b)
    })
}

/// Columns a group of images aims for in its patch matrix: enough to keep
/// GEMM in its efficient regime and to pack the weights once per group
/// rather than once per image when feature maps are small (4x4 in ResNet18's
/// last stage), small enough that the patch matrix stays in cache.
const GROUP_COLUMNS: usize = 1024;

/// Images per group: the batch is cut into groups of consecutive images whose
/// patch matrices sit side by side, `[C_in·kh·kw, images·H_out·W_out]`.
fn group_size(g: &Geometry) -> usize {
    let per_thread = g.batch.div_ceil(rayon::current_num_threads()).max(1);
    GROUP_COLUMNS
        .div_ceil(g.positions().max(1))
        .clamp(1, per_thread)
}

/// The kernels that run a convolution: the fastest of ours that can.
enum Kernels {
    /// Wide 3x3 planes on AVX-512 or AVX2 (`super::direct`).
    #[cfg(target_arch = "x86_64")]
    Direct(super::isa::Isa),
    /// 16x16 and smaller 3x3 planes on AVX-512 or AVX2 (`super::small_planes`).
    #[cfg(target_arch = "x86_64")]
    SmallPlanes(super::isa::Isa),
    /// Everything else: im2col + GEMM, below.
    Im2col,
}

fn kernels_for(g: &Geometry) -> Kernels {
    #[cfg(target_arch = "x86_64")]
    {
        let isa = super::isa::active();
        if super::direct::applies(g, isa) {
            return Kernels::Direct(isa);
        }
        if super::small_planes::applies(g, isa) {
            return Kernels::SmallPlanes(isa);
        }
    }
    Kernels::Im2col
}

/// `y[n] = W · cols(x[n])`; returns `[N, C_out, H_out, W_out]`.
pub fn forward(g: &Geometry, x: &[f32], weight: &[f32]) -> Vec<f32> {
    match kernels_for(g) {
        #[cfg(target_arch = "x86_64")]
        Kernels::Direct(isa) => return super::direct::forward(g, isa, x, weight),
        #[cfg(target_arch = "x86_64")]
        Kernels::SmallPlanes(isa) => return super::small_planes::forward(g, isa, x, weight),
        Kernels::Im2col => {}
    }
    let images = group_size(g);
    let mut y = vec![0.0; g.batch * g.out_image_len()];
    y.par_chunks_mut(images * g.out_image_len())
        .zip(x.par_chunks(images * g.image_len()))
        .for_each(|(y, x)| {
            with_scratch(|cols, y_group| {
                let n = x.len() / g.image_len();
                let columns = n * g.positions();
                patches(g, x, cols);
                // y_group[C_out, n·P] = W[C_out, K] · cols[K, n·P], written
                // straight into y when the group is one image.
                let product = |dst| {
                    let w = Operand::row_major(weight, g.patch_len());
                    let cols = Operand::row_major(cols, columns);
                    matmul(
                        dst,
                        false,
                        w,
                        cols,
                        [g.out_channels, columns, g.patch_len()],
                    );
                };
                if n == 1 {
                    product(Destination::RowMajor(y));
                } else {
                    y_group.resize(g.out_channels * columns, 0.0);
                    product(Destination::RowMajor(y_group));
                    ungroup_channels(y_group, y, g.out_channels, g.positions());
                }
            })
        });
    y
}

/// `dx[n] = col2im(Wᵀ · dy[n])`; returns `[N, C_in, H_in, W_in]`.
pub fn input_grad(g: &Geometry, weight: &[f32], dy: &[f32]) -> Vec<f32> {
    if let Some((transposed, flipped)) = transposed_convolution(g, weight) {
        return forward(&transposed, dy, &flipped);
    }
    let images = group_size(g);
    // Wᵀ stored row-major once, so that GEMM reads it without repacking it for every group.
    let weight_t = transpose(weight, g.out_channels, g.patch_len());
    let mut dx = vec![0.0; g.batch * g.image_len()];
    dx.par_chunks_mut(images * g.image_len())
        .zip(dy.par_chunks(images * g.out_image_len()))
        .for_each(|(dx, dy)| {
            with_scratch(|dy_group, dcols| {
                let columns = dy.len() / g.out_channels;
                let dy_group = group_channels(dy, dy_group, g.out_channels, g.positions());
                // dcols[K, n·P] = Wᵀ[K, C_out] · dy_group[C_out, n·P]
                dcols.resize(g.patch_len() * columns, 0.0);
                let wt = Operand::row_major(&weight_t, g.out_channels);
                matmul(
                    Destination::RowMajor(dcols),
                    false,
                    wt,
                    Operand::row_major(dy_group, columns),
                    [g.patch_len(), columns, g.out_channels],
                );
                scatter_patches(g, dcols, dx);
            })
        });
    dx
}

/// For a stride-1 convolution with "same" padding (3x3 pad 1, 1x1), the
/// input gradient is itself such a convolution, of `dy` by the kernel flipped
/// in space with input and output channels swapped: computed that way it
/// needs no scatter-add (col2im), only the forward's copies.
fn transposed_convolution(g: &Geometry, weight: &[f32]) -> Option<(Geometry, Vec<f32>)> {
    let [kh, kw] = g.kernel;
    let same = g.stride == [1, 1] && g.padding.iter().zip(g.kernel).all(|(&p, k)| 2 * p + 1 == k);
    if !same {
        return None;
    }
    let (c_out, c_in) = (g.out_channels, g.in_channels);
    let taps = kh * kw;
    // Blocks of input channels per task, written in order: each kernel row
    // o then reads one contiguous run (a block of 4608x512 weights read one
    // 36-byte kernel per page made this a fifth of the layer's time).
    const BLOCK: usize = 16;
    let mut flipped = vec![0.0; weight.len()];
    flipped
        .par_chunks_mut(BLOCK * c_out * taps)
        .enumerate()
        .for_each(|(b, block)| {
            let first = b * BLOCK;
            let inputs = block.len() / (c_out * taps);
            for o in 0..c_out {
                let source = &weight[(o * c_in + first) * taps..][..inputs * taps];
                for (i, taps_in) in source.chunks_exact(taps).enumerate() {
                    let target = &mut block[(i * c_out + o) * taps..][..taps];
                    target
                        .iter_mut()
                        .zip(taps_in.iter().rev())
                        .for_each(|(t, w)| *t = *w);
                }
            }
        });
    let transposed = Geometry {
        in_channels: c_out,
        out_channels: c_in,
        ..*g
    };
    Some((transposed, flipped))
}

/// `dW = Σ_n dy[n] · cols(x[n])ᵀ`; returns `[C_out, C_in, kh, kw]`.
pub fn weight_grad(g: &Geometry, x: &[f32], dy: &[f32]) -> Vec<f32> {
    match kernels_for(g) {
        #[cfg(target_arch = "x86_64")]
        Kernels::Direct(isa) => return super::direct::weight_grad(g, isa, x, dy),
        #[cfg(target_arch = "x86_64")]
        Kernels::SmallPlanes(isa) => return super::small_planes::weight_grad(g, isa, x, dy),
        Kernels::Im2col => {}
    }
    let images = group_size(g);
    let groups = g.batch.div_ceil(images);
    // Contiguous runs of groups, one per thread, each summed into its own
    // buffer by accumulating GEMMs; the buffers are added at the end.
    let runs = rayon::current_num_threads().clamp(1, groups.max(1));
    let per_run = groups.div_ceil(runs);
    let partial = |run: usize| {
        with_scratch(|cols, dy_group| {
            let mut dw_t = take_partial(g.weight_len());
            let first = (run * per_run * images).min(g.batch);
            let last = ((run + 1) * per_run * images).min(g.batch);
            let x = x[first * g.image_len()..last * g.image_len()].chunks(images * g.image_len());
            let dy = dy[first * g.out_image_len()..last * g.out_image_len()]
                .chunks(images * g.out_image_len());
            for (i, (x, dy)) in x.zip(dy).enumerate() {
                let columns = dy.len() / g.out_channels;
                patches(g, x, cols);
                let dy_group = group_channels(dy, dy_group, g.out_channels, g.positions());
                // dW[C_out, K] (+)= dy_group[C_out, n·P] · colsᵀ[n·P, K], stored
                // transposed: GEMM then reads the patch matrix as it lies (the
                // reduction runs along its rows) and repacks only dy_group, 9x smaller.
                matmul(
                    Destination::ColumnMajor(&mut dw_t),
                    i > 0,
                    Operand::row_major(dy_group, columns),
                    Operand::transposed(cols, columns),
                    [g.out_channels, g.patch_len(), columns],
                );
            }
            if first == last {
                dw_t.fill(0.0); // no image: the first GEMM never overwrote it
            }
            dw_t
        })
    };
    // Added in run order, whatever thread finished first: the same inputs
    // give the same bits.
    let partials: Vec<Vec<f32>> = (0..runs).into_par_iter().map(partial).collect();
    let dw = transposed_sum(&partials, g.patch_len(), g.out_channels);
    partial_pool().extend(partials);
    dw
}

/// The element-wise sum of equally long partial sums, added in their order
/// (whatever thread finished first, the same inputs give the same bits).
pub(super) fn sum_in_order<'a>(
    partials: impl IntoIterator<Item = &'a [f32]>,
    len: usize,
) -> Vec<f32> {
    let mut total = vec![0.0; len];
    for partial in partials {
        total.iter_mut().zip(partial).for_each(|(t, p)| *t += p);
    }
    total
}

/// Buffers for the weight gradient's per-thread partial sums, reused from
/// call to call: fresh ones would cost a ResNet18 step some 90 MB of page
/// faults and zeroing. Their contents are stale; the first GEMM into each
/// overwrites it.
static PARTIALS: Mutex<Vec<Vec<f32>>> = Mutex::new(Vec::new());

fn partial_pool() -> std::sync::MutexGuard<'static, Vec<Vec<f32>>> {
    // A panic elsewhere leaves only buffers behind: still usable.
    PARTIALS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn take_partial(len: usize) -> Vec<f32> {
    let mut buffer = partial_pool().pop().unwrap_or_default();
    buffer.resize(len, 0.0);
    buffer
}

/// The transpose of a row-major `[rows, cols]` matrix.
fn transpose(matrix: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    transposed_sum(std::slice::from_ref(&matrix), rows, cols)
}

/// The transpose of the sum of row-major `[rows, cols]` matrices, summed in
/// their order, in one pass.
fn transposed_sum<M: AsRef<[f32]>>(matrices: &[M], rows: usize, cols: usize) -> Vec<f32> {
    // In 8x8 blocks: eight rows read along, eight columns written along, the
    // block held in registers in between.
    const B: usize = 8;
    let mut t = vec![0.0; rows * cols];
    let [block_rows, block_cols] = [rows / B * B, cols / B * B];
    for r0 in (0..block_rows).step_by(B) {
        for c0 in (0..block_cols).step_by(B) {
            let mut block = [[0.0f32; B]; B];
            for matrix in matrices {
                for (i, sums) in block.iter_mut().enumerate() {
                    let row = &matrix.as_ref()[(r0 + i) * cols + c0..][..B];
                    sums.iter_mut().zip(row).for_each(|(s, v)| *s += v);
                }
            }
            for j in 0..B {
                let out = &mut t[(c0 + j) * rows + r0..][..B];
                out.iter_mut()
                    .zip(&block)
                    .for_each(|(o, sums)| *o = sums[j]);
            }
        }
    }
    // The ragged right and bottom edges, element by element.
    for r in 0..rows {
        let first_col = if r < block_rows { block_cols } else { 0 };
        for c in first_col..cols {
            t[c * rows + r] = matrices
                .iter()
                .map(|m| m.as_ref()[r * cols + c])
                .fold(0.0, |a, v| a + v);
        }
    }
    t
}

/// `[n, C, P]` (NCHW of n images) as `[C, n·P]` (the images side by side):
/// the images themselves when there is one, else a copy in `grouped`.
fn group_channels<'a>(
    images: &'a [f32],
    grouped: &'a mut Vec<f32>,
    channels: usize,
    positions: usize,
) -> &'a [f32] {
    let n = images.len() / (channels * positions);
    if n == 1 {
        return images;
    }
    grouped.resize(images.len(), 0.0);
    for (b, image) in images.chunks_exact(channels * positions).enumerate() {
        for (c, plane) in image.chunks_exact(positions).enumerate() {
            let at = (c * n + b) * positions;
            grouped[at..at + positions].copy_from_slice(plane);
        }
    }
    grouped
}

/// The inverse of [`group_channels`].
fn ungroup_channels(grouped: &[f32], images: &mut [f32], channels: usize, positions: usize) {
    let n = images.len() / (channels * positions);
    for (b, image) in images.chunks_exact_mut(channels * positions).enumerate() {
        for (c, plane) in image.chunks_exact_mut(positions).enumerate() {
            let at = (c * n + b) * positions;
            plane.copy_from_slice(&grouped[at..at + positions]);
        }
    }
}

/// The patch matrix of consecutive images `x`, `[C_in·kh·kw, n·H_out·W_out]`,
/// built in `cols`.
fn patches(g: &Geometry, x: &[f32], cols: &mut Vec<f32>) {
    // A local copy: the compiler then hoists the sizes derived from it
    // (divisions among them) out of the loops.
    let g = &{ *g };
    let n = x.len() / g.image_len();
    let p = g.positions();
    cols.resize(g.patch_len() * n * p, 0.0);
    let same_size = g.stride == [1, 1] && g.out_h() == g.in_h && g.out_w() == g.in_w;
    for_each_patch_row(g, |row, channel, ky, kx| {
        let span = valid_columns(g, kx);
        let first = (span.start * g.stride[1] + kx).wrapping_sub(g.padding[1]);
        for (b, image) in x.chunks_exact(g.image_len()).enumerate() {
            let plane = &image[channel * g.in_h * g.in_w..(channel + 1) * g.in_h * g.in_w];
            let at = (row * n + b) * p;
            if same_size {
                shifted_plane(g, plane, ky, kx, &mut cols[at..at + p]);
                continue;
            }
            for (oy, out_row) in cols[at..at + p].chunks_exact_mut(g.out_w()).enumerate() {
                let Some(iy) = input_row(g, oy, ky).filter(|_| !span.is_empty()) else {
                    out_row.fill(0.0);
                    continue;
                };
                out_row[..span.start].fill(0.0);
                out_row[span.end..].fill(0.0);
                let in_row = &plane[iy * g.in_w..(iy + 1) * g.in_w];
                gather(&mut out_row[span.clone()], &in_row[first..], g.stride[1]);
            }
        }
    });
}

/// One patch row of a stride-1 convolution whose output is the size of its
/// input (3x3 with padding 1, 1x1): the plane shifted by the kernel offset,
/// zero where that reads padding. In memory the shift is a constant offset,
/// so it is one copy, then zeros over the rows and the columns that wrapped
/// around an edge.
fn shifted_plane(g: &Geometry, plane: &[f32], ky: usize, kx: usize, out: &mut [f32]) {
    let (h, w) = (g.in_h as isize, g.in_w as isize);
    let (dy, dx) = (
        ky as isize - g.padding[0] as isize,
        kx as isize - g.padding[1] as isize,
    );
    // Output rows that read real input rows, and the whole-plane offset.
    let (y0, y1) = ((-dy).clamp(0, h), (h - dy).clamp(0, h));
    let offset = dy * w + dx;
    let (mut lo, mut hi) = (y0 * w, y1 * w);
    lo = lo.max(-offset);
    hi = hi.min(h * w - offset).max(lo);
    let [lo, hi] = [lo as usize, hi as usize];
    out[..lo].fill(0.0);
    out[lo..hi]
        .copy_from_slice(&plane[(lo as isize + offset) as usize..(hi as isize + offset) as usize]);
    out[hi..].fill(0.0);
    // Columns whose source ran off the left or right edge into the next row.
    let wrapped = if dx > 0 {
        (w - dx).max(0)..w
    } else {
        0..(-dx).min(w)
    };
    let wrapped = wrapped.start as usize..wrapped.end as usize;
    // Down each such column: one or two values per row, too few for a
    // memset call per row.
    for column in wrapped {
        out[column..]
            .iter_mut()
            .step_by(g.in_w)
            .for_each(|v| *v = 0.0);
    }
}

/// The adjoint of [`patches`]: adds every patch-matrix entry back onto the
/// input pixel of `dx` (consecutive images) it was read from.
fn scatter_patches(g: &Geometry, dcols: &[f32], dx: &mut [f32]) {
    let g = &{ *g }; // as in `patches`
    let n = dx.len() / g.image_len();
    let p = g.positions();
    for_each_patch_row(g, |row, channel, ky, kx| {
        let span = valid_columns(g, kx);
        if span.is_empty() {
            return;
        }
        let first = span.start * g.stride[1] + kx - g.padding[1];
        for (b, image) in dx.chunks_exact_mut(g.image_len()).enumerate() {
            let plane = &mut image[channel * g.in_h * g.in_w..(channel + 1) * g.in_h * g.in_w];
            let at = (row * n + b) * p;
            for (oy, grad_row) in dcols[at..at + p].chunks_exact(g.out_w()).enumerate() {
                let Some(iy) = input_row(g, oy, ky) else {
                    continue;
                };
                let in_row = &mut plane[iy * g.in_w..(iy + 1) * g.in_w];
                scatter_add(&grad_row[span.clone()], &mut in_row[first..], g.stride[1]);
            }
        }
    });
}

/// `out[i] = row[i·stride]`. Strides 1 and 2 (every strided layer of
/// ResNet and VGG) in loops the compiler vectorises.
fn gather(out: &mut [f32], row: &[f32], stride: usize) {
    match stride {
        1 => out.copy_from_slice(&row[..out.len()]),
        2 => {
            // Pairs, so that the loop loads whole vectors and keeps the even
            // lanes; the last pick may have no partner in the row.
            let Some((last, out)) = out.split_last_mut() else {
                return;
            };
            out.iter_mut()
                .zip(row.chunks_exact(2))
                .for_each(|(o, pair)| *o = pair[0]);
            *last = row[2 * out.len()];
        }
        _ => out
            .iter_mut()
            .zip(row.iter().step_by(stride))
            .for_each(|(o, v)| *o = *v),
    }
}

/// The adjoint of [`gather`]: `row[i·stride] += grad[i]`.
fn scatter_add(grad: &[f32], row: &mut [f32], stride: usize) {
    match stride {
        1 => row[..grad.len()]
            .iter_mut()
            .zip(grad)
            .for_each(|(t, d)| *t += d),
        2 => {
            let Some((last, grad)) = grad.split_last() else {
                return;
            };
            row.chunks_exact_mut(2)
                .zip(grad)
                .for_each(|(pair, d)| pair[0] += d);
            row[2 * grad.len()] += last;
        }
        _ => row
            .iter_mut()
            .step_by(stride)
            .zip(grad)
            .for_each(|(t, d)| *t += d),
    }
}

fn for_each_patch_row(g: &Geometry, mut visit: impl FnMut(usize, usize, usize, usize)) {
    let [kh, kw] = g.kernel;
    for channel in 0..g.in_channels {
        for ky in 0..kh {
            for kx in 0..kw {
                visit((channel * kh + ky) * kw + kx, channel, ky, kx);
            }
        }
    }
}

/// The input row that output row `oy` reads through kernel row `ky`, if it is not padding.
fn input_row(g: &Geometry, oy: usize, ky: usize) -> Option<usize> {
    (oy * g.stride[0] + ky)
        .checked_sub(g.padding[0])
        .filter(|&iy| iy < g.in_h)
}

/// The output columns whose input column through kernel column `kx` is not padding.
fn valid_columns(g: &Geometry, kx: usize) -> std::ops::Range<usize> {
    let [s, p] = [g.stride[1], g.padding[1]];
    // ox·s + kx - p >= 0  and  ox·s + kx - p < in_w
    let start = p.saturating_sub(kx).div_ceil(s);
    let end = (g.in_w + p).saturating_sub(kx).div_ceil(s).min(g.out_w());
    start..end.max(start)
}

/// A matrix operand: its data and strides (row stride, column stride).
#[derive(Clone, Copy)]
struct Operand<'a> {
    data: &'a [f32],
    row_stride: isize,
    col_stride: isize,
}

impl<'a> Operand<'a> {
    /// A row-major matrix with `cols` columns.
    fn row_major(data: &'a [f32], cols: usize) -> Self {
        Operand {
            data,
            row_stride: cols as isize,
            col_stride: 1,
        }
    }

    /// The transpose of a row-major matrix with `cols` columns.
    fn transposed(data: &'a [f32], cols: usize) -> Self {
        Operand {
            data,
            row_stride: 1,
            col_stride: cols as isize,
        }
    }

    fn covers(&self, rows: usize, cols: usize) -> bool {
        rows == 0
            || cols == 0
            || (rows - 1) * (self.row_stride as usize) + (cols - 1) * (self.col_stride as usize)
                < self.data.len()
    }
}

/// Where a product goes: row-major, or column-major (its transpose, row-major).
enum Destination<'a> {
    RowMajor(&'a mut [f32]),
    ColumnMajor(&'a mut [f32]),
}

/// `dst[m, n] (+)= lhs[m, k] · rhs[k, n]`, on this thread.
fn matmul(dst: Destination, accumulate: bool, lhs: Operand, rhs: Operand, [m, n, k]: [usize; 3]) {
    let (dst, row_stride, col_stride) = match dst {
        Destination::RowMajor(dst) => (dst, n as isize, 1),
        Destination::ColumnMajor(dst) => (dst, 1, m as isize),
    };
    assert!(dst.len() >= m * n && lhs.covers(m, k) && rhs.covers(k, n));
    #[cfg(target_arch = "x86_64")]
    if super::isa::active() == super::isa::Isa::Avx2 {
        // SAFETY: as below; `active` says the processor has AVX2 and FMA.
        unsafe {
            super::avx2_gemm::gemm(
                [m, n, k],
                dst.as_mut_ptr(),
                [col_stride, row_stride],
                accumulate,
                lhs.data.as_ptr(),
                [lhs.col_stride, lhs.row_stride],
                rhs.data.as_ptr(),
                [rhs.col_stride, rhs.row_stride],
                1.0,
                1.0,
            )
        };
        return;
    }
    // SAFETY: the assert above keeps every index gemm reads or writes inside
    // the three slices; `dst` does not alias the operands (`&mut`).
    unsafe {
        gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            col_stride,
            row_stride,
            accumulate,
            lhs.data.as_ptr(),
            lhs.col_stride,
            lhs.row_stride,
            rhs.data.as_ptr(),
            rhs.col_stride,
            rhs.row_stride,
            1.0,
            1.0,
            false,
            false,
            false,
            Parallelism::None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition, loop by loop.
    fn naive(g: &Geometry, x: &[f32], w: &[f32]) -> Vec<f32> {
        let (oh, ow) = (g.out_h(), g.out_w());
        let mut y = vec![0.0; g.batch * g.out_channels * oh * ow];
        for n in 0..g.batch {
            for co in 0..g.out_channels {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let mut sum = 0.0;
                        for ci in 0..g.in_channels {
                            for ky in 0..g.kernel[0] {
                                for kx in 0..g.kernel[1] {
                                    let iy =
                                        (oy * g.stride[0] + ky) as isize - g.padding[0] as isize;
                                    let ix =
                                        (ox * g.stride[1] + kx) as isize - g.padding[1] as isize;
                                    if iy < 0
                                        || ix < 0
                                        || iy >= g.in_h as isize
                                        || ix >= g.in_w as isize
                                    {
                                        continue;
                                    }
                                    let xi = ((n * g.in_channels + ci) * g.in_h + iy as usize)
                                        * g.in_w
                                        + ix as usize;
                                    let wi = ((co * g.in_channels + ci) * g.kernel[0] + ky)
                                        * g.kernel[1]
                                        + kx;
                                    sum += x[xi] * w[wi];
                                }
                            }
                        }
                        y[((n * g.out_channels + co) * oh + oy) * ow + ox] = sum;
                    }
                }
            }
        }
        y
    }

    fn values(len: usize, seed: u32) -> Vec<f32> {
        (0..len)
            .map(|i| {
                ((i as u32).wrapping_mul(2654435761).wrapping_add(seed) % 1000) as f32 / 500.0 - 1.0
            })
            .collect()
    }

    fn dot(a: &[f32], b: &[f32]) -> f64 {
        a.iter()
            .zip(b)
            .map(|(a, b)| (*a as f64) * (*b as f64))
            .sum()
    }

    fn assert_close(a: &[f32], b: &[f32]) {
        assert_eq!(a.len(), b.len());
        for (i, (a, b)) in a.iter().zip(b).enumerate() {
            assert!(
                (a - b).abs() <= 1e-4 * (1.0 + b.abs()),
                "at {i}: {a} vs {b}"
            );
        }
    }

    fn geometries() -> Vec<Geometry> {
        let base = Geometry {
            batch: 3,
            in_channels: 4,
            in_h: 7,
            in_w: 6,
            out_channels: 5,
            kernel: [3, 3],
            stride: [1, 1],
            padding: [1, 1],
        };
        vec![
            base,
            // stride 1, output the size of the input: the shifted-plane path
            Geometry {
                kernel: [5, 5],
                padding: [2, 2],
                ..base
            },
            Geometry {
                kernel: [7, 7],
                padding: [3, 3],
                in_w: 2,
                ..base
            },
            Geometry {
                stride: [2, 2],
                ..base
            },
            Geometry {
                kernel: [1, 1],
                padding: [0, 0],
                ..base
            },
            Geometry {
                kernel: [1, 1],
                padding: [0, 0],
                stride: [2, 2],
                ..base
            },
            Geometry {
                kernel: [3, 2],
                padding: [0, 1],
                stride: [1, 2],
                ..base
            },
            Geometry {
                kernel: [5, 5],
                padding: [2, 2],
                stride: [2, 1],
                batch: 1,
                ..base
            },
            Geometry {
                kernel: [7, 7],
                padding: [3, 3],
                stride: [2, 2],
                in_channels: 3,
                ..base
            },
            // 3x3 stride 1 on planes 32 or more wide: the direct kernels on
            // AVX-512, with a partial block of output channels (11 = 8 + 3)
            // and groups of several images.
            Geometry {
                in_h: 5,
                in_w: 33,
                out_channels: 11,
                ..base
            },
            Geometry {
                batch: 5,
                in_channels: 3,
                in_h: 32,
                in_w: 32,
                out_channels: 9,
                ..base
            },
            // 4x4, 8x8 and 16x16 planes, output channels in blocks of 32: the
            // small-plane kernels on AVX-512 (the 16x16 one with a batch of 3
            // split into runs for the weight gradient).
            Geometry {
                batch: 2,
                in_h: 4,
                in_w: 4,
                out_channels: 64,
                ..base
            },
            Geometry {
                batch: 2,
                in_channels: 3,
                in_h: 8,
                in_w: 8,
                out_channels: 32,
                ..base
            },
            Geometry {
                in_h: 16,
                in_w: 16,
                out_channels: 32,
                ..base
            },
            // Stride 2 onto 4x4 and 16x16 planes: the small-plane kernels
            // too (forward and weight gradient).
            Geometry {
                batch: 2,
                in_h: 8,
                in_w: 8,
                out_channels: 32,
                stride: [2, 2],
                ..base
            },
            Geometry {
                batch: 1,
                in_channels: 3,
                in_h: 32,
                in_w: 32,
                out_channels: 32,
                stride: [2, 2],
                ..base
            },
        ]
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn wide_and_small_3x3_planes_take_their_own_kernels_on_avx2_and_avx512() {
        use super::super::isa::Isa;
        for isa in [Isa::Baseline, Isa::Avx2, Isa::Avx512] {
            let routes: Vec<(usize, bool, bool)> = geometries()
                .iter()
                .filter(|g| g.kernel == [3, 3] && g.padding == [1, 1])
                .map(|g| {
                    let direct = super::super::direct::applies(g, isa);
                    let small = super::super::small_planes::applies(g, isa);
                    (g.in_w, direct, small)
                })
                .collect();
            let ours = isa >= Isa::Avx2;
            let expected = [
                (6, false, false),
                (6, false, false), // stride 2 onto 4x3: not square
                (33, ours, false),
                (32, ours, false),
                (4, false, ours),
                (8, false, ours),
                (16, false, ours),
                (8, false, ours),
                (32, false, ours),
            ];
            assert_eq!(routes, expected, "{isa:?}");
        }
    }

    /// Each instruction set's kernels this processor has, whichever the
    /// dispatch would pick: the forward against the definition and the
    /// weight gradient as its adjoint, on every shape they take (partial
    /// channel blocks included).
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn avx2_and_avx512_kernels_equal_the_definition() {
        use super::super::isa::{Isa, detected};
        use super::super::{direct, small_planes};
        type Applies = fn(&Geometry, Isa) -> bool;
        type Kernel = fn(&Geometry, Isa, &[f32], &[f32]) -> Vec<f32>;
        let families: [(Applies, Kernel, Kernel); 2] = [
            (direct::applies, direct::forward, direct::weight_grad),
            (
                small_planes::applies,
                small_planes::forward,
                small_planes::weight_grad,
            ),
        ];
        let isas = [Isa::Avx2, Isa::Avx512]
            .into_iter()
            .filter(|i| *i <= detected());
        for isa in isas {
            let mut checked = 0;
            for g in geometries() {
                for (applies, forward, weight_grad) in families {
                    if !applies(&g, isa) {
                        continue;
                    }
                    let x = values(g.batch * g.image_len(), 6);
                    let w = values(g.weight_len(), 7);
                    let dy = values(g.batch * g.out_image_len(), 8);
                    let y = naive(&g, &x, &w);
                    assert_close(&forward(&g, isa, &x, &w), &y);
                    let reference = dot(&dy, &y);
                    let got = dot(&weight_grad(&g, isa, &x, &dy), &w);
                    assert!(
                        (got - reference).abs() < 1e-3 * (1.0 + reference.abs()),
                        "{isa:?} {g:?}: {got} vs {reference}"
                    );
                    checked += 1;
                }
            }
            assert_eq!(checked, 7, "{isa:?}: every 3x3 shape our kernels take");
        }
    }

    /// Whole 8x8 blocks, ragged edges, and the sum of several matrices.
    #[test]
    fn transposed_sum_covers_blocks_edges_and_sums() {
        for (rows, cols) in [(16, 24), (13, 11), (3, 5), (9, 8)] {
            let a = values(rows * cols, 9);
            let b = values(rows * cols, 10);
            let t = transposed_sum(&[&a, &b], rows, cols);
            for r in 0..rows {
                for c in 0..cols {
                    assert_eq!(t[c * rows + r], 0.0 + a[r * cols + c] + b[r * cols + c]);
                }
            }
        }
    }

    #[test]
    fn forward_equals_the_definition() {
        for g in geometries() {
            let x = values(g.batch * g.image_len(), 1);
            let w = values(g.weight_len(), 2);
            assert_close(&forward(&g, &x, &w), &naive(&g, &x, &w));
        }
    }

    /// The gradients are the adjoints of the forward map:
    /// <dy, conv(x, W)> = <input_grad(W, dy), x> = <weight_grad(x, dy), W>.
    #[test]
    fn gradients_are_the_adjoints_of_forward() {
        for g in geometries() {
            let x = values(g.batch * g.image_len(), 3);
            let w = values(g.weight_len(), 4);
            let dy = values(g.batch * g.out_image_len(), 5);
            let reference = dot(&dy, &naive(&g, &x, &w));
            let via_input = dot(&input_grad(&g, &w, &dy), &x);
            let via_weight = dot(&weight_grad(&g, &x, &dy), &w);
            for got in [via_input, via_weight] {
                assert!(
                    (got - reference).abs() < 1e-3 * (1.0 + reference.abs()),
                    "{g:?}: {got} vs {reference}"
                );
            }
        }
    }
}
