//! Batch normalisation in training mode on NCHW f32 data, forward and
//! backward, parallel over channels: each channel's statistics and outputs
//! are computed in one visit, while its planes are still in the core's cache.
//!
//! burn's generic version builds the same numbers out of tensor operations:
//! two transposed copies of the activation to reduce per channel, then a
//! broadcast operation per term; here the activation is read from memory
//! once per pass over it (forward: one, backward: two, x and dy).

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
    fn planes<'a>(&self, data: &'a [f32], c: usize) -> impl Iterator<Item = &'a [f32]> + Clone {
        (0..self.batch).map(move |n| {
            let at = (n * self.channels + c) * self.positions;
            &data[at..at + self.positions]
        })
    }

    /// The planes of an activation of this extent grouped by channel, so
    /// that each channel can be written by its own task.
    fn channel_planes(self, values: &mut [f32]) -> Vec<Vec<&mut [f32]>> {
        let mut channels: Vec<Vec<&mut [f32]>> = (0..self.channels)
            .map(|_| Vec::with_capacity(self.batch))
            .collect();
        for (i, plane) in values.chunks_exact_mut(self.positions).enumerate() {
            channels[i % self.channels].push(plane);
        }
        channels
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
    let mut output = vec![0.0; x.len()];
    let (mean, variance): (Vec<f32>, Vec<f32>) = e
        .channel_planes(&mut output)
        .into_par_iter()
        .enumerate()
        .map(|(c, outputs)| {
            // Two passes for the statistics (mean, then squared deviations),
            // so that large planes lose nothing to the cancellation of
            // E[x²] - E[x]², then the output: all three while the channel
            // is in cache.
            let [sum] = sum_over_channel(e, x, x, c, |x, _| [x]);
            let mean = (sum / e.count()) as f32;
            let [squares] = sum_over_channel(e, x, x, c, |x, _| [(x - mean) * (x - mean)]);
            let variance = (squares / e.count()) as f32;
            let scale = gamma[c] / (variance as f64 + epsilon).sqrt() as f32;
            let shift = beta[c] - mean * scale;
            for (y, x) in outputs.into_iter().zip(e.planes(x, c)) {
                y.iter_mut()
                    .zip(x)
                    .for_each(|(y, x)| *y = x * scale + shift);
            }
            (mean, variance)
        })
        .unzip();
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
    let mut x_grad = vec![0.0; x.len()];
    let (beta_grad, gamma_grad): (Vec<f32>, Vec<f32>) = e
        .channel_planes(&mut x_grad)
        .into_par_iter()
        .enumerate()
        .map(|(c, x_grads)| {
            let (m, inv) = (mean[c], inv_std[c]);
            let [sum_dy, sum_dy_xhat] =
                sum_over_channel(e, x, dy, c, |x, dy| [dy, dy * (x - m) * inv]);
            let count = e.count() as f32;
            let scale = gamma[c] * inv;
            let (mean_dy, mean_dy_xhat) = (sum_dy as f32 / count, sum_dy_xhat as f32 / count);
            let planes = e.planes(x, c).zip(e.planes(dy, c));
            for (dx, (x, dy)) in x_grads.into_iter().zip(planes) {
                for ((dx, &x), &dy) in dx.iter_mut().zip(x).zip(dy) {
                    let xhat = (x - m) * inv;
                    *dx = scale * (dy - mean_dy - xhat * mean_dy_xhat);
                }
            }
            (sum_dy as f32, sum_dy_xhat as f32)
        })
        .unzip();
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
