//! A transformer decoder layer, PyTorch's `nn.TransformerDecoderLayer` (`batch_first=True`,
//! no dropout, the self-attention causal): causal self-attention over the target
//! sequence, cross-attention of it over the encoder's output (the memory), and a
//! feed-forward block, each with a residual connection and a LayerNorm, the norms first
//! (`norm_first=True`, pre-norm) or after each residual sum (post-norm, PyTorch's default).
//! Its input and output are the [`Pair`] of the target sequence and the memory, which
//! passes through unchanged, so that layers stack and every one reads the same memory.
//! With part lengths, the self-attention masks the target's padded steps and the
//! cross-attention the memory's.

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::{
    Act, ActivationFn, CausalMask, CrossAttention, DenseSeq, Layer, LayerNorm, MultiHeadAttention,
    Path, Walk,
};
use crate::io::onnx::OnnxGraph;
use crate::pair::{zip_into, Pair};
use crate::tensor::{Batch, Sample, Tensor2};
use crate::Rng;

/// A decoder layer over `T` target tokens and `S` memory tokens of `F` features, `H`
/// heads, a feed-forward block of `HIDDEN` units with activation `A` (PyTorch's default is
/// ReLU); pre-norm when `NORM_FIRST`. Parameters as PyTorch names them: `self_attn.…`,
/// `multihead_attn.…`, `linear1`, `linear2`, `norm1`, `norm2`, `norm3`.
#[derive(Clone, Debug)]
pub struct DecoderLayer<
    const T: usize,
    const S: usize,
    const F: usize,
    const H: usize,
    const HIDDEN: usize,
    A: ActivationFn,
    const NORM_FIRST: bool,
> {
    pub self_attn: MultiHeadAttention<T, F, H, CausalMask>,
    pub multihead_attn: CrossAttention<T, S, F, H>,
    pub linear1: DenseSeq<T, F, HIDDEN>,
    pub activation: Act<A, Tensor2<T, HIDDEN>>,
    pub linear2: DenseSeq<T, HIDDEN, F>,
    pub norm1: LayerNorm<Tensor2<T, F>>,
    pub norm2: LayerNorm<Tensor2<T, F>>,
    pub norm3: LayerNorm<Tensor2<T, F>>,
}

type Seq<const T: usize, const F: usize> = Batch<Tensor2<T, F>>;

/// What a training pass keeps: every intermediate sequence and each sublayer's cache, and
/// the backward pass's gradients, reused from call to call.
#[derive(Default)]
pub struct DecoderCache<
    const T: usize,
    const S: usize,
    const F: usize,
    const H: usize,
    const HIDDEN: usize,
    A: ActivationFn,
> {
    /// The target sequence in, and the memory.
    q0: Seq<T, F>,
    memory: Seq<S, F>,
    /// Each sublayer's input and output, in order: norm or attention inputs, the
    /// cross-attention's pair, the residual sums.
    a1: Seq<T, F>,
    s1: Seq<T, F>,
    r1: Seq<T, F>,
    q1: Seq<T, F>,
    a2: Seq<T, F>,
    p2: Batch<Pair<Tensor2<T, F>, Tensor2<S, F>>>,
    c2: Seq<T, F>,
    r2: Seq<T, F>,
    q2: Seq<T, F>,
    a3: Seq<T, F>,
    h3: Seq<T, HIDDEN>,
    g3: Seq<T, HIDDEN>,
    f3: Seq<T, F>,
    r3: Seq<T, F>,
    self_attn: <MultiHeadAttention<T, F, H, CausalMask> as Layer>::Cache,
    cross: <CrossAttention<T, S, F, H> as Layer>::Cache,
    linear1: <DenseSeq<T, F, HIDDEN> as Layer>::Cache,
    activation: <Act<A, Tensor2<T, HIDDEN>> as Layer>::Cache,
    linear2: <DenseSeq<T, HIDDEN, F> as Layer>::Cache,
    norm: [<LayerNorm<Tensor2<T, F>> as Layer>::Cache; 3],
    /// The target's output before it is paired with the memory again.
    out: Seq<T, F>,
    grads: DecoderGrads<T, S, F, HIDDEN>,
}

/// The gradients a backward pass of a [`DecoderLayer`] moves between its sublayers.
#[derive(Default)]
struct DecoderGrads<const T: usize, const S: usize, const F: usize, const HIDDEN: usize> {
    /// Of the target stream, block by block from the last.
    dq: Seq<T, F>,
    d_memory: Seq<S, F>,
    /// A sublayer's input gradient, and the same through a norm.
    d: Seq<T, F>,
    through: Seq<T, F>,
    d_hidden: Seq<T, HIDDEN>,
    d_act: Seq<T, HIDDEN>,
    d_pair: Batch<Pair<Tensor2<T, F>, Tensor2<S, F>>>,
    d_queries: Seq<T, F>,
    d_keys: Seq<S, F>,
}

/// `a + b`, into `out`, with `a`'s lengths.
fn add<const T: usize, const F: usize>(a: &Seq<T, F>, b: &Seq<T, F>, out: &mut Seq<T, F>) {
    out.set_rows(a.rows());
    out.copy_lengths_from(a);
    for ((o, &x), &y) in out
        .as_mut_slice()
        .iter_mut()
        .zip(a.as_slice())
        .zip(b.as_slice())
    {
        *o = x + y;
    }
}

/// Post-norm: `dq`, the gradient of a norm's output, carried back through it to the
/// residual sum `sum` it normalised.
fn through_post_norm<const T: usize, const F: usize>(
    norm: &mut LayerNorm<Tensor2<T, F>>,
    sum: &Seq<T, F>,
    cache: &mut <LayerNorm<Tensor2<T, F>> as Layer>::Cache,
    dq: &mut Seq<T, F>,
    scratch: &mut Seq<T, F>,
) {
    // The norm's backward pass reads neither its output nor anything but the rows of `sum`.
    norm.backward(sum, sum, cache, dq, Some(scratch));
    core::mem::swap(dq, scratch);
}

/// A sublayer's input gradient `d` added to the residual stream's `dq`: pre-norm, through
/// the norm that made that input from the stream `x` (its output `normed`); post-norm, as
/// it is (the sublayer read the stream itself).
fn onto_stream<const T: usize, const F: usize, const NORM_FIRST: bool>(
    norm: &mut LayerNorm<Tensor2<T, F>>,
    x: &Seq<T, F>,
    normed: &Seq<T, F>,
    cache: &mut <LayerNorm<Tensor2<T, F>> as Layer>::Cache,
    d: &Seq<T, F>,
    dq: &mut Seq<T, F>,
    through: &mut Seq<T, F>,
) {
    if NORM_FIRST {
        norm.backward(x, normed, cache, d, Some(through));
        accumulate(dq, through);
    } else {
        accumulate(dq, d);
    }
}

/// `into += d`
fn accumulate<const T: usize, const F: usize>(into: &mut Seq<T, F>, d: &Seq<T, F>) {
    for (o, &v) in into.as_mut_slice().iter_mut().zip(d.as_slice()) {
        *o += v;
    }
}

impl<
        const T: usize,
        const S: usize,
        const F: usize,
        const H: usize,
        const HIDDEN: usize,
        A: ActivationFn,
        const NORM_FIRST: bool,
    > DecoderLayer<T, S, F, H, HIDDEN, A, NORM_FIRST>
{
    /// The forward pass, every intermediate kept in `c`; `train` runs the sublayers'
    /// training passes (the same values: no sublayer has dropout or batch statistics).
    fn run(
        &self,
        x: &Batch<<Self as Layer>::In>,
        y: &mut Batch<<Self as Layer>::In>,
        c: &mut DecoderCache<T, S, F, H, HIDDEN, A>,
        rng: &mut Rng,
    ) {
        x.split_into(&mut c.q0, &mut c.memory);
        // Self-attention.
        if NORM_FIRST {
            self.norm1
                .forward_train(&c.q0, &mut c.a1, &mut c.norm[0], rng);
            c.a1.copy_lengths_from(&c.q0);
            self.self_attn
                .forward_train(&c.a1, &mut c.s1, &mut c.self_attn, rng);
            add(&c.q0, &c.s1, &mut c.q1);
        } else {
            self.self_attn
                .forward_train(&c.q0, &mut c.s1, &mut c.self_attn, rng);
            add(&c.q0, &c.s1, &mut c.r1);
            self.norm1
                .forward_train(&c.r1, &mut c.q1, &mut c.norm[0], rng);
            c.q1.copy_lengths_from(&c.r1);
        }
        // Cross-attention over the memory.
        if NORM_FIRST {
            self.norm2
                .forward_train(&c.q1, &mut c.a2, &mut c.norm[1], rng);
            c.a2.copy_lengths_from(&c.q1);
            zip_into(&c.a2, &c.memory, &mut c.p2);
        } else {
            zip_into(&c.q1, &c.memory, &mut c.p2);
        }
        self.multihead_attn
            .forward_train(&c.p2, &mut c.c2, &mut c.cross, rng);
        if NORM_FIRST {
            add(&c.q1, &c.c2, &mut c.q2);
        } else {
            add(&c.q1, &c.c2, &mut c.r2);
            self.norm2
                .forward_train(&c.r2, &mut c.q2, &mut c.norm[1], rng);
            c.q2.copy_lengths_from(&c.r2);
        }
        // Feed-forward.
        let ff_in = if NORM_FIRST {
            self.norm3
                .forward_train(&c.q2, &mut c.a3, &mut c.norm[2], rng);
            c.a3.copy_lengths_from(&c.q2);
            &c.a3
        } else {
            &c.q2
        };
        self.linear1
            .forward_train(ff_in, &mut c.h3, &mut c.linear1, rng);
        self.activation
            .forward_train(&c.h3, &mut c.g3, &mut c.activation, rng);
        self.linear2
            .forward_train(&c.g3, &mut c.f3, &mut c.linear2, rng);
        if NORM_FIRST {
            add(&c.q2, &c.f3, &mut c.out);
        } else {
            add(&c.q2, &c.f3, &mut c.r3);
            self.norm3
                .forward_train(&c.r3, &mut c.out, &mut c.norm[2], rng);
            c.out.copy_lengths_from(&c.r3);
        }
        zip_into(&c.out, &c.memory, y);
    }
}

impl<
        const T: usize,
        const S: usize,
        const F: usize,
        const H: usize,
        const HIDDEN: usize,
        A: ActivationFn,
        const NORM_FIRST: bool,
    > Layer for DecoderLayer<T, S, F, H, HIDDEN, A, NORM_FIRST>
{
    type In = Pair<Tensor2<T, F>, Tensor2<S, F>>;
    type Out = Pair<Tensor2<T, F>, Tensor2<S, F>>;
    type Cache = DecoderCache<T, S, F, H, HIDDEN, A>;
    type Workspace = DecoderCache<T, S, F, H, HIDDEN, A>;
    const SAMPLE_WORKSPACE: bool = true;
    const PARAMS: usize = 2 * (4 * F * F + 4 * F) + 2 * F * HIDDEN + HIDDEN + F + 6 * F;
    const FLOPS: usize = <MultiHeadAttention<T, F, H, CausalMask> as Layer>::FLOPS
        + <CrossAttention<T, S, F, H> as Layer>::FLOPS
        + 2 * 2 * T * F * HIDDEN;
    const KIND: &'static str = "TransformerDecoderLayer";
    const OWN_LENGTHS: bool = true;

    fn init(rng: &mut Rng) -> Self {
        DecoderLayer {
            self_attn: MultiHeadAttention::glorot_uniform(rng),
            multihead_attn: CrossAttention::glorot_uniform(rng),
            linear1: DenseSeq::glorot_uniform(rng),
            activation: Act::new(A::default()),
            linear2: DenseSeq::glorot_uniform(rng),
            norm1: LayerNorm::new(1e-5),
            norm2: LayerNorm::new(1e-5),
            norm3: LayerNorm::new(1e-5),
        }
    }

    /// The target and the memory apart, the three blocks as the forward pass runs them
    /// (each sublayer's own nodes under its name), and the pair of the output and the
    /// memory again. Lengths are not exported.
    fn to_onnx(&self, g: &mut OnnxGraph, path: &Path<'_>, input: &str) -> crate::Result<String> {
        let scope = path.to_string();
        let len = Self::In::LEN;
        let q0 = g.part(&scope, input, len, 0, &[T, F]);
        let memory = g.part(&scope, input, len, T * F, &[S, F]);
        let [self_attn, cross, linear1, activation, linear2, norm1, norm2, norm3] = [
            "self_attn",
            "multihead_attn",
            "linear1",
            "activation",
            "linear2",
            "norm1",
            "norm2",
            "norm3",
        ]
        .map(|name| path.child(name));
        let add = |g: &mut OnnxGraph, a: &str, b: &str| g.op("Add", &scope, &[a, b], vec![]);
        // Self-attention.
        let q1 = if NORM_FIRST {
            let a1 = self.norm1.to_onnx(g, &norm1, &q0)?;
            let s1 = self.self_attn.to_onnx(g, &self_attn, &a1)?;
            add(g, &q0, &s1)
        } else {
            let s1 = self.self_attn.to_onnx(g, &self_attn, &q0)?;
            let r1 = add(g, &q0, &s1);
            self.norm1.to_onnx(g, &norm1, &r1)?
        };
        // Cross-attention over the memory.
        let q2 = if NORM_FIRST {
            let a2 = self.norm2.to_onnx(g, &norm2, &q1)?;
            let c2 = self.multihead_attn.onnx_of(g, &cross, &a2, &memory)?;
            add(g, &q1, &c2)
        } else {
            let c2 = self.multihead_attn.onnx_of(g, &cross, &q1, &memory)?;
            let r2 = add(g, &q1, &c2);
            self.norm2.to_onnx(g, &norm2, &r2)?
        };
        // Feed-forward.
        let ff_in = if NORM_FIRST {
            self.norm3.to_onnx(g, &norm3, &q2)?
        } else {
            q2.clone()
        };
        let h3 = self.linear1.to_onnx(g, &linear1, &ff_in)?;
        let g3 = self.activation.to_onnx(g, &activation, &h3)?;
        let f3 = self.linear2.to_onnx(g, &linear2, &g3)?;
        let out = if NORM_FIRST {
            add(g, &q2, &f3)
        } else {
            let r3 = add(g, &q2, &f3);
            self.norm3.to_onnx(g, &norm3, &r3)?
        };
        Ok(g.pair(&scope, &out, T * F, &memory, S * F))
    }

    fn forward_into(&self, x: &Self::In, y: &mut Self::In, ws: &mut Self::Cache) {
        let batch = Batch::from_samples(core::slice::from_ref(x));
        let mut out = Batch::default();
        self.run(&batch, &mut out, ws, &mut Rng::seed(0));
        y.as_mut_slice().copy_from_slice(out.as_slice());
    }

    fn forward_batch_into(
        &self,
        x: &Batch<Self::In>,
        y: &mut Batch<Self::In>,
        ws: &mut Self::Cache,
    ) {
        self.run(x, y, ws, &mut Rng::seed(0));
    }

    fn forward_train(
        &self,
        x: &Batch<Self::In>,
        y: &mut Batch<Self::In>,
        cache: &mut Self::Cache,
        rng: &mut Rng,
    ) {
        self.run(x, y, cache, rng);
    }

    fn backward(
        &mut self,
        _x: &Batch<Self::In>,
        _y: &Batch<Self::In>,
        c: &mut Self::Cache,
        dy: &Batch<Self::In>,
        dx: Option<&mut Batch<Self::In>>,
    ) {
        let g = &mut c.grads;
        dy.split_into(&mut g.dq, &mut g.d_memory);
        // Each block from the last: dq is the gradient of the block's output on the way in,
        // of its input on the way out.
        // Feed-forward.
        if !NORM_FIRST {
            through_post_norm(&mut self.norm3, &c.r3, &mut c.norm[2], &mut g.dq, &mut g.d);
        }
        let ff_in = if NORM_FIRST { &c.a3 } else { &c.q2 };
        self.linear2
            .backward(&c.g3, &c.f3, &mut c.linear2, &g.dq, Some(&mut g.d_act));
        self.activation.backward(
            &c.h3,
            &c.g3,
            &mut c.activation,
            &g.d_act,
            Some(&mut g.d_hidden),
        );
        self.linear1
            .backward(ff_in, &c.h3, &mut c.linear1, &g.d_hidden, Some(&mut g.d));
        onto_stream::<T, F, NORM_FIRST>(
            &mut self.norm3,
            &c.q2,
            &c.a3,
            &mut c.norm[2],
            &g.d,
            &mut g.dq,
            &mut g.through,
        );
        // Cross-attention, whose keys' gradient goes to the memory.
        if !NORM_FIRST {
            through_post_norm(&mut self.norm2, &c.r2, &mut c.norm[1], &mut g.dq, &mut g.d);
        }
        self.multihead_attn
            .backward(&c.p2, &c.c2, &mut c.cross, &g.dq, Some(&mut g.d_pair));
        g.d_pair.split_into(&mut g.d_queries, &mut g.d_keys);
        accumulate(&mut g.d_memory, &g.d_keys);
        onto_stream::<T, F, NORM_FIRST>(
            &mut self.norm2,
            &c.q1,
            &c.a2,
            &mut c.norm[1],
            &g.d_queries,
            &mut g.dq,
            &mut g.through,
        );
        // Self-attention.
        if !NORM_FIRST {
            through_post_norm(&mut self.norm1, &c.r1, &mut c.norm[0], &mut g.dq, &mut g.d);
        }
        let attn_in = if NORM_FIRST { &c.a1 } else { &c.q0 };
        self.self_attn
            .backward(attn_in, &c.s1, &mut c.self_attn, &g.dq, Some(&mut g.d));
        onto_stream::<T, F, NORM_FIRST>(
            &mut self.norm1,
            &c.q0,
            &c.a1,
            &mut c.norm[0],
            &g.d,
            &mut g.dq,
            &mut g.through,
        );
        if let Some(dx) = dx {
            zip_into(&g.dq, &g.d_memory, dx);
        }
    }

    fn walk<W: Walk<Self>>(walk: &mut W) {
        walk.sublayer("self_attn", |l| &l.self_attn, |l| &mut l.self_attn);
        walk.sublayer(
            "multihead_attn",
            |l| &l.multihead_attn,
            |l| &mut l.multihead_attn,
        );
        walk.sublayer("linear1", |l| &l.linear1, |l| &mut l.linear1);
        walk.sublayer("linear2", |l| &l.linear2, |l| &mut l.linear2);
        walk.sublayer("norm1", |l| &l.norm1, |l| &mut l.norm1);
        walk.sublayer("norm2", |l| &l.norm2, |l| &mut l.norm2);
        walk.sublayer("norm3", |l| &l.norm3, |l| &mut l.norm3);
    }
}
