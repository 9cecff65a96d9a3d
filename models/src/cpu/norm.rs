//! Batch normalisation in training mode on NCHW f32 data, forward and
//! backward, each as two passes parallel over channels then feature planes.
//!
//! burn's generic version builds the same numbers out of tensor operations:
//! two transposed copies of the activation to reduce per channel, then a
//! broadcast operation per term; here each pass reads the activation once.

use rayon::prelude::*;

/// `[batch, channels, positions]` of an activation.
#[derive(Clone, Copy, Debug)]
pub struct Extent {
    pub batch: usize,
    pub channels: usize,
    pub positions: usize,
}

impl Extent {
    /// Values per channel.
    fn count(&self) -> f64 {
        (self.batch * self.positions) as f64
    }

    /// The planes `[positions]` of channel `c`, one per image.
    fn planes<'a>(&self, data: &'a [f32], c: usize) -> impl Iterator<Item = &'a [f32]> {
        (0..self.batch).map(move |n| {
            let at = (n * self.channels + c) * self.positions;
            &data[at..at + self.positions]
        })
    }
}

/// The batch statistics and output of a training-mode batch norm.
pub struct Normalized {
    pub output: Vec<f32>,
    /// Per channel.
    pub mean: Vec<f32>,
    /// Per channel, biased (divided by the count), as burn's running
    /// statistics expect.
    pub variance: Vec<f32>,
}

/// `y = γ·(x - mean)/sqrt(var + ε) + β` with the batch's mean and variance.
pub fn forward(e: Extent, x: &[f32], gamma: &[f32], beta: &[f32], epsilon: f64) -> Normalized {
    let (mean, variance): (Vec<f32>, Vec<f32>) = (0..e.channels)
        .into_par_iter()
        .map(|c| {
            // Two passes (mean, then squared deviations), so that large
            // planes lose nothing to the cancellation of E[x²] - E[x]².
            let [sum] = sum_over_channel(e, x, x, c, |x, _| [x]);
            let mean = (sum / e.count()) as f32;
            let [squares] = sum_over_channel(e, x, x, c, |x, _| [(x - mean) * (x - mean)]);
            (mean, (squares / e.count()) as f32)
        })
        .unzip();
    let mut output = vec![0.0; x.len()];
    output
        .par_chunks_mut(e.positions)
        .zip(x.par_chunks(e.positions))
        .enumerate()
        .for_each(|(plane, (y, x))| {
            let c = plane % e.channels;
            let scale = gamma[c] / (variance[c] as f64 + epsilon).sqrt() as f32;
            let shift = beta[c] - mean[c] * scale;
            y.iter_mut()
                .zip(x)
                .for_each(|(y, x)| *y = x * scale + shift);
        });
    Normalized {
        output,
        mean,
        variance,
    }
}

/// Gradients with respect to the input, γ and β.
pub struct Gradients {
    pub x: Vec<f32>,
    pub gamma: Vec<f32>,
    pub beta: Vec<f32>,
}

/// The backward pass of [`forward`], given its statistics and `dy`:
/// with x̂ = (x - mean)/σ, dβ = Σ dy, dγ = Σ dy·x̂ and
/// dx = γ/σ · (dy - dβ/M - x̂·dγ/M) over the M values of each channel.
#[allow(clippy::too_many_arguments)]
pub fn backward(
    e: Extent,
    x: &[f32],
    gamma: &[f32],
    mean: &[f32],
    variance: &[f32],
    epsilon: f64,
    dy: &[f32],
) -> Gradients {
    let inv_std: Vec<f32> = variance
        .iter()
        .map(|&v| (1.0 / (v as f64 + epsilon).sqrt()) as f32)
        .collect();
    let (beta_grad, gamma_grad): (Vec<f32>, Vec<f32>) = (0..e.channels)
        .into_par_iter()
        .map(|c| {
            let (m, inv) = (mean[c], inv_std[c]);
            let [sum_dy, sum_dy_xhat] =
                sum_over_channel(e, x, dy, c, |x, dy| [dy, dy * (x - m) * inv]);
            (sum_dy as f32, sum_dy_xhat as f32)
        })
        .unzip();
    let mut x_grad = vec![0.0; x.len()];
    x_grad
        .par_chunks_mut(e.positions)
        .zip(x.par_chunks(e.positions).zip(dy.par_chunks(e.positions)))
        .enumerate()
        .for_each(|(plane, (dx, (x, dy)))| {
            let c = plane % e.channels;
            let m = e.count() as f32;
            let scale = gamma[c] * inv_std[c];
            let (mean_dy, mean_dy_xhat) = (beta_grad[c] / m, gamma_grad[c] / m);
            for ((dx, &x), &dy) in dx.iter_mut().zip(x).zip(dy) {
                let xhat = (x - mean[c]) * inv_std[c];
                *dx = scale * (dy - mean_dy - xhat * mean_dy_xhat);
            }
        });
    Gradients {
        x: x_grad,
        gamma: gamma_grad,
        beta: beta_grad,
    }
}

/// `Σ f(a, b)` over the values of channel `c` of two activations, `K` sums at
/// once: in sixteen f32 lanes within a plane (which the compiler vectorises),
/// in f64 across planes.
fn sum_over_channel<const K: usize>(
    e: Extent,
    a: &[f32],
    b: &[f32],
    c: usize,
    f: impl Fn(f32, f32) -> [f32; K],
) -> [f64; K] {
    const LANES: usize = 16;
    let mut total = [0.0f64; K];
    for (a, b) in e.planes(a, c).zip(e.planes(b, c)) {
        let mut lanes = [[0.0f32; LANES]; K];
        let (a_chunks, b_chunks) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
        let tail = a_chunks.remainder().iter().zip(b_chunks.remainder());
        for (a, b) in a_chunks.zip(b_chunks) {
            for i in 0..LANES {
                let values = f(a[i], b[i]);
                for k in 0..K {
                    lanes[k][i] += values[k];
                }
            }
        }
        let mut plane = lanes.map(|lane| lane.iter().sum::<f32>());
        for (&a, &b) in tail {
            let values = f(a, b);
            for k in 0..K {
                plane[k] += values[k];
            }
        }
        for k in 0..K {
            total[k] += plane[k] as f64;
        }
    }
    total
}
