//! Numerical edges: huge logits stay finite through softmax and the fused losses; NaN and
//! infinite inputs never panic and never change a parameter; a diverging run stops with the
//! typed error and keeps its last good weights; an out-of-range label is an error naming its
//! row.

use typed_nn::kernels::{self, Arch};
use typed_nn::layers::{Layer, Layout, Linear, ParamVisitor, Path, Sigmoid, Softmax};
use typed_nn::loss::Loss;
use typed_nn::prelude::*;
use typed_nn::CsvOptions;

/// Logit rows at and around ±1e4: one class far ahead, all equal, two tied far ahead, mixed
/// signs.
const HUGE: [[f32; 4]; 5] = [
    [1e4, -1e4, 0.0, 5e3],
    [-1e4, -1e4, -1e4, -1e4],
    [1e4, 1e4, -1e4, 0.0],
    [-1e4, 1e4, 1e4, -1e4],
    [1e4, -1e4, 9999.0, -1.0],
];

fn huge_logits() -> Batch<Tensor1<4>> {
    Batch::from_vec(HUGE.iter().flatten().copied().collect()).unwrap()
}

fn all_finite(values: &[f32]) -> bool {
    values.iter().all(|v| v.is_finite())
}

/// Whether every parameter of a network is finite.
struct FiniteParams(bool);

impl ParamVisitor for FiniteParams {
    fn visit(&mut self, _: &Path<'_>, _: &[usize], _: Layout, value: &mut [f32], _: &mut [f32]) {
        self.0 &= all_finite(value);
    }
}

fn params_finite<N: Network>(net: &mut N) -> bool {
    let mut check = FiniteParams(true);
    net.visit_params(&Path::ROOT, &mut check);
    check.0
}

#[test]
fn softmax_of_huge_logits_is_a_finite_distribution_on_every_path() {
    let x: Vec<f32> = HUGE.iter().flatten().copied().collect();
    for arch in Arch::available() {
        let mut y = vec![0.0; x.len()];
        kernels::softmax_forward_with(arch, &x, &mut y, 4);
        for (row, probs) in y.chunks(4).enumerate() {
            assert!(all_finite(probs), "{arch:?}, row {row}: {probs:?}");
            let sum: f32 = probs.iter().sum();
            assert!(
                (sum - 1.0).abs() < 1e-5,
                "{arch:?}, row {row} sums to {sum}"
            );
        }
        // The winner of row 0 takes everything; the tied rows split evenly.
        assert!((y[0] - 1.0).abs() < 1e-6);
        assert!((y[8] - 0.5).abs() < 1e-6 && (y[9] - 0.5).abs() < 1e-6);
        for (row, logits) in HUGE.iter().enumerate() {
            let lse = kernels::log_sum_exp_with(arch, logits);
            assert!(lse.is_finite(), "{arch:?}, row {row}: log-sum-exp {lse}");
        }
    }
}

#[test]
fn cross_entropy_of_huge_logits_is_finite_for_every_label() {
    let logits = huge_logits();
    let mut output = Batch::<Tensor1<4>>::from_vec(vec![0.0; 20]).unwrap();
    kernels::softmax_forward(logits.as_slice(), output.as_mut_slice(), 4);
    for label in 0..4 {
        let labels = Labels::<4>::new(vec![label; 5]).unwrap();
        let mut grad = Batch::default();
        let loss = <CrossEntropy as Loss<Softmax, _, _>>::loss_and_grad(
            &CrossEntropy,
            &logits,
            &output,
            &labels,
            &mut grad,
        );
        assert!(loss.is_finite(), "label {label}: loss {loss}");
        assert!(all_finite(grad.as_slice()), "label {label}");
        // ∂loss/∂logits of one row is (softmax − one-hot) / rows: it sums to zero.
        for row in grad.as_slice().chunks(4) {
            assert!(row.iter().sum::<f32>().abs() < 1e-6, "{row:?}");
        }
        // The same through a Linear head (softmax inside the loss).
        let linear =
            <CrossEntropy as Loss<Linear, _, _>>::loss(&CrossEntropy, &logits, &logits, &labels);
        assert!(linear.is_finite(), "label {label}: loss {linear}");
    }
    // Wrong answers by a margin of 2e4 cost about 2e4 each, not infinity.
    let labels = Labels::<4>::new(vec![1, 0, 2, 0, 1]).unwrap();
    let loss =
        <CrossEntropy as Loss<Softmax, _, _>>::loss(&CrossEntropy, &logits, &output, &labels);
    assert!(loss > 1e3 && loss.is_finite(), "{loss}");
}

#[test]
fn binary_cross_entropy_of_huge_logits_is_finite() {
    let logits = huge_logits();
    let mut output = Batch::<Tensor1<4>>::from_vec(vec![0.0; 20]).unwrap();
    for (o, l) in output.as_mut_slice().iter_mut().zip(logits.as_slice()) {
        *o = 1.0 / (1.0 + (-l).exp());
    }
    for target in [0.0, 1.0] {
        let targets = Batch::<Tensor1<4>>::from_vec(vec![target; 20]).unwrap();
        let mut grad = Batch::default();
        let loss = <BinaryCrossEntropy as Loss<Sigmoid, _, _>>::loss_and_grad(
            &BinaryCrossEntropy,
            &logits,
            &output,
            &targets,
            &mut grad,
        );
        assert!(loss.is_finite() && loss >= 0.0, "target {target}: {loss}");
        assert!(all_finite(grad.as_slice()));
    }
}

network! {
    pub struct Classifier: [4] {
        hidden: Dense(8), Relu,
        out: Dense(3), Softmax,
    }
}

#[test]
fn a_trained_network_on_huge_inputs_stays_finite() {
    let mut net = Classifier::init(&mut Rng::seed(1));
    let x = Batch::<Tensor1<4>>::from_vec(HUGE.iter().flatten().copied().collect()).unwrap();
    let y = Labels::<3>::new(vec![0, 1, 2, 0, 1]).unwrap();
    let out = net.forward_batch(&x);
    assert!(all_finite(out.as_slice()));
    let loss = net
        .train_step(&x, &y, &CrossEntropy, &mut Sgd::new(1e-6))
        .unwrap();
    assert!(loss.is_finite());
    assert!(params_finite(&mut net));
}

network! {
    pub struct Cnn: [1, 8, 8] {
        Conv2d(3, 3, padding = 1), BatchNorm2d, Relu,
        MaxPool2d(2),
        Flatten,
        Dropout(0.1),
        Dense(3), Softmax,
    }
}

network! {
    pub struct Recurrent: [6, 4] {
        LSTM(5, return_sequences = true),
        LayerNorm,
        GRU(5),
        Dense(3), Softmax,
    }
}

network! {
    pub struct Attention: [6, 8] {
        Residual { LayerNorm, MultiHeadAttention(2, 8) },
        Flatten,
        Dense(3), Softmax,
    }
}

/// One value of the first or the second sample replaced in turn by NaN, +∞ and −∞:
/// inference gives an answer without panicking (finite for the clean sample), and a
/// training step on it is the typed error and leaves every parameter and running statistic
/// as it was.
macro_rules! poisoned_inputs_are_contained {
    ($name:ident, $net:ty, $len:expr) => {
        #[test]
        fn $name() {
            let mut net = <$net>::init(&mut Rng::seed(2));
            let labels = Labels::<3>::new(vec![0, 1]).unwrap();
            let mut adam = Adam::new(1e-2);
            let mut rng = Rng::seed(3);
            let clean: Vec<f32> = (0..2 * $len).map(|_| rng.uniform(-1.0, 1.0)).collect();
            // One good step first, so that the optimizer has state to protect.
            net.train_step(
                &Batch::from_vec(clean.clone()).unwrap(),
                &labels,
                &CrossEntropy,
                &mut adam,
            )
            .unwrap();
            let before = net.to_safetensors_bytes().unwrap();
            for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
                for at in [0, $len / 2, $len - 1, $len + 3] {
                    let mut x = clean.clone();
                    x[at] = bad;
                    let x = Batch::from_vec(x).unwrap();
                    // The poisoned sample may give any scores; the clean one is untouched.
                    let out = net.forward_batch(&x);
                    let clean_row = if at < $len { 1 } else { 0 };
                    assert!(all_finite(
                        &out.as_slice()[clean_row * 3..clean_row * 3 + 3]
                    ));
                    let _ = net.predict(&x);
                    let err = net.train_step(&x, &labels, &CrossEntropy, &mut adam);
                    // A saturated gate can turn an infinite input into a finite loss whose
                    // gradient is not: either is caught before the update.
                    assert!(
                        matches!(
                            err,
                            Err(Error::NonFiniteLoss { .. } | Error::NonFiniteGradient { .. })
                        ),
                        "{bad} at {at}: {err:?}"
                    );
                    assert!(
                        net.to_safetensors_bytes().unwrap() == before,
                        "{bad} at {at} changed the network"
                    );
                }
            }
            // Training goes on from where it was.
            let loss = net
                .train_step(
                    &Batch::from_vec(clean).unwrap(),
                    &labels,
                    &CrossEntropy,
                    &mut adam,
                )
                .unwrap();
            assert!(loss.is_finite());
        }
    };
}

poisoned_inputs_are_contained!(nan_and_infinity_in_an_mlp, Classifier, 4);
poisoned_inputs_are_contained!(nan_and_infinity_in_a_cnn, Cnn, 64);
poisoned_inputs_are_contained!(nan_and_infinity_in_recurrent_layers, Recurrent, 24);
poisoned_inputs_are_contained!(nan_and_infinity_in_attention, Attention, 48);

// A diverging run (learning rate 1e3) stopping with the typed error, the last good weights
// kept: tests/fit.rs, `a_diverging_run_stops_with_the_epoch_and_step_and_keeps_the_last_good_weights`.

#[test]
fn an_out_of_range_label_is_an_error_naming_its_row() {
    let err = Labels::<10>::new(vec![3, 9, 0, 10, 2]).unwrap_err();
    assert!(matches!(
        err,
        Error::LabelOutOfRange {
            index: 3,
            label: 10,
            classes: 10
        }
    ));
    assert!(err.to_string().contains("index 3"), "{err}");

    // From a CSV file: the line is named.
    let dir = std::env::temp_dir().join(format!("typed-nn-labels-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("labels.csv");
    std::fs::write(&path, "a,b,label\n0.1,0.2,1\n0.3,0.4,7\n0.5,0.6,2\n").unwrap();
    let err =
        Dataset::<Tensor1<2>, Class<3>>::from_csv(&path, &CsvOptions::default().label("label"))
            .unwrap_err();
    assert!(err.to_string().contains("line 3"), "{err}");

    // From an MNIST label file: the index is named.
    let mnist = dir.join("mnist");
    std::fs::create_dir_all(&mnist).unwrap();
    let idx = |magic: u32, dims: &[u32], data: &[u8]| {
        let mut bytes = magic.to_be_bytes().to_vec();
        for d in dims {
            bytes.extend_from_slice(&d.to_be_bytes());
        }
        bytes.extend_from_slice(data);
        bytes
    };
    for split in ["train", "t10k"] {
        std::fs::write(
            mnist.join(format!("{split}-images-idx3-ubyte")),
            idx(0x803, &[3, 28, 28], &[0; 3 * 784]),
        )
        .unwrap();
        std::fs::write(
            mnist.join(format!("{split}-labels-idx1-ubyte")),
            idx(0x801, &[3], &[4, 11, 2]),
        )
        .unwrap();
    }
    let err = mnist::load(&mnist).unwrap_err();
    assert!(
        matches!(
            err,
            Error::LabelOutOfRange {
                index: 1,
                label: 11,
                classes: 10
            }
        ),
        "{err}"
    );
}

network! {
    pub struct TokenClassifier: tokens[5] {
        Embedding(20, 4),
        LSTM(6),
        Dense(3), Softmax,
    }
}

#[test]
fn a_token_id_outside_the_vocabulary_is_a_typed_error_in_inference_and_training() {
    let mut net = TokenClassifier::init(&mut Rng::seed(4));
    let labels = Labels::<3>::new(vec![0, 2]).unwrap();
    let mut adam = Adam::new(1e-2);
    let good = Batch::<Tokens<5>>::from_ids(&[1, 2, 3, 4, 5, 19, 0, 7, 7, 1]).unwrap();
    net.train_step(&good, &labels, &CrossEntropy, &mut adam)
        .unwrap();
    let before = net.to_safetensors_bytes().unwrap();
    for bad in [20.0, 1e9, -1.0, 2.5, f32::NAN, f32::INFINITY] {
        let mut ids = good.as_slice().to_vec();
        ids[7] = bad;
        let x = Batch::<Tokens<5>>::from_vec(ids).unwrap();
        let named = |e: Option<Error>| {
            matches!(
                e,
                Some(Error::TokenOutOfVocabulary {
                    sample: 1,
                    position: 2,
                    vocabulary: 20,
                    ..
                })
            )
        };
        let out = net.predict(&x);
        assert!(named(out.err()), "id {bad}");
        let one = net.forward(&x.sample(1));
        assert!(
            matches!(
                one,
                Err(Error::TokenOutOfVocabulary {
                    sample: 0,
                    position: 2,
                    ..
                })
            ),
            "id {bad}: {:?}",
            one.err()
        );
        let err = net.train_step(&x, &labels, &CrossEntropy, &mut adam);
        assert!(named(err.err()), "id {bad}");
        assert!(net.to_safetensors_bytes().unwrap() == before);
        // The unchecked pass of generic code shows the bad sequence as NaN, never as a
        // row of the table.
        let out = NetworkExt::predict(&net, &x);
        assert!(all_finite(out.row(0)), "the clean sequence is untouched");
        assert!(
            out.row(1).iter().all(|v| v.is_nan()),
            "id {bad} shows as NaN"
        );
    }
}
