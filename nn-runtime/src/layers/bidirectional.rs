//! Bidirectional recurrences (PyTorch's `bidirectional=True`, Keras's `Bidirectional`): a
//! recurrent layer reading each sequence forwards and a second one (its tensors named
//! `…_reverse`) reading it backwards from the sequence's own last step, their outputs joined
//! per step (every step, or the last state of each direction) by concatenation or sum.
//!
//! The reverse layer is an ordinary recurrent layer given each sequence reversed within its
//! length (padding stays behind), so lengths need nothing of their own here: its state at its
//! last step is the state after reading the sequence's first step, as PyTorch's packed
//! sequences give; its outputs are put back in the sequence's order before they are joined.

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::{Layer, Path, Walk};
use crate::io::onnx::{attr, OnnxGraph};
use crate::tensor::{Batch, Sample};
use crate::Rng;
use core::marker::PhantomData;

/// How the two directions' outputs are joined.
pub trait MergeMode: Send + Sync + 'static {
    /// Concatenated along the features (the forward direction's first), else summed.
    const CONCAT: bool;
}

/// The two directions side by side: `[T, 2H]` or `[2H]` (PyTorch's output, Keras's default
/// `merge_mode="concat"`).
#[derive(Clone, Copy, Debug, Default)]
pub struct MergeConcat;

/// The two directions summed: `[T, H]` or `[H]` (Keras's `merge_mode="sum"`).
#[derive(Clone, Copy, Debug, Default)]
pub struct MergeSum;

impl MergeMode for MergeConcat {
    const CONCAT: bool = true;
}

impl MergeMode for MergeSum {
    const CONCAT: bool = false;
}

/// A forward recurrent layer `Fw` and a reverse one `Bw` (the same cell and sizes, tensors
/// named `…_reverse`) over the same sequences, joined by `M` into `Y` samples.
#[derive(Clone, Debug)]
pub struct Bidirectional<Fw, Bw, M, Y> {
    pub forward: Fw,
    pub reverse: Bw,
    _merge: PhantomData<fn() -> (M, Y)>,
}

/// What inference reuses: each direction's workspace and output, and the input reversed.
pub struct BidirectionalWorkspace<Fw: Layer, Bw: Layer<In = Fw::In, Out = Fw::Out>> {
    forward: Fw::Workspace,
    reverse: Bw::Workspace,
    reversed: Batch<Fw::In>,
    forward_out: Batch<Fw::Out>,
    reverse_out: Batch<Fw::Out>,
}

/// What a training pass keeps: each direction's cache, input and output, and the backward
/// pass's scratch.
pub struct BidirectionalCache<Fw: Layer, Bw: Layer<In = Fw::In, Out = Fw::Out>> {
    forward: Fw::Cache,
    reverse: Bw::Cache,
    reversed: Batch<Fw::In>,
    forward_out: Batch<Fw::Out>,
    reverse_out: Batch<Fw::Out>,
    d_forward: Batch<Fw::Out>,
    d_reverse: Batch<Fw::Out>,
    dx_reverse: Batch<Fw::In>,
}

macro_rules! default_fields {
    ($name:ident { $($field:ident),* }) => {
        impl<Fw: Layer, Bw: Layer<In = Fw::In, Out = Fw::Out>> Default for $name<Fw, Bw> {
            fn default() -> Self {
                $name { $($field: Default::default()),* }
            }
        }
    };
}
default_fields!(BidirectionalWorkspace {
    forward,
    reverse,
    reversed,
    forward_out,
    reverse_out
});
default_fields!(BidirectionalCache {
    forward,
    reverse,
    reversed,
    forward_out,
    reverse_out,
    d_forward,
    d_reverse,
    dx_reverse
});

/// Steps and values per step of samples `S` read as sequences (`[T, F]`: T steps of F; a
/// vector: one step).
const fn steps_of<S: Sample>() -> (usize, usize) {
    if S::SHAPE.len() >= 2 {
        (S::SHAPE[0], S::LEN / S::SHAPE[0])
    } else {
        (1, S::LEN)
    }
}

/// Where step `t` of a sequence of `steps` steps, `length` of them real, lies when the
/// sequence is read backwards from its own last step: `length − 1 − t` within the length,
/// padded steps where they are, and a one-step output (a last state) its own mirror.
fn mirrored(t: usize, length: usize, steps: usize) -> usize {
    if steps > 1 && t < length {
        length - 1 - t
    } else {
        t
    }
}
/// `dst` = `src` with each row's first `length` steps in reverse order and the padding after
/// them as it is; rows of `steps` steps of `width` values.
fn reverse_steps(
    src: &[f32],
    dst: &mut [f32],
    steps: usize,
    width: usize,
    length: impl Fn(usize) -> usize,
) {
    let row = steps * width;
    for (r, (s, d)) in src
        .chunks_exact(row.max(1))
        .zip(dst.chunks_exact_mut(row.max(1)))
        .enumerate()
    {
        let n = length(r);
        for t in 0..steps {
            let from = mirrored(t, n, steps);
            d[t * width..(t + 1) * width].copy_from_slice(&s[from * width..(from + 1) * width]);
        }
    }
}

/// A batch of sequences `[N, T, …]` with the steps of each in reverse order.
fn onnx_reverse_steps(g: &mut OnnxGraph, scope: &str, x: &str) -> String {
    let starts = g.const_i64(scope, "starts", &[1], &[-1]);
    let ends = g.const_i64(scope, "ends", &[1], &[i64::MIN]);
    let axes = g.const_i64(scope, "axes", &[1], &[1]);
    let steps = g.const_i64(scope, "steps", &[1], &[-1]);
    g.op("Slice", scope, &[x, &starts, &ends, &axes, &steps], vec![])
}

impl<Fw, Bw, M, Y> Bidirectional<Fw, Bw, M, Y>
where
    Fw: Layer,
    Bw: Layer<In = Fw::In, Out = Fw::Out>,
    M: MergeMode,
    Y: Sample,
{
    /// The output holds both directions' values (concatenated) or one direction's (summed).
    const SIZES: () = assert!(
        Y::LEN == if M::CONCAT { 2 } else { 1 } * <Fw::Out as Sample>::LEN,
        "a bidirectional layer's output is both directions concatenated, or their sum"
    );

    /// The two directions, freshly initialised.
    pub fn new(rng: &mut Rng) -> Self {
        let () = Self::SIZES;
        Bidirectional {
            forward: Fw::init(rng),
            reverse: Bw::init(rng),
            _merge: PhantomData,
        }
    }

    /// `y` from the forward direction's `f` and the reverse direction's `b` (in its own,
    /// reversed order), `rows` rows whose lengths `length` gives.
    fn merge(f: &[f32], b: &[f32], y: &mut [f32], rows: usize, length: impl Fn(usize) -> usize) {
        let (steps, width) = steps_of::<Fw::Out>();
        let out_width = if M::CONCAT { 2 * width } else { width };
        for r in 0..rows {
            let n = length(r);
            for t in 0..steps {
                // The reverse direction's output for step t is its own step n − 1 − t.
                let from = mirrored(t, n, steps);
                let fv = &f[(r * steps + t) * width..][..width];
                let bv = &b[(r * steps + from) * width..][..width];
                let yv = &mut y[(r * steps + t) * out_width..][..out_width];
                if M::CONCAT {
                    yv[..width].copy_from_slice(fv);
                    yv[width..].copy_from_slice(bv);
                } else {
                    for ((o, &a), &c) in yv.iter_mut().zip(fv).zip(bv) {
                        *o = a + c;
                    }
                }
            }
        }
    }

    /// The gradients of both directions' outputs (the reverse one in its own order) from
    /// the gradient `dy` of the joined output.
    fn split(
        dy: &[f32],
        df: &mut [f32],
        db: &mut [f32],
        rows: usize,
        length: impl Fn(usize) -> usize,
    ) {
        let (steps, width) = steps_of::<Fw::Out>();
        let out_width = if M::CONCAT { 2 * width } else { width };
        for r in 0..rows {
            let n = length(r);
            for t in 0..steps {
                let to = mirrored(t, n, steps);
                let d = &dy[(r * steps + t) * out_width..][..out_width];
                df[(r * steps + t) * width..][..width].copy_from_slice(&d[..width]);
                let back = if M::CONCAT { &d[width..] } else { &d[..width] };
                db[(r * steps + to) * width..][..width].copy_from_slice(back);
            }
        }
    }
}

impl<Fw, Bw, M, Y> Layer for Bidirectional<Fw, Bw, M, Y>
where
    Fw: Layer,
    Bw: Layer<In = Fw::In, Out = Fw::Out>,
    M: MergeMode,
    Y: Sample,
{
    type In = Fw::In;
    type Out = Y;
    type Cache = BidirectionalCache<Fw, Bw>;
    type Workspace = BidirectionalWorkspace<Fw, Bw>;
    const PARAMS: usize = Fw::PARAMS + Bw::PARAMS;
    const FLOPS: usize = Fw::FLOPS + Bw::FLOPS;
    const SAMPLE_WORKSPACE: bool = true;
    const KIND: &'static str = "Bidirectional";

    fn init(rng: &mut Rng) -> Self {
        Self::new(rng)
    }

    fn forward_into(&self, x: &Self::In, y: &mut Y, ws: &mut Self::Workspace) {
        let (steps, width) = steps_of::<Self::In>();
        let mut reversed = <Self::In as Sample>::zeros();
        reverse_steps(x.as_slice(), reversed.as_mut_slice(), steps, width, |_| {
            steps
        });
        let (mut f, mut b) = (<Fw::Out as Sample>::zeros(), <Fw::Out as Sample>::zeros());
        self.forward.forward_into(x, &mut f, &mut ws.forward);
        self.reverse
            .forward_into(&reversed, &mut b, &mut ws.reverse);
        Self::merge(f.as_slice(), b.as_slice(), y.as_mut_slice(), 1, |_| steps);
    }

    fn forward_batch_into(&self, x: &Batch<Self::In>, y: &mut Batch<Y>, ws: &mut Self::Workspace) {
        let (steps, width) = steps_of::<Self::In>();
        let rows = x.rows();
        ws.reversed.set_rows(rows);
        ws.reversed.copy_lengths_from(x);
        reverse_steps(
            x.as_slice(),
            ws.reversed.as_mut_slice(),
            steps,
            width,
            |r| x.length(r),
        );
        self.forward
            .forward_batch_into(x, &mut ws.forward_out, &mut ws.forward);
        self.reverse
            .forward_batch_into(&ws.reversed, &mut ws.reverse_out, &mut ws.reverse);
        y.set_rows(rows);
        let (f, b) = (ws.forward_out.as_slice(), ws.reverse_out.as_slice());
        Self::merge(f, b, y.as_mut_slice(), rows, |r| x.length(r));
    }

    fn forward_train(
        &self,
        x: &Batch<Self::In>,
        y: &mut Batch<Y>,
        cache: &mut Self::Cache,
        rng: &mut Rng,
    ) {
        let (steps, width) = steps_of::<Self::In>();
        let rows = x.rows();
        cache.reversed.set_rows(rows);
        cache.reversed.copy_lengths_from(x);
        let reversed = cache.reversed.as_mut_slice();
        reverse_steps(x.as_slice(), reversed, steps, width, |r| x.length(r));
        self.forward
            .forward_train(x, &mut cache.forward_out, &mut cache.forward, rng);
        self.reverse.forward_train(
            &cache.reversed,
            &mut cache.reverse_out,
            &mut cache.reverse,
            rng,
        );
        y.set_rows(rows);
        let (f, b) = (cache.forward_out.as_slice(), cache.reverse_out.as_slice());
        Self::merge(f, b, y.as_mut_slice(), rows, |r| x.length(r));
    }

    fn backward(
        &mut self,
        x: &Batch<Self::In>,
        _y: &Batch<Y>,
        cache: &mut Self::Cache,
        dy: &Batch<Y>,
        dx: Option<&mut Batch<Self::In>>,
    ) {
        let rows = x.rows();
        cache.d_forward.set_rows(rows);
        cache.d_reverse.set_rows(rows);
        Self::split(
            dy.as_slice(),
            cache.d_forward.as_mut_slice(),
            cache.d_reverse.as_mut_slice(),
            rows,
            |r| x.length(r),
        );
        let BidirectionalCache {
            forward,
            reverse,
            reversed,
            forward_out,
            reverse_out,
            d_forward,
            d_reverse,
            dx_reverse,
        } = cache;
        let mut dx = dx;
        let wants_dx = dx.is_some();
        self.reverse.backward(
            reversed,
            reverse_out,
            reverse,
            d_reverse,
            wants_dx.then_some(&mut *dx_reverse),
        );
        self.forward
            .backward(x, forward_out, forward, d_forward, dx.as_deref_mut());
        if let Some(dx) = dx {
            // Plus the reverse direction's input gradient, put back in the sequence's order.
            let (steps, width) = steps_of::<Self::In>();
            let (d, back) = (dx.as_mut_slice(), dx_reverse.as_slice());
            for r in 0..rows {
                let n = x.length(r);
                for t in 0..steps {
                    let from = mirrored(t, n, steps);
                    let to = &mut d[(r * steps + t) * width..][..width];
                    for (o, &v) in to
                        .iter_mut()
                        .zip(&back[(r * steps + from) * width..][..width])
                    {
                        *o += v;
                    }
                }
            }
        }
    }

    /// The forward direction on the input, the reverse one on the input reversed in time
    /// (its output of every step reversed back), then their concatenation or sum.
    fn to_onnx(&self, g: &mut OnnxGraph, path: &Path<'_>, input: &str) -> crate::Result<String> {
        let scope = path.to_string();
        let fw = self.forward.to_onnx(g, path, input)?;
        let reversed = onnx_reverse_steps(g, &scope, input);
        let mut bw = self.reverse.to_onnx(g, path, &reversed)?;
        if <Fw::Out as Sample>::SHAPE.len() == 2 {
            bw = onnx_reverse_steps(g, &scope, &bw);
        }
        Ok(if M::CONCAT {
            g.op("Concat", &scope, &[&fw, &bw], vec![attr::int("axis", -1)])
        } else {
            g.op("Add", &scope, &[&fw, &bw], vec![])
        })
    }

    fn walk<W: Walk<Self>>(walk: &mut W) {
        walk.sublayer("", |l| &l.forward, |l| &mut l.forward);
        walk.sublayer("", |l| &l.reverse, |l| &mut l.reverse);
    }
}
