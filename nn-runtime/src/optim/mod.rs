//! Optimizers, with PyTorch's update rules and defaults.
//!
//! An optimizer sees the network's parameters as consecutive slices of one flat vector of
//! `PARAMS` scalars (in `visit_params` order); its state is allocated on the first step and
//! reused after, so a training step allocates nothing once warm.

#[allow(unused_imports)]
use crate::core_prelude::*;

mod adam;
mod rmsprop;
mod sgd;

pub use adam::{Adam, AdamW};
pub use rmsprop::RmsProp;
pub use sgd::Sgd;

use crate::error::{Error, Result};

/// Updates parameters from their gradients.
pub trait Optimizer {
    /// Checks the hyper-parameters and prepares one step over `params` scalars. Nothing is
    /// changed when it returns an error.
    fn begin_step(&mut self, params: usize) -> Result<()>;

    /// Updates `value` (the scalars `offset..offset + value.len()`) from `grad`.
    fn update(&mut self, offset: usize, value: &mut [f32], grad: &[f32]);

    /// The current learning rate.
    fn learning_rate(&self) -> f32;

    /// Sets the learning rate (for schedules).
    fn set_learning_rate(&mut self, lr: f32);

    /// The global gradient norm above which a training step scales every gradient down to it
    /// (see [`ClipNorm::clip_norm`]); `None` for no clipping.
    fn max_grad_norm(&self) -> Option<f32> {
        None
    }

    /// What the optimizer has learnt so far (moments, step count), for resumable
    /// checkpoints.
    fn state(&self) -> OptimizerState;

    /// Takes back a state from [`Optimizer::state`]; an error (and no change) if it does not
    /// fit this optimizer.
    fn set_state(&mut self, state: &OptimizerState) -> Result<()>;
}

/// An optimizer's state: its step count and named vectors (Adam's `m` and `v`, SGD's
/// velocity), each as long as the network's parameters or empty before the first step.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OptimizerState {
    pub steps: u64,
    pub tensors: Vec<(String, Vec<f32>)>,
}

impl OptimizerState {
    /// The vector called `name`.
    pub fn tensor(&self, name: &str) -> Result<&[f32]> {
        self.tensors
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
            .ok_or_else(|| Error::CorruptCheckpoint {
                reason: format!("the optimizer state has no `{name}`"),
            })
    }

    /// The vectors `names`, all of one length: what `set_state` copies in.
    pub(crate) fn vectors<const K: usize>(&self, names: [&str; K]) -> Result<[Vec<f32>; K]> {
        let mut out: [Vec<f32>; K] = core::array::from_fn(|_| Vec::new());
        for (o, name) in out.iter_mut().zip(names) {
            *o = self.tensor(name)?.to_vec();
        }
        if out.iter().any(|v| v.len() != out[0].len()) {
            return Err(Error::CorruptCheckpoint {
                reason: "the optimizer state's vectors differ in length".to_string(),
            });
        }
        Ok(out)
    }
}

/// Gradient clipping by global norm, for every optimizer:
/// `Adam::new(1e-3).clip_norm(1.0)` (PyTorch's `clip_grad_norm_`, Keras's `global_clipnorm`).
pub trait ClipNorm: Optimizer + Sized {
    /// Before each update, scales all gradients by `max / ‖g‖` when their global L2 norm
    /// `‖g‖` exceeds `max`.
    fn clip_norm(self, max: f32) -> Clipped<Self> {
        Clipped { inner: self, max }
    }
}

impl<O: Optimizer> ClipNorm for O {}

/// An optimizer whose gradients are clipped by global norm first.
#[derive(Clone, Debug)]
pub struct Clipped<O> {
    inner: O,
    max: f32,
}

impl<O: Optimizer> Optimizer for Clipped<O> {
    fn begin_step(&mut self, params: usize) -> Result<()> {
        check_range(
            "clip_norm",
            self.max,
            f32::MIN_POSITIVE,
            None,
            "a finite norm > 0",
        )?;
        self.inner.begin_step(params)
    }
    fn update(&mut self, offset: usize, value: &mut [f32], grad: &[f32]) {
        self.inner.update(offset, value, grad)
    }
    fn learning_rate(&self) -> f32 {
        self.inner.learning_rate()
    }
    fn set_learning_rate(&mut self, lr: f32) {
        self.inner.set_learning_rate(lr)
    }
    fn max_grad_norm(&self) -> Option<f32> {
        Some(self.max)
    }
    fn state(&self) -> OptimizerState {
        self.inner.state()
    }
    fn set_state(&mut self, state: &OptimizerState) -> Result<()> {
        self.inner.set_state(state)
    }
}

/// Returns an error unless `lo <= value` (and `value < hi` when `hi` is given), finite.
pub(crate) fn check_range(
    name: &'static str,
    value: f32,
    lo: f32,
    hi: Option<f32>,
    expected: &'static str,
) -> Result<()> {
    let ok = value.is_finite() && value >= lo && hi.is_none_or(|hi| value < hi);
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidHyperparameter {
            name,
            value: value as f64,
            expected,
        })
    }
}

/// Sizes an optimizer state vector to `params` zeros on the first step.
pub(crate) fn ensure_state(state: &mut Vec<f32>, params: usize) {
    if state.len() != params {
        state.clear();
        state.resize(params, 0.0);
    }
}
