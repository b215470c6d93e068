//! Transfer learning on MNIST: a CNN trained on the digits 0–4, its convolutional body
//! frozen and given a new head for the digits 5–9, fine-tuned on a few of them; beside it,
//! the same network trained from scratch on the same few images.
//!
//! ```text
//! cargo run --release --example finetune [-- --shots 1000 --tune-epochs 5]
//! ```

use clap::Parser;
use std::time::Instant;
use typed_nn::prelude::*;

mod common;

network! {
    /// The body: two convolution blocks and a dense layer of features.
    pub struct Features: [1, 28, 28] {
        Conv2d(16, 3), Relu,
        MaxPool2d(2),
        Conv2d(32, 3), Relu,
        MaxPool2d(2),
        Flatten,
        Dense(64), Relu,
    }
}

network! {
    /// Five digits: the body and a classifier head.
    pub struct FiveDigits: [1, 28, 28] {
        features: Net(Features),
        head: Dense(5), Softmax,
    }
}

/// Trains on the digits 0–4, then fine-tunes a new head on a few images of 5–9.
#[derive(Parser, Debug)]
struct Options {
    /// Passes over the images of 0–4.
    #[arg(long, default_value_t = 2)]
    epochs: usize,
    /// Images of 5–9 to fine-tune on.
    #[arg(long, default_value_t = 1000)]
    shots: usize,
    /// Passes over those images.
    #[arg(long, default_value_t = 5)]
    tune_epochs: usize,
    #[command(flatten)]
    mnist: common::MnistOptions,
}

/// The images of the digits `first..first + 5`, labelled 0–4.
fn digits(
    data: &Dataset<Tensor3<1, 28, 28>, Class<10>>,
    first: usize,
) -> typed_nn::Result<Dataset<Tensor3<1, 28, 28>, Class<5>>> {
    let (mut inputs, mut labels) = (Vec::new(), Vec::new());
    for i in 0..data.len() {
        let digit = data.target(i).index();
        if (first..first + 5).contains(&digit) {
            inputs.extend_from_slice(data.input_slice(i));
            labels.push(Class::new(digit - first)?);
        }
    }
    Dataset::new(inputs, labels)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = Options::parse();
    let mut rng = Rng::seed(options.mnist.seed);
    let (train, test) = mnist::load_as::<Tensor3<1, 28, 28>>(&options.mnist.data)?;
    let (low_train, low_test) = (digits(&train, 0)?, digits(&test, 0)?);
    let (high_train, high_test) = (digits(&train, 5)?, digits(&test, 5)?);
    let few = high_train.take(options.shots.min(high_train.len()));

    // 1. The digits 0–4.
    let mut base = FiveDigits::init(&mut rng);
    let started = Instant::now();
    options
        .mnist
        .trainer(CrossEntropy, Adam::new(1e-3))
        .epochs(options.epochs)
        .fit(&mut base, &low_train)?;
    println!(
        "0–4: trained on {} images in {:.1} s; test accuracy {:.2}% on {} images",
        low_train.len(),
        started.elapsed().as_secs_f64(),
        100.0 * base.accuracy(&low_test)?,
        low_test.len()
    );

    // 2. The same body with a new head for 5–9, the body frozen.
    let mut tuned = FiveDigits::init(&mut rng);
    let report = tuned.take_body_from(&base, "features")?;
    let frozen = tuned.freeze("features")?;
    println!(
        "took {} tensors of the body; froze {frozen} parameters, {} left to train",
        report.loaded.len(),
        tuned.trainable_params()
    );
    print!("{}", tuned.trainable_summary());
    let before = tuned.accuracy(&high_test)?;
    let started = Instant::now();
    options
        .mnist
        .trainer(CrossEntropy, Adam::new(1e-2))
        .epochs(options.tune_epochs)
        .fit(&mut tuned, &few)?;
    let tuning = started.elapsed().as_secs_f64();
    let after = tuned.accuracy(&high_test)?;
    println!(
        "5–9: test accuracy {:.2}% with the new head untrained, {:.2}% after fine-tuning it on {} images ({:.2} s)",
        100.0 * before,
        100.0 * after,
        few.len(),
        tuning
    );
    let body = base.named_parameters();
    let unchanged = tuned
        .named_parameters()
        .iter()
        .filter(|t| t.name.starts_with("features."))
        .all(|t| {
            body.iter()
                .any(|b| b.name == t.name && b.values == t.values)
        });
    println!("the frozen body is bit for bit the trained one: {unchanged}");

    // Then the whole network, the body thawed, at a lower rate (the usual second stage).
    tuned.unfreeze("features")?;
    let started = Instant::now();
    options
        .mnist
        .trainer(CrossEntropy, Adam::new(3e-4))
        .epochs(options.tune_epochs)
        .fit(&mut tuned, &few)?;
    println!(
        "5–9: {:.2}% after fine-tuning the whole network on them as well ({:.2} s)",
        100.0 * tuned.accuracy(&high_test)?,
        started.elapsed().as_secs_f64()
    );

    // 3. From scratch on the same few images and passes.
    let mut scratch = FiveDigits::init(&mut rng);
    let started = Instant::now();
    options
        .mnist
        .trainer(CrossEntropy, Adam::new(1e-3))
        .epochs(options.tune_epochs)
        .fit(&mut scratch, &few)?;
    println!(
        "5–9 from scratch on the same {} images: test accuracy {:.2}% ({:.2} s)",
        few.len(),
        100.0 * scratch.accuracy(&high_test)?,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
