//! Convolutions and their gradients on the CPU as well-shaped matrix products.
//!
//! burn Flex (0.22) computes a convolution's forward pass with im2col and one GEMM per image
//! after channels-last copies, and has no backward pass of its own: burn's generic one takes
//! the weight gradient as a convolution with batch and channels swapped, which for a 5×5
//! stride-2 layer is one narrow product per input channel. Here every pass of a convolution
//! and of a transposed convolution is one wide product per chunk of images, between a weight
//! matrix and a patch matrix built in parallel straight from NCHW data ([`Layer`]).
//!
//! [`conv2d`] and [`conv_transpose2d`] take the arguments of `burn::tensor::module::conv2d` and
//! `conv_transpose2d` and can replace them anywhere: on burn Flex tensors, with or without
//! autodiff, they run here; on any other device (wgpu), or for dilated or grouped
//! convolutions, they call burn's own kernels unchanged. [`gdn`] does the same for GDN and
//! inverse GDN (one product and two passes each way instead of burn's chain of element-wise
//! operations), and [`depthwise`] for a per-channel filter (one pass each way instead of one
//! element-wise pass per tap). Setting `NIC_CONV=burn` in the environment sends everything to
//! burn's kernels, for side-by-side measurements.
//!
//! ```
//! use burn::tensor::{Device, Tensor};
//! use burn::tensor::ops::ConvOptions;
//!
//! let device = Device::flex();
//! let x = Tensor::<4>::ones([1, 3, 8, 8], &device);
//! let w = Tensor::<4>::ones([4, 3, 5, 5], &device);
//! let y = nic_conv::conv2d(x, w, None, ConvOptions::new([2, 2], [2, 2], [1, 1], 1));
//! assert_eq!(y.dims(), [1, 4, 4, 4]);
//! // The centre patches see all 75 weights.
//! assert_eq!(y.into_data().try_into_vec::<f32>().unwrap()[5], 75.0);
//! ```

mod backend;
mod depthwise;
mod gdn;
mod geometry;
mod im2col;
mod layer;
mod matmul;
pub mod nn;
mod scratch;

use std::sync::OnceLock;

use burn::backend::{Autodiff, DispatchDevice, Flex, GradientCheckpointingStrategy};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use burn::tensor::{DType, Tensor};

pub use backend::Op;
pub use depthwise::{depthwise, depthwise_burn};
pub use gdn::{gdn, gdn_burn};
pub use geometry::Geometry;
pub use im2col::{col2im, im2col};
pub use layer::{Layer, PATCH_BUDGET, channel_sums};
pub use matmul::{View, matmul, multiply_adds};

/// 2-D convolution, as `burn::tensor::module::conv2d`.
pub fn conv2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvOptions<2>,
) -> Tensor<4> {
    let op = (options.dilation == [1, 1] && options.groups == 1).then_some(Op::Conv {
        stride: options.stride,
        padding: options.padding,
    });
    match op.and_then(|op| route(op, &x, &weight, bias.as_ref()).map(|r| (op, r))) {
        Some((op, route)) => run(op, route, x, weight, bias),
        None => burn::tensor::module::conv2d(x, weight, bias, options),
    }
}

/// 2-D transposed convolution, as `burn::tensor::module::conv_transpose2d`.
pub fn conv_transpose2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvTransposeOptions<2>,
) -> Tensor<4> {
    let op = (options.dilation == [1, 1] && options.groups == 1).then_some(Op::Transposed {
        stride: options.stride,
        padding: options.padding,
        padding_out: options.padding_out,
    });
    match op.and_then(|op| route(op, &x, &weight, bias.as_ref()).map(|r| (op, r))) {
        Some((op, route)) => run(op, route, x, weight, bias),
        None => burn::tensor::module::conv_transpose2d(x, weight, bias, options),
    }
}

/// Whether [`conv2d`] and [`conv_transpose2d`] compute on these tensors here (given a layer
/// without dilation or groups whose shapes fit) rather than hand them to burn.
pub fn computes_here(x: &Tensor<4>, weight: &Tensor<4>) -> bool {
    enabled() && route_of(x).is_some() && route_of(x) == route_of(weight)
}

/// Whether this crate's kernels are in use (`NIC_CONV=burn` turns them off).
pub fn enabled() -> bool {
    static ENABLED: OnceLock<bool> = OnceLock::new();
    *ENABLED.get_or_init(|| std::env::var("NIC_CONV").map_or(true, |v| v != "burn"))
}

/// Where the tensors of one call live, when it is somewhere this crate computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    Flex,
    AutodiffFlex,
}

pub(crate) fn route_of<const D: usize>(t: &Tensor<D>) -> Option<Route> {
    if t.dtype() != DType::F32 {
        return None;
    }
    match t.device().as_dispatch() {
        DispatchDevice::Flex(_) => Some(Route::Flex),
        DispatchDevice::Autodiff(ad)
            if matches!(**ad, DispatchDevice::Flex(_))
                && ad.gradient_checkpointing_strategy()
                    == GradientCheckpointingStrategy::Disabled =>
        {
            Some(Route::AutodiffFlex)
        }
        _ => None,
    }
}

fn route(op: Op, x: &Tensor<4>, w: &Tensor<4>, bias: Option<&Tensor<1>>) -> Option<Route> {
    if !enabled() {
        return None;
    }
    op.layer(x.dims(), w.dims())?;
    if let Some(b) = bias {
        let channels = match op {
            Op::Conv { .. } => w.dims()[0],
            Op::Transposed { .. } => w.dims()[1],
        };
        (b.dims() == [channels]).then_some(())?;
    }
    let r = route_of(x)?;
    (route_of(w)? == r && bias.is_none_or(|b| route_of(b) == Some(r))).then_some(r)
}

/// The message of an `expect` that cannot fail: a tensor goes to a route only when its
/// device is that route's.
pub(crate) const ROUTED: &str = "tensor routed by its device";

fn run(op: Op, route: Route, x: Tensor<4>, w: Tensor<4>, bias: Option<Tensor<1>>) -> Tensor<4> {
    match route {
        Route::Flex => {
            let out = backend::forward(
                op,
                &x.try_into_primitive::<Flex>().expect(ROUTED),
                &w.try_into_primitive::<Flex>().expect(ROUTED),
                bias.map(|b| b.try_into_primitive::<Flex>().expect(ROUTED))
                    .as_ref(),
            );
            Tensor::from_primitive::<Flex>(out)
        }
        Route::AutodiffFlex => {
            let out = backend::forward_autodiff(
                op,
                x.try_into_primitive::<Autodiff<Flex>>().expect(ROUTED),
                w.try_into_primitive::<Autodiff<Flex>>().expect(ROUTED),
                bias.map(|b| b.try_into_primitive::<Autodiff<Flex>>().expect(ROUTED)),
            );
            Tensor::from_primitive::<Autodiff<Flex>>(out)
        }
    }
}
