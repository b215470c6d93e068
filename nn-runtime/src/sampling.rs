//! Picking the next token of a generated sequence from a step's class scores: greedily (the
//! most likely), or at random with a temperature and, optionally, among the `k` most likely
//! only (top-k), as the generation loops of Keras's and PyTorch's text examples do.
//!
//! ```
//! use nn_runtime::sampling::Sampler;
//! use nn_runtime::Rng;
//! let probabilities = [0.1, 0.6, 0.3];
//! let mut rng = Rng::seed(0);
//! assert_eq!(Sampler::greedy().pick(&probabilities, &mut rng)?, 1);
//! let sampler = Sampler::with_temperature(0.8)?.top_k(2)?;
//! assert!(matches!(sampler.pick(&probabilities, &mut rng)?, 1 | 2));
//! # Ok::<(), nn_runtime::Error>(())
//! ```

#[allow(unused_imports)]
use crate::core_prelude::*;

use crate::error::{Error, Result};
use crate::Rng;

/// How to pick a class from a step's scores.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sampler {
    /// 0 picks the most likely class; 1 samples the distribution as it is; above 1 flattens
    /// it, below sharpens it.
    temperature: f32,
    /// Sample among this many most likely classes only (0: all of them).
    top_k: usize,
}

impl Sampler {
    /// Always the most likely class (ties: the first).
    pub const fn greedy() -> Self {
        Sampler {
            temperature: 0.0,
            top_k: 0,
        }
    }

    /// Sampling from p^(1/temperature), renormalised (0 is greedy); a negative or
    /// non-finite temperature is an error.
    pub fn with_temperature(temperature: f32) -> Result<Self> {
        if !(temperature.is_finite() && temperature >= 0.0) {
            return Err(Error::InvalidHyperparameter {
                name: "temperature",
                value: temperature as f64,
                expected: "a finite value of at least 0",
            });
        }
        Ok(Sampler {
            temperature,
            top_k: 0,
        })
    }

    /// This sampler, among the `k` most likely classes only; `k` = 0 is an error.
    pub fn top_k(self, k: usize) -> Result<Self> {
        if k == 0 {
            return Err(Error::InvalidHyperparameter {
                name: "top_k",
                value: 0.0,
                expected: "at least 1",
            });
        }
        Ok(Sampler { top_k: k, ..self })
    }

    /// A class from a step's probabilities (a `Softmax` output: non-negative, summing to
    /// about 1; only their ratios matter).
    pub fn pick(&self, probabilities: &[f32], rng: &mut Rng) -> Result<usize> {
        if let Some(&p) = probabilities
            .iter()
            .find(|p| !(p.is_finite() && **p >= 0.0))
        {
            return Err(Error::InvalidScores {
                reason: format!("probability {p} is not a finite value of at least 0"),
            });
        }
        // ln 0 = −∞: a class of probability 0 is never picked.
        self.pick_scaled(probabilities, rng, |p| p.ln())
    }

    /// A class from a step's logits (a network without a softmax at its end, or after
    /// `LogSoftmax`): p ∝ e^logit.
    pub fn pick_from_logits(&self, logits: &[f32], rng: &mut Rng) -> Result<usize> {
        if let Some(&z) = logits.iter().find(|z| z.is_nan() || **z == f32::INFINITY) {
            return Err(Error::InvalidScores {
                reason: format!("logit {z} is not a number below infinity"),
            });
        }
        self.pick_scaled(logits, rng, |z| z)
    }

    /// Samples from p_i ∝ e^(log_p(s_i)/temperature) over the top-k of `scores`.
    fn pick_scaled(
        &self,
        scores: &[f32],
        rng: &mut Rng,
        log_p: impl Fn(f32) -> f32,
    ) -> Result<usize> {
        // No allocation unless top-k needs the k-th largest score: a generation loop calls
        // this at every step.
        let best = scores.iter().map(|&s| log_p(s)).enumerate().fold(
            None,
            |best: Option<(usize, f32)>, (i, l)| match best {
                Some((_, b)) if b >= l => best,
                _ => Some((i, l)),
            },
        );
        let Some((best, max)) = best else {
            return Err(Error::InvalidScores {
                reason: "no classes to pick from".to_string(),
            });
        };
        if max == f32::NEG_INFINITY {
            return Err(Error::InvalidScores {
                reason: "every class has probability 0".to_string(),
            });
        }
        if self.temperature == 0.0 {
            return Ok(best);
        }
        // Top-k keeps the scores above the k-th largest, and as many equal to it as k
        // leaves room for, the lower classes first.
        let floor = (self.top_k > 0 && self.top_k < scores.len()).then(|| {
            let mut sorted: Vec<f32> = scores.iter().map(|&s| log_p(s)).collect();
            sorted.sort_unstable_by(|a, b| b.total_cmp(a));
            let floor = sorted[self.top_k - 1];
            let above = sorted.iter().take_while(|&&l| l > floor).count();
            (floor, self.top_k - above)
        });
        // The weight of each class in turn (0 for those top-k drops).
        let log_p = &log_p;
        let weights = || {
            let mut ties = 0;
            scores.iter().map(move |&s| {
                let l = log_p(s);
                let kept = match floor {
                    None => true,
                    Some((floor, room)) => {
                        l > floor
                            || (l == floor && {
                                ties += 1;
                                ties <= room
                            })
                    }
                };
                if kept {
                    (((l - max) / self.temperature) as f64).exp()
                } else {
                    0.0
                }
            })
        };
        let total: f64 = weights().sum();
        let mut u = rng.next_f64() * total;
        let mut last = best;
        for (i, w) in weights().enumerate() {
            if u < w {
                return Ok(i);
            }
            u -= w;
            if w > 0.0 {
                last = i;
            }
        }
        // Rounding left u at the very end: the last class with weight.
        Ok(last)
    }
}
