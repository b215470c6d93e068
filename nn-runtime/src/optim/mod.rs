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
