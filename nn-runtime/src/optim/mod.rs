//! Optimizers, with PyTorch's update rules and defaults.
//!
//! An optimizer sees the network's parameters as consecutive slices of one flat vector of
//! `PARAMS` scalars (in `visit_params` order); its state is allocated on the first step and
//! reused after, so a training step allocates nothing once warm.

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
