//! Pooling over time: the mean or maximum of each feature over the steps of a `[T, F]`
//! sequence, `[T, F]` to `[F]` (Keras's `GlobalAveragePooling1D`/`GlobalMaxPooling1D` on
//! steps-first sequences, PyTorch's `x.mean(1)` / `x.amax(1)` on batch-first ones). A batch
//! with lengths pools each sequence over its own steps only: padding never enters a mean or
//! wins a maximum.

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::{Layer, Path, PoolAvg, PoolMax, PoolOp, Walk};
use crate::io::onnx::{attr, OnnxGraph};
use crate::tensor::{Batch, Sample, Tensor1, Tensor2};
use crate::Rng;
use core::marker::PhantomData;

/// `[T, F]` to `[F]`, reducing the steps with `Op` ([`PoolAvg`] or [`PoolMax`]).
pub struct TimePool<Op: PoolOp, const T: usize, const F: usize>(PhantomData<fn() -> Op>);

/// The mean of each feature over the (valid) steps.
pub type GlobalAvgPool1d<const T: usize, const F: usize> = TimePool<PoolAvg, T, F>;
/// The maximum of each feature over the (valid) steps.
pub type GlobalMaxPool1d<const T: usize, const F: usize> = TimePool<PoolMax, T, F>;

impl<Op: PoolOp, const T: usize, const F: usize> Default for TimePool<Op, T, F> {
    fn default() -> Self {
        TimePool(PhantomData)
    }
}

impl<Op: PoolOp, const T: usize, const F: usize> Clone for TimePool<Op, T, F> {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl<Op: PoolOp, const T: usize, const F: usize> core::fmt::Debug for TimePool<Op, T, F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Global{}Pool1d[{T}, {F}]", Op::NAME)
    }
}

/// The step each output of a max pooling came from (for the backward pass).
#[derive(Clone, Debug, Default)]
pub struct TimePoolCache {
    argmax: Vec<u32>,
}

/// Pools the first `steps` rows of `x` (`[T, F]`) into `y` (`[F]`); for a maximum, records
/// the winning step of each feature in `argmax` when given.
fn pool<Op: PoolOp, const F: usize>(
    x: &[f32],
    steps: usize,
    y: &mut [f32],
    argmax: Option<&mut [u32]>,
) {
    let rows = x.chunks_exact(F).take(steps);
    if Op::MAX {
        y.fill(f32::NEG_INFINITY);
        let mut argmax = argmax;
        if let Some(a) = argmax.as_deref_mut() {
            a.fill(0);
        }
        for (t, row) in rows.enumerate() {
            for (f, &v) in row.iter().enumerate() {
                // NaN wins, as in PyTorch's max: it must not vanish from the output.
                if v > y[f] || v.is_nan() && !y[f].is_nan() {
                    y[f] = v;
                    if let Some(a) = argmax.as_deref_mut() {
                        a[f] = t as u32;
                    }
                }
            }
        }
    } else {
        y.fill(0.0);
        for row in rows {
            for (m, &v) in y.iter_mut().zip(row) {
                *m += v;
            }
        }
        let scale = 1.0 / steps.max(1) as f32;
        y.iter_mut().for_each(|m| *m *= scale);
    }
}

impl<Op: PoolOp, const T: usize, const F: usize> Layer for TimePool<Op, T, F> {
    type In = Tensor2<T, F>;
    type Out = Tensor1<F>;
    type Cache = TimePoolCache;
    type Workspace = ();
    const PARAMS: usize = 0;
    const FLOPS: usize = T * F;
    const KIND: &'static str = if Op::MAX {
        "GlobalMaxPool1d"
    } else {
        "GlobalAvgPool1d"
    };

    /// `ReduceMax` or `ReduceMean` over the steps axis (opset 17 takes `axes` as an
    /// attribute), every step: lengths are not exported.
    fn to_onnx(&self, g: &mut OnnxGraph, path: &Path<'_>, input: &str) -> crate::Result<String> {
        let op = if Op::MAX { "ReduceMax" } else { "ReduceMean" };
        let attrs = vec![attr::ints("axes", &[1]), attr::int("keepdims", 0)];
        Ok(g.op(op, &path.to_string(), &[input], attrs))
    }

    fn init(_rng: &mut Rng) -> Self {
        Self::default()
    }

    fn forward_into(&self, x: &Tensor2<T, F>, y: &mut Tensor1<F>, _ws: &mut ()) {
        pool::<Op, F>(x.as_slice(), T, &mut y.data, None);
    }

    fn forward_batch_into(
        &self,
        x: &Batch<Tensor2<T, F>>,
        y: &mut Batch<Tensor1<F>>,
        _ws: &mut (),
    ) {
        y.set_rows(x.rows());
        for r in 0..x.rows() {
            pool::<Op, F>(x.row(r), x.length(r), y.row_mut(r), None);
        }
    }

    fn forward_train(
        &self,
        x: &Batch<Tensor2<T, F>>,
        y: &mut Batch<Tensor1<F>>,
        cache: &mut TimePoolCache,
        _rng: &mut Rng,
    ) {
        y.set_rows(x.rows());
        cache
            .argmax
            .resize(if Op::MAX { x.rows() * F } else { 0 }, 0);
        for r in 0..x.rows() {
            let argmax = Op::MAX.then(|| &mut cache.argmax[r * F..(r + 1) * F]);
            pool::<Op, F>(x.row(r), x.length(r), y.row_mut(r), argmax);
        }
    }

    fn backward(
        &mut self,
        x: &Batch<Tensor2<T, F>>,
        _y: &Batch<Tensor1<F>>,
        cache: &mut TimePoolCache,
        dy: &Batch<Tensor1<F>>,
        dx: Option<&mut Batch<Tensor2<T, F>>>,
    ) {
        let Some(dx) = dx else { return };
        dx.set_rows(x.rows());
        dx.as_mut_slice().fill(0.0);
        for r in 0..x.rows() {
            let (g, d) = (dy.row(r), dx.row_mut(r));
            if Op::MAX {
                let argmax = &cache.argmax[r * F..(r + 1) * F];
                for (f, (&t, &g)) in argmax.iter().zip(g).enumerate() {
                    d[t as usize * F + f] = g;
                }
            } else {
                let steps = x.length(r);
                let scale = 1.0 / steps.max(1) as f32;
                for row in d.chunks_exact_mut(F).take(steps) {
                    for (o, &g) in row.iter_mut().zip(g) {
                        *o = g * scale;
                    }
                }
            }
        }
    }

    fn walk<W: Walk<Self>>(_: &mut W) {}
}
