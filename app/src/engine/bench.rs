//! Training-step throughput: forward + backward + SGD update on random
//! images, timed per step after a warm-up, median reported.

use super::train::{TrainConfig, sgd, sgd_step};
use burn::tensor::{Device, Distribution, Int, Tensor};
use deepreduce_models::IrModel;
use deepreduce_plugin_api::Network;
use std::time::Instant;

#[derive(Clone, Debug, serde::Serialize)]
pub struct StepTiming {
    pub batch: usize,
    pub images_per_second: f64,
    pub median_step_seconds: f64,
}

pub fn train_step_throughput(
    net: &Network,
    device: &Device,
    batch: usize,
    warmup: usize,
    steps: usize,
) -> Result<StepTiming, deepreduce_plugin_api::IrError> {
    let train_device = device.clone().autodiff();
    device.seed(0);
    let mut model = IrModel::new(net, &train_device)?;
    let mut optim = sgd(&TrainConfig::default());
    let classes = deepreduce_plugin_api::analyze(net)?.output.elements() as usize;
    let shape = [batch, net.input.channels, net.input.height, net.input.width];
    let mut times = Vec::with_capacity(steps);
    for i in 0..warmup + steps {
        let images = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &train_device);
        let labels = Tensor::<1, Int>::random(
            [batch],
            Distribution::Uniform(0.0, classes as f64),
            &train_device,
        );
        let _ = device.sync();
        let start = Instant::now();
        // Reading the loss (as the trainer does every batch) waits for the step.
        let (next, _, _) = sgd_step(model, &mut optim, images, labels, 0.1, None);
        model = next;
        let _ = device.sync();
        if i >= warmup {
            times.push(start.elapsed().as_secs_f64());
        }
    }
    let median = median(&mut times).expect("`steps` is at least 1 (the CLI enforces it)");
    Ok(StepTiming {
        batch,
        images_per_second: batch as f64 / median,
        median_step_seconds: median,
    })
}

/// The middle value (the upper one of an even count), `None` when empty.
pub fn median(values: &mut [f64]) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied()
}
