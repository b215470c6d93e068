//! A network of two inputs, an image and a token sequence: does the caption name the
//! digit? Each MNIST image is paired with the name of its digit ("seven") or of another
//! one, half and half; a CNN reads the image, a GRU the caption's characters, and a small
//! classifier the two together (binary cross-entropy). Then, as a test of both paths, every
//! test image is given all ten captions and the one scored highest is taken as its class.
//!
//! ```text
//! cargo run --release --example mnist_caption [-- --epochs 4]
//! ```

use clap::Parser;
use typed_nn::prelude::*;

mod common;

/// Characters of a caption: padding, then a–z.
const LETTERS: usize = 27;
/// The longest digit name ("three", "seven", "eight").
const LETTERS_PER_NAME: usize = 5;
const NAMES: [&str; 10] = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
];

network! {
    /// A CNN for the image, a GRU for the caption, joined.
    pub struct CaptionMatch: (image: [1, 28, 28], caption: tokens[LETTERS_PER_NAME]) {
        Zip {
            seen: {
                image,
                Conv2d(16, 3), Relu, MaxPool2d(2),
                Conv2d(32, 3), Relu, MaxPool2d(2),
                Flatten, Dense(64), Relu,
            },
            read: { caption, Embedding(LETTERS, 16), GRU(64) },
        },
        Flatten,
        Dense(64), Relu,
        Dense(1),
        Sigmoid,
    }
}

/// A digit's name as character ids (a = 1), padded with 0.
fn caption(digit: usize) -> Tokens<LETTERS_PER_NAME> {
    let mut ids = [0u32; LETTERS_PER_NAME];
    for (slot, c) in ids.iter_mut().zip(NAMES[digit].bytes()) {
        *slot = u32::from(c - b'a') + 1;
    }
    Tokens::new(ids)
}

/// Each image with its own digit's name (target 1) or, for every other image, another
/// digit's name (target 0).
fn captioned(
    images: &Dataset<Tensor3<1, 28, 28>, Class<10>>,
    rng: &mut Rng,
) -> Result<Dataset<Pair<Tensor3<1, 28, 28>, Tokens<LETTERS_PER_NAME>>, Tensor1<1>>, Error> {
    Dataset::from_pairs((0..images.len()).map(|i| {
        let digit = images.target(i).index();
        let (named, matches) = if i % 2 == 0 {
            (digit, 1.0)
        } else {
            ((digit + 1 + rng.below(9)) % 10, 0.0)
        };
        (images.input(i), caption(named), Tensor1::new([matches]))
    }))
}

/// Trains a network to tell whether a caption names an MNIST digit.
#[derive(Parser, Debug)]
struct Options {
    /// Passes over the captioned training images.
    #[arg(long, default_value_t = 4)]
    epochs: usize,
    #[command(flatten)]
    mnist: common::MnistOptions,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = Options::parse();
    let mut rng = Rng::seed(options.mnist.seed);
    let (train, test) = mnist::load_as::<Tensor3<1, 28, 28>>(&options.mnist.data)?;
    let (train_captioned, test_captioned) =
        (captioned(&train, &mut rng)?, captioned(&test, &mut rng)?);
    println!(
        "{} captioned training and {} test images, half with their digit's name",
        train_captioned.len(),
        test_captioned.len()
    );
    let mut model = CaptionMatch::init(&mut rng);
    print!("{}", CaptionMatch::summary());
    let history = options
        .mnist
        .trainer(BinaryCrossEntropy, Adam::new(1e-3))
        .epochs(options.epochs)
        .validation_split(0.1)
        .fit(&mut model, &train_captioned)?;
    let eval = typed_nn::train::evaluate(&model, &test_captioned, &BinaryCrossEntropy)?;
    println!(
        "test: loss {:.4}, {:.2} % of captions judged right",
        eval.loss,
        100.0 * eval.accuracy
    );

    // Every test image with all ten names: the best-scored name as its class.
    let mut right = 0;
    for i in 0..test.len() {
        let image = test.input(i);
        let pairs: Vec<_> = (0..10).map(|d| Pair::new(&image, &caption(d))).collect();
        let scores = model.predict(&Batch::from_samples(&pairs))?;
        let best = typed_nn::kernels::argmax(scores.as_slice());
        right += usize::from(best == test.target(i).index());
    }
    println!(
        "classified by the best of ten captions: {:.2} % of {} test images",
        100.0 * right as f64 / test.len() as f64,
        test.len()
    );
    options.mnist.plot("mnist_caption", &history)?;
    Ok(())
}
