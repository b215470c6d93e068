//! Joins: a residual block (a body whose output is added to a shortcut's, the identity by
//! default), and two branches from the same input, concatenated along the first dimension
//! (channels, or features of a vector) or added. More branches nest: the `network!` macro
//! writes `Concat<A, Concat<B, C, _>, _>` with the inner join adding no name of its own, so
//! parameter names stay `block.0.…`, `block.1.…`, `block.2.…`.
//!
//! At a fork the backward pass sums the input gradients of both paths.

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::{Layer, Path, Walk};
use crate::io::onnx::{attr, OnnxGraph};
use crate::pair::Pair;
use crate::tensor::{Batch, Sample};
use crate::Rng;
use core::marker::PhantomData;

/// `out = a + b`, element by element.
fn add_into(a: &[f32], b: &[f32], out: &mut [f32]) {
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        *o = x + y;
    }
}

/// The identity on samples `S`: the shortcut of a residual block that has none.
pub struct Identity<S: Sample>(PhantomData<fn() -> S>);

impl<S: Sample> Default for Identity<S> {
    fn default() -> Self {
        Identity(PhantomData)
    }
}

impl<S: Sample> Layer for Identity<S> {
    type In = S;
    type Out = S;
    type Cache = ();
    type Workspace = ();
    const PARAMS: usize = 0;
    const KIND: &'static str = "Identity";

    fn to_onnx(&self, _g: &mut OnnxGraph, _path: &Path<'_>, input: &str) -> crate::Result<String> {
        Ok(input.to_string())
    }

    fn init(_rng: &mut Rng) -> Self {
        Self::default()
    }

    fn forward_into(&self, x: &S, y: &mut S, _ws: &mut ()) {
        y.as_mut_slice().copy_from_slice(x.as_slice());
    }

    fn forward_batch_into(&self, x: &Batch<S>, y: &mut Batch<S>, _ws: &mut ()) {
        y.set_rows(x.rows());
        y.as_mut_slice().copy_from_slice(x.as_slice());
    }

    fn forward_train(&self, x: &Batch<S>, y: &mut Batch<S>, _cache: &mut (), _rng: &mut Rng) {
        self.forward_batch_into(x, y, &mut ());
    }

    fn backward(
        &mut self,
        x: &Batch<S>,
        _y: &Batch<S>,
        _cache: &mut (),
        dy: &Batch<S>,
        dx: Option<&mut Batch<S>>,
    ) {
        if let Some(dx) = dx {
            dx.set_rows(x.rows());
            dx.as_mut_slice().copy_from_slice(dy.as_slice());
        }
    }

    fn walk<W: Walk<Self>>(_: &mut W) {}
}

/// What a two-path join keeps between its passes: each path's cache and output, and the
/// input gradients that are summed at the fork.
pub struct JoinCache<A: Layer, B: Layer<In = A::In>> {
    a: A::Cache,
    b: B::Cache,
    a_out: Batch<A::Out>,
    b_out: Batch<B::Out>,
    a_dx: Batch<A::In>,
    b_dx: Batch<A::In>,
    a_dy: Batch<A::Out>,
    b_dy: Batch<B::Out>,
}

impl<A: Layer, B: Layer<In = A::In>> Default for JoinCache<A, B> {
    fn default() -> Self {
        JoinCache {
            a: Default::default(),
            b: Default::default(),
            a_out: Batch::default(),
            b_out: Batch::default(),
            a_dx: Batch::default(),
            b_dx: Batch::default(),
            a_dy: Batch::default(),
            b_dy: Batch::default(),
        }
    }
}

/// What a two-path join's inference reuses: each path's workspace and output.
pub struct JoinWorkspace<A: Layer, B: Layer<In = A::In>> {
    a: A::Workspace,
    b: B::Workspace,
    a_out: Batch<A::Out>,
    b_out: Batch<B::Out>,
}

impl<A: Layer, B: Layer<In = A::In>> Default for JoinWorkspace<A, B> {
    fn default() -> Self {
        JoinWorkspace {
            a: Default::default(),
            b: Default::default(),
            a_out: Batch::default(),
            b_out: Batch::default(),
        }
    }
}

/// How the two paths' outputs make the join's output, and how its output gradient splits.
trait Merge<A: Sample, B: Sample, Out: Sample> {
    fn merge(a: &[f32], b: &[f32], out: &mut [f32], rows: usize);
    /// The gradients of the two paths' outputs from the join's.
    fn split(dy: &[f32], da: &mut [f32], db: &mut [f32], rows: usize);
    /// What the output carries of the paths' outputs besides values (a zip: the lengths of
    /// each part); nothing by default.
    fn carry(_a: &Batch<A>, _b: &Batch<B>, _out: &mut Batch<Out>) {}
    /// The ONNX node merging the paths' outputs `a` and `b`.
    fn onnx(g: &mut OnnxGraph, scope: &str, a: &str, b: &str) -> String;
}

/// Concatenation into a pair: each part keeps its lengths.
struct Zipped;

impl<A: Sample, B: Sample, Out: Sample> Merge<A, B, Out> for Zipped {
    /// The pair as typed-nn holds one: each sample's parts flat, side by side.
    fn onnx(g: &mut OnnxGraph, scope: &str, a: &str, b: &str) -> String {
        g.pair(scope, a, A::LEN, b, B::LEN)
    }
    fn merge(a: &[f32], b: &[f32], out: &mut [f32], rows: usize) {
        <Concatenated as Merge<A, B, Out>>::merge(a, b, out, rows)
    }
    fn split(dy: &[f32], da: &mut [f32], db: &mut [f32], rows: usize) {
        <Concatenated as Merge<A, B, Out>>::split(dy, da, db, rows)
    }
    fn carry(a: &Batch<A>, b: &Batch<B>, out: &mut Batch<Out>) {
        let mut parts = a.lengths_as_parts(0);
        parts.extend(b.lengths_as_parts(A::LEN));
        out.set_part_lengths(parts);
    }
}

/// Element-wise sum (a residual block, `Add`).
struct Summed;

impl<S: Sample> Merge<S, S, S> for Summed {
    fn onnx(g: &mut OnnxGraph, scope: &str, a: &str, b: &str) -> String {
        g.op("Add", scope, &[a, b], vec![])
    }
    fn merge(a: &[f32], b: &[f32], out: &mut [f32], _rows: usize) {
        add_into(a, b, out);
    }
    fn split(dy: &[f32], da: &mut [f32], db: &mut [f32], _rows: usize) {
        da.copy_from_slice(dy);
        db.copy_from_slice(dy);
    }
}

/// Concatenation along the first dimension: each sample's values, `a`'s then `b`'s.
struct Concatenated;

impl<A: Sample, B: Sample, Out: Sample> Merge<A, B, Out> for Concatenated {
    /// The first dimension of a sample is the second of a batch.
    fn onnx(g: &mut OnnxGraph, scope: &str, a: &str, b: &str) -> String {
        g.op("Concat", scope, &[a, b], vec![attr::int("axis", 1)])
    }
    fn merge(a: &[f32], b: &[f32], out: &mut [f32], rows: usize) {
        for r in 0..rows {
            let o = &mut out[r * Out::LEN..(r + 1) * Out::LEN];
            o[..A::LEN].copy_from_slice(&a[r * A::LEN..(r + 1) * A::LEN]);
            o[A::LEN..].copy_from_slice(&b[r * B::LEN..(r + 1) * B::LEN]);
        }
    }
    fn split(dy: &[f32], da: &mut [f32], db: &mut [f32], rows: usize) {
        for r in 0..rows {
            let d = &dy[r * Out::LEN..(r + 1) * Out::LEN];
            da[r * A::LEN..(r + 1) * A::LEN].copy_from_slice(&d[..A::LEN]);
            db[r * B::LEN..(r + 1) * B::LEN].copy_from_slice(&d[A::LEN..]);
        }
    }
}

/// The passes shared by every two-path join, given its merge.
macro_rules! join_passes {
    ($merge:ty, $a:ident, $b:ident) => {
        /// The two paths' outputs, then the larger of their arenas (they run one after
        /// the other).
        const ARENA: usize = crate::kernels::arena::padded(<A::Out as Sample>::LEN)
            + crate::kernels::arena::padded(<B::Out as Sample>::LEN)
            + crate::kernels::arena::max(A::ARENA, B::ARENA);
        const ARENA_READY: bool = A::ARENA_READY && B::ARENA_READY;

        fn forward_arena(&self, x: &Self::In, y: &mut Self::Out, arena: &mut [f32]) {
            use crate::kernels::arena::{padded, with_sample_mut};
            let (a, rest) = arena.split_at_mut(padded(<A::Out as Sample>::LEN));
            let (b, scratch) = rest.split_at_mut(padded(<B::Out as Sample>::LEN));
            with_sample_mut(a, |a: &mut A::Out| self.$a.forward_arena(x, a, scratch));
            with_sample_mut(b, |b: &mut B::Out| self.$b.forward_arena(x, b, scratch));
            let (a, b) = (&a[..<A::Out as Sample>::LEN], &b[..<B::Out as Sample>::LEN]);
            <$merge as Merge<A::Out, B::Out, Self::Out>>::merge(a, b, y.as_mut_slice(), 1);
        }

        fn init(rng: &mut Rng) -> Self {
            let $a = A::init(rng);
            let $b = B::init(rng);
            Self::from_parts($a, $b)
        }

        fn check_input(&self, x: &[f32]) -> crate::error::Result<()> {
            self.$a.check_input(x)?;
            self.$b.check_input(x)
        }

        fn forward_into(&self, x: &Self::In, y: &mut Self::Out, ws: &mut JoinWorkspace<A, B>) {
            let (mut a, mut b) = (A::Out::zeros(), B::Out::zeros());
            self.$a.forward_into(x, &mut a, &mut ws.a);
            self.$b.forward_into(x, &mut b, &mut ws.b);
            <$merge as Merge<A::Out, B::Out, Self::Out>>::merge(
                a.as_slice(),
                b.as_slice(),
                y.as_mut_slice(),
                1,
            );
        }

        fn forward_batch_into(
            &self,
            x: &Batch<Self::In>,
            y: &mut Batch<Self::Out>,
            ws: &mut JoinWorkspace<A, B>,
        ) {
            self.$a.forward_batch_into(x, &mut ws.a_out, &mut ws.a);
            self.$b.forward_batch_into(x, &mut ws.b_out, &mut ws.b);
            y.set_rows(x.rows());
            <$merge as Merge<A::Out, B::Out, Self::Out>>::merge(
                ws.a_out.as_slice(),
                ws.b_out.as_slice(),
                y.as_mut_slice(),
                x.rows(),
            );
            <$merge as Merge<A::Out, B::Out, Self::Out>>::carry(&ws.a_out, &ws.b_out, y);
        }

        fn forward_train(
            &self,
            x: &Batch<Self::In>,
            y: &mut Batch<Self::Out>,
            cache: &mut JoinCache<A, B>,
            rng: &mut Rng,
        ) {
            self.$a
                .forward_train(x, &mut cache.a_out, &mut cache.a, rng);
            self.$b
                .forward_train(x, &mut cache.b_out, &mut cache.b, rng);
            y.set_rows(x.rows());
            <$merge as Merge<A::Out, B::Out, Self::Out>>::merge(
                cache.a_out.as_slice(),
                cache.b_out.as_slice(),
                y.as_mut_slice(),
                x.rows(),
            );
            <$merge as Merge<A::Out, B::Out, Self::Out>>::carry(&cache.a_out, &cache.b_out, y);
        }

        /// Each path's backward from its share of dy; at the fork, dx = dx_a + dx_b.
        fn backward(
            &mut self,
            x: &Batch<Self::In>,
            _y: &Batch<Self::Out>,
            cache: &mut JoinCache<A, B>,
            dy: &Batch<Self::Out>,
            dx: Option<&mut Batch<Self::In>>,
        ) {
            let rows = x.rows();
            cache.a_dy.set_rows(rows);
            cache.b_dy.set_rows(rows);
            <$merge as Merge<A::Out, B::Out, Self::Out>>::split(
                dy.as_slice(),
                cache.a_dy.as_mut_slice(),
                cache.b_dy.as_mut_slice(),
                rows,
            );
            let want_dx = dx.is_some();
            let JoinCache {
                a,
                b,
                a_out,
                b_out,
                a_dx,
                b_dx,
                a_dy,
                b_dy,
            } = cache;
            self.$a
                .backward(x, a_out, a, a_dy, want_dx.then_some(&mut *a_dx));
            self.$b
                .backward(x, b_out, b, b_dy, want_dx.then_some(&mut *b_dx));
            if let Some(dx) = dx {
                dx.set_rows(rows);
                add_into(a_dx.as_slice(), b_dx.as_slice(), dx.as_mut_slice());
            }
        }

        /// Both paths from the input, under the names `walk` gives them, then the merge.
        fn to_onnx(
            &self,
            g: &mut OnnxGraph,
            path: &Path<'_>,
            input: &str,
        ) -> crate::Result<String> {
            let [na, nb] = self.names();
            let a = self.$a.to_onnx(g, &path.child(na), input)?;
            let b = self.$b.to_onnx(g, &path.child(nb), input)?;
            Ok(<$merge as Merge<A::Out, B::Out, Self::Out>>::onnx(
                g,
                &path.to_string(),
                &a,
                &b,
            ))
        }

        fn walk<W: Walk<Self>>(walk: &mut W) {
            let [na, nb] = walk.layer().names();
            walk.sublayer(na, |l| &l.$a, |l| &mut l.$a);
            walk.sublayer(nb, |l| &l.$b, |l| &mut l.$b);
        }
    };
}

/// A residual block: `y = body(x) + shortcut(x)`, the shortcut the [`Identity`] unless a
/// projection (a strided 1×1 convolution, usually) makes the shapes agree.
pub struct Residual<Body: Layer, Shortcut: Layer<In = Body::In, Out = Body::Out>> {
    pub body: Body,
    pub shortcut: Shortcut,
}

impl<Body: Layer, Shortcut: Layer<In = Body::In, Out = Body::Out>> Residual<Body, Shortcut> {
    /// The block of these paths.
    pub fn from_parts(body: Body, shortcut: Shortcut) -> Self {
        Residual { body, shortcut }
    }

    fn names(&self) -> [&'static str; 2] {
        ["body", "shortcut"]
    }
}

impl<A: Layer, B: Layer<In = A::In, Out = A::Out>> Layer for Residual<A, B> {
    type In = A::In;
    type Out = A::Out;
    type Cache = JoinCache<A, B>;
    type Workspace = JoinWorkspace<A, B>;
    const SAMPLE_WORKSPACE: bool = A::SAMPLE_WORKSPACE || B::SAMPLE_WORKSPACE;
    const PARAMS: usize = A::PARAMS + B::PARAMS;
    const FLOPS: usize = A::FLOPS + B::FLOPS;
    const BUFFERS: usize = A::BUFFERS + B::BUFFERS;
    const KIND: &'static str = "Residual";

    join_passes!(Summed, body, shortcut);
}

/// Two branches from one input, added (Keras's `Add`): both produce `A::Out`.
pub struct Sum<A: Layer, B: Layer<In = A::In, Out = A::Out>> {
    pub a: A,
    pub b: B,
    /// The branches' names in parameter paths; an empty name adds none (a nested join).
    pub names: [&'static str; 2],
}

impl<A: Layer, B: Layer<In = A::In, Out = A::Out>> Sum<A, B> {
    /// The join of these branches, named `0` and `1`.
    pub fn from_parts(a: A, b: B) -> Self {
        Sum {
            a,
            b,
            names: ["0", "1"],
        }
    }

    /// The same join with its branches named.
    pub fn named(mut self, names: [&'static str; 2]) -> Self {
        self.names = names;
        self
    }

    fn names(&self) -> [&'static str; 2] {
        self.names
    }
}

impl<A: Layer, B: Layer<In = A::In, Out = A::Out>> Layer for Sum<A, B> {
    type In = A::In;
    type Out = A::Out;
    type Cache = JoinCache<A, B>;
    type Workspace = JoinWorkspace<A, B>;
    const SAMPLE_WORKSPACE: bool = A::SAMPLE_WORKSPACE || B::SAMPLE_WORKSPACE;
    const PARAMS: usize = A::PARAMS + B::PARAMS;
    const FLOPS: usize = A::FLOPS + B::FLOPS;
    const BUFFERS: usize = A::BUFFERS + B::BUFFERS;
    const KIND: &'static str = "Add";

    join_passes!(Summed, a, b);
}

/// Two branches from one input, concatenated along the first dimension into `Out` (their
/// other dimensions agree: the macro checks it, and `SHAPES_AGREE` again).
pub struct Concat<A: Layer, B: Layer<In = A::In>, Out: Sample> {
    pub a: A,
    pub b: B,
    /// The branches' names in parameter paths; an empty name adds none (a nested join).
    pub names: [&'static str; 2],
    _out: PhantomData<fn() -> Out>,
}

impl<A: Layer, B: Layer<In = A::In>, Out: Sample> Concat<A, B, Out> {
    /// Fails to compile unless `Out` is `A::Out` and `B::Out` stacked along the first
    /// dimension.
    const SHAPES_AGREE: () = {
        let (a, b, o) = (A::Out::SHAPE, B::Out::SHAPE, Out::SHAPE);
        assert!(
            a.len() == o.len() && b.len() == o.len() && a[0] + b[0] == o[0],
            "Concat: the output must stack both branches along the first dimension"
        );
        let mut i = 1;
        while i < o.len() {
            assert!(
                a[i] == o[i] && b[i] == o[i],
                "Concat: the branches' other dimensions must agree"
            );
            i += 1;
        }
    };

    /// The join of these branches, named `0` and `1`.
    pub fn from_parts(a: A, b: B) -> Self {
        let () = Self::SHAPES_AGREE;
        Concat {
            a,
            b,
            names: ["0", "1"],
            _out: PhantomData,
        }
    }

    /// The same join with its branches named.
    pub fn named(mut self, names: [&'static str; 2]) -> Self {
        self.names = names;
        self
    }

    fn names(&self) -> [&'static str; 2] {
        self.names
    }
}

impl<A: Layer, B: Layer<In = A::In>, Out: Sample> Layer for Concat<A, B, Out> {
    type In = A::In;
    type Out = Out;
    type Cache = JoinCache<A, B>;
    type Workspace = JoinWorkspace<A, B>;
    const SAMPLE_WORKSPACE: bool = A::SAMPLE_WORKSPACE || B::SAMPLE_WORKSPACE;
    const PARAMS: usize = A::PARAMS + B::PARAMS;
    const FLOPS: usize = A::FLOPS + B::FLOPS;
    const BUFFERS: usize = A::BUFFERS + B::BUFFERS;
    const KIND: &'static str = "Concat";

    join_passes!(Concatenated, a, b);
}

/// Two branches from one input, kept apart: the output is the [`Pair`] of their outputs
/// (its values are theirs side by side, so the passes are a concatenation's).
pub struct Zip<A: Layer, B: Layer<In = A::In>> {
    pub a: A,
    pub b: B,
    /// The branches' names in parameter paths; an empty name adds none (a nested join).
    pub names: [&'static str; 2],
}

impl<A: Layer, B: Layer<In = A::In>> Zip<A, B> {
    /// The join of these branches, named `0` and `1`.
    pub fn from_parts(a: A, b: B) -> Self {
        Zip {
            a,
            b,
            names: ["0", "1"],
        }
    }

    /// The same join with its branches named.
    pub fn named(mut self, names: [&'static str; 2]) -> Self {
        self.names = names;
        self
    }

    fn names(&self) -> [&'static str; 2] {
        self.names
    }
}

impl<A: Layer, B: Layer<In = A::In>> Layer for Zip<A, B> {
    type In = A::In;
    type Out = Pair<A::Out, B::Out>;
    type Cache = JoinCache<A, B>;
    type Workspace = JoinWorkspace<A, B>;
    const SAMPLE_WORKSPACE: bool = A::SAMPLE_WORKSPACE || B::SAMPLE_WORKSPACE;
    const PARAMS: usize = A::PARAMS + B::PARAMS;
    const FLOPS: usize = A::FLOPS + B::FLOPS;
    const BUFFERS: usize = A::BUFFERS + B::BUFFERS;
    const KIND: &'static str = "Zip";
    const OWN_LENGTHS: bool = true;

    join_passes!(Zipped, a, b);
}
