//! Trains the seed's DNN (784 → 64 → 32 → 10) on MNIST with Adam, batch 64, holding out the
//! last tenth of the training images for validation as Keras's `validation_split=0.1` does;
//! then reports the test set with a confusion matrix and draws the training curves.
//!
//! ```text
//! cargo run --release --example mnist_mlp [-- --epochs 5 --checkpoint DIR --save FILE]
//! cargo run --release --example mnist_mlp -- --help
//! ```

use clap::Parser;
use std::path::PathBuf;
use typed_nn::fit::{Checkpoint, Monitor};
use typed_nn::prelude::*;

mod common;

network! {
    /// The seed's DNN: Dense(64, relu) -> Dense(32, relu) -> Dense(10, softmax).
    pub struct Mlp: [784] {
        fc1: Dense(64), Relu,
        fc2: Dense(32), Relu,
        out: Dense(10), Softmax,
    }
}

/// Trains the seed's DNN on MNIST.
#[derive(Parser, Debug)]
struct Options {
    /// Passes over the training images.
    #[arg(long, default_value_t = 5)]
    epochs: usize,
    /// Fraction of the training images held out for validation.
    #[arg(long, default_value_t = 0.1)]
    validation_split: f32,
    /// Keep the best (by validation accuracy) and the last epoch's model in this directory,
    /// with what a resumed run needs.
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// Continue the run saved in the --checkpoint directory instead of starting afresh.
    #[arg(long, requires = "checkpoint")]
    resume: bool,
    /// Save the trained weights (safetensors) to this file.
    #[arg(long)]
    save: Option<PathBuf>,
    #[command(flatten)]
    mnist: common::MnistOptions,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = Options::parse();
    let mut model = Mlp::init(&mut Rng::seed(options.mnist.seed));
    print!("{}", Mlp::summary());
    let (train, test) = mnist::load(&options.mnist.data)?;
    println!("{} training and {} test images", train.len(), test.len());

    let mut trainer = options
        .mnist
        .trainer(CrossEntropy, Adam::new(1e-3))
        .epochs(options.epochs)
        .validation_split(options.validation_split);
    if let Some(dir) = &options.checkpoint {
        let checkpoint = Checkpoint::new(dir).best(Monitor::max("val_accuracy"));
        if options.resume {
            trainer = trainer.resume_from(checkpoint.last_path());
        }
        trainer = trainer.callback(checkpoint);
    }
    let history = trainer.fit(&mut model, &train)?;

    common::report_test(&model, &test)?;
    options.mnist.plot("mnist_mlp", &history)?;
    if let Some(path) = &options.save {
        model.save(path)?;
        println!("saved the weights to {}", path.display());
    }
    let first: Tensor1<10> = model.forward(&test.input(0));
    println!(
        "first test image: predicted {}, label {}",
        first.argmax(),
        test.target(0).index()
    );
    Ok(())
}
