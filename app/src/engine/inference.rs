//! Plain (non-private) inference time of a trained model on the current
//! backend: the second latency view beside the private-inference estimate.

use burn::module::Module;
use burn::tensor::{Device, Distribution, Tensor};
use deepreduce_models::IrModel;
use deepreduce_plugin_api::InputSpec;
use std::time::Instant;

/// Median milliseconds per image of a forward pass over batches of `batch`
/// random images (after one warm-up batch).
pub fn milliseconds_per_image(
    model: &IrModel,
    input: InputSpec,
    device: &Device,
    batch: usize,
) -> f64 {
    let eval = model.valid();
    let shape = [batch, input.channels, input.height, input.width];
    let mut times = Vec::new();
    for i in 0..4 {
        let x = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), device);
        let _ = device.sync();
        let start = Instant::now();
        let _ = eval.forward(x).into_data();
        if i > 0 {
            times.push(start.elapsed().as_secs_f64());
        }
    }
    times.sort_by(f64::total_cmp);
    1000.0 * times[times.len() / 2] / batch as f64
}
