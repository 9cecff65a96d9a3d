//! Times the CPU convolution kernels on every convolution shape of a
//! CIFAR ResNet18 (forward, input gradient, weight gradient), so that a
//! change to `cpu::conv` can be judged layer by layer.
//!
//! `cargo run -p deepreduce-models --example conv_layers -- [WIDTH] [BATCH] [SHAPE]`
//! (defaults 64 and 32; SHAPE keeps the shapes whose name contains it,
//! e.g. "4x4"); prints milliseconds and GFLOP/s per shape, the step total
//! weighted by how often each shape occurs, and batch norm's time on the
//! largest activation. Inputs stay in cache from run to run: inside a real
//! training step the same kernels measured 20-30% slower.

use deepreduce_models::cpu::conv::{self, Geometry};
use deepreduce_models::cpu::norm::{self, Extent};
use std::time::Instant;

fn main() {
    // As the app does on the CPU: freed buffers stay in the heap.
    deepreduce_models::cpu::keep_freed_buffers();
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>());
    let width = args.next().transpose().expect("WIDTH").unwrap_or(64);
    let batch = args.next().transpose().expect("BATCH").unwrap_or(32);
    let only = std::env::args().nth(3);
    println!(
        "ResNet18 width {width}, batch {batch}, {} threads",
        rayon::current_num_threads()
    );
    println!(
        "{:<28} {:>5} {:>22} {:>22} {:>22}",
        "shape", "count", "forward ms (GF/s)", "input grad", "weight grad"
    );
    let mut total = [0.0f64; 3];
    for (g, count) in resnet18_shapes(width, batch) {
        let name = format!(
            "{}x{} {}->{} k{} s{}",
            g.in_h, g.in_w, g.in_channels, g.out_channels, g.kernel[0], g.stride[0]
        );
        if only
            .as_ref()
            .is_some_and(|only| !name.contains(only.as_str()))
        {
            continue;
        }
        let x = values(g.batch * g.in_channels * g.in_h * g.in_w, 1);
        let w = values(g.weight_len(), 2);
        let dy = values(g.batch * g.out_channels * g.out_h() * g.out_w(), 3);
        let times = [
            median_ms(|| drop(conv::forward(&g, &x, &w))),
            median_ms(|| drop(conv::input_grad(&g, &w, &dy))),
            median_ms(|| drop(conv::weight_grad(&g, &x, &dy))),
        ];
        let gflop = 2.0 * (g.batch * g.out_h() * g.out_w() * g.weight_len()) as f64 / 1e9;
        let cells: Vec<String> = times
            .iter()
            .map(|t| format!("{t:8.2} ({:6.1})", gflop / (t / 1e3)))
            .collect();
        println!(
            "{name:<28} {count:>5} {:>22} {:>22} {:>22}",
            cells[0], cells[1], cells[2]
        );
        for (sum, t) in total.iter_mut().zip(times) {
            *sum += t * count as f64;
        }
    }
    println!(
        "step total: forward {:.1} ms, input grad {:.1} ms, weight grad {:.1} ms, all {:.1} ms",
        total[0],
        total[1],
        total[2],
        total.iter().sum::<f64>()
    );
    time_batch_norm(width, batch);
}

/// Training-mode batch norm on the first stage's activation, the largest.
fn time_batch_norm(width: usize, batch: usize) {
    let e = Extent {
        batch,
        channels: width,
        positions: 32 * 32,
    };
    let x = values(batch * width * 32 * 32, 4);
    let dy = values(x.len(), 5);
    let (gamma, beta) = (values(width, 6), values(width, 7));
    let stats = norm::forward(e, &x, &gamma, &beta, 1e-5);
    let forward = median_ms(|| drop(norm::forward(e, &x, &gamma, &beta, 1e-5)));
    let backward = median_ms(|| {
        drop(norm::backward(
            e,
            &x,
            &gamma,
            &stats.mean,
            &stats.variance,
            1e-5,
            &dy,
        ))
    });
    println!(
        "batch norm of the 32x32x{width} activations: forward {forward:.2} ms, backward {backward:.2} ms"
    );
}

/// Every convolution shape of a CIFAR ResNet18 and how many times it occurs.
fn resnet18_shapes(width: usize, batch: usize) -> Vec<(Geometry, usize)> {
    let shape = |c_in, c_out, size, kernel: usize, stride| Geometry {
        batch,
        in_channels: c_in,
        in_h: size,
        in_w: size,
        out_channels: c_out,
        kernel: [kernel; 2],
        stride: [stride; 2],
        padding: [kernel / 2; 2],
    };
    let mut shapes = vec![
        (shape(3, width, 32, 3, 1), 1),
        (shape(width, width, 32, 3, 1), 4),
    ];
    for stage in 1..4 {
        let (c, size) = (width << stage, 32 >> stage);
        shapes.push((shape(c / 2, c, size * 2, 3, 2), 1));
        shapes.push((shape(c / 2, c, size * 2, 1, 2), 1));
        shapes.push((shape(c, c, size, 3, 1), 3));
    }
    shapes
}

fn median_ms(mut run: impl FnMut()) -> f64 {
    run();
    let mut times: Vec<f64> = (0..5)
        .map(|_| {
            let start = Instant::now();
            run();
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn values(len: usize, seed: u32) -> Vec<f32> {
    (0..len)
        .map(|i| {
            ((i as u32).wrapping_mul(2654435761).wrapping_add(seed) % 1000) as f32 / 500.0 - 1.0
        })
        .collect()
}
