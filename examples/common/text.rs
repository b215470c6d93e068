//! What the language-model examples share: a character vocabulary of a text, and the
//! sampler their options choose.

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
