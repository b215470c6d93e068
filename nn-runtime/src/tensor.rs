//! Shapes and storage. Feature dimensions are const generics; the batch dimension is a
//! run-time row count, so the last, smaller batch of an epoch needs no recompilation.

#[allow(unused_imports)]
use crate::core_prelude::*;

use crate::error::{Error, Result};
use core::fmt;
use core::marker::PhantomData;

/// One sample of a fixed shape, stored contiguously (row-major, PyTorch order).
pub trait Sample: Clone + Send + Sync + 'static {
    /// Number of `f32` values in one sample.
    const LEN: usize;
    /// The shape, outermost dimension first (`[C, H, W]` for images).
    const SHAPE: &'static [usize];
    /// Values along the last dimension: the rows a softmax normalises (`V` of a `[T, V]`
    /// sequence of class scores).
    const ROW: usize = Self::SHAPE[Self::SHAPE.len() - 1];
    /// A sample of zeros.
    fn zeros() -> Self;
    /// The values in row-major order.
    fn as_slice(&self) -> &[f32];
    /// The values in row-major order, mutably.
    fn as_mut_slice(&mut self) -> &mut [f32];

    /// `values` (at least `LEN`, the sample's first) as a sample in place, when the type is
    /// a tensor and they are aligned and long enough for it (an arena's buffers are, see
    /// `kernels::arena`); `None` otherwise (the default), and the caller copies.
    fn view(values: &[f32]) -> Option<&Self> {
        let _ = values;
        None
    }

    /// [`Sample::view`], mutably.
    fn view_mut(values: &mut [f32]) -> Option<&mut Self> {
        let _ = values;
        None
    }

    /// Copies a sample out of a flat slice of exactly `LEN` values.
    fn from_slice(values: &[f32]) -> Result<Self> {
        if values.len() != Self::LEN {
            return Err(Error::LengthMismatch {
                what: "sample",
                expected: Self::LEN,
                found: values.len(),
            });
        }
        let mut s = Self::zeros();
        s.as_mut_slice().copy_from_slice(values);
        Ok(s)
    }
}

/// A vector of `N` features: the input and output of dense layers.
#[derive(Clone, Copy, PartialEq)]
#[repr(C, align(64))]
pub struct Tensor1<const N: usize> {
    pub data: [f32; N],
}

impl<const N: usize> Tensor1<N> {
    /// A tensor holding `data`.
    pub const fn new(data: [f32; N]) -> Self {
        Tensor1 { data }
    }

    /// Index of the largest value (the first one on ties); 0 for an empty tensor.
    pub fn argmax(&self) -> usize {
        crate::kernels::argmax(&self.data)
    }
}

impl<const N: usize> Sample for Tensor1<N> {
    fn view(values: &[f32]) -> Option<&Self> {
        crate::kernels::arena::view(values)
    }
    fn view_mut(values: &mut [f32]) -> Option<&mut Self> {
        crate::kernels::arena::view_mut(values)
    }
    const LEN: usize = N;
    const SHAPE: &'static [usize] = &[N];
    fn zeros() -> Self {
        Tensor1 { data: [0.0; N] }
    }
    fn as_slice(&self) -> &[f32] {
        &self.data
    }
    fn as_mut_slice(&mut self) -> &mut [f32] {
        &mut self.data
    }
}

impl<const N: usize> Default for Tensor1<N> {
    fn default() -> Self {
        Self::zeros()
    }
}

impl<const N: usize> From<[f32; N]> for Tensor1<N> {
    fn from(data: [f32; N]) -> Self {
        Tensor1 { data }
    }
}

impl<const N: usize> core::ops::Index<usize> for Tensor1<N> {
    type Output = f32;
    fn index(&self, i: usize) -> &f32 {
        &self.data[i]
    }
}

impl<const N: usize> core::ops::IndexMut<usize> for Tensor1<N> {
    fn index_mut(&mut self, i: usize) -> &mut f32 {
        &mut self.data[i]
    }
}

impl<const N: usize> fmt::Debug for Tensor1<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tensor1<{N}>")?;
        f.debug_list().entries(self.data.iter()).finish()
    }
}

/// A `[A, B]` matrix per sample: `[channels, length]` for 1-D convolutions, `[time, features]`
/// for sequences.
#[derive(Clone, Copy, PartialEq)]
#[repr(C, align(64))]
pub struct Tensor2<const A: usize, const B: usize> {
    pub data: [[f32; B]; A],
}

impl<const A: usize, const B: usize> Sample for Tensor2<A, B> {
    fn view(values: &[f32]) -> Option<&Self> {
        crate::kernels::arena::view(values)
    }
    fn view_mut(values: &mut [f32]) -> Option<&mut Self> {
        crate::kernels::arena::view_mut(values)
    }
    const LEN: usize = A * B;
    const SHAPE: &'static [usize] = &[A, B];
    fn zeros() -> Self {
        Tensor2 {
            data: [[0.0; B]; A],
        }
    }
    fn as_slice(&self) -> &[f32] {
        self.data.as_flattened()
    }
    fn as_mut_slice(&mut self) -> &mut [f32] {
        self.data.as_flattened_mut()
    }
}

/// A `[C, H, W]` image per sample (PyTorch's channel-first order).
#[derive(Clone, Copy, PartialEq)]
#[repr(C, align(64))]
pub struct Tensor3<const C: usize, const H: usize, const W: usize> {
    pub data: [[[f32; W]; H]; C],
}

impl<const C: usize, const H: usize, const W: usize> Sample for Tensor3<C, H, W> {
    fn view(values: &[f32]) -> Option<&Self> {
        crate::kernels::arena::view(values)
    }
    fn view_mut(values: &mut [f32]) -> Option<&mut Self> {
        crate::kernels::arena::view_mut(values)
    }
    const LEN: usize = C * H * W;
    const SHAPE: &'static [usize] = &[C, H, W];
    fn zeros() -> Self {
        Tensor3 {
            data: [[[0.0; W]; H]; C],
        }
    }
    fn as_slice(&self) -> &[f32] {
        self.data.as_flattened().as_flattened()
    }
    fn as_mut_slice(&mut self) -> &mut [f32] {
        self.data.as_flattened_mut().as_flattened_mut()
    }
}

/// The shape of samples whose sizes are arithmetic on a generic network's parameters: a
/// zero-sized type `network!` declares for each such shape, its sizes a const computed from
/// the parameters (`[C_OUT, (H - 2) / 2, (W - 2) / 2]`). Stable Rust evaluates that
/// arithmetic in an associated const, though not in a type's const argument.
pub trait ShapeOf: 'static {
    /// The sizes, outermost first.
    const SHAPE: &'static [usize];
}

/// The number of values of a shape.
pub const fn shape_len(shape: &[usize]) -> usize {
    let (mut len, mut i) = (1, 0);
    while i < shape.len() {
        len *= shape[i];
        i += 1;
    }
    len
}

/// A sample of the shape `S` (see [`ShapeOf`]), its values on the heap: its length is a
/// const, but one computed from generic parameters cannot size an array on stable Rust.
/// Batches, which are what training and batch inference move, are on the heap for every
/// sample type alike.
pub struct Shaped<S: ShapeOf> {
    data: Vec<f32>,
    _shape: PhantomData<fn() -> S>,
}

impl<S: ShapeOf> Sample for Shaped<S> {
    const LEN: usize = shape_len(S::SHAPE);
    const SHAPE: &'static [usize] = S::SHAPE;
    fn zeros() -> Self {
        Shaped {
            data: vec![0.0; Self::LEN],
            _shape: PhantomData,
        }
    }
    fn as_slice(&self) -> &[f32] {
        &self.data
    }
    fn as_mut_slice(&mut self) -> &mut [f32] {
        &mut self.data
    }
}

impl<S: ShapeOf> Clone for Shaped<S> {
    fn clone(&self) -> Self {
        Shaped {
            data: self.data.clone(),
            _shape: PhantomData,
        }
    }
}

impl<S: ShapeOf> PartialEq for Shaped<S> {
    fn eq(&self, other: &Self) -> bool {
        self.data == other.data
    }
}

impl<S: ShapeOf> Default for Shaped<S> {
    fn default() -> Self {
        Self::zeros()
    }
}

impl<S: ShapeOf> fmt::Debug for Shaped<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Shaped{:?}", S::SHAPE)?;
        f.debug_list().entries(self.data.iter()).finish()
    }
}

/// A sequence of `T` token ids (the input of `Embedding`), held as `f32` like every sample.
/// Build it from ids with [`Tokens::new`] or [`Batch::from_ids`]; an id that is not an
/// integer below the vocabulary embeds as NaN (see `Embedding`).
#[derive(Clone, Copy, PartialEq)]
#[repr(C, align(64))]
pub struct Tokens<const T: usize> {
    pub data: [f32; T],
}

impl<const T: usize> Tokens<T> {
    /// Token ids (exact as `f32` up to 2²⁴).
    pub fn new(ids: [u32; T]) -> Self {
        Tokens {
            data: ids.map(|id| id as f32),
        }
    }
}

impl<const T: usize> Sample for Tokens<T> {
    fn view(values: &[f32]) -> Option<&Self> {
        crate::kernels::arena::view(values)
    }
    fn view_mut(values: &mut [f32]) -> Option<&mut Self> {
        crate::kernels::arena::view_mut(values)
    }
    const LEN: usize = T;
    const SHAPE: &'static [usize] = &[T];
    fn zeros() -> Self {
        Tokens { data: [0.0; T] }
    }
    fn as_slice(&self) -> &[f32] {
        &self.data
    }
    fn as_mut_slice(&mut self) -> &mut [f32] {
        &mut self.data
    }
}

impl<const T: usize> Batch<Tokens<T>> {
    /// A batch of token-id sequences from `rows · T` ids.
    pub fn from_ids(ids: &[u32]) -> Result<Self> {
        Batch::from_vec(ids.iter().map(|&id| id as f32).collect())
    }
}

macro_rules! shaped_debug {
    ($ty:ident < $($p:ident),* >) => {
        impl<$(const $p: usize),*> fmt::Debug for $ty<$($p),*> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}{:?}", stringify!($ty), Self::SHAPE)?;
                f.debug_list().entries(self.as_slice().iter()).finish()
            }
        }
        impl<$(const $p: usize),*> Default for $ty<$($p),*> {
            fn default() -> Self {
                Self::zeros()
            }
        }
    };
}
shaped_debug!(Tensor2<A, B>);
shaped_debug!(Tensor3<C, H, W>);
shaped_debug!(Tokens<T>);

/// A batch of samples of shape `S`: `rows` samples stored back to back.
///
/// Resizing to a row count that fits the capacity already held does not allocate, which is
/// what lets a training step reuse its buffers from one batch to the next.
///
/// Rows that are sequences of different lengths (their first dimension the steps: `[T, F]`
/// samples, or `tokens[T]`) are padded to `T` and carry their lengths ([`Batch::lengths`]):
/// PyTorch's packed sequences, Keras's masks. Every layer that reads time respects them
/// (recurrences stop at each row's last step, poolings over time and attention skip the
/// padding), per-step losses and metrics skip the padded steps, and layers that keep the
/// steps hand the lengths on to their output.
pub struct Batch<S: Sample> {
    data: Vec<f32>,
    rows: usize,
    /// Each row's length in steps; empty when every row has all `S::SHAPE[0]` steps.
    lengths: Vec<u32>,
    /// For samples of several parts (`Pair`): the lengths of the parts that are sequences
    /// of different lengths, each at its place in a row.
    parts: Vec<PartLengths>,
    _shape: PhantomData<fn() -> S>,
}

/// The lengths of one part of the rows of a batch of pairs: the part's values are
/// `values` values from `offset` in each row, sequences of `steps` steps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartLengths {
    pub offset: usize,
    pub values: usize,
    pub steps: usize,
    /// One per row.
    pub lengths: Vec<u32>,
}

impl<S: Sample> Batch<S> {
    /// A batch of `rows` zero samples.
    pub fn zeros(rows: usize) -> Self {
        Batch {
            data: vec![0.0; rows * S::LEN],
            rows,
            lengths: Vec::new(),
            parts: Vec::new(),
            _shape: PhantomData,
        }
    }

    /// A batch over a flat buffer of `rows * S::LEN` values.
    pub fn from_vec(data: Vec<f32>) -> Result<Self> {
        if S::LEN == 0 || !data.len().is_multiple_of(S::LEN) {
            return Err(Error::LengthMismatch {
                what: "batch (a multiple of the sample length)",
                expected: S::LEN * data.len().div_ceil(S::LEN.max(1)),
                found: data.len(),
            });
        }
        let rows = data.len() / S::LEN;
        Ok(Batch {
            data,
            rows,
            lengths: Vec::new(),
            parts: Vec::new(),
            _shape: PhantomData,
        })
    }

    /// A batch holding copies of `samples`.
    pub fn from_samples(samples: &[S]) -> Self {
        let mut b = Batch::with_capacity(samples.len());
        for s in samples {
            b.push(s);
        }
        b
    }

    /// An empty batch that can grow to `rows` rows without allocating.
    pub fn with_capacity(rows: usize) -> Self {
        Batch {
            data: Vec::with_capacity(rows * S::LEN),
            rows: 0,
            lengths: Vec::new(),
            parts: Vec::new(),
            _shape: PhantomData,
        }
    }

    /// Makes this batch a copy of `rows` of `src`, allocating only when the capacity held
    /// is too small.
    pub fn copy_rows_from(&mut self, src: &Batch<S>, rows: core::ops::Range<usize>) {
        self.data.clear();
        self.data
            .extend_from_slice(&src.data[rows.start * S::LEN..rows.end * S::LEN]);
        self.lengths.clear();
        if !src.lengths.is_empty() {
            self.lengths.extend_from_slice(&src.lengths[rows.clone()]);
        }
        self.parts.clear();
        self.parts.extend(src.parts.iter().map(|p| PartLengths {
            lengths: p.lengths[rows.clone()].to_vec(),
            ..*p
        }));
        self.rows = rows.len();
    }

    /// Appends every row of `other`.
    pub fn append(&mut self, other: &Batch<S>) {
        if !other.lengths.is_empty() || !self.lengths.is_empty() {
            self.fill_lengths();
            match other.lengths.is_empty() {
                true => self
                    .lengths
                    .extend((0..other.rows).map(|_| Self::steps() as u32)),
                false => self.lengths.extend_from_slice(&other.lengths),
            }
        }
        self.append_parts(&other.parts, other.rows);
        self.data
            .extend_from_slice(&other.data[..other.rows * S::LEN]);
        self.rows += other.rows;
    }

    /// The part lengths of `rows` rows appended: a part with lengths in either batch keeps
    /// them, full where the other had none.
    fn append_parts(&mut self, other: &[PartLengths], rows: usize) {
        for o in other {
            if !self.parts.iter().any(|p| p.offset == o.offset) {
                self.parts.push(PartLengths {
                    lengths: vec![o.steps as u32; self.rows],
                    ..*o
                });
            }
        }
        for p in &mut self.parts {
            match other.iter().find(|o| o.offset == p.offset) {
                Some(o) => p.lengths.extend_from_slice(&o.lengths[..rows]),
                None => p.lengths.extend((0..rows).map(|_| p.steps as u32)),
            }
        }
    }

    /// Appends one sample, of every step.
    pub fn push(&mut self, sample: &S) {
        if !self.lengths.is_empty() {
            self.lengths.push(Self::steps() as u32);
        }
        self.append_parts(&[], 1);
        self.data.extend_from_slice(sample.as_slice());
        self.rows += 1;
    }

    /// The steps of a full row: the first dimension.
    fn steps() -> usize {
        S::SHAPE.first().copied().unwrap_or(1)
    }

    /// Gives every row a length, the full one where none was given.
    fn fill_lengths(&mut self) {
        if self.lengths.is_empty() {
            self.lengths.resize(self.rows, Self::steps() as u32);
        }
    }

    /// Gives the rows these lengths in steps (each from 1 to the first dimension, one per
    /// row): a batch of sequences of different lengths, padded.
    pub fn with_lengths(mut self, lengths: &[usize]) -> Result<Self> {
        self.set_lengths(lengths)?;
        Ok(self)
    }

    /// [`Batch::with_lengths`] in place; allocation-free once the lengths have room.
    pub fn set_lengths(&mut self, lengths: &[usize]) -> Result<()> {
        if lengths.len() != self.rows {
            return Err(Error::LengthMismatch {
                what: "sequence lengths (one per row)",
                expected: self.rows,
                found: lengths.len(),
            });
        }
        let steps = Self::steps();
        if let Some((row, &length)) = lengths
            .iter()
            .enumerate()
            .find(|(_, &l)| l == 0 || l > steps)
        {
            return Err(Error::SequenceLength { row, length, steps });
        }
        self.lengths.clear();
        self.lengths.extend(lengths.iter().map(|&l| l as u32));
        Ok(())
    }

    /// Each row's length in steps, when the rows are sequences of different lengths; `None`
    /// when every row has all its steps.
    pub fn lengths(&self) -> Option<&[u32]> {
        (!self.lengths.is_empty()).then_some(&self.lengths[..])
    }

    /// Row `row`'s length in steps: all of them unless lengths were given.
    pub fn length(&self, row: usize) -> usize {
        self.lengths
            .get(row)
            .map_or_else(Self::steps, |&l| l as usize)
    }

    /// Gives this batch the lengths of `other`'s rows (a layer's output those of its input,
    /// when it keeps the steps), or none; allocation-free once they have room.
    pub fn copy_lengths_from<O: Sample>(&mut self, other: &Batch<O>) {
        self.lengths.clear();
        self.lengths.extend_from_slice(&other.lengths);
    }

    /// For every row of the last dimension (`S::ROW` values: a step of a `[T, F]` sequence,
    /// the whole of a vector), in order, whether it lies within its sequence's length:
    /// what per-step losses and metrics count.
    pub fn step_mask(&self) -> impl Iterator<Item = bool> + Clone + '_ {
        let per_row = S::LEN / S::ROW.max(1);
        let sequences = S::SHAPE.len() >= 2 && !self.lengths.is_empty();
        (0..self.rows).flat_map(move |r| {
            let length = if sequences { self.length(r) } else { per_row };
            (0..per_row).map(move |t| t < length)
        })
    }

    /// Forgets the lengths: every row has all its steps.
    pub fn clear_lengths(&mut self) {
        self.lengths.clear();
        self.parts.clear();
    }

    /// The lengths of the parts of each row that are sequences with lengths of their own
    /// (a batch of pairs); empty otherwise.
    pub fn part_lengths(&self) -> &[PartLengths] {
        &self.parts
    }

    /// The lengths of the part of `values` values at `offset`, when it has lengths.
    pub fn lengths_at(&self, offset: usize, values: usize) -> Option<&[u32]> {
        self.parts
            .iter()
            .find(|p| p.offset == offset && p.values == values)
            .map(|p| &p.lengths[..self.rows.min(p.lengths.len())])
    }

    /// Gives the last row's part `like` (its offset, values and steps) the length `length`;
    /// the rows before it of every step if the part had no lengths yet.
    pub fn set_part_length(&mut self, like: &PartLengths, length: u32) {
        if !self.parts.iter().any(|p| p.offset == like.offset) {
            self.parts.push(PartLengths {
                lengths: vec![like.steps as u32; self.rows],
                ..*like
            });
        }
        if let Some(p) = self.parts.iter_mut().find(|p| p.offset == like.offset) {
            p.lengths.resize(self.rows, p.steps as u32);
            if let Some(last) = p.lengths.last_mut() {
                *last = length;
            }
        }
    }

    /// Sets the part lengths (replacing any).
    pub fn set_part_lengths(&mut self, parts: Vec<PartLengths>) {
        self.parts = parts;
    }

    /// Whole-sample lengths as one part at `offset` of a larger sample, or this batch's part
    /// lengths moved by `offset`: what a pair made of this batch carries.
    pub fn lengths_as_parts(&self, offset: usize) -> Vec<PartLengths> {
        if !self.lengths.is_empty() {
            return vec![PartLengths {
                offset,
                values: S::LEN,
                steps: Self::steps(),
                lengths: self.lengths.clone(),
            }];
        }
        self.parts
            .iter()
            .map(|p| PartLengths {
                offset: p.offset + offset,
                ..p.clone()
            })
            .collect()
    }

    /// The lengths of the part `[offset, offset + values)` of `source`'s rows, as this
    /// batch's own lengths (the part is one sequence) or part lengths (the part is a pair).
    pub fn take_lengths_of<P: Sample>(&mut self, source: &Batch<P>, offset: usize) {
        self.lengths.clear();
        self.parts.clear();
        if let Some(l) = source.lengths_at(offset, S::LEN) {
            self.lengths.extend_from_slice(l);
            return;
        }
        self.parts.extend(
            source
                .parts
                .iter()
                .filter(|p| p.offset >= offset && p.offset + p.values <= offset + S::LEN)
                .map(|p| PartLengths {
                    offset: p.offset - offset,
                    ..p.clone()
                }),
        );
    }

    /// Appends one sample given as a flat slice of `S::LEN` values.
    pub fn push_slice(&mut self, values: &[f32]) -> Result<()> {
        if values.len() != S::LEN {
            return Err(Error::LengthMismatch {
                what: "sample",
                expected: S::LEN,
                found: values.len(),
            });
        }
        if !self.lengths.is_empty() {
            self.lengths.push(Self::steps() as u32);
        }
        self.append_parts(&[], 1);
        self.data.extend_from_slice(values);
        self.rows += 1;
        Ok(())
    }

    /// Appends one sequence padded to its full steps, whose first `length` steps are its
    /// own (each row before it of every step unless it had a length).
    pub fn push_with_length(&mut self, values: &[f32], length: usize) -> Result<()> {
        let steps = Self::steps();
        if length == 0 || length > steps {
            return Err(Error::SequenceLength {
                row: self.rows,
                length,
                steps,
            });
        }
        self.fill_lengths();
        self.push_slice(values)?;
        if let Some(last) = self.lengths.last_mut() {
            *last = length as u32;
        }
        Ok(())
    }

    /// Removes every row, keeping the capacity.
    pub fn clear(&mut self) {
        self.data.clear();
        self.lengths.clear();
        self.parts.clear();
        self.rows = 0;
    }

    /// Number of samples.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Whether the batch holds no sample.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Sets the number of rows; new rows are zero (and of every step). Allocates only when
    /// the capacity is short.
    pub fn set_rows(&mut self, rows: usize) {
        self.data.resize(rows * S::LEN, 0.0);
        if !self.lengths.is_empty() {
            self.lengths.resize(rows, Self::steps() as u32);
        }
        for p in &mut self.parts {
            p.lengths.resize(rows, p.steps as u32);
        }
        self.rows = rows;
    }

    /// All values, row-major.
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }

    /// All values, row-major, mutably.
    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        &mut self.data
    }

    /// Row `i` as a flat slice.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * S::LEN..(i + 1) * S::LEN]
    }

    /// Row `i` as a flat slice, mutably.
    pub fn row_mut(&mut self, i: usize) -> &mut [f32] {
        &mut self.data[i * S::LEN..(i + 1) * S::LEN]
    }

    /// A copy of row `i` as a typed sample.
    pub fn sample(&self, i: usize) -> S {
        let mut s = S::zeros();
        s.as_mut_slice().copy_from_slice(self.row(i));
        s
    }

    /// Iterates over the rows as flat slices.
    pub fn iter_rows(&self) -> core::slice::ChunksExact<'_, f32> {
        self.data.chunks_exact(S::LEN.max(1))
    }
}

impl<S: Sample> Default for Batch<S> {
    fn default() -> Self {
        Batch {
            data: Vec::new(),
            rows: 0,
            lengths: Vec::new(),
            parts: Vec::new(),
            _shape: PhantomData,
        }
    }
}

impl<S: Sample> Clone for Batch<S> {
    fn clone(&self) -> Self {
        Batch {
            data: self.data.clone(),
            rows: self.rows,
            lengths: self.lengths.clone(),
            parts: self.parts.clone(),
            _shape: PhantomData,
        }
    }
}

impl<S: Sample> fmt::Debug for Batch<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Batch<{:?}> of {} rows", S::SHAPE, self.rows)
    }
}

/// Formats a shape the way Keras prints it, with the batch dimension as `None`.
pub fn keras_shape(shape: &[usize]) -> String {
    let mut s = String::from("(None");
    for d in shape {
        s.push_str(", ");
        s.push_str(&d.to_string());
    }
    s.push(')');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_rows_and_reuse() {
        let mut b = Batch::<Tensor1<3>>::from_vec(vec![1., 2., 3., 4., 5., 6.]).unwrap();
        assert_eq!(b.rows(), 2);
        assert_eq!(b.row(1), &[4., 5., 6.]);
        assert_eq!(b.sample(0), Tensor1::new([1., 2., 3.]));
        let cap = b.as_slice().as_ptr();
        b.set_rows(1);
        b.set_rows(2);
        assert_eq!(
            cap,
            b.as_slice().as_ptr(),
            "shrinking then growing within capacity reuses the buffer"
        );
        assert!(Batch::<Tensor1<3>>::from_vec(vec![1.0; 4]).is_err());
        assert!(Tensor1::<3>::from_slice(&[1.0; 2]).is_err());
    }

    #[test]
    fn keras_shape_prints_batch_as_none() {
        assert_eq!(keras_shape(&[64]), "(None, 64)");
        assert_eq!(keras_shape(&[3, 4]), "(None, 3, 4)");
    }
}
