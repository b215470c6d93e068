//! Fine-tuning: freezing layers, blocks and prefixes; batch normalisation on its running
//! statistics in training; loading files whose names differ or that hold part of a
//! network; the state listing; gradient accumulation; a new head on a trained body.

use typed_nn::io::safetensors::LoadOptions;
use typed_nn::prelude::*;
use typed_nn::train::Accumulation;

network! {
    pub struct Mlp: [4] {
        Dense(6), Relu,
        Dense(3),
    }
}

network! {
    pub struct Normed: [4] {
        Dense(6), BatchNorm1d, Relu,
        Dense(2),
    }
}

network! {
    pub struct Body: [4] {
        Dense(6), Relu,
    }
}

network! {
    pub struct Tuned: [4] {
        features: Net(Body),
        Dense(3),
    }
}

network! {
    pub struct Wider: [4] {
        Dense(6), Relu, Dropout(0.1),
        Dense(3),
    }
}

fn batch<S: Sample>(rows: usize, seed: u64) -> Batch<S> {
    let mut rng = Rng::seed(seed);
    Batch::from_vec((0..rows * S::LEN).map(|_| rng.uniform(-1.0, 1.0)).collect()).unwrap()
}

fn tensor(net: &impl NetworkExt, name: &str) -> Vec<f32> {
    net.named_parameters()
        .into_iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no tensor {name}"))
        .values
}

fn gradient(net: &impl NetworkExt, name: &str) -> Vec<f32> {
    net.named_gradients()
        .into_iter()
        .find(|t| t.name == name)
        .unwrap()
        .values
}

fn buffer(net: &impl NetworkExt, name: &str) -> Vec<f32> {
    net.named_buffers()
        .into_iter()
        .find_map(|b| match b {
            typed_nn::io::named::NamedBuffer::Values(t) if t.name == name => Some(t.values),
            _ => None,
        })
        .unwrap()
}

#[test]
fn a_frozen_layer_keeps_its_weights_and_gets_no_gradient() {
    let mut net = Mlp::init(&mut Rng::seed(1));
    let frozen = net.freeze("0").unwrap();
    assert_eq!(frozen, 6 * 4 + 6);
    assert_eq!(net.trainable_params(), Mlp::PARAMS - frozen);
    let (w0, w2) = (tensor(&net, "0.weight"), tensor(&net, "2.weight"));
    let (x, y) = (batch::<Tensor1<4>>(8, 2), batch::<Tensor1<3>>(8, 3));
    let mut opt = Adam::new(1e-2);
    for _ in 0..3 {
        net.train_step(&x, &y, &Mse, &mut opt).unwrap();
    }
    assert_eq!(tensor(&net, "0.weight"), w0, "frozen weights moved");
    assert_ne!(tensor(&net, "2.weight"), w2, "the head did not train");
    // The backward pass stopped above the frozen layer: its gradient was never computed.
    assert!(gradient(&net, "0.weight").iter().all(|&g| g == 0.0));
    assert!(gradient(&net, "2.weight").iter().any(|&g| g != 0.0));

    let summary = net.trainable_summary();
    assert!(summary.contains("Dense, frozen"), "{summary}");
    assert!(
        summary.contains(&format!("Non-trainable params: {frozen}")),
        "{summary}"
    );
    assert!(Mlp::summary().contains("Non-trainable params: 0"));

    // Thawed, it trains again.
    assert_eq!(net.unfreeze("").unwrap(), frozen);
    net.train_step(&x, &y, &Mse, &mut opt).unwrap();
    assert_ne!(tensor(&net, "0.weight"), w0);
}

#[test]
fn freezing_names_whole_path_components_and_reports_what_it_cannot() {
    let mut net = Tuned::init(&mut Rng::seed(4));
    // A block, then one tensor of it.
    assert_eq!(net.freeze("features").unwrap(), 6 * 4 + 6);
    assert!(matches!(
        net.unfreeze("features.0.weight"),
        Err(Error::FrozenBlock { .. })
    ));
    assert!(matches!(
        net.freeze("feat"),
        Err(Error::UnknownPrefix { .. })
    ));
    assert_eq!(net.unfreeze("features").unwrap(), 6 * 4 + 6);
    assert_eq!(net.freeze("features.0.bias").unwrap(), 6);
    let listing = net.state_dict();
    let line = |name: &str| {
        listing
            .iter()
            .find(|e| e.name == name)
            .map(|e| e.to_string())
            .unwrap()
    };
    assert_eq!(
        line("features.0.bias"),
        "features.0.bias [6] parameter, frozen"
    );
    assert_eq!(
        line("features.0.weight"),
        "features.0.weight [6, 4] parameter"
    );
    assert_eq!(line("1.weight"), "1.weight [3, 6] parameter");
}

#[test]
fn a_frozen_batch_norm_uses_and_keeps_its_running_statistics() {
    let mut net = Normed::init(&mut Rng::seed(5));
    let (x, y) = (batch::<Tensor1<4>>(16, 6), batch::<Tensor1<2>>(16, 7));
    let mut opt = Sgd::new(0.1);
    // Unfrozen, training moves the running statistics.
    let mean = buffer(&net, "1.running_mean");
    net.train_step(&x, &y, &Mse, &mut opt).unwrap();
    assert_ne!(buffer(&net, "1.running_mean"), mean);

    net.freeze("1").unwrap();
    let (mean, var, gamma) = (
        buffer(&net, "1.running_mean"),
        buffer(&net, "1.running_var"),
        tensor(&net, "1.weight"),
    );
    let w0 = tensor(&net, "0.weight");
    for _ in 0..3 {
        net.train_step(&x, &y, &Mse, &mut opt).unwrap();
    }
    assert_eq!(buffer(&net, "1.running_mean"), mean);
    assert_eq!(buffer(&net, "1.running_var"), var);
    assert_eq!(tensor(&net, "1.weight"), gamma);
    // The layer below still trains, through the frozen normalisation.
    assert_ne!(tensor(&net, "0.weight"), w0);
    // In training the frozen normalisation computes what inference does.
    let mut cache = Default::default();
    let mut out = Batch::default();
    net.forward_train(&x, &mut out, &mut cache, &mut Rng::seed(0));
    let inferred = net.predict(&x);
    for (a, b) in out.as_slice().iter().zip(inferred.as_slice()) {
        assert!((a - b).abs() < 1e-6);
    }
    // A batch large enough to be split over the threads: the copies that take shares of it
    // are in the same modes (their statistics would otherwise move the merged ones).
    let (x, y) = (batch::<Tensor1<4>>(512, 19), batch::<Tensor1<2>>(512, 20));
    net.train_step(&x, &y, &Mse, &mut opt).unwrap();
    assert_eq!(buffer(&net, "1.running_mean"), mean);
    assert_eq!(buffer(&net, "1.running_var"), var);
    assert_eq!(tensor(&net, "1.weight"), gamma);
    assert!(matches!(
        net.batch_norm_eval("0", true),
        Err(Error::UnknownPrefix { .. })
    ));
    assert_eq!(net.batch_norm_eval("", false).unwrap(), 1);
}

#[test]
fn files_with_other_names_load_through_renames_prefixes_and_partially() {
    let trained = Mlp::init(&mut Rng::seed(8));
    let dir = std::env::temp_dir().join(format!("typed-nn-finetune-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("mlp.safetensors");
    trained.save(&path).unwrap();

    // The same layers with a dropout between: the head is `3` here, `2` in the file.
    let mut wider = Wider::init(&mut Rng::seed(9));
    assert!(matches!(
        Wider::load(&path),
        Err(Error::WeightsMismatch { .. })
    ));
    let report = wider
        .load_with(&path, &LoadOptions::new().rename("2", "3"))
        .unwrap();
    assert_eq!(report.loaded.len(), 4);
    assert!(report.missing.is_empty() && report.unexpected.is_empty());
    assert_eq!(tensor(&wider, "3.weight"), tensor(&trained, "2.weight"));

    // Into a block of a larger network: a prefix added, the head not in the file.
    let mut tuned = Tuned::init(&mut Rng::seed(10));
    let head = tensor(&tuned, "1.weight");
    let strict = LoadOptions::new().add_prefix("features");
    assert!(matches!(
        tuned.load_with(&path, &strict),
        Err(Error::WeightsMismatch { .. })
    ));
    let report = tuned
        .load_with(
            &path,
            &LoadOptions::new().add_prefix("features").non_strict(),
        )
        .unwrap();
    assert_eq!(report.loaded, ["features.0.weight", "features.0.bias"]);
    assert_eq!(report.missing, ["1.weight", "1.bias"]);
    assert_eq!(report.unexpected, ["2.bias", "2.weight"]);
    assert_eq!(
        tensor(&tuned, "features.0.weight"),
        tensor(&trained, "0.weight")
    );
    assert_eq!(
        tensor(&tuned, "1.weight"),
        head,
        "a tensor the file lacks moved"
    );

    // And back: the block's prefix stripped, a function renaming the rest.
    let tuned_path = dir.join("tuned.safetensors");
    tuned.save(&tuned_path).unwrap();
    let mut mlp = Mlp::init(&mut Rng::seed(11));
    let options = LoadOptions::new()
        .strip_prefix("features.")
        .rename_with(|n| n.replacen("1.", "2.", 1));
    mlp.load_with(&tuned_path, &options).unwrap();
    assert_eq!(tensor(&mlp, "2.weight"), tensor(&tuned, "1.weight"));

    // A tensor of the wrong shape is an error even when not strict, and nothing changes.
    let before = tensor(&mlp, "0.weight");
    let wrong = LoadOptions::new()
        .rename("0", "2")
        .rename("2", "0")
        .non_strict();
    assert!(matches!(
        mlp.load_with(&path, &wrong),
        Err(Error::WeightsMismatch { .. })
    ));
    assert_eq!(tensor(&mlp, "0.weight"), before);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_new_head_on_a_trained_body_in_one_line() {
    let trained = Tuned::init(&mut Rng::seed(12));
    let mut tuned = Tuned::init(&mut Rng::seed(13));
    let head = tensor(&tuned, "1.weight");
    let report = tuned.take_body_from(&trained, "features").unwrap();
    assert_eq!(report.loaded.len(), 2);
    assert_eq!(
        tensor(&tuned, "features.0.weight"),
        tensor(&trained, "features.0.weight")
    );
    assert_eq!(tensor(&tuned, "1.weight"), head);
    assert!(matches!(
        tuned.take_body_from(&trained, "body"),
        Err(Error::UnknownPrefix { .. })
    ));
}

#[test]
fn accumulating_two_half_batches_is_one_step_on_the_whole_batch() {
    let (x, y) = (batch::<Tensor1<4>>(8, 14), batch::<Tensor1<3>>(8, 15));
    let mut whole = Mlp::init(&mut Rng::seed(16));
    let mut halves = Mlp::init(&mut Rng::seed(16));
    whole.train_step(&x, &y, &Mse, &mut Sgd::new(0.5)).unwrap();

    let (mut opt, mut acc) = (Sgd::new(0.5), Accumulation::new(2).unwrap());
    let mut xs = Batch::default();
    let mut ys = Batch::default();
    xs.copy_rows_from(&x, 0..4);
    ys.copy_rows_from(&y, 0..4);
    let before = tensor(&halves, "0.weight");
    acc.step(&mut halves, &xs, &ys, &Mse, &mut opt).unwrap();
    assert_eq!(
        tensor(&halves, "0.weight"),
        before,
        "updated before the k-th batch"
    );
    assert_eq!(acc.pending(), 1);
    xs.copy_rows_from(&x, 4..8);
    ys.copy_rows_from(&y, 4..8);
    acc.step(&mut halves, &xs, &ys, &Mse, &mut opt).unwrap();
    assert_eq!(acc.pending(), 0);
    for name in ["0.weight", "0.bias", "2.weight", "2.bias"] {
        for (a, b) in tensor(&halves, name).iter().zip(tensor(&whole, name)) {
            assert!((a - b).abs() < 1e-6, "{name}: {a} vs {b}");
        }
    }
    assert!(!acc.flush(&mut halves, &mut opt).unwrap());
    assert!(matches!(
        Accumulation::new(0),
        Err(Error::InvalidHyperparameter { .. })
    ));
}

#[test]
fn fit_accumulates_gradients_over_batches() {
    let mut rng = Rng::seed(17);
    let xs: Vec<f32> = (0..64 * 4).map(|_| rng.uniform(-1.0, 1.0)).collect();
    let ys: Vec<Class<3>> = xs
        .chunks(4)
        .map(|x| Class::new(usize::from(x[0] > 0.0) + usize::from(x[1] > 0.0)).unwrap())
        .collect();
    let data = Dataset::new(xs, ys).unwrap();
    // 64 rows in batches of 8, an update every 3 batches: 2 updates of 3 and one of the 2
    // left, per epoch. With a learning rate of 0 nothing may move; with one, the loss falls.
    let mut net = Mlp::init(&mut Rng::seed(18));
    let before = tensor(&net, "0.weight");
    Trainer::new(CrossEntropy, Sgd::new(0.0))
        .batch_size(8)
        .accumulate_gradients(3)
        .verbosity(Verbosity::Silent)
        .fit(&mut net, &data)
        .unwrap();
    assert_eq!(tensor(&net, "0.weight"), before);
    let history = Trainer::new(CrossEntropy, Adam::new(1e-2))
        .epochs(5)
        .batch_size(8)
        .accumulate_gradients(3)
        .verbosity(Verbosity::Silent)
        .fit(&mut net, &data)
        .unwrap();
    let losses = history.get("loss").unwrap();
    assert!(losses[4] < losses[0], "{losses:?}");
    assert!(Trainer::new(CrossEntropy, Sgd::new(0.1))
        .accumulate_gradients(0)
        .verbosity(Verbosity::Silent)
        .fit(&mut net, &data)
        .is_err());
}
