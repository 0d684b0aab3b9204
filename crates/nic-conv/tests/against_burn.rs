//! nic-conv's passes against burn's own kernels (burn Flex's forward convolutions and burn's
//! generic gradients), on random shapes: strides 1 and 2, the paddings the codec's networks
//! use and asymmetric ones, odd sizes, batch 1 and 64, 1×1, 3×3 and 5×5 kernels.
//!
//! Tolerance: every value within 1e-4 of the largest magnitude of the reference tensor
//! (outputs and gradients are f32 sums of up to some 10⁵ products, summed in another order).

mod common;

use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use burn::tensor::{Device, Tensor, TensorData};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use common::{assert_close, values};

#[derive(Debug, Clone, Copy)]
struct Case {
    transposed: bool,
    batch: usize,
    cin: usize,
    cout: usize,
    kernel: [usize; 2],
    stride: [usize; 2],
    /// (begin, end) per axis; transposed convolutions use `begin` and `padding_out` below.
    padding: [(usize, usize); 2],
    padding_out: [usize; 2],
    size: [usize; 2],
    bias: bool,
}

fn random(rng: &mut StdRng, shape: &[usize], device: &Device) -> Tensor<1> {
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
    Tensor::<1>::from_data(TensorData::new(v, [n]), device)
}

/// Output and the gradients of x, weight and bias for a random linear loss, either through
/// nic-conv or through burn.
fn run(case: &Case, seed: u64, ours: bool) -> Vec<Vec<f32>> {
    let device = Device::flex().autodiff();
    let mut rng = StdRng::seed_from_u64(seed);
    let [h, w] = case.size;
    let [kh, kw] = case.kernel;
    let x = random(&mut rng, &[case.batch, case.cin, h, w], &device)
        .reshape([case.batch, case.cin, h, w])
        .require_grad();
    let wshape = if case.transposed {
        [case.cin, case.cout, kh, kw]
    } else {
        [case.cout, case.cin, kh, kw]
    };
    let weight = random(&mut rng, &wshape, &device)
        .reshape(wshape)
        .require_grad();
    assert!(
        nic_conv::computes_here(&x, &weight),
        "the kernels under test must run"
    );
    let bias = case
        .bias
        .then(|| random(&mut rng, &[case.cout], &device).require_grad());
    let y = if case.transposed {
        let options = ConvTransposeOptions::new(
            case.stride,
            [case.padding[0].0, case.padding[1].0],
            case.padding_out,
            [1, 1],
            1,
        );
        if ours {
            nic_conv::conv_transpose2d(x.clone(), weight.clone(), bias.clone(), options)
        } else {
            burn::tensor::module::conv_transpose2d(x.clone(), weight.clone(), bias.clone(), options)
        }
    } else {
        let options = ConvOptions::new_with_padding(case.stride, case.padding, [1, 1], 1);
        if ours {
            nic_conv::conv2d(x.clone(), weight.clone(), bias.clone(), options)
        } else {
            burn::tensor::module::conv2d(x.clone(), weight.clone(), bias.clone(), options)
        }
    };
    let dims = y.dims();
    let r = random(&mut rng, &dims, &device).reshape(dims);
    let grads = (y.clone() * r).sum().backward();
    let mut out = vec![
        values(y),
        values(x.grad(&grads).unwrap()),
        values(weight.grad(&grads).unwrap()),
    ];
    if let Some(b) = bias {
        out.push(values(b.grad(&grads).unwrap()));
    }
    out
}

fn check(case: Case, seed: u64) {
    let ours = run(&case, seed, true);
    let theirs = run(&case, seed, false);
    for ((what, g), w) in [
        "output",
        "input gradient",
        "weight gradient",
        "bias gradient",
    ]
    .into_iter()
    .zip(ours)
    .zip(theirs)
    {
        assert_close(what, &case, g, w);
    }
}

fn conv(
    batch: usize,
    cin: usize,
    cout: usize,
    k: usize,
    s: usize,
    p: usize,
    size: [usize; 2],
) -> Case {
    Case {
        transposed: false,
        batch,
        cin,
        cout,
        kernel: [k, k],
        stride: [s, s],
        padding: [(p, p), (p, p)],
        padding_out: [0, 0],
        size,
        bias: true,
    }
}

fn deconv(
    batch: usize,
    cin: usize,
    cout: usize,
    k: usize,
    s: usize,
    p: usize,
    size: [usize; 2],
) -> Case {
    Case {
        transposed: true,
        padding_out: [s - 1, s - 1],
        ..conv(batch, cin, cout, k, s, p, size)
    }
}

#[test]
fn the_codec_layers_agree_with_burn() {
    // The shapes of the analysis, synthesis and hyperprior layers, scaled down.
    let cases = [
        conv(2, 3, 8, 5, 2, 2, [16, 16]),
        conv(2, 8, 8, 5, 2, 2, [8, 8]),
        conv(1, 8, 6, 3, 1, 1, [4, 4]),
        deconv(2, 8, 8, 5, 2, 2, [4, 4]),
        deconv(2, 8, 3, 5, 2, 2, [8, 8]),
        deconv(1, 6, 8, 5, 2, 2, [1, 1]),
    ];
    for (i, case) in cases.into_iter().enumerate() {
        check(case, i as u64);
    }
}

#[test]
fn odd_sizes_strides_paddings_and_kernels_agree_with_burn() {
    let cases = [
        conv(1, 5, 7, 5, 2, 2, [13, 11]),
        conv(3, 4, 5, 5, 2, 0, [9, 12]),
        conv(2, 5, 3, 3, 1, 1, [7, 5]),
        conv(2, 6, 4, 1, 1, 0, [5, 3]),
        conv(1, 3, 4, 3, 2, 1, [1, 1]),
        Case {
            padding: [(0, 1), (2, 0)],
            kernel: [3, 2],
            stride: [2, 3],
            bias: false,
            ..conv(2, 3, 4, 3, 2, 0, [6, 8])
        },
        deconv(1, 5, 7, 5, 2, 2, [7, 3]),
        deconv(3, 4, 2, 3, 1, 1, [5, 6]),
        deconv(2, 3, 5, 1, 1, 0, [4, 3]),
        Case {
            padding_out: [0, 0],
            bias: false,
            ..deconv(2, 4, 3, 5, 2, 2, [5, 4])
        },
    ];
    for (i, case) in cases.into_iter().enumerate() {
        check(case, 100 + i as u64);
    }
}

#[test]
fn a_batch_of_64_agrees_with_burn() {
    // Many small pictures: the chunks then hold many images each.
    check(conv(64, 4, 6, 5, 2, 2, [8, 8]), 7);
    check(deconv(64, 6, 4, 5, 2, 2, [2, 2]), 8);
}

#[test]
fn bands_of_large_pictures_agree_with_burn() {
    // Patch matrices of 96·25 rows × 64² patches exceed nic_conv::PATCH_BUDGET for one
    // picture, so each goes through in bands of patch rows.
    const { assert!(96 * 25 * 64 * 64 > nic_conv::PATCH_BUDGET) };
    check(conv(2, 96, 4, 5, 2, 2, [128, 128]), 9);
    check(deconv(1, 4, 96, 5, 2, 2, [64, 64]), 10);
}

#[test]
fn inference_without_autodiff_agrees_with_burn() {
    let device = Device::flex();
    let mut rng = StdRng::seed_from_u64(3);
    let x = random(&mut rng, &[2 * 5 * 9 * 7], &device).reshape([2, 5, 9, 7]);
    let w = random(&mut rng, &[5 * 4 * 25], &device).reshape([5, 4, 5, 5]);
    let b = random(&mut rng, &[4], &device);
    assert!(nic_conv::computes_here(&x, &w));
    let options = ConvTransposeOptions::new([2, 2], [2, 2], [1, 1], [1, 1], 1);
    let case = deconv(2, 5, 4, 5, 2, 2, [9, 7]);
    let ours = nic_conv::conv_transpose2d(x.clone(), w.clone(), Some(b.clone()), options.clone());
    let theirs = burn::tensor::module::conv_transpose2d(x, w, Some(b), options);
    assert_close("transposed output", &case, values(ours), values(theirs));
}

#[test]
fn other_devices_and_kinds_fall_back_to_burn() {
    // A dilated convolution is burn's; the result must still be right.
    let device = Device::flex();
    let x = Tensor::<4>::ones([1, 1, 5, 5], &device);
    let w = Tensor::<4>::ones([1, 1, 3, 3], &device);
    let y = nic_conv::conv2d(x, w, None, ConvOptions::new([1, 1], [0, 0], [2, 2], 1));
    assert_eq!(y.dims(), [1, 1, 1, 1]);
    assert_eq!(values(y), vec![9.0]);
}
