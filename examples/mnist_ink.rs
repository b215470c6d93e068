//! A network of two outputs trained with two losses: from an MNIST image, the digit (10
//! logits, cross-entropy) and how much ink it holds (the fraction of pixels above half
//! intensity, a proxy of stroke thickness; mean squared error). One CNN trunk, then a
//! `Zip` of the two heads; the losses are weighted and summed (`Losses`), the targets are
//! tuples, and `fit` reports each output's metrics.
//!
//! ```text
//! cargo run --release --example mnist_ink [-- --epochs 3]
//! ```

use clap::Parser;
use typed_nn::prelude::*;

mod common;

network! {
    /// A CNN trunk, then the digit's logits and the ink.
    pub struct DigitAndInk: [1, 28, 28] {
        Conv2d(16, 3), Relu, MaxPool2d(2),
        Conv2d(32, 3), Relu, MaxPool2d(2),
        Flatten,
        Dense(64), Relu,
        Zip {
            digit: { Dense(10) },
            ink: { Dense(1) },
        },
    }
}

/// The fraction of an image's pixels above half intensity.
fn ink(image: &Tensor3<1, 28, 28>) -> f32 {
    let values = image.as_slice();
    values.iter().filter(|&&v| v > 0.5).count() as f32 / values.len() as f32
}

type Targets = (Class<10>, Tensor1<1>);

/// Each image with its digit and its ink.
fn with_ink(
    images: &Dataset<Tensor3<1, 28, 28>, Class<10>>,
) -> Dataset<Tensor3<1, 28, 28>, Targets> {
    let samples: Vec<_> = (0..images.len())
        .map(|i| {
            let image = images.input(i);
            let targets = (*images.target(i), Tensor1::new([ink(&image)]));
            (image, targets)
        })
        .collect();
    Dataset::from_samples(&samples)
}

/// Trains one network for an MNIST digit's class and its amount of ink.
#[derive(Parser, Debug)]
struct Options {
    /// Passes over the training images.
    #[arg(long, default_value_t = 3)]
    epochs: usize,
    /// The ink loss's weight (the class loss's is 1).
    #[arg(long, default_value_t = 10.0)]
    ink_weight: f32,
    #[command(flatten)]
    mnist: common::MnistOptions,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = Options::parse();
    let mut rng = Rng::seed(options.mnist.seed);
    let (train, test) = mnist::load_as::<Tensor3<1, 28, 28>>(&options.mnist.data)?;
    let (train, test) = (with_ink(&train), with_ink(&test));
    let mean_ink = (0..train.len())
        .map(|i| train.target(i).1.data[0])
        .sum::<f32>()
        / train.len() as f32;
    println!(
        "{} training and {} test images; mean ink {:.4}",
        train.len(),
        test.len(),
        mean_ink
    );
    let mut model = DigitAndInk::init(&mut rng);
    print!("{}", DigitAndInk::summary());
    let losses = Losses::new(CrossEntropy, Mse).weighted(1.0, options.ink_weight);
    let history = options
        .mnist
        .trainer(losses, Adam::new(1e-3))
        .epochs(options.epochs)
        .validation_split(0.1)
        .fit(&mut model, &train)?;

    // The test set, both outputs apart: the digit's class, and the ink against the
    // baseline of always answering the training mean.
    let (mut right, mut error, mut baseline) = (0, 0.0f64, 0.0f64);
    for i in 0..test.len() {
        let (class, ink) = test.target(i);
        let y = model.forward(&test.input(i));
        right += usize::from(y.first().argmax() == class.index());
        error += (y.second().data[0] - ink.data[0]).abs() as f64;
        baseline += (mean_ink - ink.data[0]).abs() as f64;
    }
    let n = test.len() as f64;
    println!(
        "test: digit accuracy {:.2} %; ink mean absolute error {:.4} (always the mean: {:.4})",
        100.0 * right as f64 / n,
        error / n,
        baseline / n
    );
    options.mnist.plot("mnist_ink", &history)?;
    Ok(())
}
