//! Sequence to label on sequences of different lengths, as IMDB sentiment is: made-up
//! reviews of 12 to 100 words from a vocabulary of 400, whose label is the sign of their
//! sentiment words' sum, where "not" flips the word after it. A bidirectional LSTM reads each
//! review to its own last word in both directions (the reverse direction starts there, not
//! at the padding), the mean over the real steps pools it, and a softmax gives the label.
//! Prints the test accuracy, and what the same model scores when the lengths are dropped and
//! it reads the padding as words.
//!
//! ```text
//! cargo run --release --example imdb_like [-- --epochs 6 --seed 0]
//! ```

use clap::Parser;
use typed_nn::prelude::*;

/// The longest review.
const WORDS: usize = 100;
const VOCAB: usize = 400;
/// Word ids: 0 is padding (never a word); 1 "not"; then 20 positive and 20 negative words;
/// the rest neutral.
const NOT: u32 = 1;
const POSITIVE: std::ops::Range<u32> = 2..22;
const NEGATIVE: std::ops::Range<u32> = 22..42;

network! {
    /// Embedding → bidirectional LSTM over every step → mean over the real steps → label.
    pub struct Sentiment: tokens[WORDS] {
        embed: Embedding(VOCAB, 32),
        lstm: Bidirectional(LSTM(32, return_sequences = true)),
        GlobalAvgPool1d,
        out: Dense(2),
        Softmax,
    }
}

/// A review of `length` words and its label (1 positive, 0 negative); `None` when its
/// sentiment sums to 0.
fn review(length: usize, rng: &mut Rng) -> Option<(Vec<f32>, Class<2>)> {
    let leaning = if rng.next_f32() < 0.5 { 1 } else { -1 };
    let (mut words, mut score) = (Vec::with_capacity(length), 0i32);
    while words.len() < length {
        if rng.next_f32() < 0.75 || words.len() + 2 > length {
            words.push(42 + rng.below(VOCAB - 42) as u32);
            continue;
        }
        // A sentiment word, mostly of the review's leaning, sometimes negated.
        let polarity = if rng.next_f32() < 0.7 {
            leaning
        } else {
            -leaning
        };
        let negated = rng.next_f32() < 0.25;
        if negated {
            words.push(NOT);
        }
        let range = if polarity > 0 { POSITIVE } else { NEGATIVE };
        words.push(range.start + rng.below(range.len()) as u32);
        score += if negated { -polarity } else { polarity };
    }
    (score != 0).then(|| {
        let label = Class::new(usize::from(score > 0)).expect("0 or 1");
        (words.into_iter().map(|w| w as f32).collect(), label)
    })
}

fn data(n: usize, rng: &mut Rng) -> Result<Dataset<Tokens<WORDS>, Class<2>>, Error> {
    let mut samples = Vec::with_capacity(n);
    while samples.len() < n {
        let length = 12 + rng.below(WORDS - 11);
        samples.extend(review(length, rng));
    }
    Dataset::from_sequences(samples)
}

/// Classifies made-up reviews of different lengths with a bidirectional LSTM.
#[derive(Parser, Debug)]
struct Options {
    /// Passes over the training reviews.
    #[arg(long, default_value_t = 6)]
    epochs: usize,
    /// Seed of the reviews, the weights and the shuffles.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Progress display: auto (a bar on a terminal, lines otherwise), bar, lines or silent.
    #[arg(long, default_value = "auto")]
    progress: Verbosity,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = Options::parse();
    let mut rng = Rng::seed(options.seed);
    let (train, test) = (data(6_000, &mut rng)?, data(1_000, &mut rng)?);
    let words: usize = (0..test.len()).map(|i| test.length(i)).sum();
    println!(
        "{} training and {} test reviews of 12 to {WORDS} words ({:.1} on average)",
        train.len(),
        test.len(),
        words as f64 / test.len() as f64
    );

    let mut model = Sentiment::init(&mut rng);
    println!("{}", Sentiment::summary());
    let start = std::time::Instant::now();
    Trainer::new(CrossEntropy, Adam::new(3e-3))
        .epochs(options.epochs)
        .batch_size(32)
        .seed(options.seed)
        .verbosity(options.progress)
        .fit_validated(&mut model, &train, Some(&test))?;
    println!(
        "trained in {:.1} s per epoch",
        start.elapsed().as_secs_f64() / options.epochs.max(1) as f64
    );

    let masked = model.accuracy(&test)?;
    // The same reviews without their lengths: the padding (id 0) read as words, the reverse
    // direction starting at step 100.
    let unmasked = Dataset::<Tokens<WORDS>, Class<2>>::new(
        (0..test.len())
            .flat_map(|i| test.input_slice(i).to_vec())
            .collect(),
        (0..test.len()).map(|i| *test.target(i)).collect(),
    )?;
    let unmasked = model.accuracy(&unmasked)?;
    println!(
        "test accuracy {:.2} % (reading the padding as words instead: {:.2} %)",
        100.0 * masked,
        100.0 * unmasked
    );
    Ok(())
}
