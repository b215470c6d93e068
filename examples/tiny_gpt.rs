//! A small GPT: a causal transformer language model over the characters of Genesis (the
//! text `char_lm` learns), Llama's blocks (RMSNorm, attention with rotary positions,
//! SwiGLU). Trained with `fit` on the first 90 % of the text, per-step cross-entropy,
//! validation perplexity per epoch; then it writes, one character at a time through the
//! network's generated `step`, whose state is each attention layer's key-value cache: a new
//! character costs one token's products and its scores against the cached keys. The same
//! text is then generated again by recomputing the whole window for every character (what
//! a model without a cache does), and the two speeds are compared.
//!
//! ```text
//! cargo run --release --example tiny_gpt [-- --epochs 20 --temperature 0.8 --length 400]
//! ```

use clap::Parser;
use std::time::Instant;
use typed_nn::prelude::*;

#[path = "common/text.rs"]
mod text;
use text::{report_epochs, sampler, Corpus};

/// Characters the model can read and write (as `char_lm`).
const VOCAB: usize = 64;
/// Tokens per training window, and what the key-value cache holds.
const WINDOW: usize = 128;
const DIM: usize = 128;

network! {
    /// Two pre-norm decoder blocks (causal self-attention with rotary positions, SwiGLU),
    /// a distribution over the next character at every step.
    pub struct TinyGpt: tokens[WINDOW] {
        embed: Embedding(VOCAB, DIM),
        Residual { RMSNorm, MultiHeadAttention(4, DIM, causal = true, rope = true) },
        Residual { RMSNorm, SwiGLU(256) },
        Residual { RMSNorm, MultiHeadAttention(4, DIM, causal = true, rope = true) },
        Residual { RMSNorm, SwiGLU(256) },
        RMSNorm,
        out: Dense(VOCAB, per_step = true),
        Softmax,
    }
}

/// Trains a small causal transformer on Genesis and generates text with it.
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

/// Generation with the key-value cache. A full cache (the window's `WINDOW` tokens) starts
/// over from the last half window, read again into a new state: with rotary positions only
/// distances between tokens matter, so the model sees what it saw in training, a window of
/// recent text.
struct CachedWriter<'a> {
    model: &'a TinyGpt,
    state: TinyGptState,
    context: Vec<u32>,
}

impl<'a> CachedWriter<'a> {
    fn new(model: &'a TinyGpt) -> Self {
        CachedWriter {
            model,
            state: TinyGptState::default(),
            context: Vec::new(),
        }
    }

    /// Reads `id`; the distribution over the next character.
    fn read(&mut self, id: u32) -> typed_nn::Result<Tensor1<VOCAB>> {
        if self.context.len() == WINDOW {
            self.context.drain(..WINDOW / 2);
            self.state = TinyGptState::default();
            for &old in &self.context {
                self.model.step(&Tokens::new([old]), &mut self.state)?;
            }
        }
        self.context.push(id);
        self.model.step(&Tokens::new([id]), &mut self.state)
    }
}

/// Generation without a cache: the whole window (the last `WINDOW` tokens, zeros after
/// them, which a causal model never reads) through the network for every character, the
/// distribution read at the last real position.
fn next_by_recomputing(model: &TinyGpt, context: &[u32]) -> typed_nn::Result<Tensor1<VOCAB>> {
    let recent = &context[context.len().saturating_sub(WINDOW)..];
    let mut ids = [0u32; WINDOW];
    ids[..recent.len()].copy_from_slice(recent);
    let all = model.forward(&Tokens::new(ids))?;
    let last = recent.len() - 1;
    Tensor1::from_slice(&all.as_slice()[last * VOCAB..(last + 1) * VOCAB])
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = Options::parse();
    let corpus = Corpus::<WINDOW, VOCAB>::load(&options.text)?;
    let vocabulary = &corpus.vocabulary;

    let mut rng = Rng::seed(options.seed);
    let mut model = TinyGpt::init(&mut rng);
    println!("{}", TinyGpt::summary());
    let start = Instant::now();
    let history = Trainer::new(CrossEntropy, Adam::new(1e-3).clip_norm(1.0))
        .epochs(options.epochs)
        .batch_size(options.batch_size)
        .seed(options.seed)
        .verbosity(options.progress)
        .fit_validated(&mut model, &corpus.train, Some(&corpus.validation))?;
    let seconds = start.elapsed().as_secs_f64();
    report_epochs(&history, seconds, options.epochs);

    // The prompt read one character at a time, then each sampled character fed back.
    let sampler = sampler(options.temperature, options.top_k)?;
    let prompt = vocabulary.encode(&options.prompt)?;
    let mut writer = CachedWriter::new(&model);
    let mut probabilities = Tensor1::<VOCAB>::zeros();
    for &id in &prompt {
        probabilities = writer.read(id)?;
    }
    let mut generated = prompt.clone();
    let mut sampling = Rng::seed(options.seed + 1);
    let start = Instant::now();
    for _ in 0..options.length {
        let id = sampler.pick(&probabilities.data, &mut sampling)? as u32;
        generated.push(id);
        probabilities = writer.read(id)?;
    }
    let cached = start.elapsed().as_secs_f64();
    let written: String = generated
        .iter()
        .map(|&i| vocabulary.char(i as usize))
        .collect();
    println!("\n{written}\n");

    // The same sampling again, every character from the whole window recomputed.
    let mut sampling = Rng::seed(options.seed + 1);
    let mut context = prompt;
    let start = Instant::now();
    for _ in 0..options.length {
        let probabilities = next_by_recomputing(&model, &context)?;
        context.push(sampler.pick(&probabilities.data, &mut sampling)? as u32);
    }
    let recomputed = start.elapsed().as_secs_f64();
    let agree = context
        .iter()
        .zip(&generated)
        .take_while(|(a, b)| a == b)
        .count();
    println!(
        "generated {} characters: {:.0} per second with the key-value cache, {:.0} recomputing \
         the window ({:.1}x faster); the two agree on the first {} of {} characters",
        options.length,
        options.length as f64 / cached,
        options.length as f64 / recomputed,
        recomputed / cached,
        agree,
        generated.len()
    );
    Ok(())
}
