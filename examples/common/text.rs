//! What the language-model examples share: a character vocabulary of a text, and the
//! sampler their options choose.

use std::path::Path;
use typed_nn::prelude::*;
use typed_nn::sampling::Sampler;

/// The characters of a text, each given an id.
pub struct Vocabulary {
    pub chars: Vec<char>,
}

impl Vocabulary {
    /// Every character of `text`, in order of first appearance; an error past `capacity`.
    pub fn of(text: &str, capacity: usize) -> Result<Self, String> {
        let mut chars = Vec::new();
        for c in text.chars() {
            if !chars.contains(&c) {
                chars.push(c);
            }
        }
        if chars.len() > capacity {
            return Err(format!(
                "{} distinct characters, more than the model's {capacity}",
                chars.len()
            ));
        }
        Ok(Vocabulary { chars })
    }

    pub fn id(&self, c: char) -> Option<u32> {
        self.chars.iter().position(|&k| k == c).map(|i| i as u32)
    }

    pub fn encode(&self, text: &str) -> Result<Vec<u32>, String> {
        text.chars()
            .map(|c| {
                self.id(c)
                    .ok_or_else(|| format!("{c:?} is not in the vocabulary"))
            })
            .collect()
    }

    pub fn char(&self, id: usize) -> char {
        self.chars.get(id).copied().unwrap_or('?')
    }
}

/// Sampling at `temperature` (0: always the most likely), among the `top_k` most likely
/// (0: all).
pub fn sampler(temperature: f32, top_k: usize) -> typed_nn::Result<Sampler> {
    match top_k {
        0 => Sampler::with_temperature(temperature),
        k => Sampler::with_temperature(temperature)?.top_k(k),
    }
}

/// A text to learn: its vocabulary, and windows of `T` characters side by side, each step's
/// target the next character, over its first 90 % (training) and the rest (validation, text
/// the model never sees in training).
pub struct Corpus<const T: usize, const V: usize> {
    pub vocabulary: Vocabulary,
    pub train: Dataset<Tokens<T>, StepClasses<T, V>>,
    pub validation: Dataset<Tokens<T>, StepClasses<T, V>>,
}

impl<const T: usize, const V: usize> Corpus<T, V> {
    /// Reads the text at `path` and says what it holds.
    pub fn load(path: &Path) -> Result<Self, Box<dyn std::error::Error>> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let vocabulary = Vocabulary::of(&text, V)?;
        let ids = vocabulary.encode(&text)?;
        let split = ids.len() * 9 / 10;
        let train = Dataset::next_token_windows(&ids[..split], T)?;
        let validation = Dataset::next_token_windows(&ids[split..], T)?;
        println!(
            "{} characters ({} distinct): {} training and {} validation windows of {T}",
            ids.len(),
            vocabulary.chars.len(),
            train.len(),
            validation.len()
        );
        Ok(Corpus {
            vocabulary,
            train,
            validation,
        })
    }
}

/// Prints the validation perplexity and accuracy of every epoch of `history`, and the time
/// `seconds` that `epochs` epochs took.
pub fn report_epochs(history: &History, seconds: f64, epochs: usize) {
    println!("epoch  val_perplexity  val_accuracy");
    let (perplexity, accuracy) = (
        history.get("val_perplexity").unwrap_or_default(),
        history.get("val_accuracy").unwrap_or_default(),
    );
    for (epoch, (p, a)) in perplexity.iter().zip(accuracy).enumerate() {
        println!("{:>5}  {p:>14.3}  {:>11.2} %", epoch + 1, 100.0 * a);
    }
    println!(
        "trained in {seconds:.1} s ({:.1} s per epoch)",
        seconds / epochs.max(1) as f64
    );
}
