//! Parity with PyTorch through the committed fixtures of tools/pytorch_parity.py (torch
//! version in tests/fixtures/TORCH_VERSION): the same weights give the same outputs, loss,
//! parameter gradients and one Adam step.
//!
//! Tolerances: outputs and loss 1e-5 relative (with a 1e-6 absolute floor: f32 sums of a
//! few dozen terms in a different order); gradients 1e-4 relative (with a 1e-5 floor: they
//! go through more f32 operations, and our fused log-softmax differs in rounding from
//! PyTorch's separate ops). The Adam step compares weights after
//! `p − lr·m̂/(√v̂ + ε)`, whose first step is ±lr wherever the gradient is not tiny: 1e-5.
//!
//! SimpleRNN and LSTM keep one bias where PyTorch has two; their import sums them, so
//! gradients compare against either PyTorch bias (both equal ∂loss/∂bias), and the Adam step
//! is not compared for that bias (one Adam parameter moves differently from two).

use typed_nn::layers::{Layer, Layout, ParamVisitor, Path};
use typed_nn::prelude::*;
use typed_nn::{data::TargetBatch, loss::Loss, Network};

fn fixture(name: &str, kind: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/{name}.{kind}.safetensors",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

struct Data {
    bytes: Vec<u8>,
}

impl Data {
    fn tensor(&self, name: &str) -> Vec<f32> {
        let file = safetensors::SafeTensors::deserialize(&self.bytes).unwrap();
        let view = file
            .tensor(name)
            .unwrap_or_else(|_| panic!("fixture tensor {name}"));
        view.data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    }
}

fn assert_close(what: &str, got: &[f32], want: &[f32], rel: f32, floor: f32) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (k, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= rel * w.abs() + floor,
            "{what}[{k}]: typed-nn {g} vs PyTorch {w}"
        );
    }
}

/// Every parameter (or its gradient) in PyTorch's layout, with its name and layout.
struct Collect {
    grads: bool,
    out: Vec<(String, Layout, Vec<f32>)>,
}

impl ParamVisitor for Collect {
    fn visit(
        &mut self,
        path: &Path<'_>,
        shape: &[usize],
        layout: Layout,
        value: &mut [f32],
        grad: &mut [f32],
    ) {
        let src = if self.grads { &*grad } else { &*value };
        let values = match layout {
            Layout::Transposed => {
                let (rows, cols) = (shape[0], shape[1]);
                let mut t = vec![0.0; src.len()];
                for r in 0..rows {
                    for c in 0..cols {
                        t[r * cols + c] = src[c * rows + r];
                    }
                }
                t
            }
            _ => src.to_vec(),
        };
        self.out.push((path.to_string(), layout, values));
    }
}

fn collect<L: Layer>(net: &mut L, grads: bool) -> Vec<(String, Layout, Vec<f32>)> {
    let mut c = Collect {
        grads,
        out: Vec::new(),
    };
    net.visit_params(&Path::ROOT, &mut c);
    c.out
}

/// Runs one fixture: forward, loss and gradients, then one Adam step from the same weights.
fn check<N, T, L>(name: &str, targets: impl Fn(&[f32]) -> T, loss: &L)
where
    N: Network,
    T: TargetBatch,
    L: Loss<N::Head, N::Out, T>,
{
    let weights = fixture(name, "weights");
    let data = Data {
        bytes: fixture(name, "data"),
    };
    let load = || {
        let mut net = N::init(&mut Rng::seed(99));
        typed_nn::io::safetensors::load_bytes(&mut net, &weights).unwrap();
        net
    };
    let x = Batch::<N::In>::from_vec(data.tensor("input")).unwrap();
    let t = targets(&data.tensor("target"));

    let mut net = load();
    let mut out = Batch::default();
    net.forward_batch_into(&x, &mut out, &mut Default::default());
    assert_close(
        &format!("{name} output"),
        out.as_slice(),
        &data.tensor("output"),
        1e-5,
        1e-6,
    );

    // A step with learning rate 0 leaves the weights and computes the gradients.
    let value = typed_nn::train::train_step(&mut net, &x, &t, loss, &mut Sgd::new(0.0)).unwrap();
    assert_close(
        &format!("{name} loss"),
        &[value],
        &data.tensor("loss"),
        1e-5,
        1e-6,
    );
    for (param, layout, grad) in collect(&mut net, true) {
        assert_close(
            &format!("{name} grad.{param}"),
            &grad,
            &data.tensor(&format!("grad.{param}")),
            1e-4,
            1e-5,
        );
        if let Layout::SumWith(_) = layout {
            let sibling = param.replace("bias_ih", "bias_hh");
            assert_close(
                &format!("{name} grad.{sibling}"),
                &grad,
                &data.tensor(&format!("grad.{sibling}")),
                1e-4,
                1e-5,
            );
        }
    }

    let mut net = load();
    typed_nn::train::train_step(&mut net, &x, &t, loss, &mut Adam::new(1e-2)).unwrap();
    for (param, layout, value) in collect(&mut net, false) {
        if matches!(layout, Layout::SumWith(_)) {
            continue;
        }
        assert_close(
            &format!("{name} adam.{param}"),
            &value,
            &data.tensor(&format!("adam.{param}")),
            1e-5,
            1e-5,
        );
    }
}

fn labels<const N: usize>(t: &[f32]) -> Labels<N> {
    Labels::new(t.iter().map(|&c| c as u32).collect()).unwrap()
}

fn dense_targets<const N: usize>(t: &[f32]) -> Batch<Tensor1<N>> {
    Batch::from_vec(t.to_vec()).unwrap()
}

network! {
    struct DenseNet: [6] {
        Dense(5), Tanh, Dense(5), LeakyRelu(0.1), Dense(4), Sigmoid, Dense(4), Relu, Dense(3), Softmax,
    }
}

network! {
    struct Cnn: [3, 16, 16] {
        Conv2d(4, 3), Relu, MaxPool2d(2), Conv2d(6, 3), Relu, MaxPool2d(2), Flatten, Dense(10), Softmax,
    }
}

network! {
    struct Pools: [2, 8, 8] {
        Conv2d(3, 3, padding = same), Relu, AvgPool2d(2), Conv2d(4, (2, 3)), GlobalAvgPool2d, Flatten, Dense(2),
    }
}

network! {
    struct Conv1dNet: [2, 10] {
        Conv1d(3, 3), Relu, MaxPool1d(2), Flatten, Dense(2),
    }
}

network! {
    struct RnnNet: [7, 2] {
        rnn: SimpleRNN(4), out: Dense(1), act: Sigmoid,
    }
}

network! {
    struct LstmNet: [5, 3] {
        lstm: LSTM(4), out: Dense(3),
    }
}

network! {
    struct GruNet: [5, 3] {
        gru: GRU(4, return_sequences = true), flat: Flatten, out: Dense(2),
    }
}

#[test]
fn dense_and_activations_match_pytorch() {
    check::<DenseNet, _, _>("dense", labels::<3>, &CrossEntropy);
}

#[test]
fn seed_cnn_matches_pytorch() {
    check::<Cnn, _, _>("cnn", labels::<10>, &CrossEntropy);
}

#[test]
fn pooling_padding_and_flatten_match_pytorch() {
    check::<Pools, _, _>("pools", dense_targets::<2>, &Mse);
}

#[test]
fn conv1d_matches_pytorch() {
    check::<Conv1dNet, _, _>("conv1d", dense_targets::<2>, &Mse);
}

#[test]
fn simple_rnn_matches_pytorch() {
    check::<RnnNet, _, _>("rnn", dense_targets::<1>, &BinaryCrossEntropy);
}

#[test]
fn lstm_matches_pytorch() {
    check::<LstmNet, _, _>("lstm", labels::<3>, &CrossEntropy);
}

#[test]
fn gru_matches_pytorch() {
    check::<GruNet, _, _>("gru", dense_targets::<2>, &Mse);
}
