//! Sequence to sequence of the same length, on sequences of different lengths: every
//! bracket of a random string of `(` and `)` is tagged with whether it has a partner (an
//! opening bracket closed later, a closing one that closes an earlier bracket), which needs
//! what comes after a bracket as much as what came before: a bidirectional GRU reads each
//! string both ways. Strings have 6 to 48 brackets, padded to 48 with their lengths kept:
//! the reverse direction starts at each string's own last bracket, and the loss and the
//! per-step accuracy count only real steps. Prints the test accuracy per bracket and per
//! whole string, next to the baseline of always giving the most common tag.
//!
//! ```text
//! cargo run --release --example seq2seq_tagging [-- --epochs 10 --seed 0]
//! ```

use clap::Parser;
use typed_nn::prelude::*;

/// The longest string.
const STEPS: usize = 48;
/// Tags: 0 without a partner, 1 with one.
const TAGS: usize = 2;
/// Token ids: `(` and `)`; 0 is only ever padding.
const OPEN: u32 = 1;
const CLOSE: u32 = 2;

network! {
    /// Tokens → embedding → a GRU each way over every step → a tag distribution at every
    /// step.
    pub struct BracketTagger: tokens[STEPS] {
        embed: Embedding(3, 8),
        gru: Bidirectional(GRU(32, return_sequences = true)),
        out: Dense(TAGS, per_step = true),
        Softmax,
    }
}

/// A random bracket string of `length` brackets and each bracket's tag.
fn string(length: usize, rng: &mut Rng) -> (Vec<f32>, Vec<u32>) {
    let ids: Vec<u32> = (0..length)
        .map(|_| if rng.next_f32() < 0.5 { OPEN } else { CLOSE })
        .collect();
    // Partners as a parser finds them: a closing bracket takes the latest open one.
    let (mut tags, mut open) = (vec![0u32; length], Vec::new());
    for (k, &id) in ids.iter().enumerate() {
        if id == OPEN {
            open.push(k);
        } else if let Some(partner) = open.pop() {
            tags[partner] = 1;
            tags[k] = 1;
        }
    }
    (ids.into_iter().map(|id| id as f32).collect(), tags)
}

fn data(
    n: usize,
    rng: &mut Rng,
) -> Result<Dataset<Tokens<STEPS>, StepClasses<STEPS, TAGS>>, Error> {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let length = 6 + rng.below(STEPS - 5);
        let (ids, tags) = string(length, rng);
        samples.push((ids, StepClasses::padded(&tags)?));
    }
    Dataset::from_sequences(samples)
}

/// Tags the brackets of strings of different lengths with whether they have a partner.
#[derive(Parser, Debug)]
struct Options {
    /// Passes over the training strings.
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    /// Seed of the strings, the weights and the shuffles.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Progress display: auto (a bar on a terminal, lines otherwise), bar, lines or silent.
    #[arg(long, default_value = "auto")]
    progress: Verbosity,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = Options::parse();
    let mut rng = Rng::seed(options.seed);
    let (train, test) = (data(8_000, &mut rng)?, data(1_000, &mut rng)?);
    let steps: usize = (0..test.len()).map(|i| test.length(i)).sum();
    println!(
        "{} training and {} test strings of 6 to {STEPS} brackets ({:.1} on average)",
        train.len(),
        test.len(),
        steps as f64 / test.len() as f64
    );

    let mut model = BracketTagger::init(&mut rng);
    Trainer::new(CrossEntropy, Adam::new(5e-3))
        .epochs(options.epochs)
        .batch_size(32)
        .seed(options.seed)
        .verbosity(options.progress)
        .fit_validated(&mut model, &train, Some(&test))?;

    // Per step and per string, over the real steps only.
    let mut counts = [0usize; TAGS];
    let (mut right, mut whole) = (0, 0);
    for i in 0..test.len() {
        let x = Batch::from_vec(test.input_slice(i).to_vec())?.with_lengths(&[test.length(i)])?;
        let scores = model.predict(&x)?;
        let mut all_right = true;
        for t in 0..test.length(i) {
            let tag = test.target(i).step(t).unwrap_or(0);
            counts[tag] += 1;
            let guess = typed_nn::kernels::argmax(&scores.row(0)[t * TAGS..(t + 1) * TAGS]);
            right += usize::from(guess == tag);
            all_right &= guess == tag;
        }
        whole += usize::from(all_right);
    }
    let majority = counts.iter().max().copied().unwrap_or(0);
    println!(
        "test: {:.2} % of brackets tagged right ({:.2} % always giving the most common tag); {:.1} % of strings entirely right",
        100.0 * right as f64 / steps as f64,
        100.0 * majority as f64 / steps as f64,
        100.0 * whole as f64 / test.len() as f64
    );
    Ok(())
}
