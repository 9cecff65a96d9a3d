//! CPU kernels for [`crate::IrModel`] on the flex backend: dense
//! convolutions (groups 1, the bulk of every ResNet and VGG) and their
//! hand-written backward passes (im2col + GEMM, and with AVX-512 or AVX2
//! direct kernels for 3x3 layers), and training-mode batch norm. Everything else
//! (depthwise layers, inference-mode batch norm, wgpu) goes through burn's
//! own modules.

#[cfg(target_arch = "x86_64")]
mod avx2_gemm;
pub mod conv;
#[cfg(target_arch = "x86_64")]
mod direct;
mod extension;
pub mod isa;
mod memory;
pub mod norm;
#[cfg(target_arch = "x86_64")]
mod small_planes;

use burn::backend::{DType, Dispatch, DispatchDevice};
use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, PaddingConfig2d};
use burn::tensor::Tensor;
use extension::CpuKernels;
pub use memory::keep_freed_buffers;

pub fn conv2d(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let Some(padding) = dense_padding(conv, &x) else {
        return conv.forward(x);
    };
    let y = Tensor::<4>::from_dispatch(<Dispatch as CpuKernels>::dense_conv2d(
        x.into_dispatch(),
        conv.weight.val().into_dispatch(),
        conv.stride,
        padding,
    ));
    match &conv.bias {
        Some(bias) => {
            let channels = bias.dims()[0];
            y + bias.val().reshape([1, channels, 1, 1])
        }
        None => y,
    }
}

/// Batch norm, training its statistics when `x` is on an autodiff device
/// (as burn's `BatchNorm::forward` decides), running averages updated alike.
pub fn batch_norm(norm: &BatchNorm, x: Tensor<4>) -> Tensor<4> {
    let training = x.device().is_autodiff() && norm.training.is_enabled();
    if !(training && on_flex_f32(&x)) {
        return norm.forward(x);
    }
    let (output, mean, variance) = <Dispatch as CpuKernels>::batch_norm_train(
        x.into_dispatch(),
        norm.gamma.val().into_dispatch(),
        norm.beta.val().into_dispatch(),
        norm.epsilon,
    );
    let momentum = norm.momentum;
    let update = |running: &burn::module::RunningState<Tensor<1>>, batch| {
        let batch = Tensor::<1>::from_dispatch(batch).detach();
        let value = running.value_sync().to_device(&batch.device());
        running.update(
            value
                .mul_scalar(1.0 - momentum)
                .add(batch.mul_scalar(momentum))
                .detach(),
        );
    };
    update(&norm.running_mean, mean);
    update(&norm.running_var, variance);
    Tensor::<4>::from_dispatch(output)
}

fn on_flex_f32(x: &Tensor<4>) -> bool {
    let device = x.device().as_dispatch().clone().inner();
    matches!(device, DispatchDevice::Flex(_)) && x.dtype() == DType::F32
}

/// The symmetric padding `[height, width]` when our dense-convolution
/// kernels (`conv`) can run this convolution on this input, else `None`.
fn dense_padding(conv: &Conv2d, x: &Tensor<4>) -> Option<[usize; 2]> {
    if !(on_flex_f32(x) && conv.groups == 1 && conv.dilation == [1, 1]) {
        return None;
    }
    match conv.padding {
        PaddingConfig2d::Explicit(top, left, bottom, right) if top == bottom && left == right => {
            Some([top, left])
        }
        PaddingConfig2d::Valid => Some([0, 0]),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::conv::Conv2dConfig;
    use burn::tensor::{Device, Distribution};

    /// Our route and burn's own `Conv2d::forward` agree on the output and on
    /// both gradients, for the shapes ResNets use (3x3 stride 1 and 2 with
    /// padding, 1x1 stride-2 shortcuts) and a biased, unpadded one, on
    /// im2col and GEMM (9x8 images) and, where AVX-512 is, the direct
    /// kernels (32x32) and the small-plane ones (8x8, and stride 2 from 16x16).
    #[test]
    fn our_route_matches_burn_forward_and_gradients() {
        let device = Device::flex().autodiff();
        device.seed(7);
        let same = PaddingConfig2d::Explicit(1, 1, 1, 1);
        let cases = [
            ([4, 6], [3, 3], [1, 1], same.clone(), false, [9, 8]),
            ([4, 6], [3, 3], [2, 2], same.clone(), false, [9, 8]),
            (
                [4, 6],
                [1, 1],
                [2, 2],
                PaddingConfig2d::Explicit(0, 0, 0, 0),
                false,
                [9, 8],
            ),
            ([3, 5], [3, 3], [1, 1], PaddingConfig2d::Valid, true, [9, 8]),
            ([3, 8], [3, 3], [1, 1], same.clone(), false, [32, 32]),
            ([4, 32], [3, 3], [1, 1], same.clone(), true, [8, 8]),
            ([4, 32], [3, 3], [2, 2], same, false, [16, 16]),
        ];
        for (channels, kernel, stride, padding, bias, [h, w]) in cases {
            let conv = Conv2dConfig::new(channels, kernel)
                .with_stride(stride)
                .with_padding(padding)
                .with_bias(bias)
                .init(&device);
            assert!(
                dense_padding(&conv, &Tensor::<4>::zeros([1, channels[0], h, w], &device))
                    .is_some()
            );
            let x = Tensor::<4>::random(
                [2, channels[0], h, w],
                Distribution::Normal(0.0, 1.0),
                &device,
            )
            .require_grad();
            let dy = Tensor::<4>::random(
                conv.forward(x.clone()).dims(),
                Distribution::Normal(0.0, 1.0),
                &device,
            );
            let grads_of = |y: Tensor<4>| {
                let grads = (y.clone() * dy.clone()).sum().backward();
                (
                    y.into_data(),
                    x.grad(&grads).unwrap().into_data(),
                    conv.weight.grad(&grads).unwrap().into_data(),
                )
            };
            let ours = grads_of(conv2d(&conv, x.clone()));
            let burns = grads_of(conv.forward(x.clone()));
            // 1e-5 relative: a 32x32 layer's weight gradient sums 2048
            // products into values near 100, in another order than burn's.
            let tolerance = burn::tensor::Tolerance::<f32>::rel_abs(1e-5, 1e-4);
            ours.0.assert_approx_eq(&burns.0, tolerance);
            ours.1.assert_approx_eq(&burns.1, tolerance);
            ours.2.assert_approx_eq(&burns.2, tolerance);
        }
    }

    #[test]
    fn depthwise_and_non_flex_convolutions_keep_burns_route() {
        let device = Device::flex();
        let depthwise = Conv2dConfig::new([4, 4], [3, 3])
            .with_groups(4)
            .init(&device);
        assert_eq!(
            dense_padding(&depthwise, &Tensor::<4>::zeros([1, 4, 5, 5], &device)),
            None
        );
    }

    /// Training-mode batch norm: our route and burn's agree on the output,
    /// the three gradients and the running statistics it leaves behind.
    #[test]
    fn batch_norm_route_matches_burn_output_gradients_and_running_stats() {
        use burn::nn::BatchNormConfig;
        let device = Device::flex().autodiff();
        device.seed(11);
        let x = Tensor::<4>::random([3, 5, 4, 6], Distribution::Normal(1.5, 2.0), &device)
            .require_grad();
        let dy = Tensor::<4>::random([3, 5, 4, 6], Distribution::Normal(0.0, 1.0), &device);
        let run = |route: &dyn Fn(&BatchNorm, Tensor<4>) -> Tensor<4>| {
            let norm = BatchNormConfig::new(5).init(&device);
            let gamma = Tensor::<1>::from_floats([0.5, 1.0, 1.5, 2.0, -1.0], &device);
            let norm = BatchNorm {
                gamma: burn::module::Param::from_tensor(gamma),
                ..norm
            };
            let y = route(&norm, x.clone());
            let grads = (y.clone() * dy.clone()).sum().backward();
            [
                y.into_data(),
                x.grad(&grads).unwrap().into_data(),
                norm.gamma.grad(&grads).unwrap().into_data(),
                norm.beta.grad(&grads).unwrap().into_data(),
                norm.running_mean.value().into_data(),
                norm.running_var.value().into_data(),
            ]
        };
        let ours = run(&|norm, x| batch_norm(norm, x));
        let burns = run(&|norm, x| norm.forward(x));
        for (ours, burns) in ours.iter().zip(&burns) {
            ours.assert_approx_eq(burns, burn::tensor::Tolerance::<f32>::absolute(1e-4));
        }
    }
}
