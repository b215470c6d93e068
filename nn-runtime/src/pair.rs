//! Samples made of two samples: the inputs of a network that reads several (an image and a
//! caption, a source and a target sentence) or the outputs of one that writes several (a
//! policy and a value); and, for the latter, pairs of targets (a tuple `(A, B)`), the
//! weighted sum of a loss per output ([`Losses`]) and the metrics of each output. More than two nest: `Pair<A, Pair<B, C>>`. A pair's values are its
//! parts' side by side, `[a | b]`, so a batch of pairs is rows of `A::LEN + B::LEN` values
//! and a part of each row is a contiguous run: what [`Select`] reads.

#[allow(unused_imports)]
use crate::core_prelude::*;

use crate::error::{Error, Result};
use crate::layers::{Layer, Walk};
use crate::tensor::{Batch, Sample};
use crate::Rng;
use core::fmt;
use core::marker::PhantomData;

/// A sample of an `A` and a `B`, on the heap (its length is `A::LEN + B::LEN`, which cannot
/// size an array on stable Rust).
pub struct Pair<A: Sample, B: Sample> {
    data: Vec<f32>,
    _parts: PhantomData<fn() -> (A, B)>,
}

impl<A: Sample, B: Sample> Pair<A, B> {
    /// The pair of these samples.
    pub fn new(a: &A, b: &B) -> Self {
        let mut data = Vec::with_capacity(A::LEN + B::LEN);
        data.extend_from_slice(a.as_slice());
        data.extend_from_slice(b.as_slice());
        Pair {
            data,
            _parts: PhantomData,
        }
    }

    /// A copy of the first part.
    pub fn first(&self) -> A {
        let mut a = A::zeros();
        a.as_mut_slice().copy_from_slice(&self.data[..A::LEN]);
        a
    }

    /// A copy of the second part.
    pub fn second(&self) -> B {
        let mut b = B::zeros();
        b.as_mut_slice().copy_from_slice(&self.data[A::LEN..]);
        b
    }
}

impl<A: Sample, B: Sample> Sample for Pair<A, B> {
    const LEN: usize = A::LEN + B::LEN;
    /// A pair has no shape of its own: its values, flat.
    const SHAPE: &'static [usize] = &[A::LEN + B::LEN];
    fn zeros() -> Self {
        Pair {
            data: vec![0.0; Self::LEN],
            _parts: PhantomData,
        }
    }
    fn as_slice(&self) -> &[f32] {
        &self.data
    }
    fn as_mut_slice(&mut self) -> &mut [f32] {
        &mut self.data
    }
}

impl<A: Sample, B: Sample> Clone for Pair<A, B> {
    fn clone(&self) -> Self {
        Pair {
            data: self.data.clone(),
            _parts: PhantomData,
        }
    }
}

impl<A: Sample, B: Sample> PartialEq for Pair<A, B> {
    fn eq(&self, other: &Self) -> bool {
        self.data == other.data
    }
}

impl<A: Sample, B: Sample> Default for Pair<A, B> {
    fn default() -> Self {
        Self::zeros()
    }
}

impl<A: Sample + fmt::Debug, B: Sample + fmt::Debug> fmt::Debug for Pair<A, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Pair")
            .field(&self.first())
            .field(&self.second())
            .finish()
    }
}

impl<A: Sample, B: Sample> Batch<Pair<A, B>> {
    /// Row i of the result is row i of `a` beside row i of `b`; an error when they have
    /// different numbers of rows. Each part keeps its lengths (see
    /// [`Batch::part_lengths`]).
    pub fn zip(a: &Batch<A>, b: &Batch<B>) -> Result<Self> {
        if a.rows() != b.rows() {
            return Err(Error::LengthMismatch {
                what: "rows of the second part (one per row of the first)",
                expected: a.rows(),
                found: b.rows(),
            });
        }
        let mut out = Batch::default();
        zip_into(a, b, &mut out);
        Ok(out)
    }

    /// The first parts of the rows.
    pub fn firsts(&self) -> Batch<A> {
        part_of(self, 0)
    }

    /// The second parts of the rows.
    pub fn seconds(&self) -> Batch<B> {
        part_of(self, A::LEN)
    }

    /// [`Self::firsts`] and [`Self::seconds`] into batches that are reused (no allocation
    /// once they have room).
    pub fn split_into(&self, first: &mut Batch<A>, second: &mut Batch<B>) {
        copy_part(self, 0, first);
        copy_part(self, A::LEN, second);
    }
}

/// Row i of `out` is row i of `a` beside row i of `b`, for batches known to have the same
/// rows (parts of one batch); the rows of the shorter otherwise.
pub(crate) fn zip_into<A: Sample, B: Sample>(
    a: &Batch<A>,
    b: &Batch<B>,
    out: &mut Batch<Pair<A, B>>,
) {
    debug_assert_eq!(a.rows(), b.rows());
    out.clear_lengths();
    out.set_rows(a.rows().min(b.rows()));
    let rows = a.iter_rows().zip(b.iter_rows());
    for (o, (ra, rb)) in out
        .as_mut_slice()
        .chunks_exact_mut(A::LEN + B::LEN)
        .zip(rows)
    {
        o[..A::LEN].copy_from_slice(ra);
        o[A::LEN..].copy_from_slice(rb);
    }
    // Each part keeps its lengths.
    let mut parts = a.lengths_as_parts(0);
    parts.extend(b.lengths_as_parts(A::LEN));
    out.set_part_lengths(parts);
}

/// The `P::LEN` values at `offset` of every row of `x`, as a batch.
fn part_of<S: Sample, P: Sample>(x: &Batch<S>, offset: usize) -> Batch<P> {
    let mut out = Batch::with_capacity(x.rows());
    copy_part(x, offset, &mut out);
    out
}

/// Fills `out` with the `P::LEN` values at `offset` of every row of `x`, and their lengths.
fn copy_part<S: Sample, P: Sample>(x: &Batch<S>, offset: usize, out: &mut Batch<P>) {
    out.clear_lengths();
    out.set_rows(x.rows());
    out.take_lengths_of(x, offset);
    for (o, row) in out
        .as_mut_slice()
        .chunks_exact_mut(P::LEN)
        .zip(x.iter_rows())
    {
        o.copy_from_slice(&row[offset..offset + P::LEN]);
    }
}

/// The part `Out` at `OFFSET` values into each sample of `In` (a pair, or pairs nested):
/// how a path of a network with several inputs reads the one it names. The gradient of the
/// input is the output's at the part and zero elsewhere.
pub struct Select<In: Sample, Out: Sample, const OFFSET: usize>(PhantomData<fn() -> (In, Out)>);

impl<In: Sample, Out: Sample, const OFFSET: usize> Select<In, Out, OFFSET> {
    const FITS: () = assert!(
        OFFSET + Out::LEN <= In::LEN,
        "the selected part lies within the sample"
    );

    /// The selected part of every row of the flat values `x` (whole samples of `In`), one
    /// after the other: what the layer after a selection checks.
    pub fn part_values(x: &[f32]) -> Vec<f32> {
        let () = Self::FITS;
        x.chunks_exact(In::LEN)
            .flat_map(|row| &row[OFFSET..OFFSET + Out::LEN])
            .copied()
            .collect()
    }

    /// The selected part of every row of `x`.
    pub fn part(x: &Batch<In>) -> Batch<Out> {
        let () = Self::FITS;
        part_of(x, OFFSET)
    }
}

impl<In: Sample, Out: Sample, const OFFSET: usize> Default for Select<In, Out, OFFSET> {
    fn default() -> Self {
        Select(PhantomData)
    }
}

impl<In: Sample, Out: Sample, const OFFSET: usize> Layer for Select<In, Out, OFFSET> {
    type In = In;
    type Out = Out;
    type Cache = ();
    type Workspace = ();
    const PARAMS: usize = 0;
    const KIND: &'static str = "Input";
    const OWN_LENGTHS: bool = true;

    /// `Slice` of the part's values out of each sample's, reshaped to the part's shape.
    fn to_onnx(
        &self,
        g: &mut crate::io::onnx::OnnxGraph,
        path: &crate::layers::Path<'_>,
        input: &str,
    ) -> Result<String> {
        let () = Self::FITS;
        Ok(g.part(&path.to_string(), input, In::LEN, OFFSET, Out::SHAPE))
    }

    fn init(_rng: &mut Rng) -> Self {
        let () = Self::FITS;
        Self::default()
    }

    fn forward_into(&self, x: &In, y: &mut Out, _ws: &mut ()) {
        y.as_mut_slice()
            .copy_from_slice(&x.as_slice()[OFFSET..OFFSET + Out::LEN]);
    }

    fn forward_batch_into(&self, x: &Batch<In>, y: &mut Batch<Out>, _ws: &mut ()) {
        copy_part(x, OFFSET, y);
    }

    fn forward_train(&self, x: &Batch<In>, y: &mut Batch<Out>, _cache: &mut (), _rng: &mut Rng) {
        copy_part(x, OFFSET, y);
    }

    fn backward(
        &mut self,
        x: &Batch<In>,
        _y: &Batch<Out>,
        _cache: &mut (),
        dy: &Batch<Out>,
        dx: Option<&mut Batch<In>>,
    ) {
        let Some(dx) = dx else { return };
        dx.set_rows(x.rows());
        for (d, g) in dx
            .as_mut_slice()
            .chunks_exact_mut(In::LEN)
            .zip(dy.iter_rows())
        {
            d.fill(0.0);
            d[OFFSET..OFFSET + Out::LEN].copy_from_slice(g);
        }
    }

    fn walk<W: Walk<Self>>(_: &mut W) {}
}

/// The values of a sequence of `values.len() / per step` steps padded to `S`'s steps, and
/// its length; an error when it does not fit.
fn padded<S: Sample>(values: &[f32], row: usize) -> Result<(Vec<f32>, u32)> {
    let steps = S::SHAPE.first().copied().unwrap_or(1);
    let per_step = (S::LEN / steps.max(1)).max(1);
    let length = values.len() / per_step;
    if !values.len().is_multiple_of(per_step) {
        return Err(Error::LengthMismatch {
            what: "a sequence's values (a multiple of one step's)",
            expected: length * per_step,
            found: values.len(),
        });
    }
    if length == 0 || length > steps {
        return Err(Error::SequenceLength { row, length, steps });
    }
    let mut out = values.to_vec();
    out.resize(S::LEN, 0.0);
    Ok((out, length as u32))
}

impl<A: Sample, B: Sample, Y: crate::data::Target> crate::data::Dataset<Pair<A, B>, Y> {
    /// A data set of two sequences of different lengths and a target per sample (a
    /// translator's source and target, say): each part the values of its own steps (for
    /// tokens, its ids as `f32`), padded to its type's steps; every batch carries both
    /// parts' lengths, which the layers reading each part honour (attention masks the
    /// padded keys, per-step losses skip the padded steps).
    pub fn from_pair_sequences(
        samples: impl IntoIterator<Item = (Vec<f32>, Vec<f32>, Y)>,
    ) -> Result<Self> {
        let steps = |len: usize, shape: &[usize]| shape.first().copied().unwrap_or(len);
        let mut first = crate::tensor::PartLengths {
            offset: 0,
            values: A::LEN,
            steps: steps(A::LEN, A::SHAPE),
            lengths: Vec::new(),
        };
        let mut second = crate::tensor::PartLengths {
            offset: A::LEN,
            values: B::LEN,
            steps: steps(B::LEN, B::SHAPE),
            lengths: Vec::new(),
        };
        let (mut inputs, mut targets) = (Vec::new(), Vec::new());
        for (row, (a, b, y)) in samples.into_iter().enumerate() {
            let (a, la) = padded::<A>(&a, row)?;
            let (b, lb) = padded::<B>(&b, row)?;
            inputs.extend_from_slice(&a);
            inputs.extend_from_slice(&b);
            first.lengths.push(la);
            second.lengths.push(lb);
            targets.push(y);
        }
        Self::with_parts(inputs, targets, vec![first, second])
    }

    /// A data set of two inputs and a target per sample, for a network that reads
    /// `(a: …, b: …)` (Keras's `fit([a, b], y)`).
    pub fn from_pairs(samples: impl IntoIterator<Item = (A, B, Y)>) -> Result<Self> {
        let (mut inputs, mut targets) = (Vec::new(), Vec::new());
        for (a, b, y) in samples {
            inputs.extend_from_slice(a.as_slice());
            inputs.extend_from_slice(b.as_slice());
            targets.push(y);
        }
        Self::new(inputs, targets)
    }
}

/// The targets of two outputs: a tuple of each output's.
impl<A: crate::data::Target, B: crate::data::Target> crate::data::Target for (A, B) {
    type Batch = (A::Batch, B::Batch);
}

impl<A: crate::data::TargetBatch, B: crate::data::TargetBatch> crate::data::TargetBatch for (A, B) {
    type Item = (A::Item, B::Item);
    const ONE_OUTPUT: bool = false;
    fn rows(&self) -> usize {
        self.0.rows()
    }
    fn clear(&mut self) {
        self.0.clear();
        self.1.clear();
    }
    fn push(&mut self, target: &Self::Item) {
        self.0.push(&target.0);
        self.1.push(&target.1);
    }
    /// None: there is no one accuracy over two outputs (see `ONE_OUTPUT`).
    fn count_correct<S: Sample>(&self, _outputs: &Batch<S>) -> usize {
        0
    }
    fn copy_rows_into(&self, rows: core::ops::Range<usize>, into: &mut Self) {
        self.0.copy_rows_into(rows.clone(), &mut into.0);
        self.1.copy_rows_into(rows, &mut into.1);
    }
}

/// The loss of a network with two outputs (Keras's `loss=[…], loss_weights=[…]`): each
/// output's loss against its targets, weighted, summed. The outputs are logits (the network
/// ends in a `Zip` of branches without a softmax or sigmoid), which `CrossEntropy` and
/// `BinaryCrossEntropy` read as PyTorch's losses do.
#[derive(Clone, Copy, Debug)]
pub struct Losses<L1, L2> {
    pub first: L1,
    pub second: L2,
    pub weights: [f32; 2],
}

impl<L1, L2> Losses<L1, L2> {
    /// Both losses, weighted 1.
    pub fn new(first: L1, second: L2) -> Self {
        Losses {
            first,
            second,
            weights: [1.0, 1.0],
        }
    }

    /// The same losses with these weights.
    pub fn weighted(mut self, first: f32, second: f32) -> Self {
        self.weights = [first, second];
        self
    }
}

/// Each part of every row of `x`, as two batches.
fn split_pairs<A: Sample, B: Sample>(x: &Batch<Pair<A, B>>) -> (Batch<A>, Batch<B>) {
    (part_of(x, 0), part_of(x, A::LEN))
}

impl<O1, O2, T1, T2, L1, L2> crate::loss::Loss<crate::layers::Linear, Pair<O1, O2>, (T1, T2)>
    for Losses<L1, L2>
where
    O1: Sample,
    O2: Sample,
    L1: crate::loss::Loss<crate::layers::Linear, O1, T1>,
    L2: crate::loss::Loss<crate::layers::Linear, O2, T2>,
{
    fn loss_and_grad(
        &self,
        _logits: &Batch<Pair<O1, O2>>,
        output: &Batch<Pair<O1, O2>>,
        targets: &(T1, T2),
        dlogits: &mut Batch<Pair<O1, O2>>,
    ) -> f32 {
        let (a, b) = split_pairs(output);
        let (mut da, mut db) = (Batch::default(), Batch::default());
        let la = self.first.loss_and_grad(&a, &a, &targets.0, &mut da);
        let lb = self.second.loss_and_grad(&b, &b, &targets.1, &mut db);
        let [wa, wb] = self.weights;
        dlogits.set_rows(output.rows());
        let parts = da.iter_rows().zip(db.iter_rows());
        for (row, (ra, rb)) in dlogits
            .as_mut_slice()
            .chunks_exact_mut(O1::LEN + O2::LEN)
            .zip(parts)
        {
            for (d, &g) in row[..O1::LEN].iter_mut().zip(ra) {
                *d = wa * g;
            }
            for (d, &g) in row[O1::LEN..].iter_mut().zip(rb) {
                *d = wb * g;
            }
        }
        wa * la + wb * lb
    }

    fn loss(
        &self,
        _logits: &Batch<Pair<O1, O2>>,
        output: &Batch<Pair<O1, O2>>,
        targets: &(T1, T2),
    ) -> f32 {
        let (a, b) = split_pairs(output);
        let [wa, wb] = self.weights;
        wa * self.first.loss(&a, &a, &targets.0) + wb * self.second.loss(&b, &b, &targets.1)
    }
}

#[cfg(feature = "fit")]
/// Each output's metrics, named `out1_…` and `out2_…` (Keras prefixes the output's name).
pub struct PairMetrics<M1, M2, O1, O2> {
    first: M1,
    second: M2,
    _outputs: PhantomData<fn() -> (O1, O2)>,
}

#[cfg(feature = "fit")]
impl<M1: Default, M2: Default, O1, O2> Default for PairMetrics<M1, M2, O1, O2> {
    fn default() -> Self {
        PairMetrics {
            first: M1::default(),
            second: M2::default(),
            _outputs: PhantomData,
        }
    }
}

#[cfg(feature = "fit")]
impl<M1, M2, O1, O2, T1, T2> crate::fit::Metrics<Pair<O1, O2>, (T1, T2)>
    for PairMetrics<M1, M2, O1, O2>
where
    O1: Sample,
    O2: Sample,
    M1: crate::fit::Metrics<O1, T1>,
    M2: crate::fit::Metrics<O2, T2>,
{
    fn names(&self) -> Vec<String> {
        let first = self.first.names().into_iter().map(|n| format!("out1_{n}"));
        let second = self.second.names().into_iter().map(|n| format!("out2_{n}"));
        first.chain(second).collect()
    }

    fn add(&mut self, output: &Batch<Pair<O1, O2>>, targets: &(T1, T2)) {
        let (a, b) = split_pairs(output);
        self.first.add(&a, &targets.0);
        self.second.add(&b, &targets.1);
    }

    fn values(&self) -> Vec<f64> {
        let mut values = self.first.values();
        values.extend(self.second.values());
        values
    }
}

#[cfg(feature = "fit")]
impl<O1, O2, T1, T2, L1, L2> crate::fit::TaskMetrics<crate::layers::Linear, Pair<O1, O2>, (T1, T2)>
    for Losses<L1, L2>
where
    O1: Sample,
    O2: Sample,
    L1: crate::fit::TaskMetrics<crate::layers::Linear, O1, T1>,
    L2: crate::fit::TaskMetrics<crate::layers::Linear, O2, T2>,
{
    type Metrics = PairMetrics<L1::Metrics, L2::Metrics, O1, O2>;
}
