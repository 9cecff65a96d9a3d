//! Our CPU kernels as a burn backend extension: forwards on the flex
//! backend and, for flex under autodiff, backward nodes that call the
//! kernels' own gradients.

use super::conv::{self, Geometry};
use super::norm::{self, Extent};
use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Flex, TensorMetadata, backend_extension};
use burn::tensor::TensorData;

#[backend_extension(Flex, Autodiff)]
pub trait CpuKernels: Backend {
    /// A groups-1, dilation-1 convolution without bias of `x` `[N, C_in, H, W]`
    /// by `weight` `[C_out, C_in, kh, kw]`, padded symmetrically.
    fn dense_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> FloatTensor<Self>;

    /// Training-mode batch norm of `x` `[N, C, H, W]`: the output, and the
    /// batch's per-channel mean and biased variance (not differentiated).
    fn batch_norm_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

impl CpuKernels for Flex {
    fn dense_conv2d(
        x: FlexTensor,
        weight: FlexTensor,
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> FlexTensor {
        let g = geometry(&x, &weight, stride, padding);
        let (x, weight) = (x.to_contiguous(), weight.to_contiguous());
        let y = conv::forward(&g, floats(&x), floats(&weight));
        tensor(y, [g.batch, g.out_channels, g.out_h(), g.out_w()])
    }

    fn batch_norm_train(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        epsilon: f64,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        let shape = x.shape();
        let (x, gamma, beta) = (
            x.to_contiguous(),
            gamma.to_contiguous(),
            beta.to_contiguous(),
        );
        let e = extent(&x);
        let result = norm::forward(e, floats(&x), floats(&gamma), floats(&beta), epsilon);
        (
            FlexTensor::from_data(TensorData::new(result.output, shape)),
            tensor(result.mean, [e.channels]),
            tensor(result.variance, [e.channels]),
        )
    }
}

impl<C: CheckpointStrategy> CpuKernels for Autodiff<Flex, C> {
    fn dense_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> FloatTensor<Self> {
        let forward = |x, weight| Flex::dense_conv2d(x, weight, stride, padding);
        match ConvBackward
            .prepare::<C>([x.node(), weight.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let state = (
                    prep.checkpoint(&x),
                    prep.checkpoint(&weight),
                    stride,
                    padding,
                );
                prep.finish(state, forward(x.into_primitive(), weight.into_primitive()))
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(forward(x.into_primitive(), weight.into_primitive()))
            }
        }
    }

    fn batch_norm_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let forward = |x: FloatTensor<Self>, gamma: FloatTensor<Self>, beta: FloatTensor<Self>| {
            Flex::batch_norm_train(
                x.into_primitive(),
                gamma.into_primitive(),
                beta.into_primitive(),
                epsilon,
            )
        };
        let prep = NormBackward
            .prepare::<C>([x.node(), gamma.node(), beta.node()])
            .compute_bound()
            .stateful();
        let (output, mean, variance) = match prep {
            OpsKind::Tracked(mut prep) => {
                let (x_node, gamma_node) = (prep.checkpoint(&x), prep.checkpoint(&gamma));
                let (output, mean, variance) = forward(x, gamma, beta);
                let state = (x_node, gamma_node, mean.clone(), variance.clone(), epsilon);
                (prep.finish(state, output), mean, variance)
            }
            OpsKind::UnTracked(prep) => {
                let (output, mean, variance) = forward(x, gamma, beta);
                (prep.finish(output), mean, variance)
            }
        };
        (
            output,
            FloatTensor::<Self>::new(mean),
            FloatTensor::<Self>::new(variance),
        )
    }
}

#[derive(Debug)]
struct ConvBackward;

impl Backward<Flex, 2> for ConvBackward {
    /// The input and weight nodes, stride and padding.
    type State = (NodeId, NodeId, [usize; 2], [usize; 2]);

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [x_parent, weight_parent] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node).to_contiguous();
        let (x_node, weight_node, stride, padding) = ops.state;
        let x = checkpointer.retrieve_node_output::<FlexTensor>(x_node);
        let weight = checkpointer.retrieve_node_output::<FlexTensor>(weight_node);
        let g = geometry(&x, &weight, stride, padding);
        if let Some(parent) = x_parent {
            let weight = weight.to_contiguous();
            let dx = conv::input_grad(&g, floats(&weight), floats(&dy));
            let shape = [g.batch, g.in_channels, g.in_h, g.in_w];
            grads.register::<Flex>(parent.id, tensor(dx, shape));
        }
        if let Some(parent) = weight_parent {
            let x = x.to_contiguous();
            let dw = conv::weight_grad(&g, floats(&x), floats(&dy));
            let [kh, kw] = g.kernel;
            let shape = [g.out_channels, g.in_channels, kh, kw];
            grads.register::<Flex>(parent.id, tensor(dw, shape));
        }
    }
}

#[derive(Debug)]
struct NormBackward;

impl Backward<Flex, 3> for NormBackward {
    /// The input and gamma nodes, the batch mean and variance, epsilon.
    type State = (NodeId, NodeId, FlexTensor, FlexTensor, f64);

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [x_parent, gamma_parent, beta_parent] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node).to_contiguous();
        let (x_node, gamma_node, mean, variance, epsilon) = ops.state;
        let x = checkpointer
            .retrieve_node_output::<FlexTensor>(x_node)
            .to_contiguous();
        let gamma = checkpointer
            .retrieve_node_output::<FlexTensor>(gamma_node)
            .to_contiguous();
        let e = extent(&x);
        let shape = x.shape();
        let grad = norm::backward(
            e,
            floats(&x),
            floats(&gamma),
            floats(&mean),
            floats(&variance),
            epsilon,
            floats(&dy),
        );
        if let Some(parent) = x_parent {
            grads.register::<Flex>(
                parent.id,
                FlexTensor::from_data(TensorData::new(grad.x, shape)),
            );
        }
        if let Some(parent) = gamma_parent {
            grads.register::<Flex>(parent.id, tensor(grad.gamma, [e.channels]));
        }
        if let Some(parent) = beta_parent {
            grads.register::<Flex>(parent.id, tensor(grad.beta, [e.channels]));
        }
    }
}

fn geometry(
    x: &FlexTensor,
    weight: &FlexTensor,
    stride: [usize; 2],
    padding: [usize; 2],
) -> Geometry {
    let [batch, in_channels, in_h, in_w] = x.shape().dims();
    let [out_channels, _, kh, kw] = weight.shape().dims();
    Geometry {
        batch,
        in_channels,
        in_h,
        in_w,
        out_channels,
        kernel: [kh, kw],
        stride,
        padding,
    }
}

fn extent(x: &FlexTensor) -> Extent {
    let shape = x.shape();
    Extent {
        batch: shape[0],
        channels: shape[1],
        positions: shape.num_elements() / (shape[0] * shape[1]).max(1),
    }
}

fn floats(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>()
        .expect("the CPU kernels are only routed f32 tensors, made contiguous")
}

fn tensor<const D: usize>(values: Vec<f32>, shape: [usize; D]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}
