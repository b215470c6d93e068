//! Losses, fused with the network's output activation (its *head*) where the math fuses:
//! softmax + cross-entropy and sigmoid + binary cross-entropy take the pre-activation
//! logits and return ∂loss/∂logits = p − y, never differentiating through `log ∘ softmax`.
//!
//! Every loss is a mean over the batch (and, for element-wise losses, over elements),
//! as PyTorch's default `reduction="mean"`.

use crate::data::{Labels, StepLabels};
use crate::kernels;
use crate::layers::{ActivationFn, Linear, Sigmoid, Softmax};
use crate::tensor::{Batch, Sample, Tensor1, Tensor2};

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

/// Mean squared error, mean over every element (PyTorch `MSELoss`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Mse;

/// Cross-entropy over classes from logits (PyTorch `CrossEntropyLoss`), with class-index
/// labels ([`Labels`]) or probability / one-hot targets (`Batch<Tensor1<N>>`); and, on an
/// output of class scores per step (`[T, N]`), with a class per step ([`StepLabels`]):
/// the mean over the steps not ignored (PyTorch's `ignore_index`).
#[derive(Clone, Copy, Debug, Default)]
pub struct CrossEntropy;

/// Binary cross-entropy from logits (PyTorch `BCEWithLogitsLoss`), mean over every element.
#[derive(Clone, Copy, Debug, Default)]
pub struct BinaryCrossEntropy;

impl<H: Head, S: Sample> Loss<H, S, Batch<S>> for Mse {
    fn loss_and_grad(
        &self,
        _logits: &Batch<S>,
        output: &Batch<S>,
        targets: &Batch<S>,
        dlogits: &mut Batch<S>,
    ) -> f32 {
        dlogits.set_rows(output.rows());
        // Over the values of the steps within each sequence's length (every value of
        // samples without lengths): L = Σ (y − t)² / n ; ∂L/∂y = 2 (y − t) / n, 0 elsewhere.
        let n = counted_values(output) as f32;
        let mut sum = 0.0f64;
        for (((d, y), t), within) in dlogits
            .as_mut_slice()
            .chunks_exact_mut(S::ROW.max(1))
            .zip(output.as_slice().chunks_exact(S::ROW.max(1)))
            .zip(targets.as_slice().chunks_exact(S::ROW.max(1)))
            .zip(output.step_mask())
        {
            for ((d, &y), &t) in d.iter_mut().zip(y).zip(t) {
                let e = if within { y - t } else { 0.0 };
                sum += (e * e) as f64;
                *d = 2.0 * e / n;
            }
        }
        H::backward_in_place(output.as_slice(), dlogits.as_mut_slice(), S::ROW);
        (sum / n as f64) as f32
    }

    fn loss(&self, _logits: &Batch<S>, output: &Batch<S>, targets: &Batch<S>) -> f32 {
        let n = counted_values(output) as f64;
        let sum: f64 = output
            .as_slice()
            .chunks_exact(S::ROW.max(1))
            .zip(targets.as_slice().chunks_exact(S::ROW.max(1)))
            .zip(output.step_mask())
            .filter(|(_, within)| *within)
            .flat_map(|((y, t), _)| y.iter().zip(t))
            .map(|(&y, &t)| ((y - t) as f64).powi(2))
            .sum();
        (sum / n) as f32
    }
}

impl<H: ClassScoresHead, const N: usize> Loss<H, Tensor1<N>, Labels<N>> for CrossEntropy {
    fn loss_and_grad(
        &self,
        logits: &Batch<Tensor1<N>>,
        _output: &Batch<Tensor1<N>>,
        labels: &Labels<N>,
        dlogits: &mut Batch<Tensor1<N>>,
    ) -> f32 {
        dlogits.set_rows(logits.rows());
        let classes = labels.as_slice().iter().map(|&c| Some(c as usize));
        cross_entropy_labels(logits.as_slice(), classes, Some(dlogits.as_mut_slice()), N)
    }

    fn loss(
        &self,
        logits: &Batch<Tensor1<N>>,
        _output: &Batch<Tensor1<N>>,
        labels: &Labels<N>,
    ) -> f32 {
        let classes = labels.as_slice().iter().map(|&c| Some(c as usize));
        cross_entropy_labels(logits.as_slice(), classes, None, N)
    }
}

impl<H: ClassScoresHead, const T: usize, const N: usize> Loss<H, Tensor2<T, N>, StepLabels<T, N>>
    for CrossEntropy
{
    fn loss_and_grad(
        &self,
        logits: &Batch<Tensor2<T, N>>,
        output: &Batch<Tensor2<T, N>>,
        labels: &StepLabels<T, N>,
        dlogits: &mut Batch<Tensor2<T, N>>,
    ) -> f32 {
        dlogits.set_rows(logits.rows());
        let steps = labels.counted(output);
        cross_entropy_labels(logits.as_slice(), steps, Some(dlogits.as_mut_slice()), N)
    }

    fn loss(
        &self,
        logits: &Batch<Tensor2<T, N>>,
        output: &Batch<Tensor2<T, N>>,
        labels: &StepLabels<T, N>,
    ) -> f32 {
        cross_entropy_labels(logits.as_slice(), labels.counted(output), None, N)
    }
}

impl<H: ClassScoresHead, const N: usize> Loss<H, Tensor1<N>, Batch<Tensor1<N>>> for CrossEntropy {
    fn loss_and_grad(
        &self,
        logits: &Batch<Tensor1<N>>,
        _output: &Batch<Tensor1<N>>,
        targets: &Batch<Tensor1<N>>,
        dlogits: &mut Batch<Tensor1<N>>,
    ) -> f32 {
        dlogits.set_rows(logits.rows());
        cross_entropy_dense(
            logits.as_slice(),
            targets.as_slice(),
            Some(dlogits.as_mut_slice()),
            N,
        )
    }

    fn loss(
        &self,
        logits: &Batch<Tensor1<N>>,
        _output: &Batch<Tensor1<N>>,
        targets: &Batch<Tensor1<N>>,
    ) -> f32 {
        cross_entropy_dense(logits.as_slice(), targets.as_slice(), None, N)
    }
}

impl<H: BinaryLogitsHead, S: Sample> Loss<H, S, Batch<S>> for BinaryCrossEntropy {
    fn loss_and_grad(
        &self,
        logits: &Batch<S>,
        output: &Batch<S>,
        targets: &Batch<S>,
        dlogits: &mut Batch<S>,
    ) -> f32 {
        dlogits.set_rows(logits.rows());
        binary_cross_entropy_logits(
            logits.as_slice(),
            targets.as_slice(),
            (output.step_mask(), S::ROW, counted_values(output)),
            Some(dlogits.as_mut_slice()),
        )
    }

    fn loss(&self, logits: &Batch<S>, output: &Batch<S>, targets: &Batch<S>) -> f32 {
        let counted = (output.step_mask(), S::ROW, counted_values(output));
        binary_cross_entropy_logits(logits.as_slice(), targets.as_slice(), counted, None)
    }
}

/// The values an element-wise loss averages over: those of the steps within each
/// sequence's length (every value of samples without lengths), at least 1.
fn counted_values<S: Sample>(output: &Batch<S>) -> usize {
    (output.step_mask().filter(|&within| within).count() * S::ROW).max(1)
}

/// Mean over the rows of `classes` scores that have a label of `logsumexp(z) − z[label]`;
/// gradient `(softmax(z) − onehot) / labelled rows`, and 0 for a row without a label (an
/// ignored step).
fn cross_entropy_labels(
    z: &[f32],
    labels: impl Iterator<Item = Option<usize>> + Clone,
    mut dz: Option<&mut [f32]>,
    classes: usize,
) -> f32 {
    let labelled = labels.clone().filter(Option::is_some).count();
    let inv = 1.0 / labelled.max(1) as f32;
    let mut total = 0.0f64;
    for (r, (zr, label)) in z.chunks_exact(classes).zip(labels).enumerate() {
        let dr = dz
            .as_deref_mut()
            .map(|dz| &mut dz[r * classes..(r + 1) * classes]);
        let Some(label) = label else {
            if let Some(dr) = dr {
                dr.fill(0.0);
            }
            continue;
        };
        let (max, log_sum) = kernels::log_sum_exp_parts(zr);
        total += (log_sum - (zr[label] - max)) as f64;
        if let Some(dr) = dr {
            for (d, &zi) in dr.iter_mut().zip(zr) {
                *d = ((zi - max) - log_sum).exp() * inv;
            }
            dr[label] -= inv;
        }
    }
    (total / labelled.max(1) as f64) as f32
}

/// Mean over rows of `−Σ t · log_softmax(z)`; gradient `(Σt · softmax(z) − t) / rows`.
fn cross_entropy_dense(z: &[f32], t: &[f32], mut dz: Option<&mut [f32]>, classes: usize) -> f32 {
    let rows = z.len() / classes.max(1);
    let inv_rows = 1.0 / rows.max(1) as f32;
    let mut total = 0.0f64;
    for (r, (zr, tr)) in z
        .chunks_exact(classes)
        .zip(t.chunks_exact(classes))
        .enumerate()
    {
        let (max, log_sum) = kernels::log_sum_exp_parts(zr);
        let t_sum: f32 = tr.iter().sum();
        total += zr
            .iter()
            .zip(tr)
            .map(|(&zi, &ti)| -(ti * ((zi - max) - log_sum)) as f64)
            .sum::<f64>();
        if let Some(dz) = dz.as_deref_mut() {
            let dr = &mut dz[r * classes..(r + 1) * classes];
            for ((d, &zi), &ti) in dr.iter_mut().zip(zr).zip(tr) {
                *d = (t_sum * ((zi - max) - log_sum).exp() - ti) * inv_rows;
            }
        }
    }
    (total / rows.max(1) as f64) as f32
}

/// Mean of `max(z, 0) − z·t + log(1 + e^−|z|)` over the `n` counted values (rows of `row`
/// values, each counted or not as `mask` says); gradient `(σ(z) − t) / n`, 0 elsewhere.
fn binary_cross_entropy_logits(
    z: &[f32],
    t: &[f32],
    (mask, row, n): (impl Iterator<Item = bool>, usize, usize),
    mut dz: Option<&mut [f32]>,
) -> f32 {
    let inv_n = 1.0 / n.max(1) as f32;
    let mut total = 0.0f64;
    for (k, within) in mask.enumerate() {
        for i in k * row..(k + 1) * row {
            let (zi, ti) = (z[i], t[i]);
            if within {
                total += (zi.max(0.0) - zi * ti + (-zi.abs()).exp().ln_1p()) as f64;
            }
            if let Some(dz) = dz.as_deref_mut() {
                dz[i] = if within {
                    (kernels::sigmoid(zi) - ti) * inv_n
                } else {
                    0.0
                };
            }
        }
    }
    (total / n.max(1) as f64) as f32
}
