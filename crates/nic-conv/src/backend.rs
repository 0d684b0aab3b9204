//! The layer passes behind burn's tensor API: on burn Flex tensors directly, and on
//! `Autodiff<Flex>` tensors as a custom autodiff operation whose backward pass is
//! [`Layer::to_big`] / [`Layer::to_small`] and [`Layer::weight_gradient`] instead of burn's
//! generic gradients (a transposed convolution for the input and, for the weights, a
//! convolution with batch and channels swapped: one narrow product per input channel).

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Flex};
use burn::tensor::TensorData;

use crate::layer::channel_sums;
use crate::{Geometry, Layer};

/// A convolution or a transposed convolution with dilation 1 and one group, the kinds this
/// crate computes (anything else stays with burn).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Conv {
        stride: [usize; 2],
        padding: [(usize, usize); 2],
    },
    Transposed {
        stride: [usize; 2],
        padding: [usize; 2],
        padding_out: [usize; 2],
    },
}

impl Op {
    /// The layer for an input of shape `x` and a weight of shape `w` (burn's layouts), or
    /// `None` if they do not fit together (burn's own path then reports it).
    pub fn layer(&self, x: [usize; 4], w: [usize; 4]) -> Option<Layer> {
        let [batch, channels, h, width] = x;
        let kernel = [w[2], w[3]];
        match *self {
            Op::Conv { stride, padding } => {
                (w[1] == channels).then_some(())?;
                Some(Layer {
                    batch,
                    big_channels: channels,
                    small_channels: w[0],
                    geometry: Geometry::conv([h, width], kernel, stride, padding)?,
                })
            }
            Op::Transposed {
                stride,
                padding,
                padding_out,
            } => {
                (w[0] == channels).then_some(())?;
                Some(Layer {
                    batch,
                    big_channels: w[1],
                    small_channels: channels,
                    geometry: Geometry::transposed(
                        [h, width],
                        kernel,
                        stride,
                        padding,
                        padding_out,
                    )?,
                })
            }
        }
    }

    /// Output shape for input shape `x` and weight shape `w`.
    fn output(&self, layer: &Layer) -> [usize; 4] {
        let (channels, [h, w]) = match self {
            Op::Conv { .. } => (layer.small_channels, layer.geometry.small),
            Op::Transposed { .. } => (layer.big_channels, layer.geometry.big),
        };
        [layer.batch, channels, h, w]
    }
}

pub(crate) fn dims<const N: usize>(t: &FlexTensor) -> [usize; N] {
    let shape = t.layout().shape();
    std::array::from_fn(|i| shape[i])
}

/// The tensor's values in row-major order, copied only if its layout is strided.
pub(crate) fn values(t: &FlexTensor) -> std::borrow::Cow<'_, [f32]> {
    match t.as_slice::<f32>() {
        Some(v) => v.into(),
        None => t
            .to_contiguous()
            .as_slice::<f32>()
            .expect("contiguous f32")
            .to_vec()
            .into(),
    }
}

pub(crate) fn tensor<const N: usize>(values: Vec<f32>, shape: [usize; N]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

fn layer_of(op: Op, x: &FlexTensor, w: &FlexTensor) -> Layer {
    op.layer(dims(x), dims(w))
        .expect("shapes checked before routing to nic-conv")
}

/// The forward pass on Flex tensors.
pub fn forward(op: Op, x: &FlexTensor, w: &FlexTensor, bias: Option<&FlexTensor>) -> FlexTensor {
    let layer = layer_of(op, x, w);
    let bias = bias.map(values);
    let (xv, wv) = (values(x), values(w));
    let out = match op {
        Op::Conv { .. } => layer.to_small(&xv, &wv, bias.as_deref()),
        Op::Transposed { .. } => layer.to_big(&xv, &wv, bias.as_deref()),
    };
    tensor(out, op.output(&layer))
}

/// Gradients of the input, weight and bias, each computed only if asked for.
struct Wanted {
    x: bool,
    weight: bool,
    bias: bool,
}

type Grads = (Option<FlexTensor>, Option<FlexTensor>, Option<FlexTensor>);

fn backward(op: Op, x: &FlexTensor, w: &FlexTensor, grad: &FlexTensor, want: Wanted) -> Grads {
    let layer = layer_of(op, x, w);
    let (xv, wv, gv) = (values(x), values(w), values(grad));
    let (dx, dw) = match op {
        Op::Conv { .. } => (
            want.x.then(|| layer.to_big(&gv, &wv, None)),
            want.weight.then(|| layer.weight_gradient(&gv, &xv)),
        ),
        Op::Transposed { .. } => layer.transposed_gradients(&gv, &xv, &wv, want.x, want.weight),
    };
    let [b, c, h, width] = dims::<4>(grad);
    let db = want.bias.then(|| channel_sums(&gv, b, c, h * width));
    (
        dx.map(|v| tensor(v, dims::<4>(x))),
        dw.map(|v| tensor(v, dims::<4>(w))),
        db.map(|v| tensor(v, [c])),
    )
}

/// The autodiff node: `N` is 3 with a bias (parents x, weight, bias), 2 without.
#[derive(Debug)]
struct ConvBackward<const N: usize> {
    op: Op,
}

impl<const N: usize> Backward<Flex, N> for ConvBackward<N> {
    /// The checkpointed input and weight (the bias gradient needs only the output gradient).
    type State = (NodeId, NodeId);

    fn backward(
        self,
        ops: Ops<Self::State, N>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let grad = grads.consume::<Flex>(&ops.node);
        let (x_state, w_state) = ops.state;
        let x = checkpointer.retrieve_node_output::<FlexTensor>(x_state);
        let w = checkpointer.retrieve_node_output::<FlexTensor>(w_state);
        let parent = |i: usize| ops.parents.get(i).and_then(|p| p.as_ref());
        let want = Wanted {
            x: parent(0).is_some(),
            weight: parent(1).is_some(),
            bias: parent(2).is_some(),
        };
        let (dx, dw, db) = backward(self.op, &x, &w, &grad, want);
        for (i, g) in [dx, dw, db].into_iter().enumerate() {
            if let (Some(node), Some(g)) = (parent(i), g) {
                grads.register::<Flex>(node.id, g);
            }
        }
    }
}

type AdTensor = FloatTensor<Autodiff<Flex>>;

/// The forward pass on `Autodiff<Flex>` tensors, recording [`ConvBackward`].
pub fn forward_autodiff(op: Op, x: AdTensor, w: AdTensor, bias: Option<AdTensor>) -> AdTensor {
    match bias {
        Some(b) => {
            let node =
                ConvBackward::<3> { op }.prepare::<NoCheckpointing>([x.node(), w.node(), b.node()]);
            match node.compute_bound().stateful() {
                OpsKind::Tracked(mut prep) => {
                    let state = (prep.checkpoint(&x), prep.checkpoint(&w));
                    let out = forward(op, x.primitive(), w.primitive(), Some(b.primitive()));
                    prep.finish(state, out)
                }
                OpsKind::UnTracked(prep) => prep.finish(forward(
                    op,
                    x.primitive(),
                    w.primitive(),
                    Some(b.primitive()),
                )),
            }
        }
        None => {
            let node = ConvBackward::<2> { op }.prepare::<NoCheckpointing>([x.node(), w.node()]);
            match node.compute_bound().stateful() {
                OpsKind::Tracked(mut prep) => {
                    let state = (prep.checkpoint(&x), prep.checkpoint(&w));
                    let out = forward(op, x.primitive(), w.primitive(), None);
                    prep.finish(state, out)
                }
                OpsKind::UnTracked(prep) => {
                    prep.finish(forward(op, x.primitive(), w.primitive(), None))
                }
            }
        }
    }
}
