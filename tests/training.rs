//! Training end to end on real data, and what a training step does with bad input.

use typed_nn::layers::{Layer, Layout, ParamVisitor, Path};
use typed_nn::prelude::*;

network! {
    pub struct Mlp: [784] {
        fc1: Dense(64), Relu,
        fc2: Dense(32), Relu,
        out: Dense(10), Softmax,
    }
}

#[test]
fn short_mnist_training_reaches_90_percent() {
    let (train, test) = mnist::load(concat!(env!("CARGO_MANIFEST_DIR"), "/data/mnist")).unwrap();
    let (train, test) = (train.take(15_000), test.take(2000));
    let mut rng = Rng::seed(0);
    let mut model = Mlp::init(&mut rng);
    let before = model.accuracy(&test).unwrap();
    let mut opt = Adam::new(1e-3);
    for _ in 0..4 {
        for (x, y) in train.shuffled(&mut rng).batches(64).unwrap() {
            model.train_step(&x, &y, &CrossEntropy, &mut opt).unwrap();
        }
    }
    let eval = model.evaluate(&test, &CrossEntropy).unwrap();
    assert!(
        before < 0.3,
        "an untrained network is near chance: {before}"
    );
    assert!(eval.accuracy > 0.90, "test accuracy {}", eval.accuracy);
    assert!(eval.loss < 0.4, "test loss {}", eval.loss);
    assert_eq!(model.accuracy(&test).unwrap(), eval.accuracy);
}

/// Every parameter scalar, in visiting order.
fn snapshot<L: Layer>(net: &mut L) -> Vec<f32> {
    struct Collect(Vec<f32>);
    impl ParamVisitor for Collect {
        fn visit(
            &mut self,
            _: &Path<'_>,
            _: &[usize],
            _: Layout,
            value: &mut [f32],
            _: &mut [f32],
        ) {
            self.0.extend_from_slice(value);
        }
    }
    let mut c = Collect(Vec::new());
    net.visit_params(&Path::ROOT, &mut c);
    c.0
}

fn batch(rows: usize, value: f32) -> Batch<Tensor1<784>> {
    Batch::from_vec(vec![value; rows * 784]).unwrap()
}

#[test]
fn bad_batches_are_errors_that_leave_the_parameters_alone() {
    let mut model = Mlp::init(&mut Rng::seed(1));
    let mut opt = Adam::new(1e-3);
    let before = snapshot(&mut model);

    let labels = Labels::<10>::new(vec![3, 4]).unwrap();
    assert!(matches!(
        model.train_step(
            &batch(0, 0.5),
            &Labels::<10>::default(),
            &CrossEntropy,
            &mut opt
        ),
        Err(Error::EmptyBatch)
    ));
    assert!(matches!(
        model.train_step(&batch(3, 0.5), &labels, &CrossEntropy, &mut opt),
        Err(Error::RowMismatch {
            inputs: 3,
            targets: 2
        })
    ));
    match model.train_step(&batch(2, f32::NAN), &labels, &CrossEntropy, &mut opt) {
        Err(Error::NonFiniteLoss { loss }) => assert!(loss.is_nan()),
        other => panic!("expected NonFiniteLoss, got {other:?}"),
    }
    assert!(matches!(
        model.train_step(
            &batch(2, 0.5),
            &labels,
            &CrossEntropy,
            &mut Sgd::new(f32::INFINITY)
        ),
        Err(Error::InvalidHyperparameter { name: "lr", .. })
    ));
    assert_eq!(
        snapshot(&mut model),
        before,
        "no failed step changed a parameter"
    );

    // The model still trains afterwards, and the optimizer starts at its first step.
    model
        .train_step(&batch(2, 0.5), &labels, &CrossEntropy, &mut opt)
        .unwrap();
    assert_eq!(opt.steps(), 1);
    assert_ne!(snapshot(&mut model), before);
}

#[test]
fn empty_data_sets_are_errors() {
    let model = Mlp::init(&mut Rng::seed(2));
    let empty = Dataset::<Tensor1<784>, Class<10>>::new(Vec::new(), Vec::new()).unwrap();
    assert!(matches!(model.accuracy(&empty), Err(Error::EmptyDataset)));
    assert!(matches!(
        model.evaluate(&empty, &CrossEntropy),
        Err(Error::EmptyDataset)
    ));
    assert_eq!(
        empty
            .shuffled(&mut Rng::seed(0))
            .batches(64)
            .unwrap()
            .count(),
        0
    );
}

network! {
    /// A binary classifier ending in a sigmoid, trained with fused binary cross-entropy.
    struct Xor: [2] {
        Dense(8), Tanh,
        Dense(1), Sigmoid,
    }
}

#[test]
fn every_optimizer_learns_xor() {
    let inputs = Batch::<Tensor1<2>>::from_vec(vec![0., 0., 0., 1., 1., 0., 1., 1.]).unwrap();
    let targets = Batch::<Tensor1<1>>::from_vec(vec![0., 1., 1., 0.]).unwrap();
    let data = Dataset::from_samples(
        &(0..4)
            .map(|i| (inputs.sample(i), targets.sample(i)))
            .collect::<Vec<_>>(),
    );
    let mut opts: Vec<(&str, Box<dyn Optimizer>)> = vec![
        ("sgd nesterov", Box::new(Sgd::new(0.5).nesterov(0.9))),
        ("adam", Box::new(Adam::new(0.05))),
        ("adamw", Box::new(AdamW::new(0.05))),
        ("rmsprop", Box::new(RmsProp::new(0.02))),
    ];
    for (name, opt) in &mut opts {
        let mut net = Xor::init(&mut Rng::seed(3));
        let mut last = f32::INFINITY;
        for _ in 0..500 {
            last = net
                .train_step(&inputs, &targets, &BinaryCrossEntropy, opt.as_mut())
                .unwrap();
        }
        assert!(last < 0.1, "{name}: final loss {last}");
        assert_eq!(net.accuracy(&data).unwrap(), 1.0, "{name}");
    }
}
