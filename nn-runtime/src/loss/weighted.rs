//! Cross-entropy with PyTorch's class weights and label smoothing.

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::{ClassScoresHead, CrossEntropy, Loss};
use crate::data::{Labels, StepLabels};
use crate::error::{Error, Result};
use crate::kernels;
use crate::tensor::{Batch, Tensor1, Tensor2};

/// Cross-entropy over `N` classes with PyTorch's options: `F.cross_entropy(logits, target,
/// weight=w, label_smoothing=ε)`, mean reduction, on the same targets and heads as
/// [`CrossEntropy`] (labels, a class per step with ignored steps, probability rows;
/// logits or a fused `Softmax`). Made from `CrossEntropy`:
///
/// ```
/// use nn_runtime::prelude::*;
/// # fn main() -> Result<(), nn_runtime::Error> {
/// let loss = CrossEntropy.label_smoothing(0.1)?.class_weights([1.0, 2.0, 0.5])?;
/// # let _: nn_runtime::loss::CrossEntropyWith<3> = loss;
/// # Ok(()) }
/// ```
///
/// With class labels y and log-probabilities lp = log_softmax(z), a row's loss is
/// −(1 − ε)·w[y]·lp[y] − (ε/N)·Σ_c w[c]·lp[c] (the smoothed target (1 − ε)·onehot + ε/N,
/// each class's term weighted by its weight, as PyTorch weighs its smoothing term too), and
/// the mean divides the sum over the labelled rows by Σ w[y] over those rows (by their
/// number without weights), as PyTorch's `reduction="mean"`. A batch whose labelled rows
/// all weigh 0 has loss 0 (PyTorch's 0/0 is NaN), as a batch without a labelled step does.
///
/// With probability targets t, the smoothed target is (1 − ε)·t + ε/N, a row's loss
/// −Σ_c w[c]·t̃[c]·lp[c], and the mean is over the rows (PyTorch does not divide by weights
/// there).
#[derive(Clone, Debug, PartialEq)]
pub struct CrossEntropyWith<const N: usize> {
    label_smoothing: f32,
    /// `N` weights when given.
    weights: Option<Box<[f32]>>,
}

impl<const N: usize> Default for CrossEntropyWith<N> {
    /// Plain cross-entropy: no smoothing, every class of weight 1.
    fn default() -> Self {
        CrossEntropyWith {
            label_smoothing: 0.0,
            weights: None,
        }
    }
}

impl CrossEntropy {
    /// Cross-entropy with label smoothing ε in [0, 1] (PyTorch's `label_smoothing`); the
    /// number of classes comes from the network the loss is used with.
    pub fn label_smoothing<const N: usize>(self, epsilon: f32) -> Result<CrossEntropyWith<N>> {
        CrossEntropyWith::default().label_smoothing(epsilon)
    }

    /// Cross-entropy with a weight per class (PyTorch's `weight`): finite, at least 0, not
    /// all 0. A network with another number of classes than `N` does not compile with it.
    pub fn class_weights<const N: usize>(self, weights: [f32; N]) -> Result<CrossEntropyWith<N>> {
        CrossEntropyWith::default().class_weights(weights)
    }
}

impl<const N: usize> CrossEntropyWith<N> {
    /// This loss with label smoothing ε, which must lie in [0, 1] (as PyTorch requires).
    pub fn label_smoothing(self, epsilon: f32) -> Result<Self> {
        if !(0.0..=1.0).contains(&epsilon) {
            return Err(Error::InvalidHyperparameter {
                name: "label_smoothing",
                value: epsilon as f64,
                expected: "a value in [0, 1]",
            });
        }
        Ok(CrossEntropyWith {
            label_smoothing: epsilon,
            ..self
        })
    }

    /// This loss with a weight per class: finite, at least 0, not all 0.
    pub fn class_weights(self, weights: [f32; N]) -> Result<Self> {
        self.class_weights_from_slice(&weights)
    }

    /// [`Self::class_weights`] from weights computed at run time (class frequencies read from
    /// a data set): a slice of another length than `N` is an error too.
    pub fn class_weights_from_slice(self, weights: &[f32]) -> Result<Self> {
        if weights.len() != N {
            return Err(Error::LengthMismatch {
                what: "class weights",
                expected: N,
                found: weights.len(),
            });
        }
        if let Some(&bad) = weights.iter().find(|w| !(w.is_finite() && **w >= 0.0)) {
            return Err(Error::InvalidHyperparameter {
                name: "class_weights",
                value: bad as f64,
                expected: "finite weights of at least 0",
            });
        }
        if weights.iter().all(|&w| w == 0.0) {
            // Every loss would be 0/0: nothing would be learnt.
            return Err(Error::InvalidHyperparameter {
                name: "class_weights",
                value: 0.0,
                expected: "at least one weight above 0",
            });
        }
        Ok(CrossEntropyWith {
            weights: Some(weights.into()),
            ..self
        })
    }

    /// Its label smoothing ε.
    pub fn smoothing(&self) -> f32 {
        self.label_smoothing
    }

    /// Its class weights, if it has them.
    pub fn weights(&self) -> Option<&[f32]> {
        self.weights.as_deref()
    }

    fn weight(&self, class: usize) -> f32 {
        self.weights.as_ref().map_or(1.0, |w| w[class])
    }

    /// The mean loss over the labelled rows of `z` (rows of `N` logits), divided by the sum
    /// of their labels' weights; its gradient into `dz`, 0 on rows without a label.
    fn labels(
        &self,
        z: &[f32],
        labels: impl Iterator<Item = Option<usize>> + Clone,
        mut dz: Option<&mut [f32]>,
    ) -> f32 {
        let denominator: f64 = labels
            .clone()
            .flatten()
            .map(|c| self.weight(c) as f64)
            .sum();
        if let Some(dz) = dz.as_deref_mut() {
            dz.fill(0.0);
        }
        if denominator == 0.0 {
            return 0.0;
        }
        let inv = (1.0 / denominator) as f32;
        let smooth = self.label_smoothing / N as f32;
        // On the heap: N can be a vocabulary of tens of thousands.
        let mut a = vec![0.0f32; N];
        let mut total = 0.0f64;
        for (r, (zr, label)) in z.chunks_exact(N).zip(labels).enumerate() {
            let Some(label) = label else { continue };
            // The row's weighted smoothed target: a[c] = (ε/N)·w[c] + (1 − ε)·w[y]·[c = y].
            for (c, ac) in a.iter_mut().enumerate() {
                *ac = smooth * self.weight(c);
            }
            a[label] += (1.0 - self.label_smoothing) * self.weight(label);
            total += row_loss_and_grad(
                zr,
                &a,
                inv,
                dz.as_deref_mut().map(|d| &mut d[r * N..(r + 1) * N]),
            );
        }
        (total / denominator) as f32
    }

    /// The mean loss over the rows of `z` against probability rows `t`; its gradient.
    fn dense(&self, z: &[f32], t: &[f32], mut dz: Option<&mut [f32]>) -> f32 {
        let rows = z.len() / N.max(1);
        let inv = 1.0 / rows.max(1) as f32;
        let smooth = self.label_smoothing / N as f32;
        // On the heap: N can be a vocabulary of tens of thousands.
        let mut a = vec![0.0f32; N];
        let mut total = 0.0f64;
        for (r, (zr, tr)) in z.chunks_exact(N).zip(t.chunks_exact(N)).enumerate() {
            for (c, (ac, &tc)) in a.iter_mut().zip(tr).enumerate() {
                *ac = self.weight(c) * ((1.0 - self.label_smoothing) * tc + smooth);
            }
            total += row_loss_and_grad(
                zr,
                &a,
                inv,
                dz.as_deref_mut().map(|d| &mut d[r * N..(r + 1) * N]),
            );
        }
        (total / rows.max(1) as f64) as f32
    }
}

/// −Σ a[c]·log_softmax(z)[c] for one row; its gradient (Σa·softmax(z) − a)·`scale` into `d`.
fn row_loss_and_grad(z: &[f32], a: &[f32], scale: f32, d: Option<&mut [f32]>) -> f64 {
    let (max, log_sum) = kernels::log_sum_exp_parts(z);
    let loss = z
        .iter()
        .zip(a)
        .map(|(&zc, &ac)| -(ac * ((zc - max) - log_sum)) as f64)
        .sum();
    if let Some(d) = d {
        let a_sum: f32 = a.iter().sum();
        for ((d, &zc), &ac) in d.iter_mut().zip(z).zip(a) {
            *d = (a_sum * ((zc - max) - log_sum).exp() - ac) * scale;
        }
    }
    loss
}

impl<H: ClassScoresHead, const N: usize> Loss<H, Tensor1<N>, Labels<N>> for CrossEntropyWith<N> {
    fn loss_and_grad(
        &self,
        logits: &Batch<Tensor1<N>>,
        _output: &Batch<Tensor1<N>>,
        labels: &Labels<N>,
        dlogits: &mut Batch<Tensor1<N>>,
    ) -> f32 {
        dlogits.set_rows(logits.rows());
        let classes = labels.as_slice().iter().map(|&c| Some(c as usize));
        self.labels(logits.as_slice(), classes, Some(dlogits.as_mut_slice()))
    }

    fn loss(
        &self,
        logits: &Batch<Tensor1<N>>,
        _output: &Batch<Tensor1<N>>,
        labels: &Labels<N>,
    ) -> f32 {
        let classes = labels.as_slice().iter().map(|&c| Some(c as usize));
        self.labels(logits.as_slice(), classes, None)
    }
}

impl<H: ClassScoresHead, const T: usize, const N: usize> Loss<H, Tensor2<T, N>, StepLabels<T, N>>
    for CrossEntropyWith<N>
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
        self.labels(logits.as_slice(), steps, Some(dlogits.as_mut_slice()))
    }

    fn loss(
        &self,
        logits: &Batch<Tensor2<T, N>>,
        output: &Batch<Tensor2<T, N>>,
        labels: &StepLabels<T, N>,
    ) -> f32 {
        self.labels(logits.as_slice(), labels.counted(output), None)
    }
}

impl<H: ClassScoresHead, const N: usize> Loss<H, Tensor1<N>, Batch<Tensor1<N>>>
    for CrossEntropyWith<N>
{
    fn loss_and_grad(
        &self,
        logits: &Batch<Tensor1<N>>,
        _output: &Batch<Tensor1<N>>,
        targets: &Batch<Tensor1<N>>,
        dlogits: &mut Batch<Tensor1<N>>,
    ) -> f32 {
        dlogits.set_rows(logits.rows());
        self.dense(
            logits.as_slice(),
            targets.as_slice(),
            Some(dlogits.as_mut_slice()),
        )
    }

    fn loss(
        &self,
        logits: &Batch<Tensor1<N>>,
        _output: &Batch<Tensor1<N>>,
        targets: &Batch<Tensor1<N>>,
    ) -> f32 {
        self.dense(logits.as_slice(), targets.as_slice(), None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::Linear;

    #[test]
    fn options_outside_pytorchs_range_are_errors() {
        for eps in [-0.1, 1.5, f32::NAN] {
            assert!(
                matches!(
                    CrossEntropy.label_smoothing::<3>(eps),
                    Err(Error::InvalidHyperparameter {
                        name: "label_smoothing",
                        ..
                    })
                ),
                "label smoothing {eps}"
            );
        }
        for weights in [
            [1.0, -0.5, 1.0],
            [1.0, f32::NAN, 1.0],
            [0.0; 3],
            [f32::INFINITY, 1.0, 1.0],
        ] {
            assert!(
                matches!(
                    CrossEntropy.class_weights(weights),
                    Err(Error::InvalidHyperparameter {
                        name: "class_weights",
                        ..
                    })
                ),
                "weights {weights:?}"
            );
        }
        let wrong_length = CrossEntropyWith::<3>::default().class_weights_from_slice(&[1.0, 2.0]);
        assert!(matches!(
            wrong_length,
            Err(Error::LengthMismatch {
                what: "class weights",
                expected: 3,
                found: 2
            })
        ));
        let ok = CrossEntropy
            .label_smoothing(1.0)
            .unwrap()
            .class_weights([0.0, 2.0, 1.0])
            .unwrap();
        assert_eq!(
            (ok.smoothing(), ok.weights()),
            (1.0, Some(&[0.0, 2.0, 1.0][..]))
        );
    }

    #[test]
    fn without_options_it_is_plain_cross_entropy() {
        let z =
            Batch::<Tensor1<4>>::from_vec(vec![0.3, -1.0, 2.0, 0.1, 1.5, 0.2, -0.4, 0.0]).unwrap();
        let labels = Labels::<4>::new(vec![2, 0]).unwrap();
        let (mut d_plain, mut d_with) = (Batch::default(), Batch::default());
        let plain = <CrossEntropy as Loss<Linear, _, _>>::loss_and_grad(
            &CrossEntropy,
            &z,
            &z,
            &labels,
            &mut d_plain,
        );
        let with = <CrossEntropyWith<4> as Loss<Linear, _, _>>::loss_and_grad(
            &CrossEntropyWith::default(),
            &z,
            &z,
            &labels,
            &mut d_with,
        );
        assert!((plain - with).abs() < 1e-6, "{plain} vs {with}");
        for (a, b) in d_plain.as_slice().iter().zip(d_with.as_slice()) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
    }

    #[test]
    fn rows_that_all_weigh_zero_give_zero_not_nan() {
        let z = Batch::<Tensor1<3>>::from_vec(vec![0.3, -1.0, 2.0]).unwrap();
        let loss = CrossEntropy.class_weights([0.0, 1.0, 1.0]).unwrap();
        let mut d = Batch::default();
        let labels = Labels::<3>::new(vec![0]).unwrap();
        let value = <CrossEntropyWith<3> as Loss<Linear, _, _>>::loss_and_grad(
            &loss, &z, &z, &labels, &mut d,
        );
        assert_eq!(value, 0.0);
        assert_eq!(d.as_slice(), [0.0; 3]);
    }
}
