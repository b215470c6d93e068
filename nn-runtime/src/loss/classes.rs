//! Losses over classes: cross-entropy from class scores, the negative log-likelihood and the
//! Kullback-Leibler divergence of log-probabilities.

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::{ClassScoresHead, Loss};
use crate::data::{Labels, StepLabels};
use crate::kernels;
use crate::layers::Linear;
use crate::tensor::{Batch, Sample, Tensor1, Tensor2};

/// Cross-entropy over classes from logits (PyTorch `CrossEntropyLoss`), with class-index
/// labels ([`Labels`]) or probability / one-hot targets (`Batch<Tensor1<N>>`); and, on an
/// output of class scores per step (`[T, N]`), with a class per step ([`StepLabels`]):
/// the mean over the steps not ignored (PyTorch's `ignore_index`).
#[derive(Clone, Copy, Debug, Default)]
pub struct CrossEntropy;

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

/// Negative log-likelihood (PyTorch `NLLLoss`) of a network ending in `LogSoftmax`: its
/// outputs are read as log-probabilities, the loss is the mean over labelled rows of
/// −log p(label), and its gradient −1/n at each row's label (0 elsewhere), which the
/// network's `LogSoftmax` then takes back to its logits. With class labels ([`Labels`]), or
/// a class per step ([`StepLabels`]: the mean over the steps not ignored, as PyTorch's
/// `ignore_index`).
///
/// The network's head as far as losses go is `Linear` (`LogSoftmax` is an ordinary layer,
/// not fused): `Nll` does not accept a network ending in `Softmax`, whose outputs are
/// probabilities; that one is trained with [`CrossEntropy`](super::CrossEntropy), as is a
/// network ending in no activation.
#[derive(Clone, Copy, Debug, Default)]
pub struct Nll;

impl<const N: usize> Loss<Linear, Tensor1<N>, Labels<N>> for Nll {
    fn loss_and_grad(
        &self,
        _logits: &Batch<Tensor1<N>>,
        output: &Batch<Tensor1<N>>,
        labels: &Labels<N>,
        dlogits: &mut Batch<Tensor1<N>>,
    ) -> f32 {
        dlogits.set_rows(output.rows());
        let classes = labels.as_slice().iter().map(|&c| Some(c as usize));
        nll(output.as_slice(), classes, Some(dlogits.as_mut_slice()), N)
    }

    fn loss(
        &self,
        _logits: &Batch<Tensor1<N>>,
        output: &Batch<Tensor1<N>>,
        labels: &Labels<N>,
    ) -> f32 {
        let classes = labels.as_slice().iter().map(|&c| Some(c as usize));
        nll(output.as_slice(), classes, None, N)
    }
}

impl<const T: usize, const N: usize> Loss<Linear, Tensor2<T, N>, StepLabels<T, N>> for Nll {
    fn loss_and_grad(
        &self,
        _logits: &Batch<Tensor2<T, N>>,
        output: &Batch<Tensor2<T, N>>,
        labels: &StepLabels<T, N>,
        dlogits: &mut Batch<Tensor2<T, N>>,
    ) -> f32 {
        dlogits.set_rows(output.rows());
        let steps = labels.counted(output);
        nll(output.as_slice(), steps, Some(dlogits.as_mut_slice()), N)
    }

    fn loss(
        &self,
        _logits: &Batch<Tensor2<T, N>>,
        output: &Batch<Tensor2<T, N>>,
        labels: &StepLabels<T, N>,
    ) -> f32 {
        nll(output.as_slice(), labels.counted(output), None, N)
    }
}

/// Kullback-Leibler divergence KL(t ‖ p) = Σ t·(log t − log p) of a network ending in
/// `LogSoftmax` (its outputs read as log p) from target probabilities t of the output's own
/// shape: PyTorch `KLDivLoss(reduction="batchmean")`, the sum over every counted value
/// divided by the batch size. That is the divergence per sample, averaged over the batch,
/// the quantity KL's definition names; PyTorch's default `reduction="mean"` divides by
/// the number of values instead, which is not the divergence (it also divides by the classes)
/// and which PyTorch's documentation warns against and recommends `"batchmean"` over.
///
/// The gradient is −t / batch. A target of 0 contributes 0, its log t term taken as 0
/// (PyTorch's `xlogy`), unless its log p is −∞ (0 · −∞ is NaN, in PyTorch too). With `log_target`, the targets are log-probabilities too (PyTorch's
/// `log_target=True`): terms e^t·(t − log p), gradient −e^t / batch. Padded steps of a
/// sequence count for nothing; the division stays by the batch size.
///
/// As `Nll`, this reads the outputs as they are: the network's head is `Linear` (a final
/// `LogSoftmax`, or log-probabilities computed otherwise).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KlDiv {
    /// The targets are log-probabilities (PyTorch's `log_target`); probabilities by default.
    pub log_target: bool,
}

impl<S: Sample> Loss<Linear, S, Batch<S>> for KlDiv {
    fn loss_and_grad(
        &self,
        _logits: &Batch<S>,
        output: &Batch<S>,
        targets: &Batch<S>,
        dlogits: &mut Batch<S>,
    ) -> f32 {
        dlogits.set_rows(output.rows());
        self.divergence(output, targets, Some(dlogits.as_mut_slice()))
    }

    fn loss(&self, _logits: &Batch<S>, output: &Batch<S>, targets: &Batch<S>) -> f32 {
        self.divergence(output, targets, None)
    }
}

impl KlDiv {
    /// Σ over counted values of the pointwise divergence, / rows; its gradient into `dx`
    /// (0 at values not counted).
    fn divergence<S: Sample>(&self, x: &Batch<S>, t: &Batch<S>, mut dx: Option<&mut [f32]>) -> f32 {
        let row = S::ROW.max(1);
        let inv_rows = 1.0 / x.rows().max(1) as f32;
        let mut total = 0.0f64;
        let rows = x
            .as_slice()
            .chunks_exact(row)
            .zip(t.as_slice().chunks_exact(row));
        for (k, ((xr, tr), within)) in rows.zip(x.step_mask()).enumerate() {
            for (i, (&x, &t)) in xr.iter().zip(tr).enumerate() {
                // (pointwise divergence, the probability t weighing −log p)
                let (term, weight) = if !within {
                    (0.0, 0.0)
                } else if self.log_target {
                    let p = t.exp();
                    (p * (t - x), p)
                } else {
                    // xlogy: 0 · log 0 = 0; a NaN target stays NaN.
                    let t_log_t = if t == 0.0 { 0.0 } else { t * t.ln() };
                    (t_log_t - t * x, t)
                };
                total += term as f64;
                if let Some(dx) = dx.as_deref_mut() {
                    dx[k * row + i] = -weight * inv_rows;
                }
            }
        }
        (total / x.rows().max(1) as f64) as f32
    }
}

/// Mean over the rows of `classes` log-probabilities that have a label of −x[label];
/// gradient −1/(labelled rows) at the label, 0 elsewhere and on rows without a label.
fn nll(
    x: &[f32],
    labels: impl Iterator<Item = Option<usize>> + Clone,
    mut dx: Option<&mut [f32]>,
    classes: usize,
) -> f32 {
    let labelled = labels.clone().filter(Option::is_some).count().max(1);
    let inv = 1.0 / labelled as f32;
    if let Some(dx) = dx.as_deref_mut() {
        dx.fill(0.0);
    }
    let mut total = 0.0f64;
    for (r, (xr, label)) in x.chunks_exact(classes).zip(labels).enumerate() {
        let Some(label) = label else { continue };
        total -= xr[label] as f64;
        if let Some(dx) = dx.as_deref_mut() {
            dx[r * classes + label] = -inv;
        }
    }
    (total / labelled as f64) as f32
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
