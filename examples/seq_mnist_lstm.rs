//! MNIST read row by row: 28 time steps of 28 features through LSTM(128), then Dense(10).
//! Adam 1e-3, batch 64.
//!
//! The test set is measured after every epoch (Keras's `validation_data`) and reported
//! with a confusion matrix at the end; the training curves are drawn.
//!
//! ```text
//! cargo run --release --example seq_mnist_lstm [-- --epochs 5]
//! cargo run --release --example seq_mnist_lstm -- --help
//! ```

use clap::Parser;
use typed_nn::prelude::*;

mod common;

network! {
    /// Sequence MNIST: each image is 28 rows of 28 pixels, read top to bottom.
    pub struct SeqMnist: [28, 28] {
        lstm: LSTM(128),
        out: Dense(10), Softmax,
    }
}

/// Trains an LSTM on MNIST read row by row.
#[derive(Parser, Debug)]
struct Options {
    /// Passes over the training images.
    #[arg(long, default_value_t = 5)]
    epochs: usize,
    #[command(flatten)]
    mnist: common::MnistOptions,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = Options::parse();
    let mut model = SeqMnist::init(&mut Rng::seed(options.mnist.seed));
    print!("{}", SeqMnist::summary());
    let (train, test) = mnist::load_as::<Tensor2<28, 28>>(&options.mnist.data)?;
    let history = options
        .mnist
        .trainer(CrossEntropy, Adam::new(1e-3))
        .epochs(options.epochs)
        .fit_validated(&mut model, &train, Some(&test))?;
    common::report_test(&model, &test)?;
    options.mnist.plot("seq_mnist_lstm", &history)?;
    Ok(())
}
