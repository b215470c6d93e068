//! The seed's MNIST networks (the MLP, the CNN, the row-by-row LSTM) trained in f32, then
//! converted to int8 (static, calibrated on training images; dynamic) and bf16: test accuracy
//! of each, and the time of a pass over the test set.
//!
//! ```text
//! cargo run --release --example precision [-- --networks mlp,cnn,lstm --mlp-epochs 5]
//! ```

use clap::Parser;
use std::time::Instant;
use typed_nn::precision::{Infer, Lower};
use typed_nn::prelude::*;

mod common;

network! {
    /// The seed's DNN.
    pub struct Mlp: [784] {
        fc1: Dense(64), Relu,
        fc2: Dense(32), Relu,
        out: Dense(10), Softmax,
    }
}

network! {
    /// The seed's CNN (workload E2).
    pub struct MnistCnn: [1, 28, 28] {
        conv1: Conv2d(32, 3), Relu,
        MaxPool2d(2),
        conv2: Conv2d(64, 3), Relu,
        MaxPool2d(2),
        Flatten,
        fc: Dense(128), Relu,
        out: Dense(10), Softmax,
    }
}

network! {
    /// Sequence MNIST: each image is 28 rows of 28 pixels.
    pub struct SeqMnist: [28, 28] {
        lstm: LSTM(128),
        out: Dense(10), Softmax,
    }
}

/// Trains the MNIST networks in f32 and measures them converted to int8 and bf16.
#[derive(Parser, Debug)]
struct Options {
    /// Which networks: any of mlp, cnn, lstm.
    #[arg(long, value_delimiter = ',', default_value = "mlp,cnn,lstm")]
    networks: Vec<String>,
    #[arg(long, default_value_t = 5)]
    mlp_epochs: usize,
    #[arg(long, default_value_t = 2)]
    cnn_epochs: usize,
    #[arg(long, default_value_t = 2)]
    lstm_epochs: usize,
    /// Training images the static int8 conversion calibrates on.
    #[arg(long, default_value_t = 1000)]
    calibration: usize,
    #[command(flatten)]
    mnist: common::MnistOptions,
}

/// Test accuracy (%) and seconds for one pass over `test` in batches of 256 (each split over
/// the threads).
fn measure<N: Infer<Out = Tensor1<10>>>(net: &N, test: &Dataset<N::In, Class<10>>) -> (f64, f64) {
    let (mut right, start) = (0, Instant::now());
    for first in (0..test.len()).step_by(256) {
        let rows: Vec<usize> = (first..(first + 256).min(test.len())).collect();
        let x = Batch::from_samples(&rows.iter().map(|&i| test.input(i)).collect::<Vec<_>>());
        let y = typed_nn::precision::predict(net, &x);
        right += rows
            .iter()
            .enumerate()
            .filter(|&(r, &i)| y.sample(r).argmax() == test.target(i).index())
            .count();
    }
    let seconds = start.elapsed().as_secs_f64();
    (100.0 * right as f64 / test.len() as f64, seconds)
}

/// The training and test images of one network.
type Split<'a, X> = (&'a Dataset<X, Class<10>>, &'a Dataset<X, Class<10>>);

/// Trains `model`, converts it to each precision and prints one table row per precision.
fn report<N>(
    name: &str,
    model: &mut N,
    epochs: usize,
    data: Split<'_, N::In>,
    options: &Options,
) -> Result<(), Box<dyn std::error::Error>>
where
    N: Network<Out = Tensor1<10>, Head = Softmax>
        + Send
        + Sync
        + Lower<Int8>
        + Lower<Int8Dynamic>
        + Lower<Bf16>,
{
    let (train, test) = data;
    options
        .mnist
        .trainer(CrossEntropy, Adam::new(1e-3))
        .epochs(epochs)
        .fit(model, train)?;
    let calibration: Vec<N::In> = (0..options.calibration.min(train.len()))
        .map(|i| train.input(i))
        .collect();
    let calibration = Batch::from_samples(&calibration);
    let (f32_acc, f32_s) = measure(&*model, test);
    let row = |precision: &str, (acc, s): (f64, f64)| {
        println!(
            "| {name} | {precision} | {acc:.2} | {:+.2} | {:.3} |",
            acc - f32_acc,
            s
        );
    };
    println!("| network | precision | test accuracy (%) | vs f32 (points) | test pass (s) |");
    println!("|---|---|---:|---:|---:|");
    row("f32", (f32_acc, f32_s));
    row(
        "int8",
        measure(&model.to_precision::<Int8>(&calibration)?, test),
    );
    let empty = Batch::zeros(0);
    row(
        "int8 dynamic",
        measure(&model.to_precision::<Int8Dynamic>(&empty)?, test),
    );
    row("bf16", measure(&model.to_precision::<Bf16>(&empty)?, test));
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = Options::parse();
    let seed = options.mnist.seed;
    for network in &options.networks {
        match network.as_str() {
            "mlp" => {
                let (train, test) = mnist::load(&options.mnist.data)?;
                let mut model = Mlp::init(&mut Rng::seed(seed));
                report(
                    "MLP",
                    &mut model,
                    options.mlp_epochs,
                    (&train, &test),
                    &options,
                )?;
            }
            "cnn" => {
                let (train, test) = mnist::load_as::<Tensor3<1, 28, 28>>(&options.mnist.data)?;
                let mut model = MnistCnn::init(&mut Rng::seed(seed));
                report(
                    "CNN",
                    &mut model,
                    options.cnn_epochs,
                    (&train, &test),
                    &options,
                )?;
            }
            "lstm" => {
                let (train, test) = mnist::load_as::<Tensor2<28, 28>>(&options.mnist.data)?;
                let mut model = SeqMnist::init(&mut Rng::seed(seed));
                report(
                    "LSTM",
                    &mut model,
                    options.lstm_epochs,
                    (&train, &test),
                    &options,
                )?;
            }
            other => return Err(format!("unknown network `{other}` (mlp, cnn, lstm)").into()),
        }
    }
    Ok(())
}
