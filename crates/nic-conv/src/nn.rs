//! burn's `Conv2d` and `ConvTranspose2d` modules through this crate's kernels: the modules
//! (and so the saved weights) stay burn's, only their forward call changes.

use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::tensor::Tensor;
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};

/// `conv.forward(x)`, through [`crate::conv2d`] (a module with `Same` padding, which burn
/// sizes per input, keeps burn's forward).
pub fn conv2d(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let (rows, cols) = match conv.padding {
        PaddingConfig2d::Valid => ((0, 0), (0, 0)),
        PaddingConfig2d::Explicit(top, left, bottom, right) => ((top, bottom), (left, right)),
        PaddingConfig2d::Same => return conv.forward(x),
    };
    let options =
        ConvOptions::new_with_padding(conv.stride, [rows, cols], conv.dilation, conv.groups);
    crate::conv2d(
        x,
        conv.weight.val(),
        conv.bias.as_ref().map(|b| b.val()),
        options,
    )
}

/// `deconv.forward(x)`, through [`crate::conv_transpose2d`].
pub fn conv_transpose2d(deconv: &ConvTranspose2d, x: Tensor<4>) -> Tensor<4> {
    let options = ConvTransposeOptions::new(
        deconv.stride,
        deconv.padding,
        deconv.padding_out,
        deconv.dilation,
        deconv.groups,
    );
    crate::conv_transpose2d(
        x,
        deconv.weight.val(),
        deconv.bias.as_ref().map(|b| b.val()),
        options,
    )
}
