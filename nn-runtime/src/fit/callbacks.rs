//! Callbacks run at the end of every epoch of `Trainer::fit`: early stopping, and
//! checkpoints of the best and the last model.

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::checkpoint::{self, TrainingState};
use crate::error::Result;
use crate::io::safetensors as weights;
use crate::train::Network;
use std::path::PathBuf;

/// A figure to watch (`val_loss`, `accuracy`, …) and whether lower or higher is better.
#[derive(Clone, Debug, PartialEq)]
pub struct Monitor {
    pub name: String,
    pub higher_is_better: bool,
}

impl Monitor {
    /// Lower is better (a loss, an error).
    pub fn min(name: &str) -> Self {
        Monitor {
            name: name.to_string(),
            higher_is_better: false,
        }
    }

    /// Higher is better (an accuracy).
    pub fn max(name: &str) -> Self {
        Monitor {
            name: name.to_string(),
            higher_is_better: true,
        }
    }

    /// The figure in `figures`; the training twin when there is no validation
    /// (`val_loss` → `loss`).
    pub fn read(&self, figures: &[(String, f64)]) -> Option<f64> {
        let find = |n: &str| figures.iter().find(|(k, _)| k == n).map(|(_, v)| *v);
        find(&self.name).or_else(|| find(self.name.strip_prefix("val_")?))
    }

    /// Whether `value` beats `best` by more than `min_delta`.
    pub fn improves(&self, value: f64, best: Option<f64>, min_delta: f64) -> bool {
        match best {
            None => value.is_finite(),
            Some(best) if self.higher_is_better => value > best + min_delta,
            Some(best) => value < best - min_delta,
        }
    }
}

impl Default for Monitor {
    /// `val_loss` (the training loss without validation), lower is better.
    fn default() -> Self {
        Monitor::min("val_loss")
    }
}

/// What an epoch's end hands to callbacks.
pub struct EpochEnd<'a, N> {
    /// Epochs completed, from 1.
    pub epoch: usize,
    /// The epoch's figures (`loss`, metrics, `val_…`).
    pub figures: &'a [(String, f64)],
    pub net: &'a mut N,
}

/// Whether training goes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    Continue,
    Stop,
}

/// Called at the end of every epoch, and once when training ends.
pub trait Callback<N: Network>: Send {
    /// Sees the epoch's figures and the network, and says whether training goes on.
    fn end_epoch(&mut self, end: &mut EpochEnd<'_, N>) -> Result<Control>;

    /// After every callback's `end_epoch`, with everything a resumed run needs (what
    /// checkpoints save; their own memory included).
    fn after_epoch(&mut self, net: &mut N, state: &TrainingState) -> Result<()> {
        let _ = (net, state);
        Ok(())
    }

    /// When training ends (after the last epoch, an early stop or an error).
    fn end_training(&mut self, net: &mut N) -> Result<()> {
        let _ = net;
        Ok(())
    }

    /// What it must remember to resume.
    fn state(&self) -> Vec<f64> {
        Vec::new()
    }

    /// Takes back [`Callback::state`].
    fn restore(&mut self, state: &[f64]) {
        let _ = state;
    }
}

/// Stops training when the monitored figure has not improved by more than `min_delta` for
/// `patience` epochs; optionally puts back the weights of the best epoch (Keras's
/// `EarlyStopping`).
#[derive(Clone, Debug)]
pub struct EarlyStopping {
    monitor: Monitor,
    patience: usize,
    min_delta: f64,
    restore_best: bool,
    best: Option<f64>,
    waited: usize,
    best_weights: Option<Vec<u8>>,
}

impl EarlyStopping {
    /// Watching `monitor`, stopping after 3 epochs without improvement.
    pub fn new(monitor: Monitor) -> Self {
        EarlyStopping {
            monitor,
            patience: 3,
            min_delta: 0.0,
            restore_best: false,
            best: None,
            waited: 0,
            best_weights: None,
        }
    }

    pub fn patience(mut self, epochs: usize) -> Self {
        self.patience = epochs;
        self
    }

    pub fn min_delta(mut self, delta: f64) -> Self {
        self.min_delta = delta;
        self
    }

    /// When training ends, the network gets the weights of its best epoch back.
    pub fn restore_best_weights(mut self) -> Self {
        self.restore_best = true;
        self
    }

    /// The best figure seen.
    pub fn best(&self) -> Option<f64> {
        self.best
    }
}

impl<N: Network> Callback<N> for EarlyStopping {
    fn end_epoch(&mut self, end: &mut EpochEnd<'_, N>) -> Result<Control> {
        let Some(value) = self.monitor.read(end.figures) else {
            return Ok(Control::Continue);
        };
        if self.monitor.improves(value, self.best, self.min_delta) {
            self.best = Some(value);
            self.waited = 0;
            if self.restore_best {
                self.best_weights = Some(weights::to_bytes(end.net)?);
            }
            return Ok(Control::Continue);
        }
        self.waited += 1;
        Ok(if self.waited >= self.patience {
            Control::Stop
        } else {
            Control::Continue
        })
    }

    fn end_training(&mut self, net: &mut N) -> Result<()> {
        if let Some(bytes) = self.best_weights.take() {
            weights::load_bytes(net, &bytes)?;
        }
        Ok(())
    }

    fn state(&self) -> Vec<f64> {
        vec![self.best.unwrap_or(f64::NAN), self.waited as f64]
    }

    fn restore(&mut self, state: &[f64]) {
        if let [best, waited] = state {
            self.best = (!best.is_nan()).then_some(*best);
            self.waited = *waited as usize;
        }
    }
}

/// Saves resumable checkpoints: the last epoch's at `<dir>/last`, and the best epoch's by the
/// monitored figure at `<dir>/best` (each a weight file plus its training state, see
/// `fit::checkpoint`).
#[derive(Clone, Debug)]
pub struct Checkpoint {
    dir: PathBuf,
    keep_last: bool,
    keep_best: Option<Monitor>,
    best: Option<f64>,
    /// Whether the epoch just ended is the best so far (written in `after_epoch`).
    new_best: bool,
}

impl Checkpoint {
    /// Checkpoints in `dir`; by default the last epoch's only.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Checkpoint {
            dir: dir.into(),
            keep_last: true,
            keep_best: None,
            best: None,
            new_best: false,
        }
    }

    /// Also (or only, with `last(false)`) the best epoch by `monitor`.
    pub fn best(mut self, monitor: Monitor) -> Self {
        self.keep_best = Some(monitor);
        self
    }

    /// Whether to keep the last epoch's.
    pub fn last(mut self, keep: bool) -> Self {
        self.keep_last = keep;
        self
    }

    /// The base path of the last epoch's checkpoint (`Trainer::resume_from` takes it).
    pub fn last_path(&self) -> PathBuf {
        self.dir.join("last")
    }

    /// The base path of the best epoch's checkpoint.
    pub fn best_path(&self) -> PathBuf {
        self.dir.join("best")
    }
}

impl<N: Network> Callback<N> for Checkpoint {
    fn end_epoch(&mut self, end: &mut EpochEnd<'_, N>) -> Result<Control> {
        self.new_best = false;
        if let Some(monitor) = &self.keep_best {
            if let Some(value) = monitor.read(end.figures) {
                if monitor.improves(value, self.best, 0.0) {
                    self.best = Some(value);
                    self.new_best = true;
                }
            }
        }
        Ok(Control::Continue)
    }

    fn after_epoch(&mut self, net: &mut N, state: &TrainingState) -> Result<()> {
        if self.keep_last {
            checkpoint::save(&self.last_path(), net, state)?;
        }
        if self.new_best {
            checkpoint::save(&self.best_path(), net, state)?;
        }
        Ok(())
    }

    fn state(&self) -> Vec<f64> {
        vec![self.best.unwrap_or(f64::NAN)]
    }

    fn restore(&mut self, state: &[f64]) {
        if let [best] = state {
            self.best = (!best.is_nan()).then_some(*best);
        }
    }
}
