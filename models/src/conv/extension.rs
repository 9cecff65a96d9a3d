//! The im2col convolution as a burn backend extension: a forward for the
//! flex backend and, for flex under autodiff, a backward node whose two
//! gradients are the kernels of [`super::kernels`].

use super::kernels::{self, Geometry};
use burn::backend::TensorMetadata;
use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Flex, backend_extension};
use burn::tensor::TensorData;

#[backend_extension(Flex, Autodiff)]
pub trait Im2colConv: Backend {
    /// A groups-1, dilation-1 convolution without bias of `x` `[N, C_in, H, W]`
    /// by `weight` `[C_out, C_in, kh, kw]`, padded symmetrically.
    fn im2col_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> FloatTensor<Self>;
}

impl Im2colConv for Flex {
    fn im2col_conv2d(
        x: FlexTensor,
        weight: FlexTensor,
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> FlexTensor {
        let g = geometry(&x, &weight, stride, padding);
        let (x, weight) = (x.to_contiguous(), weight.to_contiguous());
        let y = kernels::forward(&g, floats(&x), floats(&weight));
        tensor(y, [g.batch, g.out_channels, g.out_h(), g.out_w()])
    }
}

impl<C: CheckpointStrategy> Im2colConv for Autodiff<Flex, C> {
    fn im2col_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> FloatTensor<Self> {
        let forward = |x, weight| Flex::im2col_conv2d(x, weight, stride, padding);
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
            let dx = kernels::input_grad(&g, floats(&weight), floats(&dy));
            grads.register::<Flex>(
                parent.id,
                tensor(dx, [g.batch, g.in_channels, g.in_h, g.in_w]),
            );
        }
        if let Some(parent) = weight_parent {
            let x = x.to_contiguous();
            let dw = kernels::weight_grad(&g, floats(&x), floats(&dy));
            let [kh, kw] = g.kernel;
            grads.register::<Flex>(
                parent.id,
                tensor(dw, [g.out_channels, g.in_channels, kh, kw]),
            );
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

fn floats(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>()
        .expect("the im2col convolution is only routed f32 tensors, made contiguous")
}

fn tensor<const D: usize>(values: Vec<f32>, shape: [usize; D]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}
