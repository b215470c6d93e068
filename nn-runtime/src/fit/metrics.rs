//! Metrics chosen by the task, which the loss names: class labels (cross-entropy, or the
//! negative log-likelihood of log-probabilities) get
//! accuracy and, past five classes, top-5 accuracy; a class per step (cross-entropy on a
//! sequence of class scores: taggers, language models) accuracy over the steps and
//! perplexity; binary targets (binary cross-entropy) accuracy, precision, recall and F1;
//! regression (mean squared or absolute error, Huber, smooth L1) MAE and RMSE.

#[allow(unused_imports)]
use crate::core_prelude::*;

use crate::data::{Labels, StepLabels};
use crate::kernels;
use crate::layers::{Linear, Sigmoid};
use crate::loss::{
    BinaryCrossEntropy, ClassScoresHead, CrossEntropy, CrossEntropyWith, Head, Huber, KlDiv, Mse,
    Nll, SmoothL1, L1,
};
use crate::tensor::{Batch, Sample, Tensor1, Tensor2};
use core::marker::PhantomData;

/// Figures accumulated over the batches of an epoch.
pub trait Metrics<Out: Sample, T>: Default + Send {
    /// Their names, in the order of [`Metrics::values`] (Keras's names).
    fn names(&self) -> Vec<String>;
    /// Adds one batch of outputs and their targets.
    fn add(&mut self, output: &Batch<Out>, targets: &T);
    /// The figures over everything added so far.
    fn values(&self) -> Vec<f64>;
}

fn owned(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}

/// The metrics that fit a loss's task: implemented by each loss for the heads, outputs and
/// targets it accepts.
pub trait TaskMetrics<H: Head, Out: Sample, T> {
    type Metrics: Metrics<Out, T>;
}

/// Classification figures: how often the highest output is the class, and how often the
/// class is among the five highest.
#[derive(Clone, Debug, Default)]
pub struct ClassMetrics<const N: usize> {
    rows: usize,
    correct: usize,
    top5: usize,
}

impl<const N: usize> ClassMetrics<N> {
    fn add_row(&mut self, scores: &[f32], class: usize) {
        self.rows += 1;
        if kernels::argmax(scores) == class {
            self.correct += 1;
        }
        // The class is in the top five when fewer than five scores beat it.
        let own = scores[class];
        if scores.iter().filter(|&&s| s > own).count() < 5 {
            self.top5 += 1;
        }
    }
}

impl<const N: usize, T: ClassTargets<N>> Metrics<Tensor1<N>, T> for ClassMetrics<N> {
    fn names(&self) -> Vec<String> {
        let names: &[&str] = if N > 5 {
            &["accuracy", "top5_accuracy"]
        } else {
            &["accuracy"]
        };
        owned(names)
    }

    fn add(&mut self, output: &Batch<Tensor1<N>>, targets: &T) {
        for (r, scores) in output.iter_rows().enumerate() {
            self.add_row(scores, targets.class(r));
        }
    }

    fn values(&self) -> Vec<f64> {
        let n = self.rows.max(1) as f64;
        let mut v = vec![self.correct as f64 / n];
        if N > 5 {
            v.push(self.top5 as f64 / n);
        }
        v
    }
}

/// Targets that name one class per row: labels, or one-hot/probability rows (their
/// arg-max).
pub trait ClassTargets<const N: usize> {
    fn class(&self, row: usize) -> usize;
}

impl<const N: usize> ClassTargets<N> for Labels<N> {
    fn class(&self, row: usize) -> usize {
        self.as_slice()[row] as usize
    }
}

impl<const N: usize> ClassTargets<N> for Batch<Tensor1<N>> {
    fn class(&self, row: usize) -> usize {
        kernels::argmax(self.row(row))
    }
}

impl<H: ClassScoresHead, const N: usize> TaskMetrics<H, Tensor1<N>, Labels<N>> for CrossEntropy {
    type Metrics = ClassMetrics<N>;
}

impl<H: ClassScoresHead, const N: usize> TaskMetrics<H, Tensor1<N>, Batch<Tensor1<N>>>
    for CrossEntropy
{
    type Metrics = ClassMetrics<N>;
}

impl<H: ClassScoresHead, const N: usize> TaskMetrics<H, Tensor1<N>, Labels<N>>
    for CrossEntropyWith<N>
{
    type Metrics = ClassMetrics<N>;
}

impl<H: ClassScoresHead, const N: usize> TaskMetrics<H, Tensor1<N>, Batch<Tensor1<N>>>
    for CrossEntropyWith<N>
{
    type Metrics = ClassMetrics<N>;
}

impl<H: ClassScoresHead, const T: usize, const N: usize>
    TaskMetrics<H, Tensor2<T, N>, StepLabels<T, N>> for CrossEntropyWith<N>
{
    type Metrics = StepClassMetrics<H>;
}

/// A distribution learnt from target distributions (distillation): how often its most
/// likely class is the targets' (a log-target's arg-max is the same).
impl<const N: usize> TaskMetrics<Linear, Tensor1<N>, Batch<Tensor1<N>>> for KlDiv {
    type Metrics = ClassMetrics<N>;
}

/// Log-probabilities (after `LogSoftmax`) rank the classes as the logits do.
impl<const N: usize> TaskMetrics<Linear, Tensor1<N>, Labels<N>> for Nll {
    type Metrics = ClassMetrics<N>;
}

/// The pairs of output and target values that count: those of the steps within each
/// sequence's length (every value of samples without lengths).
fn counted_values<'a, S: Sample>(
    output: &'a Batch<S>,
    targets: &'a Batch<S>,
) -> impl Iterator<Item = (&'a f32, &'a f32)> + 'a {
    let row = S::ROW.max(1);
    output
        .as_slice()
        .chunks_exact(row)
        .zip(targets.as_slice().chunks_exact(row))
        .zip(output.step_mask())
        .filter(|(_, within)| *within)
        .flat_map(|((o, t), _)| o.iter().zip(t))
}

/// Per-step classification figures: how often a step's highest score is its class, and the
/// perplexity e^(mean −log p(class)), over the steps not ignored (a language model's
/// figures; the perplexity is e^loss of cross-entropy).
pub struct StepClassMetrics<H> {
    steps: usize,
    correct: usize,
    neg_log_likelihood: f64,
    _head: PhantomData<fn() -> H>,
}

impl<H> Default for StepClassMetrics<H> {
    fn default() -> Self {
        StepClassMetrics {
            steps: 0,
            correct: 0,
            neg_log_likelihood: 0.0,
            _head: PhantomData,
        }
    }
}

impl<H: ClassScoresHead, const T: usize, const N: usize> Metrics<Tensor2<T, N>, StepLabels<T, N>>
    for StepClassMetrics<H>
{
    fn names(&self) -> Vec<String> {
        owned(&["accuracy", "perplexity"])
    }

    fn add(&mut self, output: &Batch<Tensor2<T, N>>, targets: &StepLabels<T, N>) {
        for (scores, class) in output
            .as_slice()
            .chunks_exact(N)
            .zip(targets.counted(output))
        {
            let Some(class) = class else { continue };
            self.steps += 1;
            if kernels::argmax(scores) == class {
                self.correct += 1;
            }
            self.neg_log_likelihood -= H::log_probability(scores, class) as f64;
        }
    }

    fn values(&self) -> Vec<f64> {
        let n = self.steps.max(1) as f64;
        vec![self.correct as f64 / n, (self.neg_log_likelihood / n).exp()]
    }
}

impl<H: ClassScoresHead, const T: usize, const N: usize>
    TaskMetrics<H, Tensor2<T, N>, StepLabels<T, N>> for CrossEntropy
{
    type Metrics = StepClassMetrics<H>;
}

/// Perplexity from log-probabilities: log-softmax leaves them as they are, so the `Linear`
/// reading of the scores gives log p(class) itself.
impl<const T: usize, const N: usize> TaskMetrics<Linear, Tensor2<T, N>, StepLabels<T, N>> for Nll {
    type Metrics = StepClassMetrics<Linear>;
}

/// Where a binary head's output splits the two answers: 0.5 for probabilities (a Sigmoid
/// head), 0 for logits (no head, as BCE-with-logits users train).
pub trait BinaryThreshold {
    const THRESHOLD: f32;
}

impl BinaryThreshold for Sigmoid {
    const THRESHOLD: f32 = 0.5;
}

impl BinaryThreshold for Linear {
    const THRESHOLD: f32 = 0.0;
}

/// Binary classification figures over every output value: accuracy, precision, recall, F1.
#[derive(Clone, Debug)]
pub struct BinaryMetrics<H> {
    tp: u64,
    fp: u64,
    tn: u64,
    fneg: u64,
    _head: PhantomData<fn() -> H>,
}

impl<H> Default for BinaryMetrics<H> {
    fn default() -> Self {
        BinaryMetrics {
            tp: 0,
            fp: 0,
            tn: 0,
            fneg: 0,
            _head: PhantomData,
        }
    }
}

impl<H: BinaryThreshold, S: Sample> Metrics<S, Batch<S>> for BinaryMetrics<H> {
    fn names(&self) -> Vec<String> {
        owned(&["accuracy", "precision", "recall", "f1"])
    }

    fn add(&mut self, output: &Batch<S>, targets: &Batch<S>) {
        for (&o, &t) in counted_values(output, targets) {
            match (o > H::THRESHOLD, t > 0.5) {
                (true, true) => self.tp += 1,
                (true, false) => self.fp += 1,
                (false, false) => self.tn += 1,
                (false, true) => self.fneg += 1,
            }
        }
    }

    fn values(&self) -> Vec<f64> {
        let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let precision = ratio(self.tp, self.tp + self.fp);
        let recall = ratio(self.tp, self.tp + self.fneg);
        let f1 = if precision + recall == 0.0 {
            0.0
        } else {
            2.0 * precision * recall / (precision + recall)
        };
        vec![
            ratio(self.tp + self.tn, self.tp + self.tn + self.fp + self.fneg),
            precision,
            recall,
            f1,
        ]
    }
}

impl<H: BinaryThreshold + crate::loss::BinaryLogitsHead, S: Sample> TaskMetrics<H, S, Batch<S>>
    for BinaryCrossEntropy
{
    type Metrics = BinaryMetrics<H>;
}

/// Regression figures over every output value: mean absolute and root-mean-square error.
#[derive(Clone, Debug, Default)]
pub struct RegressionMetrics {
    count: u64,
    abs: f64,
    squared: f64,
}

impl<S: Sample> Metrics<S, Batch<S>> for RegressionMetrics {
    fn names(&self) -> Vec<String> {
        owned(&["mae", "rmse"])
    }

    fn add(&mut self, output: &Batch<S>, targets: &Batch<S>) {
        for (&o, &t) in counted_values(output, targets) {
            let e = (o - t) as f64;
            self.abs += e.abs();
            self.squared += e * e;
            self.count += 1;
        }
    }

    fn values(&self) -> Vec<f64> {
        let n = self.count.max(1) as f64;
        vec![self.abs / n, (self.squared / n).sqrt()]
    }
}

impl<H: Head, S: Sample> TaskMetrics<H, S, Batch<S>> for Mse {
    type Metrics = RegressionMetrics;
}

impl<H: Head, S: Sample> TaskMetrics<H, S, Batch<S>> for L1 {
    type Metrics = RegressionMetrics;
}

impl<H: Head, S: Sample> TaskMetrics<H, S, Batch<S>> for Huber {
    type Metrics = RegressionMetrics;
}

impl<H: Head, S: Sample> TaskMetrics<H, S, Batch<S>> for SmoothL1 {
    type Metrics = RegressionMetrics;
}

/// How often each class is predicted as each class, over a data set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfusionMatrix<const N: usize> {
    /// `counts[actual][predicted]`
    pub counts: [[u64; N]; N],
}

impl<const N: usize> Default for ConfusionMatrix<N> {
    fn default() -> Self {
        ConfusionMatrix {
            counts: [[0; N]; N],
        }
    }
}

impl<const N: usize> ConfusionMatrix<N> {
    /// Adds a batch of class scores and their labels.
    pub fn add(&mut self, output: &Batch<Tensor1<N>>, labels: &Labels<N>) {
        for (scores, &class) in output.iter_rows().zip(labels.as_slice()) {
            self.counts[class as usize][kernels::argmax(scores)] += 1;
        }
    }

    /// The fraction predicted right.
    pub fn accuracy(&self) -> f64 {
        let total: u64 = self.counts.iter().flatten().sum();
        let right: u64 = (0..N).map(|c| self.counts[c][c]).sum();
        right as f64 / total.max(1) as f64
    }
}

impl<const N: usize> core::fmt::Display for ConfusionMatrix<N> {
    /// Rows are the actual classes, columns the predicted ones, with each class's recall.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let width = self
            .counts
            .iter()
            .flatten()
            .map(|c| c.to_string().len())
            .max()
            .unwrap_or(1)
            .max(N.to_string().len())
            .max(4);
        write!(f, "{:>8} |", "actual")?;
        for p in 0..N {
            write!(f, " {p:>width$}")?;
        }
        writeln!(f, " | recall")?;
        writeln!(f, "{}", "-".repeat(10 + N * (width + 1) + 9))?;
        for (a, row) in self.counts.iter().enumerate() {
            write!(f, "{a:>8} |")?;
            for c in row {
                write!(f, " {c:>width$}")?;
            }
            let total: u64 = row.iter().sum();
            writeln!(
                f,
                " | {:>5.1}%",
                100.0 * row[a] as f64 / total.max(1) as f64
            )?;
        }
        write!(f, "(columns: predicted class)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_binary_and_regression_figures() {
        let out = Batch::<Tensor1<6>>::from_vec(vec![
            0.1, 0.9, 0.0, 0.0, 0.0, 0.0, // predicts 1
            0.5, 0.1, 0.2, 0.3, 0.4, 0.0, // predicts 0; class 5 is last of six
        ])
        .unwrap();
        let labels = Labels::<6>::new(vec![1, 5]).unwrap();
        let mut m = ClassMetrics::<6>::default();
        Metrics::<Tensor1<6>, Labels<6>>::add(&mut m, &out, &labels);
        assert_eq!(
            Metrics::<Tensor1<6>, Labels<6>>::values(&m),
            [0.5, 0.5],
            "accuracy and top-5"
        );

        let out = Batch::<Tensor1<1>>::from_vec(vec![0.9, 0.8, 0.2, 0.1]).unwrap();
        let t = Batch::<Tensor1<1>>::from_vec(vec![1.0, 0.0, 1.0, 0.0]).unwrap();
        let mut b = BinaryMetrics::<Sigmoid>::default();
        Metrics::<Tensor1<1>, _>::add(&mut b, &out, &t);
        assert_eq!(
            Metrics::<Tensor1<1>, Batch<Tensor1<1>>>::values(&b),
            [0.5, 0.5, 0.5, 0.5]
        );

        let mut r = RegressionMetrics::default();
        Metrics::<Tensor1<1>, _>::add(&mut r, &out, &t);
        let v = Metrics::<Tensor1<1>, Batch<Tensor1<1>>>::values(&r);
        assert!((v[0] - 0.45).abs() < 1e-6, "mae {}", v[0]);
        assert!((v[1] - 0.325f64.sqrt()).abs() < 1e-6, "rmse {}", v[1]);

        let mut cm = ConfusionMatrix::<3>::default();
        let out = Batch::<Tensor1<3>>::from_vec(vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0])
            .unwrap();
        cm.add(&out, &Labels::new(vec![0, 1, 2]).unwrap());
        assert_eq!(cm.counts, [[1, 0, 0], [0, 1, 0], [1, 0, 0]]);
        assert!((cm.accuracy() - 2.0 / 3.0).abs() < 1e-12);
        assert!(cm.to_string().contains("recall"));
    }
}
