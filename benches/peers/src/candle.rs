//! W1–W9 and E1 in candle, written as candle-nn's examples write models: a struct of
//! candle-nn layers built from a `VarBuilder` over a `VarMap`, `forward` chaining `apply`,
//! `AdamW` over `varmap.all_vars()` and `backward_step` on the loss.

use crate::harness::{self, Budget, MnistArrays, Outcome};
use candle_core::{DType, Device, IndexOp, Module, Result, Tensor, D};
use candle_nn::{
    conv2d, linear, linear_no_bias, loss, lstm, ops, AdamW, Conv2d, LSTMConfig, Linear, Optimizer,
    ParamsAdamW, VarBuilder, VarMap, LSTM, RNN,
};
use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

/// W1–W3, E1.
struct Mlp {
    fc1: Linear,
    fc2: Linear,
    fc3: Linear,
}

impl Mlp {
    fn new(vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            fc1: linear(784, 128, vb.pp("fc1"))?,
            fc2: linear(128, 64, vb.pp("fc2"))?,
            fc3: linear(64, 10, vb.pp("fc3"))?,
        })
    }
}

impl Module for Mlp {
    /// Logits; the softmax is applied at inference and fused into the loss in training.
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        xs.apply(&self.fc1)?
            .relu()?
            .apply(&self.fc2)?
            .relu()?
            .apply(&self.fc3)
    }
}

/// W4.
struct Tiny {
    fc1: Linear,
    fc2: Linear,
    fc3: Linear,
}

impl Tiny {
    fn new(vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            fc1: linear(4, 16, vb.pp("fc1"))?,
            fc2: linear(16, 16, vb.pp("fc2"))?,
            fc3: linear(16, 2, vb.pp("fc3"))?,
        })
    }
}

impl Module for Tiny {
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        xs.apply(&self.fc1)?
            .tanh()?
            .apply(&self.fc2)?
            .tanh()?
            .apply(&self.fc3)
    }
}

/// W5–W6: the seed CNN.
struct Cnn {
    conv1: Conv2d,
    conv2: Conv2d,
    fc1: Linear,
    fc2: Linear,
}

impl Cnn {
    fn new(vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            conv1: conv2d(3, 32, 3, Default::default(), vb.pp("conv1"))?,
            conv2: conv2d(32, 64, 3, Default::default(), vb.pp("conv2"))?,
            fc1: linear(64 * 14 * 14, 128, vb.pp("fc1"))?,
            fc2: linear(128, 10, vb.pp("fc2"))?,
        })
    }
}

impl Module for Cnn {
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        xs.apply(&self.conv1)?
            .relu()?
            .max_pool2d(2)?
            .apply(&self.conv2)?
            .relu()?
            .max_pool2d(2)?
            .flatten_from(1)?
            .apply(&self.fc1)?
            .relu()?
            .apply(&self.fc2)
    }
}

/// W7–W8. candle-nn has LSTM and GRU but no plain tanh RNN, so the recurrence is written
/// with its tensor ops: h_t = tanh(W_ih·x_t + b + W_hh·h_{t-1}).
struct SimpleRnn {
    w_ih: Linear,
    w_hh: Linear,
    out: Linear,
}

impl SimpleRnn {
    const HIDDEN: usize = 50;

    fn new(vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            w_ih: linear(1, Self::HIDDEN, vb.pp("w_ih"))?,
            w_hh: linear_no_bias(Self::HIDDEN, Self::HIDDEN, vb.pp("w_hh"))?,
            out: linear(Self::HIDDEN, 1, vb.pp("out"))?,
        })
    }
}

impl Module for SimpleRnn {
    /// [batch, steps, 1] → logits [batch, 1].
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let (batch, steps, _) = xs.dims3()?;
        // Every step's input projection in one product; the loop keeps the recurrent one.
        let projected = xs.apply(&self.w_ih)?;
        let mut h = Tensor::zeros((batch, Self::HIDDEN), DType::F32, xs.device())?;
        for t in 0..steps {
            h = (projected.i((.., t, ..))? + h.apply(&self.w_hh)?)?.tanh()?;
        }
        h.apply(&self.out)
    }
}

/// W9: candle-nn's LSTM over the 28 rows, the last hidden state into a linear layer.
struct SeqLstm {
    lstm: LSTM,
    out: Linear,
}

impl SeqLstm {
    fn new(vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            lstm: lstm(28, 128, LSTMConfig::default(), vb.pp("lstm"))?,
            out: linear(128, 10, vb.pp("out"))?,
        })
    }
}

impl Module for SeqLstm {
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let states = self.lstm.seq(xs)?;
        let last = states.last().expect("28 steps");
        last.h().apply(&self.out)
    }
}

/// A model and its weights for training: variables in a `VarMap`, so that candle records the
/// operations on them for `backward`.
fn trainable<M>(new: impl FnOnce(VarBuilder) -> Result<M>, dev: &Device) -> Result<(M, VarMap)> {
    let varmap = VarMap::new();
    let model = new(VarBuilder::from_varmap(&varmap, DType::F32, dev))?;
    Ok((model, varmap))
}

/// A model for inference: its weights as plain tensors, as an inference program holds them
/// after loading a checkpoint, so candle records no gradient graph.
fn inference<M>(new: impl Fn(VarBuilder) -> Result<M>, dev: &Device) -> Result<M> {
    let (_, varmap) = trainable(&new, dev)?;
    let weights: HashMap<String, Tensor> = varmap
        .data()
        .lock()
        .expect("no other user of the map")
        .iter()
        .map(|(name, var)| (name.clone(), var.as_tensor().detach()))
        .collect();
    new(VarBuilder::from_tensors(weights, DType::F32, dev))
}

/// Adam with lr 1e-3: candle-nn's AdamW without weight decay.
fn adam(varmap: &VarMap) -> Result<AdamW> {
    AdamW::new(
        varmap.all_vars(),
        ParamsAdamW {
            lr: 1e-3,
            weight_decay: 0.0,
            ..Default::default()
        },
    )
}

fn uniform(shape: &[usize], seed: u64, dev: &Device) -> Result<Tensor> {
    Tensor::from_vec(harness::uniform(shape.iter().product(), seed), shape, dev)
}

fn labels(n: usize, dev: &Device) -> Result<Tensor> {
    Tensor::from_vec(harness::class_labels(n), n, dev)
}

pub fn run(workload: &str, budget: &Budget, data: &Path) -> std::result::Result<Outcome, String> {
    let dev = Device::Cpu;
    measure(workload, budget, data, &dev).map_err(|e| e.to_string())
}

fn measure(workload: &str, budget: &Budget, data: &Path, dev: &Device) -> Result<Outcome> {
    // Each timed closure returns its result so that an error surfaces after timing.
    let timed = |stats: harness::Stats, last: Result<Tensor>| last.map(|_| Outcome::Timed(stats));
    Ok(match workload {
        "W1" | "W2" => {
            let mlp = inference(Mlp::new, dev)?;
            let x = uniform(&[if workload == "W1" { 1 } else { 64 }, 784], 1, dev)?;
            let infer = || ops::softmax_last_dim(&mlp.forward(&x)?);
            timed(harness::time(budget, infer), infer())?
        }
        "W3" => {
            let (mlp, varmap) = trainable(Mlp::new, dev)?;
            let mut opt = adam(&varmap)?;
            let (x, y) = (uniform(&[64, 784], 1, dev)?, labels(64, dev)?);
            train(budget, &mut opt, || {
                loss::cross_entropy(&mlp.forward(&x)?, &y)
            })?
        }
        "W4" => {
            let tiny = inference(Tiny::new, dev)?;
            let x = uniform(&[1, 4], 1, dev)?;
            let infer = || tiny.forward(&x);
            timed(harness::time(budget, infer), infer())?
        }
        "W5" => {
            let cnn = inference(Cnn::new, dev)?;
            let x = uniform(&[1, 3, 64, 64], 1, dev)?;
            let infer = || ops::softmax_last_dim(&cnn.forward(&x)?);
            timed(harness::time(budget, infer), infer())?
        }
        "W6" => {
            let (cnn, varmap) = trainable(Cnn::new, dev)?;
            let mut opt = adam(&varmap)?;
            let (x, y) = (uniform(&[32, 3, 64, 64], 1, dev)?, labels(32, dev)?);
            train(budget, &mut opt, || {
                loss::cross_entropy(&cnn.forward(&x)?, &y)
            })?
        }
        "W7" => {
            let rnn = inference(SimpleRnn::new, dev)?;
            let x = uniform(&[1, 100, 1], 1, dev)?;
            let infer = || ops::sigmoid(&rnn.forward(&x)?);
            timed(harness::time(budget, infer), infer())?
        }
        "W8" => {
            let (rnn, varmap) = trainable(SimpleRnn::new, dev)?;
            let mut opt = adam(&varmap)?;
            let x = uniform(&[32, 100, 1], 1, dev)?;
            let t = Tensor::from_vec(harness::binary_targets(32), (32, 1), dev)?;
            train(budget, &mut opt, || {
                loss::binary_cross_entropy_with_logit(&rnn.forward(&x)?, &t)
            })?
        }
        "W9" => {
            let (model, varmap) = trainable(SeqLstm::new, dev)?;
            let mut opt = adam(&varmap)?;
            let (x, y) = (uniform(&[32, 28, 28], 1, dev)?, labels(32, dev)?);
            train(budget, &mut opt, || {
                loss::cross_entropy(&model.forward(&x)?, &y)
            })?
        }
        "E1" => {
            let arrays = MnistArrays::load(data).map_err(candle_core::Error::msg)?;
            e1(arrays, dev)?
        }
        "E2" | "E3" => Outcome::Unsupported(crate::ONLY_TORCH_EPOCHS.into()),
        "W10" | "W11" | "W12" | "W13" => Outcome::Unsupported(crate::ONLY_TORCH_SEQUENCES.into()),
        other => candle_core::bail!("unknown workload {other}"),
    })
}

/// Times one training step: the loss, then `backward_step` (backward and the AdamW update).
fn train(budget: &Budget, opt: &mut AdamW, loss: impl Fn() -> Result<Tensor>) -> Result<Outcome> {
    let mut failed = None;
    let stats = harness::time(budget, || {
        if let Err(e) = loss().and_then(|l| opt.backward_step(&l)) {
            failed.get_or_insert(e);
        }
    });
    match failed {
        Some(e) => Err(e),
        None => Ok(Outcome::Timed(stats)),
    }
}

/// One epoch of the W1 network over MNIST: the training set as one tensor, each shuffled
/// batch gathered from it with `index_select`.
fn e1(arrays: MnistArrays, dev: &Device) -> Result<Outcome> {
    let n = arrays.train_y.len();
    let train_x = Tensor::from_vec(arrays.train_x, (n, 784), dev)?;
    let train_y = Tensor::from_vec(arrays.train_y, n, dev)?;
    let m = arrays.test_y.len();
    let test_x = Tensor::from_vec(arrays.test_x, (m, 784), dev)?;
    let test_y = Tensor::from_vec(arrays.test_y, m, dev)?;

    let (model, varmap) = trainable(Mlp::new, dev)?;
    let mut opt = adam(&varmap)?;
    let mut order: Vec<u32> = (0..n as u32).collect();
    typed_nn::Rng::seed(0).shuffle(&mut order);

    let start = Instant::now();
    for chunk in order.chunks(64) {
        let idx = Tensor::from_slice(chunk, chunk.len(), dev)?;
        let x = train_x.index_select(&idx, 0)?;
        let y = train_y.index_select(&idx, 0)?;
        let loss = loss::cross_entropy(&model.forward(&x)?, &y)?;
        opt.backward_step(&loss)?;
    }
    let seconds = start.elapsed().as_secs_f64();

    let predicted = model.forward(&test_x)?.argmax(D::Minus1)?;
    let correct = predicted
        .eq(&test_y)?
        .to_dtype(DType::F32)?
        .sum_all()?
        .to_scalar::<f32>()?;
    Ok(Outcome::Epoch {
        seconds,
        accuracy: correct as f64 / m as f64,
    })
}
