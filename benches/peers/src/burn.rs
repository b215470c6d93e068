//! W1–W9 and E1 in burn, on its pure-Rust `flex` CPU backend, written as the Burn Book's
//! models are: `#[derive(Module)]` structs of burn-nn layers built from their configs, a
//! custom training loop of `loss.backward()`, `GradientsParams::from_grads` and
//! `optimizer.step` on an autodiff device, inference on the plain device.

use crate::harness::{self, Budget, MnistArrays, Outcome};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::loss::{BinaryCrossEntropyLossConfig, CrossEntropyLossConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, Lstm, LstmConfig, Relu, Rnn, RnnConfig};
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::activation::{sigmoid, softmax, tanh};
use std::path::Path;
use std::time::Instant;

const LR: f64 = 1e-3;

/// W1–W3, E1.
#[derive(Module, Debug)]
struct Mlp {
    fc1: Linear,
    fc2: Linear,
    fc3: Linear,
    activation: Relu,
}

impl Mlp {
    fn new(device: &Device) -> Self {
        Self {
            fc1: LinearConfig::new(784, 128).init(device),
            fc2: LinearConfig::new(128, 64).init(device),
            fc3: LinearConfig::new(64, 10).init(device),
            activation: Relu::new(),
        }
    }

    /// Logits; the softmax is applied at inference and fused into the loss in training.
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let x = self.activation.forward(self.fc1.forward(x));
        let x = self.activation.forward(self.fc2.forward(x));
        self.fc3.forward(x)
    }
}

/// W4.
#[derive(Module, Debug)]
struct Tiny {
    fc1: Linear,
    fc2: Linear,
    fc3: Linear,
}

impl Tiny {
    fn new(device: &Device) -> Self {
        Self {
            fc1: LinearConfig::new(4, 16).init(device),
            fc2: LinearConfig::new(16, 16).init(device),
            fc3: LinearConfig::new(16, 2).init(device),
        }
    }

    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let x = tanh(self.fc1.forward(x));
        let x = tanh(self.fc2.forward(x));
        self.fc3.forward(x)
    }
}

/// W5–W6: the seed CNN.
#[derive(Module, Debug)]
struct Cnn {
    conv1: Conv2d,
    conv2: Conv2d,
    pool: MaxPool2d,
    fc1: Linear,
    fc2: Linear,
    activation: Relu,
}

impl Cnn {
    fn new(device: &Device) -> Self {
        Self {
            conv1: Conv2dConfig::new([3, 32], [3, 3]).init(device),
            conv2: Conv2dConfig::new([32, 64], [3, 3]).init(device),
            pool: MaxPool2dConfig::new([2, 2]).init(),
            fc1: LinearConfig::new(64 * 14 * 14, 128).init(device),
            fc2: LinearConfig::new(128, 10).init(device),
            activation: Relu::new(),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x = self
            .pool
            .forward(self.activation.forward(self.conv1.forward(x)));
        let x = self
            .pool
            .forward(self.activation.forward(self.conv2.forward(x)));
        let x = x.flatten(1, 3);
        let x = self.activation.forward(self.fc1.forward(x));
        self.fc2.forward(x)
    }
}

/// W7–W8: burn-nn's tanh `Rnn`, its last hidden state into a linear layer.
#[derive(Module, Debug)]
struct SeedRnn {
    rnn: Rnn,
    out: Linear,
}

impl SeedRnn {
    fn new(device: &Device) -> Self {
        Self {
            rnn: RnnConfig::new(1, 50, true).init(device),
            out: LinearConfig::new(50, 1).init(device),
        }
    }

    /// [batch, steps, 1] → logits [batch, 1].
    fn forward(&self, x: Tensor<3>) -> Tensor<2> {
        let (_, state) = self.rnn.forward(x, None);
        self.out.forward(state.hidden)
    }
}

/// W9: burn-nn's LSTM over the 28 rows, the last hidden state into a linear layer.
#[derive(Module, Debug)]
struct SeqLstm {
    lstm: Lstm,
    out: Linear,
}

impl SeqLstm {
    fn new(device: &Device) -> Self {
        Self {
            lstm: LstmConfig::new(28, 128, true).init(device),
            out: LinearConfig::new(128, 10).init(device),
        }
    }

    fn forward(&self, x: Tensor<3>) -> Tensor<2> {
        let (_, state) = self.lstm.forward(x, None);
        self.out.forward(state.hidden)
    }
}

/// A model being trained. burn's `optimizer.step` takes the module by value and returns the
/// updated one, so the struct holds it in an `Option` between steps.
struct Trainer<M: Module> {
    model: Option<M>,
    optim: ModuleOptimizer,
}

impl<M: Module> Trainer<M> {
    fn new(model: M) -> Self {
        Self {
            model: Some(model),
            optim: AdamConfig::new().init(),
        }
    }

    /// Forward and loss (`loss`), backward, and the Adam update.
    fn step(&mut self, loss: impl FnOnce(&M) -> Tensor<1>) {
        let model = self.model.take().expect("a model between steps");
        let loss = loss(&model);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        self.model = Some(self.optim.step(LR, model, grads));
    }

    fn model(&self) -> &M {
        self.model.as_ref().expect("a model between steps")
    }
}

fn uniform<const D: usize>(shape: [usize; D], seed: u64, device: &Device) -> Tensor<D> {
    let values = harness::uniform(shape.iter().product(), seed);
    Tensor::from_data(TensorData::new(values, shape), device)
}

fn labels(values: Vec<u32>, device: &Device) -> Tensor<1, Int> {
    let n = values.len();
    let values: Vec<i64> = values.into_iter().map(i64::from).collect();
    Tensor::from_data(TensorData::new(values, [n]), device)
}

pub fn run(workload: &str, budget: &Budget, data: &Path) -> Result<Outcome, String> {
    let device = Device::flex();
    // Seeds the weight initialisation (burn-flex's generator is global to the backend).
    device.seed(0);
    let train_device = Device::flex().autodiff();
    let time = |f: &mut dyn FnMut()| Outcome::Timed(harness::time(budget, f));
    Ok(match workload {
        "W1" | "W2" => {
            let mlp = Mlp::new(&device);
            let x = uniform([if workload == "W1" { 1 } else { 64 }, 784], 1, &device);
            time(&mut || {
                softmax(mlp.forward(x.clone()), 1);
            })
        }
        "W3" => {
            let mut trainer = Trainer::new(Mlp::new(&train_device));
            let x = uniform([64, 784], 1, &train_device);
            let y = labels(harness::class_labels(64), &train_device);
            let loss = CrossEntropyLossConfig::new().init(&train_device);
            time(&mut || trainer.step(|m| loss.forward(m.forward(x.clone()), y.clone())))
        }
        "W4" => {
            let tiny = Tiny::new(&device);
            let x = uniform([1, 4], 1, &device);
            time(&mut || {
                tiny.forward(x.clone());
            })
        }
        "W5" => {
            let cnn = Cnn::new(&device);
            let x = uniform([1, 3, 64, 64], 1, &device);
            time(&mut || {
                softmax(cnn.forward(x.clone()), 1);
            })
        }
        "W6" => {
            let mut trainer = Trainer::new(Cnn::new(&train_device));
            let x = uniform([32, 3, 64, 64], 1, &train_device);
            let y = labels(harness::class_labels(32), &train_device);
            let loss = CrossEntropyLossConfig::new().init(&train_device);
            time(&mut || trainer.step(|m| loss.forward(m.forward(x.clone()), y.clone())))
        }
        "W7" => {
            let rnn = SeedRnn::new(&device);
            let x = uniform([1, 100, 1], 1, &device);
            time(&mut || {
                sigmoid(rnn.forward(x.clone()));
            })
        }
        "W8" => {
            let mut trainer = Trainer::new(SeedRnn::new(&train_device));
            let x = uniform([32, 100, 1], 1, &train_device);
            let targets: Vec<i64> = harness::binary_targets(32)
                .into_iter()
                .map(|t| t as i64)
                .collect();
            let t = Tensor::<2, Int>::from_data(TensorData::new(targets, [32, 1]), &train_device);
            let loss = BinaryCrossEntropyLossConfig::new()
                .with_logits(true)
                .init(&train_device);
            time(&mut || trainer.step(|m| loss.forward(m.forward(x.clone()), t.clone())))
        }
        "W9" => {
            let mut trainer = Trainer::new(SeqLstm::new(&train_device));
            let x = uniform([32, 28, 28], 1, &train_device);
            let y = labels(harness::class_labels(32), &train_device);
            let loss = CrossEntropyLossConfig::new().init(&train_device);
            time(&mut || trainer.step(|m| loss.forward(m.forward(x.clone()), y.clone())))
        }
        "E1" => e1(MnistArrays::load(data)?, &train_device),
        "E2" | "E3" => Outcome::Unsupported(crate::ONLY_TORCH_EPOCHS.into()),
        "W10" | "W11" | "W12" | "W13" => Outcome::Unsupported(crate::ONLY_TORCH_SEQUENCES.into()),
        other => return Err(format!("unknown workload {other}")),
    })
}

/// One epoch of the W1 network over MNIST: the training set as one tensor, each shuffled
/// batch gathered from it with `select`; accuracy from the model's `valid()` copy.
fn e1(arrays: MnistArrays, device: &Device) -> Outcome {
    let n = arrays.train_y.len();
    let train_x: Tensor<2> = Tensor::from_data(TensorData::new(arrays.train_x, [n, 784]), device);
    let train_y = labels(arrays.train_y, device);
    let m = arrays.test_y.len();
    let inference = device.clone().without_autodiff();
    let test_x: Tensor<2> = Tensor::from_data(TensorData::new(arrays.test_x, [m, 784]), &inference);
    let test_y = labels(arrays.test_y, &inference);

    let mut trainer = Trainer::new(Mlp::new(device));
    let loss = CrossEntropyLossConfig::new().init(device);
    let mut order: Vec<i64> = (0..n as i64).collect();
    typed_nn::Rng::seed(0).shuffle(&mut order);

    let start = Instant::now();
    for chunk in order.chunks(64) {
        let idx =
            Tensor::<1, Int>::from_data(TensorData::new(chunk.to_vec(), [chunk.len()]), device);
        let x = train_x.clone().select(0, idx.clone());
        let y = train_y.clone().select(0, idx);
        trainer.step(|model| loss.forward(model.forward(x), y));
    }
    let seconds = start.elapsed().as_secs_f64();

    let predicted = trainer
        .model()
        .valid()
        .forward(test_x)
        .argmax(1)
        .flatten::<1>(0, 1);
    let correct: i64 = predicted.equal(test_y).int().sum().into_scalar();
    Outcome::Epoch {
        seconds,
        accuracy: correct as f64 / m as f64,
    }
}
