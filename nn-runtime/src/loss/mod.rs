//! Losses, fused with the network's output activation (its *head*) where the math fuses:
//! softmax + cross-entropy and sigmoid + binary cross-entropy take the pre-activation
//! logits and return ∂loss/∂logits = p − y, never differentiating through `log ∘ softmax`.
//!
//! Every loss is a mean over the batch (and, for element-wise losses, over elements),
//! as PyTorch's default `reduction="mean"`.

#[allow(unused_imports)]
use crate::core_prelude::*;

mod binary;
mod classes;
mod regression;
mod weighted;

pub use binary::{BinaryCrossEntropy, BinaryCrossEntropyWith};
pub use classes::{CrossEntropy, KlDiv, Nll};
pub use regression::{ElementwiseTerm, Huber, Mse, SmoothL1, L1};
pub use weighted::CrossEntropyWith;

use crate::kernels;
use crate::layers::{ActivationFn, Linear, Sigmoid, Softmax};
use crate::tensor::{Batch, Sample};

/// What a network ends in. A loss sees the head's input (the logits) and its output.
pub trait Head: ActivationFn {
    /// d ← J_head(y)ᵀ · d, in place: turns ∂loss/∂output into ∂loss/∂logits.
    fn backward_in_place(y: &[f32], d: &mut [f32], len: usize);
}

impl Head for Linear {
    fn backward_in_place(_y: &[f32], _d: &mut [f32], _len: usize) {}
}

impl Head for Sigmoid {
    fn backward_in_place(y: &[f32], d: &mut [f32], _len: usize) {
        for (di, &yi) in d.iter_mut().zip(y) {
            *di *= yi * (1.0 - yi);
        }
    }
}

impl Head for Softmax {
    fn backward_in_place(y: &[f32], d: &mut [f32], len: usize) {
        for (yr, dr) in y.chunks_exact(len).zip(d.chunks_exact_mut(len)) {
            let inner: f32 = yr.iter().zip(dr.iter()).map(|(a, b)| a * b).sum();
            for (di, &yi) in dr.iter_mut().zip(yr) {
                *di = yi * (*di - inner);
            }
        }
    }
}

/// Heads whose logits cross-entropy can read as class scores: softmax, or none (raw logits,
/// as PyTorch's `CrossEntropyLoss` expects).
#[diagnostic::on_unimplemented(
    message = "cross-entropy over classes needs a network ending in `Softmax` or in no activation, not in `{Self}`",
    label = "this loss does not fit the network's output activation",
    note = "a network ending in `Sigmoid` is trained with `BinaryCrossEntropy`"
)]
pub trait ClassScoresHead: Head {
    /// log p(class) from a row of this head's outputs (probabilities, or logits).
    fn log_probability(scores: &[f32], class: usize) -> f32;
}

impl ClassScoresHead for Softmax {
    fn log_probability(scores: &[f32], class: usize) -> f32 {
        // A probability that rounded to 0 is at most the smallest positive f32.
        scores[class].max(f32::MIN_POSITIVE).ln()
    }
}

impl ClassScoresHead for Linear {
    fn log_probability(scores: &[f32], class: usize) -> f32 {
        let (max, log_sum) = kernels::log_sum_exp_parts(scores);
        (scores[class] - max) - log_sum
    }
}

/// Heads whose logits binary cross-entropy can read: sigmoid, or none (PyTorch's
/// `BCEWithLogitsLoss`).
#[diagnostic::on_unimplemented(
    message = "binary cross-entropy needs a network ending in `Sigmoid` or in no activation, not in `{Self}`",
    label = "this loss does not fit the network's output activation",
    note = "a network ending in `Softmax` is trained with `CrossEntropy`"
)]
pub trait BinaryLogitsHead: Head {}
impl BinaryLogitsHead for Sigmoid {}
impl BinaryLogitsHead for Linear {}

/// A loss of a network with head `H` and output `Out` against targets `T`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot compare this network's output `{Out}` (head `{H}`) with targets of type `{T}`",
    label = "the targets do not fit the network's output",
    note = "class labels are compared by `CrossEntropy`: `Labels<N>` with an output of `N` class scores, `StepLabels<T, N>` (a class per step) with `[T, N]`; dense targets of the output's own shape by `Mse` or `BinaryCrossEntropy`"
)]
pub trait Loss<H: Head, Out: Sample, T> {
    /// The mean loss; writes ∂loss/∂logits into `dlogits` (resized to the batch).
    fn loss_and_grad(
        &self,
        logits: &Batch<Out>,
        output: &Batch<Out>,
        targets: &T,
        dlogits: &mut Batch<Out>,
    ) -> f32;

    /// The mean loss alone.
    fn loss(&self, logits: &Batch<Out>, output: &Batch<Out>, targets: &T) -> f32;
}

/// The values an element-wise loss averages over: those of the steps within each
/// sequence's length (every value of samples without lengths), at least 1.
pub(crate) fn counted_values<S: Sample>(output: &Batch<S>) -> usize {
    (output.step_mask().filter(|&within| within).count() * S::ROW).max(1)
}
