//! Learning-rate schedules, usable from `Trainer` and from a hand-written loop:
//!
//! ```
//! use nn_runtime::fit::{CosineDecay, Schedule};
//! use nn_runtime::{Adam, Optimizer};
//!
//! let mut opt = Adam::new(1e-3);
//! let mut schedule = CosineDecay::new(1e-3, 1_000).warmup(100);
//! for step in 0..1_000 {
//!     opt.set_learning_rate(schedule.rate(step));
//!     // … model.train_step(&x, &y, &CrossEntropy, &mut opt)?;
//!     if step == 99 {
//!         assert_eq!(opt.learning_rate(), 1e-3); // the warm-up's end is the peak
//!     }
//! }
//! assert!(opt.learning_rate() < 1e-8); // and the cosine ends near 0
//! ```

#[allow(unused_imports)]
use crate::core_prelude::*;

/// A learning rate for every optimizer step.
pub trait Schedule: Send {
    /// The learning rate of global step `step` (counted from 0 over the whole run).
    fn rate(&mut self, step: usize) -> f32;

    /// Called at the end of each epoch with the monitored figure (the validation loss, or
    /// the training loss without validation); schedules that react to it (reduce-on-plateau)
    /// change their rate here.
    fn end_epoch(&mut self, _monitored: f64) {}

    /// What it must remember to resume (reduce-on-plateau's current rate and patience).
    fn state(&self) -> Vec<f64> {
        Vec::new()
    }

    /// Takes back [`Schedule::state`].
    fn restore(&mut self, _state: &[f64]) {}
}

/// `base · factor^⌊step / every⌋`: the rate drops by `factor` every `every` steps (Keras's
/// `ExponentialDecay(staircase=True)`, PyTorch's `StepLR` counted in steps).
#[derive(Clone, Debug)]
pub struct StepDecay {
    base: f32,
    every: usize,
    factor: f32,
}

impl StepDecay {
    pub fn new(base: f32, every: usize, factor: f32) -> Self {
        StepDecay {
            base,
            every: every.max(1),
            factor,
        }
    }
}

impl Schedule for StepDecay {
    fn rate(&mut self, step: usize) -> f32 {
        self.base * self.factor.powi((step / self.every) as i32)
    }
}

/// `base · factor^(step / steps)`: smooth exponential decay (Keras's `ExponentialDecay`).
#[derive(Clone, Debug)]
pub struct ExponentialDecay {
    base: f32,
    steps: usize,
    factor: f32,
}

impl ExponentialDecay {
    pub fn new(base: f32, steps: usize, factor: f32) -> Self {
        ExponentialDecay {
            base,
            steps: steps.max(1),
            factor,
        }
    }
}

impl Schedule for ExponentialDecay {
    fn rate(&mut self, step: usize) -> f32 {
        self.base * self.factor.powf(step as f32 / self.steps as f32)
    }
}

/// A linear warm-up from 0 over `warmup` steps, then a half cosine from `base` down to
/// `min` at `total` steps (and `min` after).
#[derive(Clone, Debug)]
pub struct CosineDecay {
    base: f32,
    min: f32,
    total: usize,
    warmup: usize,
}

impl CosineDecay {
    /// From `base` down to 0 over `total` steps.
    pub fn new(base: f32, total: usize) -> Self {
        CosineDecay {
            base,
            min: 0.0,
            total: total.max(1),
            warmup: 0,
        }
    }

    /// Rising linearly from 0 over the first `steps` steps.
    pub fn warmup(mut self, steps: usize) -> Self {
        self.warmup = steps;
        self
    }

    /// Ending at `min` instead of 0.
    pub fn min(mut self, min: f32) -> Self {
        self.min = min;
        self
    }
}

impl Schedule for CosineDecay {
    fn rate(&mut self, step: usize) -> f32 {
        if step < self.warmup {
            return self.base * (step + 1) as f32 / self.warmup as f32;
        }
        let span = self.total.saturating_sub(self.warmup).max(1);
        let progress = ((step - self.warmup) as f32 / span as f32).min(1.0);
        self.min + 0.5 * (self.base - self.min) * (1.0 + (core::f32::consts::PI * progress).cos())
    }
}

/// Multiplies the rate by `factor` when the monitored figure has not improved by more than
/// `min_delta` for `patience` epochs, down to `min` (Keras's `ReduceLROnPlateau`, on a
/// figure to minimise).
#[derive(Clone, Debug)]
pub struct ReduceOnPlateau {
    rate: f32,
    factor: f32,
    patience: usize,
    min_delta: f64,
    min: f32,
    best: f64,
    waited: usize,
}

impl ReduceOnPlateau {
    /// From `base`, halving after 3 epochs without improvement (the defaults can be changed
    /// with the methods below).
    pub fn new(base: f32) -> Self {
        ReduceOnPlateau {
            rate: base,
            factor: 0.5,
            patience: 3,
            min_delta: 0.0,
            min: 0.0,
            best: f64::INFINITY,
            waited: 0,
        }
    }

    pub fn factor(mut self, factor: f32) -> Self {
        self.factor = factor;
        self
    }

    pub fn patience(mut self, epochs: usize) -> Self {
        self.patience = epochs;
        self
    }

    pub fn min_delta(mut self, delta: f64) -> Self {
        self.min_delta = delta;
        self
    }

    pub fn min(mut self, min: f32) -> Self {
        self.min = min;
        self
    }
}

impl Schedule for ReduceOnPlateau {
    fn rate(&mut self, _step: usize) -> f32 {
        self.rate
    }

    fn end_epoch(&mut self, monitored: f64) {
        if monitored < self.best - self.min_delta {
            self.best = monitored;
            self.waited = 0;
        } else {
            self.waited += 1;
            if self.waited > self.patience {
                self.rate = (self.rate * self.factor).max(self.min);
                self.waited = 0;
            }
        }
    }

    fn state(&self) -> Vec<f64> {
        vec![self.rate as f64, self.best, self.waited as f64]
    }

    fn restore(&mut self, state: &[f64]) {
        if let [rate, best, waited] = state {
            self.rate = *rate as f32;
            self.best = *best;
            self.waited = *waited as usize;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_follow_their_formulas() {
        let mut s = StepDecay::new(1.0, 10, 0.5);
        assert_eq!(
            (s.rate(0), s.rate(9), s.rate(10), s.rate(25)),
            (1.0, 1.0, 0.5, 0.25)
        );
        let mut e = ExponentialDecay::new(1.0, 10, 0.5);
        assert!((e.rate(5) - 0.5f32.sqrt()).abs() < 1e-6);
        let mut c = CosineDecay::new(1.0, 110).warmup(10);
        assert!((c.rate(0) - 0.1).abs() < 1e-6 && (c.rate(9) - 1.0).abs() < 1e-6);
        assert!((c.rate(60) - 0.5).abs() < 1e-6 && c.rate(110).abs() < 1e-6);
        let mut p = ReduceOnPlateau::new(1.0).patience(1);
        for loss in [1.0, 0.9, 0.95, 0.96, 0.97] {
            p.end_epoch(loss);
        }
        assert_eq!(
            p.rate(0),
            0.5,
            "two epochs without improvement after the best"
        );
        let saved = p.state();
        let mut q = ReduceOnPlateau::new(1.0).patience(1);
        q.restore(&saved);
        assert_eq!(q.state(), saved);
    }
}
