//! Targets for every step of a sequence: a class per step ([`StepClasses`], batched as
//! [`StepLabels`]), for sequence-to-sequence models (tagging, language models) whose output
//! is `[T, N]` class scores. A step may be ignored — padding, PyTorch's `ignore_index` —
//! and then counts in no loss and no metric.

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::{Target, TargetBatch};
use crate::error::{Error, Result};
use crate::kernels;
use crate::tensor::{Batch, Sample, Tokens};

/// How an ignored step is held: no class can be it (classes are below `N ≤ u32::MAX`).
const IGNORED: u32 = u32::MAX;

/// The class of each of `T` steps (each below `N`), or no class for steps to ignore.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StepClasses<const T: usize, const N: usize> {
    ids: [u32; T],
}

impl<const T: usize, const N: usize> StepClasses<T, N> {
    /// Every step's class, each checked to be below `N`.
    pub fn new(classes: [u32; T]) -> Result<Self> {
        Self::from_steps(classes.map(Some))
    }

    /// The classes of the first `classes.len()` steps; the steps after them (padding) are
    /// ignored. More classes than steps is an error.
    pub fn padded(classes: &[u32]) -> Result<Self> {
        if classes.len() > T {
            return Err(Error::LengthMismatch {
                what: "classes of a sequence (at most its steps)",
                expected: T,
                found: classes.len(),
            });
        }
        let mut steps = [None; T];
        for (step, &c) in steps.iter_mut().zip(classes) {
            *step = Some(c);
        }
        Self::from_steps(steps)
    }

    /// PyTorch's `ignore_index`: every step whose class is `ignore` is ignored.
    pub fn ignoring(classes: [u32; T], ignore: u32) -> Result<Self> {
        Self::from_steps(classes.map(|c| (c != ignore).then_some(c)))
    }

    /// A class or none for each step.
    pub fn from_steps(steps: [Option<u32>; T]) -> Result<Self> {
        let mut ids = [IGNORED; T];
        for (position, (id, step)) in ids.iter_mut().zip(steps).enumerate() {
            if let Some(class) = step {
                if class as usize >= N {
                    return Err(Error::LabelOutOfRange {
                        index: position,
                        label: class as u64,
                        classes: N,
                    });
                }
                *id = class;
            }
        }
        Ok(StepClasses { ids })
    }

    /// The class of step `t`, `None` when it is ignored.
    pub fn step(&self, t: usize) -> Option<usize> {
        let id = self.ids[t];
        (id != IGNORED).then_some(id as usize)
    }
}

/// A batch of [`StepClasses`]: `rows · T` step classes, row by row.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StepLabels<const T: usize, const N: usize> {
    ids: Vec<u32>,
}

impl<const T: usize, const N: usize> StepLabels<T, N> {
    /// A batch of the given rows.
    pub fn new(rows: &[StepClasses<T, N>]) -> Self {
        let mut labels = StepLabels::default();
        for row in rows {
            labels.push(row);
        }
        labels
    }

    /// The class of step `t` of row `r`, `None` when it is ignored.
    pub fn step(&self, r: usize, t: usize) -> Option<usize> {
        let id = self.ids[r * T + t];
        (id != IGNORED).then_some(id as usize)
    }

    /// Every step of every row, row by row: a class, or `None` for an ignored step.
    pub fn steps(&self) -> impl Iterator<Item = Option<usize>> + Clone + '_ {
        self.ids
            .iter()
            .map(|&id| (id != IGNORED).then_some(id as usize))
    }

    /// The steps that count against `outputs`: those not ignored, within each output
    /// sequence's length (padding beyond it is ignored, whatever its label).
    pub fn counted<'a, S: Sample>(
        &'a self,
        outputs: &'a Batch<S>,
    ) -> impl Iterator<Item = Option<usize>> + Clone + 'a {
        self.steps()
            .zip(outputs.step_mask())
            .map(|(class, within)| class.filter(|_| within))
    }
}

/// A language model's data: windows of `T` token ids, each step's target the token after it
/// (ids[i..i + T] predicting ids[i + 1..i + T + 1]), a window starting every `stride` tokens
/// (`T` for windows side by side). Ids not below the vocabulary `V` are an error, as is a
/// stride of 0 or a text too short for one window.
impl<const T: usize, const V: usize> super::Dataset<Tokens<T>, StepClasses<T, V>> {
    pub fn next_token_windows(ids: &[u32], stride: usize) -> Result<Self> {
        if stride == 0 {
            return Err(Error::InvalidHyperparameter {
                name: "stride",
                value: 0.0,
                expected: "at least 1",
            });
        }
        if let Some(index) = ids.iter().position(|&id| id as usize >= V) {
            return Err(Error::LabelOutOfRange {
                index,
                label: ids[index] as u64,
                classes: V,
            });
        }
        let windows = ids.len().saturating_sub(T).div_ceil(stride);
        let (mut inputs, mut targets) =
            (Vec::with_capacity(windows * T), Vec::with_capacity(windows));
        let mut start = 0;
        while start + T < ids.len() {
            inputs.extend(ids[start..start + T].iter().map(|&id| id as f32));
            let next: [u32; T] = core::array::from_fn(|k| ids[start + 1 + k]);
            targets.push(StepClasses { ids: next });
            start += stride;
        }
        if targets.is_empty() {
            return Err(Error::EmptyDataset);
        }
        super::Dataset::new(inputs, targets)
    }
}

impl<const T: usize, const N: usize> Target for StepClasses<T, N> {
    type Batch = StepLabels<T, N>;
}

impl<const T: usize, const N: usize> TargetBatch for StepLabels<T, N> {
    type Item = StepClasses<T, N>;
    fn rows(&self) -> usize {
        self.ids.len() / T.max(1)
    }
    fn clear(&mut self) {
        self.ids.clear()
    }
    fn push(&mut self, target: &StepClasses<T, N>) {
        self.ids.extend_from_slice(&target.ids)
    }
    fn copy_rows_into(&self, rows: core::ops::Range<usize>, into: &mut Self) {
        into.ids.clear();
        into.ids
            .extend_from_slice(&self.ids[rows.start * T..rows.end * T]);
    }
    /// Steps whose highest score is their class, over the steps not ignored.
    fn count_correct<S: Sample>(&self, outputs: &Batch<S>) -> usize {
        let per_step = S::ROW.max(1);
        outputs
            .as_slice()
            .chunks_exact(per_step)
            .zip(self.counted(outputs))
            .filter(|(scores, class)| class.is_some_and(|c| kernels::argmax(scores) == c))
            .count()
    }
    /// The steps not ignored.
    fn count<S: Sample>(&self, outputs: &Batch<S>) -> usize {
        self.counted(outputs).filter(Option::is_some).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::Tensor2;

    #[test]
    fn padding_and_ignore_index_leave_steps_out() {
        let padded = StepClasses::<4, 3>::padded(&[2, 0]).unwrap();
        assert_eq!(
            (0..4).map(|t| padded.step(t)).collect::<Vec<_>>(),
            [Some(2), Some(0), None, None]
        );
        let ignoring = StepClasses::<3, 3>::ignoring([1, 7, 2], 7).unwrap();
        assert_eq!(ignoring.step(1), None);
        assert!(matches!(
            StepClasses::<2, 3>::new([0, 3]),
            Err(Error::LabelOutOfRange {
                index: 1,
                label: 3,
                ..
            })
        ));
        assert!(StepClasses::<2, 3>::padded(&[0, 1, 2]).is_err());

        let labels = StepLabels::new(&[padded, StepClasses::new([1, 1, 1, 1]).unwrap()]);
        assert_eq!(labels.rows(), 2);
        // Row 0: step 0 right (class 2), step 1 wrong; padded steps never count.
        let scores = Batch::<Tensor2<4, 3>>::from_vec(
            [[0., 0., 1.], [0., 1., 0.], [1., 0., 0.], [1., 0., 0.]]
                .into_iter()
                .chain([[0., 1., 0.]; 4])
                .flatten()
                .collect(),
        )
        .unwrap();
        assert_eq!(labels.count(&scores), 6);
        assert_eq!(labels.count_correct(&scores), 1 + 4);
        // Outputs of lengths 1 and 3: row 0's second step and row 1's last no longer count.
        let shorter = scores.clone().with_lengths(&[1, 3]).unwrap();
        assert_eq!(labels.count(&shorter), 1 + 3);
        assert_eq!(labels.count_correct(&shorter), 1 + 3);
    }

    #[test]
    fn next_token_windows_pair_each_step_with_the_token_after_it() {
        let ids: Vec<u32> = (0..10).collect();
        let data =
            crate::data::Dataset::<Tokens<4>, StepClasses<4, 10>>::next_token_windows(&ids, 3)
                .unwrap();
        // Windows at 0, 3 (4 + 1 tokens each fit up to id 9); 6 needs id 10.
        assert_eq!(data.len(), 2);
        assert_eq!(data.input_slice(1), &[3.0, 4.0, 5.0, 6.0]);
        assert_eq!(
            (0..4).map(|t| data.target(1).step(t)).collect::<Vec<_>>(),
            [4, 5, 6, 7].map(Some)
        );
        let too_big =
            crate::data::Dataset::<Tokens<4>, StepClasses<4, 5>>::next_token_windows(&ids, 4);
        assert!(matches!(
            too_big,
            Err(Error::LabelOutOfRange { index: 5, .. })
        ));
        let short =
            crate::data::Dataset::<Tokens<4>, StepClasses<4, 10>>::next_token_windows(&ids[..4], 1);
        assert!(matches!(short, Err(Error::EmptyDataset)));
        let zero =
            crate::data::Dataset::<Tokens<4>, StepClasses<4, 10>>::next_token_windows(&ids, 0);
        assert!(matches!(zero, Err(Error::InvalidHyperparameter { .. })));
    }
}
