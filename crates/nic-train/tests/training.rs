//! Tiny end-to-end training runs: the loss goes down, and an interrupted run resumed from its
//! checkpoint ends exactly where an uninterrupted one does.

use std::path::Path;

use nic_model::Architecture;
use nic_model::burn::tensor::{Device, Tensor, TensorData};
use nic_train::{Checkpoint, TrainOptions, train};

/// Smooth synthetic pictures (gradients and blobs), learnable in a few dozen steps.
fn make_images(dir: &Path, n: u32) {
    std::fs::create_dir_all(dir).unwrap();
    for i in 0..n {
        let img = image::RgbImage::from_fn(40, 36, |x, y| {
            let (fx, fy) = (x as f32 / 40.0, y as f32 / 36.0);
            let t = i as f32 * 0.37;
            image::Rgb([
                (255.0 * (0.5 + 0.5 * (6.0 * fx + t).sin())) as u8,
                (255.0 * fy) as u8,
                (255.0
                    * (0.5
                        + 0.4 * ((fx - 0.5).powi(2) + (fy - 0.5).powi(2) - 0.1 * t.cos()).signum()))
                    as u8,
            ])
        });
        img.save(dir.join(format!("img{i:03}.png"))).unwrap();
    }
}

/// A tiny variable-rate hyperprior run (the default kind of model).
fn options(data: &Path, out: &Path, steps: u64) -> TrainOptions {
    TrainOptions {
        data: data.to_path_buf(),
        val: None,
        out: out.to_path_buf(),
        architecture: Architecture::TINY_HYPER,
        lambda: 0.005,
        lambdas: vec![0.005, 0.01, 0.02],
        quality: 1,
        steps,
        batch: 4,
        crop: 32,
        mosaic: 1,
        init: None,
        lr: 2e-3,
        ema: None,
        latent_warmup: 0,
        balance_levels: false,
        seed: 5,
        val_size: 4,
        val_every: 1000,
        checkpoint_seconds: 1e9,
        session_steps: None,
        session_seconds: None,
        resume: false,
        progress: false,
        command: "test".into(),
    }
}

#[test]
fn tiny_run_lowers_the_validation_loss_and_exports_a_model() {
    // Model initialization draws from burn's process-wide random state.
    let _serial = nic_testkit::rng_turn();
    let dir = tempfile::tempdir().unwrap();
    make_images(&dir.path().join("data"), 24);
    let hyper = options(&dir.path().join("data"), &dir.path().join("hyper"), 80);
    let factorized = TrainOptions {
        architecture: Architecture::TINY,
        lambda: 0.01,
        lambdas: vec![],
        out: dir.path().join("factorized"),
        ..hyper.clone()
    };
    for opts in [hyper, factorized] {
        let s = train(&opts, &Device::flex()).unwrap();
        let first = s.first_val.unwrap();
        assert!(
            s.last_val.loss < 0.7 * first.loss,
            "{:?}: validation loss {} → {}",
            opts.architecture,
            first.loss,
            s.last_val.loss
        );
        assert_eq!(
            s.last_val.side_bpp > 0.0,
            opts.architecture.has_hyperprior()
        );
        assert!(opts.out.join("model.json").is_file());
        assert!(opts.out.join("weights.bpk").is_file());
        let log = std::fs::read_to_string(opts.out.join("log.csv")).unwrap();
        assert!(log.lines().count() >= 4, "{log}");
    }
}

#[test]
fn detail_latents_start_with_what_the_init_models_transforms_leave_out() {
    let _serial = nic_testkit::rng_turn();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    make_images(&data, 12);
    let device = Device::flex();
    let base = options(&data, &dir.path().join("a"), 20);
    train(&base, &device).unwrap();
    let mut detail = options(&data, &dir.path().join("b"), 20);
    detail.architecture.latent_channels += 4;
    detail.architecture.detail_channels = 4;
    detail.init = Some(base.out.clone());
    detail.session_steps = Some(0);
    train(&detail, &device).unwrap();
    let load = |o: &TrainOptions| nic_model::SavedModel::load(&o.out, &device).unwrap();
    let (a, b) = (load(&base), load(&detail));
    assert_eq!(b.info.architecture.detail_channels, 4);
    // Unquantized, the detail latents add the residue's leading directions to every block:
    // the pictures come closer to the originals than the transforms alone bring them.
    let images = nic_data::load_folder(&data).unwrap();
    let x = Tensor::<4>::from_data(
        TensorData::new(nic_data::center_crops(&images, 32, 1), [12, 3, 32, 32]),
        &device,
    );
    let mse = |m: &nic_model::SavedModel| {
        let c = &m.compressor;
        let err = c.synthesis.forward(c.analyze(x.clone())) - x.clone();
        err.square().mean().into_scalar::<f32>()
    };
    let (without, with) = (mse(&a), mse(&b));
    assert!(with < 0.9 * without, "MSE {without} → {with}");
    // Fine-tuning it keeps them (the same architecture: no new fit).
    let mut more = options(&data, &dir.path().join("c"), 2);
    more.architecture = detail.architecture;
    more.init = Some(detail.out.clone());
    train(&more, &device).unwrap();
    assert_eq!(load(&more).info.architecture, detail.architecture);
    // More of them: the new ones start with what the model with four leaves out.
    let mut wider = options(&data, &dir.path().join("d"), 20);
    wider.architecture = Architecture {
        latent_channels: detail.architecture.latent_channels + 2,
        detail_channels: 6,
        ..detail.architecture
    };
    wider.init = Some(detail.out.clone());
    wider.session_steps = Some(0);
    train(&wider, &device).unwrap();
    let widest = mse(&load(&wider));
    assert!(widest < 0.8 * with, "MSE {with} → {widest}");
}

#[test]
fn detail_latents_need_latents_of_the_transforms_beside_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(dir.path(), &dir.path().join("run"), 1);
    opts.architecture.detail_channels = opts.architecture.latent_channels;
    let err = train(&opts, &Device::flex()).unwrap_err().to_string();
    assert!(err.contains("--detail-channels"), "{err}");
    assert!(!opts.out.exists());
}

#[test]
fn resumed_run_matches_an_uninterrupted_one() {
    // Model initialization draws from burn's process-wide random state.
    let _serial = nic_testkit::rng_turn();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    make_images(&data, 12);
    let device = Device::flex();

    let whole = train(&options(&data, &dir.path().join("a"), 30), &device).unwrap();

    let mut part = options(&data, &dir.path().join("b"), 30);
    part.session_steps = Some(17);
    let first = train(&part, &device).unwrap();
    assert_eq!(first.steps, 17);
    // Without --resume an existing run is not overwritten.
    assert!(train(&options(&data, &dir.path().join("b"), 30), &device).is_err());
    part.session_steps = None;
    part.resume = true;
    let resumed = train(&part, &device).unwrap();
    assert_eq!((resumed.first_step, resumed.steps), (17, 30));

    let (a, b) = (whole.last_val, resumed.last_val);
    assert!(
        (a.loss - b.loss).abs() <= 1e-5 * a.loss.abs(),
        "{} vs {}",
        a.loss,
        b.loss
    );
    assert_eq!(
        whole.model_id, resumed.model_id,
        "weights and tables should be identical"
    );
}

#[test]
fn a_time_budget_stops_with_a_checkpoint_that_resumes() {
    // Model initialization draws from burn's process-wide random state.
    let _serial = nic_testkit::rng_turn();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    make_images(&data, 12);
    let mut opts = options(&data, &dir.path().join("run"), 20);
    // A budget already spent: the run stops after its first step.
    opts.session_seconds = Some(0.0);
    let first = train(&opts, &Device::flex()).unwrap();
    assert_eq!(first.steps, 1);
    assert!(opts.out.join("model.json").is_file());
    opts.session_seconds = None;
    opts.resume = true;
    let rest = train(&opts, &Device::flex()).unwrap();
    assert_eq!((rest.first_step, rest.steps), (1, 20));
}

#[test]
fn fine_tuning_starts_from_the_whole_model_it_is_given() {
    // Model initialization draws from burn's process-wide random state.
    let _serial = nic_testkit::rng_turn();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    make_images(&data, 12);
    let device = Device::flex();
    let first = train(&options(&data, &dir.path().join("a"), 20), &device).unwrap();
    let mut tune = options(&data, &dir.path().join("b"), 21);
    tune.init = Some(dir.path().join("a"));
    let tuned = train(&tune, &device).unwrap();
    // Its validation before its first step is the given model's own: transforms, entropy
    // model and learned gains all carried over (the gains once restarted from theory).
    let (a, b) = (first.last_val, tuned.first_val.unwrap());
    assert!(
        (a.loss - b.loss).abs() <= 1e-5 * a.loss.abs(),
        "{} vs {}",
        a.loss,
        b.loss
    );

    // A scale hyperprior grown into a mean-scale one starts from the same figures (its means
    // are zero), and training then learns the means.
    let mut grow = options(&data, &dir.path().join("c"), 40);
    grow.architecture = Architecture::TINY_MEAN_SCALE;
    grow.init = Some(dir.path().join("a"));
    let grown = train(&grow, &device).unwrap();
    let start = grown.first_val.unwrap();
    assert!(
        (a.loss - start.loss).abs() <= 1e-5 * a.loss.abs(),
        "{} vs {}",
        a.loss,
        start.loss
    );
    assert!(grown.last_val.loss < start.loss);
    let saved = nic_model::SavedModel::load(&grow.out, &device).unwrap();
    assert!(saved.info.architecture.has_means() && saved.info.format == 4);
    let hp = saved.compressor.entropy.hyperprior().unwrap();
    assert!(hp.predicts_means());
    let weights = hp.integer_synthesis().unwrap();
    assert_eq!(
        weights.outputs(),
        2 * Architecture::TINY_MEAN_SCALE.latent_channels
    );
    // A checkerboard context added to the mean-scale model: the same figures at the start
    // (its corrections are zero), then it learns them; a model format that older releases
    // refuse, and files with the context flag.
    let mut ctx = options(&data, &dir.path().join("m"), 30);
    ctx.architecture = Architecture::TINY_CONTEXT;
    ctx.init = Some(grow.out.clone());
    let with_context = train(&ctx, &device).unwrap();
    let (want, start) = (grown.last_val.loss, with_context.first_val.unwrap().loss);
    assert!(
        (want - start).abs() <= 1e-5 * want.abs(),
        "{want} vs {start}"
    );
    assert!(with_context.last_val.loss < start);
    let saved = nic_model::SavedModel::load(&ctx.out, &device).unwrap();
    assert!(saved.info.architecture.has_context() && saved.info.format == 6);
    let hp = saved.compressor.entropy.hyperprior().unwrap();
    assert!(hp.context.is_some());
    // A context without means is refused.
    let mut bare = options(&data, &dir.path().join("n"), 1);
    bare.architecture = Architecture {
        means: false,
        ..Architecture::TINY_CONTEXT
    };
    let refused = train(&bare, &device).unwrap_err().to_string();
    assert!(refused.contains("needs --means"), "{refused}");
    // Levels added above the top one: the trained levels and the whole network kept, the new
    // gains extrapolated from the top level's (each λ 2× the last: √2 the gain).
    let mut more = options(&data, &dir.path().join("f"), 0);
    more.architecture.rate_levels = 5;
    more.lambdas = vec![0.005, 0.01, 0.02, 0.04, 0.08];
    more.init = Some(dir.path().join("a"));
    train(&more, &device).unwrap();
    let (a, f) = (
        nic_model::SavedModel::load(&dir.path().join("a"), &device).unwrap(),
        nic_model::SavedModel::load(&more.out, &device).unwrap(),
    );
    assert_eq!(f.info.lambdas, more.lambdas);
    let gains =
        |m: &nic_model::SavedModel, q: f64| m.compressor.gains.as_ref().unwrap().at_quality(q);
    for q in [1.0, 2.0, 3.0] {
        assert_eq!(gains(&a, q), gains(&f, q), "level {q}");
    }
    let (top, added) = (gains(&a, 3.0).0, gains(&f, 5.0).0);
    for (t, g) in top.iter().zip(&added) {
        assert!((g / t - 2.0).abs() < 1e-4, "{t} → {g}");
    }
    let x = nic_model::burn::tensor::Tensor::<4>::ones([1, 3, 32, 32], &device);
    let y = |m: &nic_model::SavedModel| m.compressor.analysis.forward(x.clone()).into_data();
    assert_eq!(y(&a), y(&f));
    // Wider hidden layers start from the same figures too.
    let mut wider = options(&data, &dir.path().join("h"), 0);
    wider.architecture.channels = Architecture::TINY_HYPER.channels + 4;
    wider.init = Some(dir.path().join("a"));
    let (want, start) = (
        first.last_val.loss,
        train(&wider, &device).unwrap().first_val,
    );
    let got = start.unwrap().loss;
    assert!((want - got).abs() <= 1e-5 * want.abs(), "{want} vs {got}");
    // More latents: their rate is phased in (it changes the training steps), and a resumed
    // run goes on with the warm-up its checkpoint kept.
    let more_latents = |name: &str, warmup: u64| {
        let mut o = options(&data, &dir.path().join(name), 6);
        o.architecture.latent_channels = Architecture::TINY_HYPER.latent_channels + 4;
        o.init = Some(dir.path().join("a"));
        o.latent_warmup = warmup;
        o.session_steps = Some(3);
        o
    };
    let (mut phased, at_once) = (more_latents("i", 10), more_latents("j", 0));
    let (p, q) = (
        train(&phased, &device).unwrap(),
        train(&at_once, &device).unwrap(),
    );
    assert_eq!(p.first_val.unwrap().loss, q.first_val.unwrap().loss);
    assert_ne!(p.model_id, q.model_id);
    let kept = |o: &TrainOptions| {
        let (ck, _) = nic_train::Checkpoint::load_latest(&o.out).unwrap().unwrap();
        ck.latent_warmup
    };
    let m = Architecture::TINY_HYPER.latent_channels;
    let want = nic_train::LatentWarmup {
        first: m,
        channels: m + 4,
        steps: 10,
    };
    assert_eq!((kept(&phased), kept(&at_once)), (Some(want), None));
    phased.resume = true;
    phased.session_steps = None;
    assert_eq!(train(&phased, &device).unwrap().steps, 6);
    assert_eq!(kept(&phased), Some(want));
    // A level below the bottom one as well: the trained levels move up by one, unchanged.
    let mut below = options(&data, &dir.path().join("g"), 0);
    below.architecture.rate_levels = 5;
    below.lambdas = vec![0.0025, 0.005, 0.01, 0.02, 0.04];
    below.init = Some(dir.path().join("a"));
    train(&below, &device).unwrap();
    let g = nic_model::SavedModel::load(&below.out, &device).unwrap();
    for q in [1.0, 2.0, 3.0] {
        assert_eq!(gains(&a, q), gains(&g, q + 1.0), "level {q}");
    }
    // Levels that do not keep the trained ones as a run are refused.
    let mut gap = options(&data, &dir.path().join("k"), 0);
    gap.architecture.rate_levels = 4;
    gap.lambdas = vec![0.005, 0.01, 0.015, 0.02];
    gap.init = Some(dir.path().join("a"));
    let refused = train(&gap, &device).unwrap_err().to_string();
    assert!(refused.contains("must be a run of --lambdas"), "{refused}");

    // A mean-scale model fine-tuned without --means is refused rather than cut down to its
    // transforms.
    let mut without_means = options(&data, &dir.path().join("e"), 1);
    without_means.init = Some(grow.out.clone());
    let refused = train(&without_means, &device).unwrap_err().to_string();
    assert!(refused.contains("pass --means"), "{refused}");
    // A mean-scale model cannot be grown from a factorized one.
    let mut wrong = options(&data, &dir.path().join("d"), 1);
    wrong.architecture = Architecture {
        hyper_channels: 0,
        ..Architecture::TINY_MEAN_SCALE
    };
    assert!(train(&wrong, &device).is_err());
}

/// The `val` and `val-raw` losses of `step` in a run's log.
/// The run of `opts` stopped after 17 steps and resumed to the end.
fn interrupted_and_resumed(mut opts: TrainOptions, device: &Device) -> nic_train::TrainSummary {
    opts.session_steps = Some(17);
    train(&opts, device).unwrap();
    opts.session_steps = None;
    opts.resume = true;
    train(&opts, device).unwrap()
}

fn val_losses(out: &Path, step: u64) -> (f64, f64) {
    let log = std::fs::read_to_string(out.join("log.csv")).unwrap();
    let loss = |split: &str| {
        log.lines()
            .map(|l| l.split(',').collect::<Vec<_>>())
            .find(|r| r[0] == step.to_string() && r[2] == split)
            .unwrap_or_else(|| panic!("no {split} row at step {step}:\n{log}"))[3]
            .parse::<f64>()
            .unwrap()
    };
    (loss("val"), loss("val-raw"))
}

#[test]
fn an_averaged_run_exports_its_average_and_resumes_it_exactly() {
    // Model initialization draws from burn's process-wide random state.
    let _serial = nic_testkit::rng_turn();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    make_images(&data, 12);
    let device = Device::flex();
    let averaged = |name: &str, decay: f64| TrainOptions {
        ema: Some(decay),
        ..options(&data, &dir.path().join(name), 30)
    };

    // Decay 0: the average is the last weights, so both figures agree.
    let plain = train(&averaged("zero", 0.0), &device).unwrap();
    let (val, raw) = val_losses(&dir.path().join("zero"), 30);
    assert_eq!(val, raw);
    assert!((plain.last_val.loss - val).abs() <= 1e-5 * val);

    // Decay 0.9: the exported model is the average, not the weights.
    let whole = train(&averaged("a", 0.9), &device).unwrap();
    let (val, raw) = val_losses(&dir.path().join("a"), 30);
    assert!((val - raw).abs() > 1e-4 * raw, "{val} vs {raw}");
    assert!((whole.last_val.loss - val).abs() <= 1e-5 * val);
    assert!(whole.last_val.loss < 0.9 * whole.first_val.unwrap().loss);

    // The checkpoint keeps the average: an interrupted run ends where the whole one does.
    let resumed = interrupted_and_resumed(averaged("b", 0.9), &device);
    assert_eq!(whole.model_id, resumed.model_id);

    // Switched on when a run resumes: the average starts at the checkpoint's weights.
    let mut late = options(&data, &dir.path().join("c"), 30);
    late.session_steps = Some(17);
    train(&late, &device).unwrap();
    late.session_steps = None;
    late.resume = true;
    late.ema = Some(0.9);
    let switched = train(&late, &device).unwrap();
    assert_eq!(switched.steps, 30);
    assert_ne!(switched.model_id, whole.model_id);
}

#[test]
fn balanced_levels_resume_exactly_and_weigh_the_low_levels_up() {
    // Model initialization draws from burn's process-wide random state.
    let _serial = nic_testkit::rng_turn();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    make_images(&data, 12);
    let device = Device::flex();
    let balanced = |name: &str| TrainOptions {
        balance_levels: true,
        ..options(&data, &dir.path().join(name), 30)
    };

    let whole = train(&balanced("a"), &device).unwrap();
    assert!(whole.last_val.loss < 0.9 * whole.first_val.unwrap().loss);
    let plain = train(&options(&data, &dir.path().join("plain"), 30), &device).unwrap();
    assert_ne!(
        whole.model_id, plain.model_id,
        "the weighting changes the updates"
    );

    // The levels' means are in the checkpoint: an interrupted run ends where the whole one does.
    let resumed = interrupted_and_resumed(balanced("b"), &device);
    assert_eq!(whole.model_id, resumed.model_id);

    // A higher λ costs more, so the lower levels weigh more.
    let (ck, _) = Checkpoint::load_latest(&dir.path().join("a"))
        .unwrap()
        .unwrap();
    let w = ck.level_balance.expect("kept").weights(&[0, 1, 2]);
    assert!(w[0] > w[1] && w[1] > w[2], "{w:?}");
    let (ck, _) = Checkpoint::load_latest(&dir.path().join("plain"))
        .unwrap()
        .unwrap();
    assert!(ck.level_balance.is_none());

    // A single-rate run has no levels to balance.
    let single = TrainOptions {
        architecture: Architecture {
            rate_levels: 0,
            ..Architecture::TINY_HYPER
        },
        lambdas: vec![],
        ..balanced("single")
    };
    let err = train(&single, &device).unwrap_err().to_string();
    assert!(err.contains("--balance-levels"), "{err}");
}
