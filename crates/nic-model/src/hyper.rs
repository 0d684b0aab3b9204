//! The scale hyperprior (Ballé, Minnen, Singh, Hwang, Johnston 2018).
//!
//! The latents of a photograph are far from independent: their spread varies from flat sky to
//! foliage. The hyper-analysis summarizes the magnitudes |y| into side latents z, 4× smaller
//! per side (one per 64×64 pixels), which are quantized and sent with a factorized prior; the
//! hyper-synthesis predicts from ẑ a scale σ for every latent, and each latent is coded with a
//! discretized Gaussian of that scale. Here the scale is snapped to one of
//! [`nic_entropy::SCALE_COUNT`] log-spaced tables, and the decoder's path (ẑ → σ → table) runs in
//! integer arithmetic ([`nic_hyper`]) so that every machine picks the same tables.
//!
//! The mean-scale form (Minnen, Ballé and Toderici 2018, without their autoregressive
//! context) predicts a mean μ beside each scale: the codec sends round(y − μ) and the decoder
//! adds μ back, so the Gaussian is centred where the latent is expected rather than at zero.
//! μ changes the decoded values, so it comes out of the same integer network as the scales
//! (its last layer's second half, without ReLU).

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{Initializer, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use nic_hyper::{Kind, Layer, Network, Shape};

use crate::context::Context;
use crate::gdn::lower_bound;
use crate::prior::LIKELIHOOD_BOUND;
use crate::widen::{self, Reading};
use crate::{Architecture, FactorizedPrior};

#[derive(Module, Debug)]
pub struct Hyperprior {
    /// |y| → z: 3×3 stride 1, then two 5×5 stride 2, ReLU between.
    analysis: Vec<Conv2d>,
    /// ẑ → σ: two 5×5 stride-2 transposed convolutions, then a 3×3 convolution, ReLU after each.
    upsample: Vec<ConvTranspose2d>,
    /// M scales, or in the mean-scale form 2M outputs: M scales (through ReLU), then M means.
    output: Conv2d,
    /// The factorized prior of z.
    pub prior: FactorizedPrior,
    /// The checkerboard context's corrections to the non-anchors' prediction, if any (mean-scale
    /// form only).
    pub context: Option<Context>,
}

fn conv(i: usize, o: usize, k: usize, s: usize, device: &Device) -> Conv2d {
    let p = k / 2;
    Conv2dConfig::new([i, o], [k, k])
        .with_stride([s, s])
        .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
        .init(device)
}

fn deconv(i: usize, o: usize, device: &Device) -> ConvTranspose2d {
    ConvTranspose2dConfig::new([i, o], [5, 5])
        .with_stride([2, 2])
        .with_padding([2, 2])
        .with_padding_out([1, 1])
        .init(device)
}

impl Hyperprior {
    pub fn new(arch: &Architecture, device: &Device) -> Self {
        let (m, h) = (arch.latent_channels, arch.hyper_channels);
        Hyperprior {
            analysis: vec![
                conv(m, h, 3, 1, device),
                conv(h, h, 5, 2, device),
                conv(h, h, 5, 2, device),
            ],
            upsample: vec![deconv(h, h, device), deconv(h, h, device)],
            output: conv(h, if arch.means { 2 * m } else { m }, 3, 1, device),
            prior: FactorizedPrior::new(h, device),
            context: arch
                .has_context()
                .then(|| Context::new(m, arch.context_channels, device)),
        }
    }

    /// Latents (height and width multiples of [`Architecture::HYPER_STRIDE`]) → side latents.
    pub fn analyze(&self, y: Tensor<4>) -> Tensor<4> {
        let mut x = y.abs();
        for (i, c) in self.analysis.iter().enumerate() {
            x = nic_conv::nn::conv2d(c, x);
            if i + 1 < self.analysis.len() {
                x = relu(x);
            }
        }
        x
    }

    /// (Gained) latents of any size → unquantized side latents (the latents padded with
    /// zeros to multiples of [`Architecture::HYPER_STRIDE`] first).
    pub fn side_latents(&self, y: Tensor<4>) -> Tensor<4> {
        self.analyze(pad_to_multiple(y, Architecture::HYPER_STRIDE))
    }

    /// Likelihoods of latents `y` (quantized, or with noise in training) under the Gaussians
    /// predicted from side latents `z`, and of `z` under its own prior.
    pub fn likelihoods(&self, y: Tensor<4>, z: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        let side = self.prior.likelihood(z.clone());
        (self.predict(z, y.dims()).likelihood(y), side)
    }

    /// Latent channels M.
    fn latent_channels(&self) -> usize {
        self.analysis[0].weight.dims()[1]
    }

    /// Whether this is the mean-scale form.
    pub fn predicts_means(&self) -> bool {
        self.output.weight.dims()[0] == 2 * self.latent_channels()
    }

    /// Side latents → the hyper-synthesis output before the scales' ReLU (`[b, M or 2M, h,
    /// w]`), cropped to latents of `dims`.
    fn raw(&self, z: Tensor<4>, dims: [usize; 4]) -> Tensor<4> {
        let [b, _, h, w] = dims;
        let mut x = z;
        for d in &self.upsample {
            x = relu(nic_conv::nn::conv_transpose2d(d, x));
        }
        let out = nic_conv::nn::conv2d(&self.output, x);
        let outputs = out.dims()[1];
        out.slice([0..b, 0..outputs, 0..h, 0..w])
    }

    /// Side latents → each latent's predicted Gaussian from the side latents alone (the
    /// anchors' with a context), in floating point, cropped to latents of `dims`
    /// (`[batch, M, h, w]`).
    pub fn predict(&self, z: Tensor<4>, dims: [usize; 4]) -> Prediction {
        Prediction::from_raw(self.raw(z, dims), dims[1])
    }

    /// Latents `y` quantized by `round` around their predicted means, and the prediction each
    /// latent is coded with: the hyperprior's, and with a context, for the non-anchors, that
    /// corrected from the anchors' quantized residuals (which the decoder has by then).
    pub fn quantize(
        &self,
        z: Tensor<4>,
        y: Tensor<4>,
        round: &dyn Fn(Tensor<4>) -> Tensor<4>,
    ) -> (Prediction, Tensor<4>) {
        let dims = y.dims();
        let raw = self.raw(z, dims);
        let first = Prediction::from_raw(raw.clone(), dims[1]);
        let Some(context) = &self.context else {
            let y_hat = first.quantize(y, round);
            return (first, y_hat);
        };
        let residuals = match &first.means {
            Some(mu) => round(y.clone() - mu.clone()),
            None => round(y.clone()),
        };
        let corrections = context.corrections(residuals, raw.clone());
        let p = Prediction::from_raw(raw + corrections, dims[1]);
        // The anchors' prediction is unchanged, so they quantize as before.
        let y_hat = p.quantize(y, round);
        (p, y_hat)
    }

    /// The prediction the decoder makes for coded integers `residuals` (round(y − μ), or
    /// round(y) without means): with a context, the non-anchors' from the anchors' residuals.
    /// In floating point: the ideal rate of a coded picture.
    pub fn predict_coded(&self, z: Tensor<4>, residuals: Tensor<4>) -> Prediction {
        let dims = residuals.dims();
        let raw = self.raw(z, dims);
        let corrections = match &self.context {
            Some(context) => context.corrections(residuals, raw.clone()),
            None => return Prediction::from_raw(raw, dims[1]),
        };
        Prediction::from_raw(raw + corrections, dims[1])
    }

    /// This mean-scale hyperprior with a checkerboard context of `hidden` channels whose
    /// corrections start at zero: the same rates and pictures as before, a start from which
    /// training learns the context.
    pub fn with_context(self, hidden: usize) -> Hyperprior {
        assert!(
            self.predicts_means(),
            "a context corrects a mean-scale hyperprior"
        );
        let device = self.output.weight.device();
        Hyperprior {
            context: Some(Context::starting_at_zero(
                self.latent_channels(),
                hidden,
                &device,
            )),
            ..self
        }
    }

    /// This scale hyperprior in the mean-scale form, predicting means of zero: the same
    /// rates and pictures as before, a start from which training learns the means.
    pub fn with_zero_means(self) -> Hyperprior {
        if self.predicts_means() {
            return self;
        }
        let m = self.latent_channels();
        let weight = self.output.weight.val();
        let [_, h, k, _] = weight.dims();
        let device = weight.device();
        let zeros = Tensor::<4>::zeros([m, h, k, k], &device);
        // Built with zeros, not drawn: burn's random state is the process's.
        let p = k / 2;
        let mut output = Conv2dConfig::new([h, 2 * m], [k, k])
            .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
            .with_initializer(Initializer::Zeros)
            .init(&device);
        output.weight = Param::from_tensor(Tensor::cat(vec![weight, zeros], 0));
        output.bias = self.output.bias.as_ref().map(|b| {
            Param::from_tensor(Tensor::cat(vec![b.val(), Tensor::zeros([m], &device)], 0))
        });
        Hyperprior { output, ..self }
    }

    /// This (trained) hyperprior embedded in `wider`, a fresh one for more latent channels
    /// (the same side-latent channels and form): the side latents read the new latents with
    /// zero weights, so they are as before, and the trained latents' scales and means are
    /// predicted as before; the new latents' scales start at the fresh network's, their means
    /// at zero (see [`crate::widen`]).
    pub fn widened(self, wider: Hyperprior) -> Hyperprior {
        assert_eq!(self.predicts_means(), wider.predicts_means());
        assert!(
            self.context.is_none() && wider.context.is_none(),
            "a model with a context is not widened"
        );
        let parts: &[bool] = if self.predicts_means() {
            &[false, true]
        } else {
            &[false]
        };
        Hyperprior {
            analysis: (self.analysis.into_iter().zip(wider.analysis))
                .map(|(t, f)| widen::conv(t, f))
                .collect(),
            upsample: (self.upsample.into_iter().zip(wider.upsample))
                .map(|(t, f)| widen::deconv(t, f, Reading::Zero))
                .collect(),
            output: widen::output_blocks(self.output, wider.output, parts),
            prior: self.prior,
            context: None,
        }
    }

    /// The same network in fixed point, for the codec (see [`nic_hyper`]).
    pub fn integer_synthesis(&self) -> Result<Network, nic_hyper::HyperError> {
        let floats = |t: Tensor<4>| -> Vec<f32> {
            t.into_data().try_into_vec::<f32>().expect("f32 weights")
        };
        let bias = |b: &Option<burn::module::Param<Tensor<1>>>| -> Vec<f32> {
            b.as_ref()
                .map(|b| b.val().into_data().try_into_vec::<f32>().expect("f32 bias"))
                .expect("layers have biases")
        };
        let mut layers = Vec::new();
        for d in &self.upsample {
            let [inputs, outputs, kernel, _] = d.weight.dims();
            let shape = Shape {
                kind: Kind::Transposed,
                inputs,
                outputs,
                kernel,
                stride: 2,
                padding: 2,
                out_padding: 1,
            };
            layers.push(Layer::from_float(
                shape,
                &floats(d.weight.val()),
                &bias(&d.bias),
            )?);
        }
        let [outputs, inputs, kernel, _] = self.output.weight.dims();
        let shape = Shape::same_size(inputs, outputs, kernel);
        let weights = floats(self.output.weight.val());
        let output = Layer::from_float(shape, &weights, &bias(&self.output.bias))?;
        // The means, after the scales, have no ReLU; with a context neither have the scales
        // (the codec adds the corrections first).
        let rectified = match self.context {
            Some(_) => 0,
            None => self.latent_channels(),
        };
        layers.push(output.with_linear_outputs(rectified));
        Network::new(layers)
    }
}

/// The Gaussian the hyperprior predicts for every latent: its scale and, in the mean-scale
/// form, its mean (zero otherwise).
pub struct Prediction {
    pub scales: Tensor<4>,
    pub means: Option<Tensor<4>>,
}

impl Prediction {
    /// From the hyper-synthesis output before the scales' ReLU: `m` scales, then any means.
    fn from_raw(raw: Tensor<4>, m: usize) -> Prediction {
        let [b, outputs, h, w] = raw.dims();
        let part = |from: usize| raw.clone().slice([0..b, from..from + m, 0..h, 0..w]);
        Prediction {
            scales: relu(part(0)),
            means: (outputs == 2 * m).then(|| part(m)),
        }
    }

    /// Latents quantized by `round` around the means: round(y − μ) + μ, or round(y).
    pub fn quantize(&self, y: Tensor<4>, round: &dyn Fn(Tensor<4>) -> Tensor<4>) -> Tensor<4> {
        match &self.means {
            Some(mu) => round(y - mu.clone()) + mu.clone(),
            None => round(y),
        }
    }

    /// Likelihood of quantized (or noisy) latents `y`.
    pub fn likelihood(&self, y: Tensor<4>) -> Tensor<4> {
        let residual = match &self.means {
            Some(mu) => y - mu.clone(),
            None => y,
        };
        gaussian_likelihood(residual, self.scales.clone())
    }
}

/// Likelihood of each latent under a zero-mean Gaussian of the given scale convolved with a
/// unit box (exact for rounded latents, the training density for noisy ones). Computed on the
/// negative side, where the cumulative function keeps its precision.
pub fn gaussian_likelihood(y: Tensor<4>, scales: Tensor<4>) -> Tensor<4> {
    let s = lower_bound(scales, nic_entropy::SCALE_MIN);
    let v = y.abs();
    let upper = std_normal_cdf((v.clone().neg().add_scalar(0.5)) / s.clone());
    let lower = std_normal_cdf((v.neg().sub_scalar(0.5)) / s);
    lower_bound(upper - lower, LIKELIHOOD_BOUND)
}

fn std_normal_cdf(x: Tensor<4>) -> Tensor<4> {
    x.mul_scalar(std::f64::consts::FRAC_1_SQRT_2)
        .erf()
        .add_scalar(1.0)
        .mul_scalar(0.5)
}

/// Pads `[b, c, h, w]` with zeros at the bottom and right to multiples of `m`.
pub fn pad_to_multiple(x: Tensor<4>, m: usize) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    let (ph, pw) = (h.next_multiple_of(m), w.next_multiple_of(m));
    if (ph, pw) == (h, w) {
        return x;
    }
    let device = x.device();
    Tensor::<4>::zeros([b, c, ph, pw], &device).slice_assign([0..b, 0..c, 0..h, 0..w], x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    fn values(t: Tensor<4>) -> Vec<f32> {
        t.into_data().try_into_vec::<f32>().unwrap()
    }

    #[test]
    fn the_integer_network_predicts_the_float_scales_and_means() {
        let device = Device::flex();
        let _turn = crate::test_rng::seeded(&device, 11);
        for arch in [Architecture::TINY_HYPER, Architecture::TINY_MEAN_SCALE] {
            let hp = Hyperprior::new(&arch, &device);
            assert_eq!(hp.predicts_means(), arch.means);
            let z = Tensor::<4>::random([1, 8, 3, 2], Distribution::Uniform(-6.0, 6.0), &device)
                .round();
            let p = hp.predict(z.clone(), [1, 8, 12, 8]);
            let mut want = values(p.scales);
            want.extend(p.means.map(values).unwrap_or_default());
            let zi: Vec<i32> = values(z).iter().map(|&v| v as i32).collect();
            let got = hp.integer_synthesis().unwrap().run(&zi, 3, 2).unwrap();
            let channels = if arch.means { 16 } else { 8 };
            assert_eq!((got.channels, got.height, got.width), (channels, 12, 8));
            let one = (1 << nic_hyper::ACTIVATION_BITS) as f32;
            assert!(
                want.iter().any(|&v| v > 0.1),
                "all scales zero tests nothing"
            );
            if arch.means {
                assert!(want.iter().any(|&v| v < -0.1), "means of one sign only");
            }
            for (g, w) in got.data.iter().zip(&want) {
                assert!((*g as f32 / one - w).abs() < 3e-3, "{arch:?}: {g} vs {w}");
            }
        }
    }

    #[test]
    fn zero_means_leave_the_rates_unchanged() {
        let device = Device::flex();
        let _turn = crate::test_rng::seeded(&device, 5);
        let hp = Hyperprior::new(&Architecture::TINY_HYPER, &device);
        let y = Tensor::<4>::random([1, 8, 8, 8], Distribution::Uniform(-9.0, 9.0), &device);
        let z = hp.side_latents(y.clone()).round();
        let before = values(hp.likelihoods(y.clone().round(), z.clone()).0);
        let ms = hp.with_zero_means();
        assert!(ms.predicts_means());
        let p = ms.predict(z.clone(), y.dims());
        assert!(values(p.means.clone().unwrap()).iter().all(|&m| m == 0.0));
        let y_hat = p.quantize(y, &|v| v.round());
        assert_eq!(values(ms.likelihoods(y_hat, z).0), before);
    }

    #[test]
    fn a_widened_hyperprior_predicts_the_trained_latents_as_before() {
        let device = Device::flex();
        let _turn = crate::test_rng::seeded(&device, 23);
        for arch in [Architecture::TINY_HYPER, Architecture::TINY_MEAN_SCALE] {
            let wide = Architecture {
                latent_channels: 12,
                ..arch
            };
            let hp = Hyperprior::new(&arch, &device);
            let whp = hp.clone().widened(Hyperprior::new(&wide, &device));
            assert_eq!(whp.latent_channels(), 12);
            assert_eq!(whp.predicts_means(), arch.means);
            let y = Tensor::<4>::random([1, 8, 8, 8], Distribution::Uniform(-9.0, 9.0), &device);
            let extra =
                Tensor::<4>::random([1, 4, 8, 8], Distribution::Uniform(-9.0, 9.0), &device);
            let wy = Tensor::cat(vec![y.clone(), extra], 1);
            let z = hp.side_latents(y.clone());
            assert_eq!(values(whp.side_latents(wy.clone())), values(z.clone()));
            let z = z.round();
            let (p, wp) = (
                hp.predict(z.clone(), y.dims()),
                whp.predict(z.clone(), wy.dims()),
            );
            let trained = |t: Tensor<4>| values(t.slice([0..1, 0..8, 0..8, 0..8]));
            let close = |a: Vec<f32>, b: Vec<f32>| {
                for (u, v) in a.iter().zip(&b) {
                    assert!((u - v).abs() <= 1e-5 * u.abs().max(1.0), "{u} vs {v}");
                }
            };
            close(values(p.scales), trained(wp.scales.clone()));
            if let (Some(m), Some(wm)) = (p.means, wp.means.clone()) {
                close(values(m), trained(wm.clone()));
                let new = values(wm.slice([0..1, 8..12, 0..8, 0..8]));
                assert!(new.iter().all(|&v| v == 0.0), "new means start at zero");
            }
            // The integer network (the codec's) agrees with the float one, new channels too.
            let zi: Vec<i32> = values(z.clone()).iter().map(|&v| v as i32).collect();
            let net = whp.integer_synthesis().unwrap();
            let got = net.run(&zi, 2, 2).unwrap();
            assert_eq!(got.channels, if arch.means { 24 } else { 12 });
            let mut want = values(wp.scales);
            want.extend(wp.means.map(values).unwrap_or_default());
            let one = (1 << nic_hyper::ACTIVATION_BITS) as f32;
            for (g, w) in got.data.iter().zip(&want) {
                assert!((*g as f32 / one - w).abs() < 3e-3, "{arch:?}: {g} vs {w}");
            }
        }
    }

    #[test]
    fn a_grown_context_leaves_the_predictions_unchanged() {
        let device = Device::flex();
        let _turn = crate::test_rng::seeded(&device, 31);
        let hp = Hyperprior::new(&Architecture::TINY_MEAN_SCALE, &device);
        let y = Tensor::<4>::random([1, 8, 8, 8], Distribution::Uniform(-9.0, 9.0), &device);
        let z = hp.side_latents(y.clone()).round();
        let round = |v: Tensor<4>| v.round();
        let (p, y_hat) = hp.quantize(z.clone(), y.clone(), &round);
        let grown = hp.with_context(4);
        assert!(grown.context.is_some());
        let (pg, yg) = grown.quantize(z, y, &round);
        assert_eq!(values(yg), values(y_hat));
        assert_eq!(values(pg.scales), values(p.scales));
        assert_eq!(values(pg.means.unwrap()), values(p.means.unwrap()));
    }

    #[test]
    fn the_context_corrects_the_other_latents_from_the_anchors_alone() {
        let device = Device::flex();
        let _turn = crate::test_rng::seeded(&device, 37);
        let hp = Hyperprior::new(&Architecture::TINY_CONTEXT, &device);
        let y = Tensor::<4>::random([1, 8, 6, 6], Distribution::Uniform(-9.0, 9.0), &device);
        let z = hp.side_latents(y.clone()).round();
        let round = |v: Tensor<4>| v.round();
        let predict = |y: Tensor<4>| {
            let (p, y_hat) = hp.quantize(z.clone(), y, &round);
            (values(p.scales), values(p.means.unwrap()), values(y_hat))
        };
        let (scales, means, y_hat) = predict(y.clone());
        let alone = hp.predict(z.clone(), y.dims());
        let (s0, m0) = (values(alone.scales), values(alone.means.unwrap()));
        let at = |c: usize, r: usize, col: usize| (c * 6 + r) * 6 + col;
        let mut corrected = 0;
        for i in 0..scales.len() {
            let (r, col) = ((i / 6) % 6, i % 6);
            if crate::context::is_anchor(r, col) {
                assert_eq!((scales[i], means[i]), (s0[i], m0[i]), "anchor {i}");
            } else if scales[i] != s0[i] && means[i] != m0[i] {
                corrected += 1;
            }
        }
        assert!(corrected > 72, "{corrected} of 144 others corrected");
        // The decoder's view, from the coded residuals, is the same prediction.
        let residuals = Tensor::<1>::from_floats(
            y_hat
                .iter()
                .zip(&means)
                .map(|(v, m)| (v - m).round())
                .collect::<Vec<_>>()
                .as_slice(),
            &device,
        )
        .reshape([1, 8, 6, 6]);
        let coded = hp.predict_coded(z.clone(), residuals);
        let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(u, v)| (u - v).abs() < 1e-4);
        assert!(close(&values(coded.scales), &scales));
        assert!(close(&values(coded.means.unwrap()), &means));
        // Moving a non-anchor changes no prediction; moving an anchor changes its neighbours'.
        let moved = |i: usize| {
            let mut v = values(y.clone());
            v[i] += 5.0;
            Tensor::<1>::from_floats(v.as_slice(), &device).reshape([1, 8, 6, 6])
        };
        let (s2, m2, _) = predict(moved(at(0, 2, 3)));
        assert_eq!((s2, m2), (scales.clone(), means.clone()));
        let (s3, m3, _) = predict(moved(at(0, 2, 2)));
        assert_eq!(s3[at(0, 2, 2)], scales[at(0, 2, 2)]);
        assert!(s3[at(1, 2, 3)] != scales[at(1, 2, 3)] || m3[at(1, 2, 3)] != means[at(1, 2, 3)]);
    }

    #[test]
    fn the_integer_context_computes_the_float_corrections() {
        let device = Device::flex();
        let _turn = crate::test_rng::seeded(&device, 41);
        let hp = Hyperprior::new(&Architecture::TINY_CONTEXT, &device);
        let context = hp.context.as_ref().unwrap();
        let one = (1 << nic_hyper::ACTIVATION_BITS) as f32;
        // Inputs as the codec has them: fixed point.
        let fixed = |channels: usize| {
            Tensor::<4>::random(
                [1, channels, 5, 7],
                Distribution::Uniform(-9.0, 9.0),
                &device,
            )
            .mul_scalar(one)
            .round()
            .div_scalar(one)
        };
        let (y_hat, raw) = (fixed(8), fixed(16));
        let want = values(context.corrections(y_hat.clone(), raw.clone()));
        assert!(
            want.iter().any(|&v| v.abs() > 0.1),
            "corrections all near zero"
        );
        let fixed_ints =
            |t: Tensor<4>| -> Vec<i32> { values(t).iter().map(|&v| (v * one) as i32).collect() };
        let (y_int, raw_int) = (fixed_ints(y_hat), fixed_ints(raw));
        let others: Vec<usize> = (0..35)
            .filter(|&p| !crate::context::is_anchor(p / 7, p % 7))
            .collect();
        // The anchors with garbage elsewhere: the integer context must not read it.
        let anchors = nic_hyper::Planes {
            channels: 8,
            height: 5,
            width: 7,
            data: y_int
                .iter()
                .enumerate()
                .map(|(i, &v)| {
                    let p = i % 35;
                    if crate::context::is_anchor(p / 7, p % 7) {
                        v
                    } else {
                        77_777
                    }
                })
                .collect(),
        };
        let raw_at = nic_hyper::Planes {
            channels: 16,
            height: 1,
            width: others.len(),
            data: raw_int
                .chunks(35)
                .flat_map(|c| others.iter().map(|&p| c[p]))
                .collect(),
        };
        let got = context
            .integer()
            .unwrap()
            .corrections(&anchors, &others, raw_at)
            .unwrap();
        assert_eq!((got.channels, got.height, got.width), (16, 1, others.len()));
        for (c, plane) in got.data.chunks(others.len()).enumerate() {
            for (&p, &g) in others.iter().zip(plane) {
                let w = want[c * 35 + p];
                assert!((g as f32 / one - w).abs() < 3e-3, "{c} {p}: {g} vs {w}");
            }
        }
    }

    #[test]
    fn gaussian_probabilities_sum_to_one() {
        let device = Device::flex();
        let v = Tensor::<1>::from_floats(
            (-60..=60).map(|k| k as f32).collect::<Vec<_>>().as_slice(),
            &device,
        )
        .reshape([1, 1, 1, 121]);
        for s in [0.2, 1.0, 7.0] {
            let p = gaussian_likelihood(v.clone(), Tensor::full([1, 1, 1, 121], s, &device));
            let sum: f32 = p.sum().into_scalar();
            assert!((sum - 1.0).abs() < 1e-3, "σ {s}: {sum}");
        }
    }
}
