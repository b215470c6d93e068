//! What `network!` generates: parameter counts, the summary, inference on one sample and on
//! batches, parameter names, and networks used as layers of other networks.

use typed_nn::layers::{Layer, Layout, ParamVisitor, Path};
use typed_nn::prelude::*;

network! {
    /// The seed's DNN.
    pub struct Mlp: [784] {
        fc1: Dense(64), Relu,
        fc2: Dense(32), Relu,
        out: Dense(10), Softmax,
    }
}

#[test]
fn parameter_counts_match_keras() {
    assert_eq!(Mlp::PARAMS, 50_240 + 2_080 + 330);
    assert_eq!(<Mlp as Layer>::PARAMS, 52_650);
    let summary = Mlp::summary();
    let expected = "\
Model: \"Mlp\"
_____________________________________
Layer (type)   Output Shape   Param #
=====================================
fc1 (Dense)    (None, 64)      50,240
-------------------------------------
1 (Relu)       (None, 64)           0
-------------------------------------
fc2 (Dense)    (None, 32)       2,080
-------------------------------------
3 (Relu)       (None, 32)           0
-------------------------------------
out (Dense)    (None, 10)         330
-------------------------------------
5 (Softmax)    (None, 10)           0
=====================================
Total params: 52,650
Trainable params: 52,650
Non-trainable params: 0
_____________________________________
";
    assert_eq!(summary, expected);
}

#[test]
fn init_is_seeded_and_glorot_uniform() {
    let a = Mlp::init(&mut Rng::seed(9));
    let b = Mlp::init(&mut Rng::seed(9));
    let c = Mlp::init(&mut Rng::seed(10));
    assert_eq!(a.fc1.weight_t, b.fc1.weight_t);
    assert_ne!(a.fc1.weight_t, c.fc1.weight_t);
    let limit = (6.0f32 / (784.0 + 64.0)).sqrt();
    assert!(a.fc1.weight_t.iter().all(|w| w.abs() <= limit));
    let max = a.fc1.weight_t.iter().fold(0.0f32, |m, w| m.max(w.abs()));
    assert!(
        max > 0.95 * limit,
        "weights fill the Glorot range: {max} of {limit}"
    );
    assert!(a.fc1.bias.iter().all(|&b| b == 0.0));
}

#[test]
fn sample_and_batch_inference_agree_for_any_batch_size() {
    let mut rng = Rng::seed(1);
    let model = Mlp::init(&mut rng);
    for rows in [1, 3, 64, 65] {
        let x = Batch::<Tensor1<784>>::from_vec((0..rows * 784).map(|_| rng.next_f32()).collect())
            .unwrap();
        let y = model.forward_batch(&x);
        assert_eq!(y.rows(), rows);
        for r in 0..rows {
            let one: Tensor1<10> = model.forward(&x.sample(r));
            for (a, b) in one.data.iter().zip(y.row(r)) {
                assert!((a - b).abs() < 1e-6);
            }
        }
    }
}

struct Names(Vec<(String, Vec<usize>)>);

impl ParamVisitor for Names {
    fn visit(
        &mut self,
        path: &Path<'_>,
        shape: &[usize],
        _layout: Layout,
        value: &mut [f32],
        grad: &mut [f32],
    ) {
        assert_eq!(value.len(), shape.iter().product::<usize>());
        assert_eq!(grad.len(), value.len());
        self.0.push((path.to_string(), shape.to_vec()));
    }
}

fn names<L: Layer>(net: &mut L) -> Vec<(String, Vec<usize>)> {
    let mut n = Names(Vec::new());
    net.visit_params(&Path::ROOT, &mut n);
    n.0
}

network! {
    /// Unnamed layers take their index, as in PyTorch's `nn.Sequential`.
    struct Sequential: [4] {
        Dense(3), LeakyRelu,
        Dense(2), LeakyRelu(0.2),
        Dense(1),
    }
}

#[test]
fn parameters_have_pytorch_names_and_shapes() {
    let mut mlp = Mlp::init(&mut Rng::seed(0));
    let expected: Vec<(String, Vec<usize>)> = [
        ("fc1.weight", vec![64, 784]),
        ("fc1.bias", vec![64]),
        ("fc2.weight", vec![32, 64]),
        ("fc2.bias", vec![32]),
        ("out.weight", vec![10, 32]),
        ("out.bias", vec![10]),
    ]
    .into_iter()
    .map(|(n, s)| (n.to_string(), s))
    .collect();
    assert_eq!(names(&mut mlp), expected);

    let mut seq = Sequential::init(&mut Rng::seed(0));
    let got: Vec<String> = names(&mut seq).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        got,
        ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]
    );
    assert_eq!(seq.layer1.function.alpha, 0.01, "PyTorch's default slope");
    assert_eq!(seq.layer3.function.alpha, 0.2);
    // A network without an output activation has a linear head: its output is the logits.
    let y = seq.forward(&Tensor1::new([1.0, -1.0, 0.5, 2.0]));
    assert!(y[0].is_finite());
}

network! {
    pub struct Encoder: [784] {
        fc: Dense(32), Tanh,
    }
}

network! {
    /// A network using another network as a layer.
    pub struct Classifier: [784] {
        enc: Net(Encoder),
        head: Dense(10), Softmax,
    }
}

#[test]
fn networks_compose_as_layers() {
    assert_eq!(Classifier::PARAMS, Encoder::PARAMS + 330);
    let mut rng = Rng::seed(4);
    let mut model = Classifier::init(&mut rng);
    let got: Vec<String> = names(&mut model).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        got,
        ["enc.fc.weight", "enc.fc.bias", "head.weight", "head.bias"]
    );
    assert!(Classifier::summary().contains("enc (Encoder)"));

    // The composed network trains: the loss falls on a fixed batch.
    let x =
        Batch::<Tensor1<784>>::from_vec((0..8 * 784).map(|_| rng.next_f32()).collect()).unwrap();
    let y = Labels::<10>::new((0..8).collect()).unwrap();
    let mut opt = Adam::new(1e-2);
    let first = model.train_step(&x, &y, &CrossEntropy, &mut opt).unwrap();
    let mut last = first;
    for _ in 0..30 {
        last = model.train_step(&x, &y, &CrossEntropy, &mut opt).unwrap();
    }
    assert!(last < 0.5 * first, "loss {first} -> {last}");
}

network! {
    /// A two-class network for comparing target encodings.
    struct Small: [3] {
        Dense(4), Relu,
        Dense(2), Softmax,
    }
}

#[test]
fn one_hot_and_class_index_targets_give_the_same_loss() {
    let mut rng = Rng::seed(5);
    let x = Batch::<Tensor1<3>>::from_vec((0..12).map(|_| rng.next_f32()).collect()).unwrap();
    let classes = [0u32, 1, 1, 0];
    let labels = Labels::<2>::new(classes.to_vec()).unwrap();
    let onehot = Batch::<Tensor1<2>>::from_vec(
        classes
            .iter()
            .flat_map(|&c| if c == 0 { [1.0, 0.0] } else { [0.0, 1.0] })
            .collect(),
    )
    .unwrap();
    let (mut a, mut b) = (
        Small::init(&mut Rng::seed(6)),
        Small::init(&mut Rng::seed(6)),
    );
    let la = a
        .train_step(&x, &labels, &CrossEntropy, &mut Sgd::new(0.1))
        .unwrap();
    let lb = b
        .train_step(&x, &onehot, &CrossEntropy, &mut Sgd::new(0.1))
        .unwrap();
    assert!((la - lb).abs() < 1e-6);
    assert_eq!(
        a.layer0.weight_t, b.layer0.weight_t,
        "same gradients, same update"
    );
}
