//! A character-level language model: an LSTM reads 64 characters of Genesis (King James
//! Version, shipped in `data/text/`) and predicts the next character at every step. Trained
//! with `fit` on the first 90 % of the text (per-step cross-entropy; the metrics of a class
//! per step are accuracy and perplexity), validated on the rest, then made to write: the
//! network's generated `step` carries the LSTM's state from one character to the next, so
//! each new character costs one step however long the text so far.
//!
//! ```text
//! cargo run --release --example char_lm [-- --epochs 20 --temperature 0.8 --length 400]
//! ```

use clap::Parser;
use std::time::Instant;
use typed_nn::prelude::*;

#[path = "common/text.rs"]
mod text;
use text::{report_epochs, sampler, Corpus};

/// Characters the model can read and write: the text's, in order of first appearance, and
/// room to spare.
const VOCAB: usize = 64;
/// Characters per training window.
const WINDOW: usize = 64;

network! {
    /// Embedding → LSTM over every step → a distribution over the next character at every
    /// step.
    pub struct CharModel: tokens[WINDOW] {
        embed: Embedding(VOCAB, 32),
        lstm: LSTM(256, return_sequences = true),
        out: Dense(VOCAB, per_step = true),
        Softmax,
    }
}

/// Trains a character-level LSTM on Genesis and generates text with it.
#[derive(Parser, Debug)]
struct Options {
    /// The text to learn.
    #[arg(long, default_value = "data/text/genesis.txt")]
    text: std::path::PathBuf,
    /// Passes over the training windows.
    #[arg(long, default_value_t = 20)]
    epochs: usize,
    /// Windows per training step.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Seed of the weights, the shuffles and the sampling.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Sampling temperature of the generated text (0: always the most likely character).
    #[arg(long, default_value_t = 0.8)]
    temperature: f32,
    /// Sample among this many most likely characters only (0: all).
    #[arg(long, default_value_t = 0)]
    top_k: usize,
    /// Characters to generate.
    #[arg(long, default_value_t = 400)]
    length: usize,
    /// What the generated text starts from.
    #[arg(long, default_value = "And God said")]
    prompt: String,
    /// Progress display: auto (a bar on a terminal, lines otherwise), bar, lines or silent.
    #[arg(long, default_value = "auto")]
    progress: Verbosity,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = Options::parse();
    let corpus = Corpus::<WINDOW, VOCAB>::load(&options.text)?;
    let vocabulary = &corpus.vocabulary;

    let mut rng = Rng::seed(options.seed);
    let mut model = CharModel::init(&mut rng);
    println!("{}", CharModel::summary());
    let start = Instant::now();
    let history = Trainer::new(CrossEntropy, Adam::new(2e-3).clip_norm(5.0))
        .epochs(options.epochs)
        .batch_size(options.batch_size)
        .seed(options.seed)
        .verbosity(options.progress)
        .fit_validated(&mut model, &corpus.train, Some(&corpus.validation))?;
    let seconds = start.elapsed().as_secs_f64();
    report_epochs(&history, seconds, options.epochs);

    // Generation: the prompt read one character at a time, then each sampled character fed
    // back. The state carries everything read so far.
    let sampler = sampler(options.temperature, options.top_k)?;
    let mut state = CharModelState::default();
    let mut probabilities = Tensor1::<VOCAB>::zeros();
    for id in vocabulary.encode(&options.prompt)? {
        probabilities = model.step(&Tokens::new([id]), &mut state)?;
    }
    let mut generated = options.prompt.clone();
    let start = Instant::now();
    for _ in 0..options.length {
        let id = sampler.pick(&probabilities.data, &mut rng)?;
        generated.push(vocabulary.char(id));
        probabilities = model.step(&Tokens::new([id as u32]), &mut state)?;
    }
    let seconds = start.elapsed().as_secs_f64();
    println!("\n{generated}\n");
    println!(
        "generated {} characters in {:.1} ms: {:.0} characters per second",
        options.length,
        seconds * 1e3,
        options.length as f64 / seconds
    );
    Ok(())
}
