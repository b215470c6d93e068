//! Data sets, class labels and mini-batches.

#[allow(unused_imports)]
use crate::core_prelude::*;

#[cfg(feature = "csv")]
pub mod csv;
#[cfg(feature = "mnist")]
pub mod idx;
#[cfg(feature = "mnist")]
pub mod mnist;
mod steps;

pub use steps::{StepClasses, StepLabels};

use crate::error::{Error, Result};
use crate::kernels;
use crate::tensor::{Batch, Sample};
use crate::Rng;

/// A class index below `N`, checked on construction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Class<const N: usize>(u32);

impl<const N: usize> Class<N> {
    /// The class `index`, or an error if `index >= N`.
    pub fn new(index: usize) -> Result<Self> {
        if index >= N {
            return Err(Error::LabelOutOfRange {
                index: 0,
                label: index as u64,
                classes: N,
            });
        }
        Ok(Class(index as u32))
    }

    /// The class index.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A batch of class indices below `N`: the targets cross-entropy reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Labels<const N: usize> {
    classes: Vec<u32>,
}

impl<const N: usize> Labels<N> {
    /// Labels from class indices, each checked to be below `N`.
    pub fn new(classes: Vec<u32>) -> Result<Self> {
        if let Some((index, &label)) = classes.iter().enumerate().find(|(_, &c)| c as usize >= N) {
            return Err(Error::LabelOutOfRange {
                index,
                label: label as u64,
                classes: N,
            });
        }
        Ok(Labels { classes })
    }

    /// The class indices.
    pub fn as_slice(&self) -> &[u32] {
        &self.classes
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.classes.len()
    }

    /// Whether there is no label.
    pub fn is_empty(&self) -> bool {
        self.classes.is_empty()
    }
}

/// What a data set pairs with each input: a class label or a dense target.
pub trait Target: Clone + Send + Sync + 'static {
    /// The batched form losses read.
    type Batch: TargetBatch<Item = Self>;
}

/// A batch of targets.
pub trait TargetBatch: Default + Send + Sync {
    /// One target.
    type Item;
    /// Number of targets.
    fn rows(&self) -> usize;
    /// Removes every target, keeping the capacity.
    fn clear(&mut self);
    /// Appends one target.
    fn push(&mut self, target: &Self::Item);
    /// How many targets of `outputs` this batch counts as correct: the arg-max equals the
    /// class (or the target's arg-max); for a single output, both sides of 0.5 agree.
    fn count_correct<S: Sample>(&self, outputs: &Batch<S>) -> usize;
    /// How many targets count against `outputs`, as accuracy and the mean loss count them:
    /// one per row, or one per step within each output sequence's length (and, for per-step
    /// classes, not ignored).
    fn count<S: Sample>(&self, outputs: &Batch<S>) -> usize {
        let _ = outputs;
        self.rows()
    }
    /// Makes `into` a copy of `rows` of this batch (a shard of a data-parallel step),
    /// allocating only when `into` has less capacity.
    fn copy_rows_into(&self, rows: core::ops::Range<usize>, into: &mut Self);
    /// Whether these targets are one output's, so that one accuracy counts them; targets
    /// of several outputs (a tuple) have a metric per output instead.
    const ONE_OUTPUT: bool = true;
}

impl<const N: usize> Target for Class<N> {
    type Batch = Labels<N>;
}

impl<const N: usize> TargetBatch for Labels<N> {
    type Item = Class<N>;
    fn rows(&self) -> usize {
        self.classes.len()
    }
    fn clear(&mut self) {
        self.classes.clear()
    }
    fn push(&mut self, target: &Class<N>) {
        self.classes.push(target.0)
    }
    fn copy_rows_into(&self, rows: core::ops::Range<usize>, into: &mut Self) {
        into.classes.clear();
        into.classes.extend_from_slice(&self.classes[rows]);
    }
    fn count_correct<S: Sample>(&self, outputs: &Batch<S>) -> usize {
        outputs
            .iter_rows()
            .zip(&self.classes)
            .filter(|(row, &c)| kernels::argmax(row) == c as usize)
            .count()
    }
}

/// Dense targets of a sample's own shape: a vector (`Mse`, `BinaryCrossEntropy`, or
/// probabilities for `CrossEntropy`), or a value or vector per step (`[T, F]`).
macro_rules! dense_targets {
    ($($ty:ident<$($p:ident),*>),*) => {$(
        impl<$(const $p: usize),*> Target for crate::tensor::$ty<$($p),*> {
            type Batch = Batch<crate::tensor::$ty<$($p),*>>;
        }
    )*};
}
dense_targets!(Tensor1<N>, Tensor2<T, F>);

impl<S: Sample> TargetBatch for Batch<S> {
    type Item = S;
    fn rows(&self) -> usize {
        Batch::rows(self)
    }
    fn clear(&mut self) {
        Batch::clear(self)
    }
    fn push(&mut self, target: &S) {
        Batch::push(self, target)
    }
    fn copy_rows_into(&self, rows: core::ops::Range<usize>, into: &mut Self) {
        into.copy_rows_from(self, rows);
    }
    /// Per row of the last dimension (one per sample of a vector, one per step of a
    /// sequence): the arg-maxes agree, or for rows of one value, both sides of 0.5.
    fn count_correct<O: Sample>(&self, outputs: &Batch<O>) -> usize {
        let row = S::ROW.max(1);
        outputs
            .as_slice()
            .chunks_exact(row)
            .zip(self.as_slice().chunks_exact(row))
            .zip(outputs.step_mask())
            .filter(|((out, target), within)| {
                *within
                    && if row == 1 {
                        (out[0] > 0.5) == (target[0] > 0.5)
                    } else {
                        kernels::argmax(out) == kernels::argmax(target)
                    }
            })
            .count()
    }
    /// One target per row of the last dimension within its sequence's length.
    fn count<O: Sample>(&self, outputs: &Batch<O>) -> usize {
        outputs.step_mask().filter(|&within| within).count()
    }
}

/// Inputs of shape `X` paired with targets `Y`, held in memory. Inputs that are sequences of
/// different lengths ([`Dataset::from_sequences`]) are held padded to `X`'s steps with their
/// lengths, which every batch carries ([`Batch::lengths`]).
#[derive(Clone, Debug)]
pub struct Dataset<X: Sample, Y: Target> {
    inputs: Vec<f32>,
    targets: Vec<Y>,
    /// Each input's length in steps; empty when every input has all its steps.
    lengths: Vec<u32>,
    /// For pairs, the lengths of each part that is a sequence of different lengths (one
    /// per sample).
    parts: Vec<crate::tensor::PartLengths>,
    _x: core::marker::PhantomData<fn() -> X>,
}

impl<X: Sample, Y: Target> Dataset<X, Y> {
    /// A data set over flat inputs (`targets.len()` samples of `X::LEN` values each).
    pub fn new(inputs: Vec<f32>, targets: Vec<Y>) -> Result<Self> {
        if inputs.len() != targets.len() * X::LEN {
            return Err(Error::LengthMismatch {
                what: "data set inputs (targets × sample length)",
                expected: targets.len() * X::LEN,
                found: inputs.len(),
            });
        }
        Ok(Dataset {
            inputs,
            targets,
            lengths: Vec::new(),
            parts: Vec::new(),
            _x: core::marker::PhantomData,
        })
    }

    /// A data set of sequences of different lengths: each input the values of its steps
    /// (a multiple of one step's values, `X::LEN / X::SHAPE[0]`: the features of a
    /// `[T, F]` sample, one id of `tokens[T]`), from 1 to `X::SHAPE[0]` steps, padded with
    /// zeros.
    pub fn from_sequences(samples: impl IntoIterator<Item = (Vec<f32>, Y)>) -> Result<Self> {
        let steps = X::SHAPE.first().copied().unwrap_or(1);
        let per_step = X::LEN / steps.max(1);
        let (mut inputs, mut targets, mut lengths) = (Vec::new(), Vec::new(), Vec::new());
        for (row, (values, target)) in samples.into_iter().enumerate() {
            let length = values.len() / per_step.max(1);
            if !values.len().is_multiple_of(per_step.max(1)) {
                return Err(Error::LengthMismatch {
                    what: "a sequence's values (a multiple of one step's)",
                    expected: length * per_step,
                    found: values.len(),
                });
            }
            if length == 0 || length > steps {
                return Err(Error::SequenceLength { row, length, steps });
            }
            inputs.extend_from_slice(&values);
            inputs.resize(inputs.len() + (steps - length) * per_step, 0.0);
            targets.push(target);
            lengths.push(length as u32);
        }
        Ok(Dataset {
            inputs,
            targets,
            lengths,
            parts: Vec::new(),
            _x: core::marker::PhantomData,
        })
    }

    /// Input `i`'s length in steps (all of them unless the inputs have lengths).
    pub fn length(&self, i: usize) -> usize {
        self.lengths
            .get(i)
            .map_or_else(|| X::SHAPE.first().copied().unwrap_or(1), |&l| l as usize)
    }

    /// Whether the inputs are sequences with lengths of their own.
    pub fn has_lengths(&self) -> bool {
        !self.lengths.is_empty()
    }

    /// A data set from typed samples.
    pub fn from_samples(samples: &[(X, Y)]) -> Self {
        let mut inputs = Vec::with_capacity(samples.len() * X::LEN);
        for (x, _) in samples {
            inputs.extend_from_slice(x.as_slice());
        }
        let targets = samples.iter().map(|(_, y)| y.clone()).collect();
        Dataset {
            inputs,
            targets,
            lengths: Vec::new(),
            parts: Vec::new(),
            _x: core::marker::PhantomData,
        }
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// Whether there is no sample.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// Input `i` as a flat slice.
    pub fn input_slice(&self, i: usize) -> &[f32] {
        &self.inputs[i * X::LEN..(i + 1) * X::LEN]
    }

    /// A copy of input `i`.
    pub fn input(&self, i: usize) -> X {
        let mut x = X::zeros();
        x.as_mut_slice().copy_from_slice(self.input_slice(i));
        x
    }

    /// Target `i`.
    pub fn target(&self, i: usize) -> &Y {
        &self.targets[i]
    }

    #[cfg(feature = "csv")]
    /// A new data set of the samples at `ids` (each below `len`), in that order.
    pub(crate) fn select(&self, ids: &[usize]) -> Self {
        let mut inputs = Vec::with_capacity(ids.len() * X::LEN);
        for &i in ids {
            inputs.extend_from_slice(self.input_slice(i));
        }
        Dataset {
            inputs,
            targets: ids.iter().map(|&i| self.targets[i].clone()).collect(),
            lengths: self.lengths_of(ids.iter().copied()),
            parts: self.parts_of(ids.iter().copied()),
            _x: core::marker::PhantomData,
        }
    }

    /// The part lengths of the inputs at `ids`.
    fn parts_of(
        &self,
        ids: impl Iterator<Item = usize> + Clone,
    ) -> Vec<crate::tensor::PartLengths> {
        self.parts
            .iter()
            .map(|p| crate::tensor::PartLengths {
                lengths: ids.clone().map(|i| p.lengths[i]).collect(),
                ..*p
            })
            .collect()
    }

    /// A data set of flat inputs whose parts have these lengths (one per sample each).
    pub(crate) fn with_parts(
        inputs: Vec<f32>,
        targets: Vec<Y>,
        parts: Vec<crate::tensor::PartLengths>,
    ) -> Result<Self> {
        let mut data = Self::new(inputs, targets)?;
        data.parts = parts;
        Ok(data)
    }

    /// The lengths of the inputs at `ids`, or none when the inputs have none.
    fn lengths_of(&self, ids: impl Iterator<Item = usize>) -> Vec<u32> {
        if self.lengths.is_empty() {
            return Vec::new();
        }
        ids.map(|i| self.lengths[i]).collect()
    }

    /// The first `n` samples and the rest, as two data sets (`n` is capped at the length).
    pub fn split_at(&self, n: usize) -> (Self, Self) {
        let n = n.min(self.len());
        let part = |range: core::ops::Range<usize>| Dataset {
            inputs: self.inputs[range.start * X::LEN..range.end * X::LEN].to_vec(),
            targets: self.targets[range.clone()].to_vec(),
            lengths: self.lengths_of(range.clone()),
            parts: self.parts_of(range),
            _x: core::marker::PhantomData,
        };
        (part(0..n), part(n..self.len()))
    }

    /// A new data set of the first `n` samples (all of them if `n` is larger).
    pub fn take(&self, n: usize) -> Self {
        let n = n.min(self.len());
        Dataset {
            inputs: self.inputs[..n * X::LEN].to_vec(),
            targets: self.targets[..n].to_vec(),
            lengths: self.lengths_of(0..n),
            parts: self.parts_of(0..n),
            _x: core::marker::PhantomData,
        }
    }

    /// The samples in a random order drawn from `rng`.
    pub fn shuffled(&self, rng: &mut Rng) -> Epoch<'_, X, Y> {
        let mut order: Vec<usize> = (0..self.len()).collect();
        rng.shuffle(&mut order);
        Epoch { data: self, order }
    }

    /// The samples in stored order.
    pub fn in_order(&self) -> Epoch<'_, X, Y> {
        Epoch {
            data: self,
            order: (0..self.len()).collect(),
        }
    }
}

/// One pass over a data set in a fixed order.
pub struct Epoch<'a, X: Sample, Y: Target> {
    data: &'a Dataset<X, Y>,
    order: Vec<usize>,
}

impl<'a, X: Sample, Y: Target> Epoch<'a, X, Y> {
    /// Mini-batches of `size` samples; the last one holds the remainder.
    pub fn batches(self, size: usize) -> Result<Batches<'a, X, Y>> {
        if size == 0 {
            return Err(Error::ZeroBatchSize);
        }
        Ok(Batches {
            data: self.data,
            order: self.order,
            next: 0,
            size,
        })
    }
}

/// An iterator of `(inputs, targets)` mini-batches.
pub struct Batches<'a, X: Sample, Y: Target> {
    data: &'a Dataset<X, Y>,
    order: Vec<usize>,
    next: usize,
    size: usize,
}

impl<X: Sample, Y: Target> Batches<'_, X, Y> {
    /// Fills `x` and `y` with the next batch, reusing their buffers; false when done.
    pub fn next_into(&mut self, x: &mut Batch<X>, y: &mut Y::Batch) -> bool {
        if self.next >= self.order.len() {
            return false;
        }
        let end = (self.next + self.size).min(self.order.len());
        x.clear();
        y.clear();
        for &i in &self.order[self.next..end] {
            let input = self.data.input_slice(i);
            match self.data.has_lengths() {
                true => x.push_with_length(input, self.data.length(i)),
                false => x.push_slice(input),
            }
            .expect("data set rows have the sample length, and lengths checked when made");
            for part in &self.data.parts {
                x.set_part_length(part, part.lengths[i]);
            }
            y.push(&self.data.targets[i]);
        }
        self.next = end;
        true
    }
}

impl<X: Sample, Y: Target> Iterator for Batches<'_, X, Y> {
    type Item = (Batch<X>, Y::Batch);

    fn next(&mut self) -> Option<Self::Item> {
        let mut x = Batch::with_capacity(self.size);
        let mut y = Y::Batch::default();
        self.next_into(&mut x, &mut y).then_some((x, y))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = (self.order.len() - self.next).div_ceil(self.size);
        (n, Some(n))
    }
}

impl<X: Sample, Y: Target> ExactSizeIterator for Batches<'_, X, Y> {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::Tensor1;

    fn toy() -> Dataset<Tensor1<2>, Class<3>> {
        let inputs = (0..10).flat_map(|i| [i as f32, -(i as f32)]).collect();
        let targets = (0..10).map(|i| Class::new(i % 3).unwrap()).collect();
        Dataset::new(inputs, targets).unwrap()
    }

    #[test]
    fn batches_cover_every_sample_once_with_a_short_last_batch() {
        let data = toy();
        let batches: Vec<_> = data
            .shuffled(&mut Rng::seed(1))
            .batches(4)
            .unwrap()
            .collect();
        assert_eq!(
            batches.iter().map(|(x, _)| x.rows()).collect::<Vec<_>>(),
            vec![4, 4, 2]
        );
        let mut seen: Vec<i32> = batches
            .iter()
            .flat_map(|(x, _)| x.iter_rows().map(|r| r[0] as i32).collect::<Vec<_>>())
            .collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
        for (x, y) in &batches {
            for (row, &c) in x.iter_rows().zip(y.as_slice()) {
                assert_eq!(row[0] as u32 % 3, c, "inputs and labels stay paired");
            }
        }
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(matches!(
            toy().in_order().batches(0),
            Err(Error::ZeroBatchSize)
        ));
        assert!(matches!(
            Labels::<3>::new(vec![0, 3]),
            Err(Error::LabelOutOfRange {
                index: 1,
                label: 3,
                classes: 3
            })
        ));
        assert!(Class::<3>::new(3).is_err());
        assert!(
            Dataset::<Tensor1<2>, Class<3>>::new(vec![0.0; 3], vec![Class::new(0).unwrap()])
                .is_err()
        );
    }

    #[test]
    fn correct_counts() {
        let out = Batch::<Tensor1<3>>::from_vec(vec![0.1, 0.7, 0.2, 0.5, 0.3, 0.2]).unwrap();
        assert_eq!(Labels::<3>::new(vec![1, 1]).unwrap().count_correct(&out), 1);
        let one = Batch::<Tensor1<1>>::from_vec(vec![0.9, 0.2]).unwrap();
        let t = Batch::<Tensor1<1>>::from_vec(vec![1.0, 1.0]).unwrap();
        assert_eq!(t.count_correct(&one), 1);
    }
}
