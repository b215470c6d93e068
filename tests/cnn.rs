//! Convolutional networks: the seed's CNN, shapes and parameter counts, inference and
//! training through conv and pool layers.

use typed_nn::prelude::*;

network! {
    /// The seed's Keras CNN on 64×64 RGB images (channels first).
    pub struct SeedCnn: [3, 64, 64] {
        Conv2d(32, (3, 3)), Relu,
        MaxPool2d(2),
        Conv2d(64, (3, 3)), Relu,
        MaxPool2d(2),
        Flatten,
        Dense(128), Relu,
        Dense(10), Softmax,
    }
}

#[test]
fn seed_cnn_shapes_and_parameter_counts_match_keras() {
    assert_eq!(SeedCnn::PARAMS, 1_626_442);
    let summary = SeedCnn::summary();
    let rows: Vec<(String, String)> = summary
        .lines()
        .filter(|l| l.contains("(None"))
        .map(|l| {
            let shape = l[l.find("(None").unwrap()..l.rfind(')').unwrap() + 1].to_string();
            let params = l.split_whitespace().last().unwrap().to_string();
            (shape, params)
        })
        .collect();
    let expected = [
        ("(None, 32, 62, 62)", "896"),
        ("(None, 32, 62, 62)", "0"),
        ("(None, 32, 31, 31)", "0"),
        ("(None, 64, 29, 29)", "18,496"),
        ("(None, 64, 29, 29)", "0"),
        ("(None, 64, 14, 14)", "0"),
        ("(None, 12544)", "0"),
        ("(None, 128)", "1,605,760"),
        ("(None, 128)", "0"),
        ("(None, 10)", "1,290"),
        ("(None, 10)", "0"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(rows, expected, "{summary}");
    assert!(summary.contains("Total params: 1,626,442"));
}

network! {
    /// Workload E2's network, as in examples/mnist_cnn.rs.
    pub struct MnistCnn: [1, 28, 28] {
        Conv2d(32, 3), Relu,
        MaxPool2d(2),
        Conv2d(64, 3), Relu,
        MaxPool2d(2),
        Flatten,
        Dense(128), Relu,
        Dense(10), Softmax,
    }
}

#[test]
fn short_mnist_cnn_training_learns() {
    let (train, test) =
        mnist::load_as::<Tensor3<1, 28, 28>>(concat!(env!("CARGO_MANIFEST_DIR"), "/data/mnist"))
            .unwrap();
    let (train, test) = (train.take(6000), test.take(1000));
    let mut rng = Rng::seed(0);
    let mut model = MnistCnn::init(&mut rng);
    let mut opt = Adam::new(1e-3);
    for (x, y) in train.shuffled(&mut rng).batches(64).unwrap() {
        model.train_step(&x, &y, &CrossEntropy, &mut opt).unwrap();
    }
    let accuracy = model.accuracy(&test).unwrap();
    assert!(
        accuracy > 0.9,
        "test accuracy after 6,000 images: {accuracy}"
    );

    // One-sample and batch inference agree.
    let x = test.input(3);
    let one = model.forward(&x);
    let batch = model.forward_batch(&Batch::from_samples(&[x]));
    for (a, b) in one.data.iter().zip(batch.row(0)) {
        assert!((a - b).abs() < 1e-5);
    }
}

/// An unnamed pooling after a convolution is fused into it; the fused layer pools each
/// sample as its convolution is computed, with the same results as convolving the whole
/// batch and then pooling it, in inference and in a training step.
#[test]
fn fused_pooling_matches_pooling_after_the_whole_batch() {
    use typed_nn::kernels::conv::set_fused_pooling;
    use typed_nn::layers::{Layer, Layout, ParamVisitor, Path};
    let fused = std::any::type_name::<MnistCnn>().to_string()
        + std::any::type_name_of_val(&MnistCnn::init(&mut Rng::seed(0)).layer0);
    assert!(fused.contains("ConvPool"), "{fused}");

    struct Grads(Vec<f32>);
    impl ParamVisitor for Grads {
        fn visit(&mut self, _: &Path<'_>, _: &[usize], _: Layout, _: &mut [f32], g: &mut [f32]) {
            self.0.extend_from_slice(g);
        }
    }
    let (train, _) =
        mnist::load_as::<Tensor3<1, 28, 28>>(concat!(env!("CARGO_MANIFEST_DIR"), "/data/mnist"))
            .unwrap();
    let (x, y) = train
        .take(24)
        .shuffled(&mut Rng::seed(1))
        .batches(24)
        .unwrap()
        .next()
        .unwrap();
    let run = |fuse: bool| {
        set_fused_pooling(fuse);
        let mut model = MnistCnn::init(&mut Rng::seed(3));
        let out = model.forward_batch(&x).as_slice().to_vec();
        // Plain SGD with a zero rate leaves the weights, so the gradients can be read.
        model
            .train_step(&x, &y, &CrossEntropy, &mut Sgd::new(0.0))
            .unwrap();
        let mut grads = Grads(Vec::new());
        model.visit_params(&Path::ROOT, &mut grads);
        set_fused_pooling(true);
        (out, grads.0)
    };
    let (fused_out, fused_grads) = run(true);
    let (plain_out, plain_grads) = run(false);
    assert_eq!(fused_out, plain_out);
    assert_eq!(fused_grads, plain_grads);
    assert!(fused_grads.iter().any(|&g| g != 0.0));
}
