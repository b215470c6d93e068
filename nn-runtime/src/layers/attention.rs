//! Self-attention over `[tokens, features]` samples, PyTorch's `nn.MultiheadAttention`
//! (`batch_first=True`; a batch with lengths masks each sample's padded keys, as
//! `key_padding_mask`) with its parameter names and layouts (`in_proj_weight
//! [3F, F]`, `in_proj_bias`, `out_proj.weight [F, F]`, `out_proj.bias`), causal or not,
//! with rotary positions or not; and a learned positional embedding added to every sample.

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::{Layer, Layout, Path, Walk};
use crate::io::onnx::{attr, LayerState, OnnxGraph};
use crate::kernels::attention::{
    attention_backward, attention_forward, rotary_tables, AttentionGeom, AttentionGrads,
    AttentionParams, AttentionScratch,
};
use crate::tensor::{Batch, Sample, Tensor2};
use crate::Rng;
use core::marker::PhantomData;

/// Which keys each query of a [`MultiHeadAttention`] sees.
pub trait Masking: Send + Sync + 'static {
    const CAUSAL: bool;
}

/// Every query sees every key (of its sample's length).
#[derive(Clone, Copy, Debug, Default)]
pub struct Unmasked;

/// Query `i` sees keys `0..=i` (PyTorch's `is_causal=True`): what a decoder and a language
/// model need, and what lets the layer run one step at a time with a key-value cache.
#[derive(Clone, Copy, Debug, Default)]
pub struct CausalMask;

impl Masking for Unmasked {
    const CAUSAL: bool = false;
}

impl Masking for CausalMask {
    const CAUSAL: bool = true;
}

/// How a [`MultiHeadAttention`] knows positions.
pub trait Positions: Send + Sync + 'static {
    const ROTARY: bool;
}

/// The layer sees no positions (they come from the input: a positional embedding before).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoRotation;

/// Rotary position embedding (RoFormer's RoPE, base 10 000, Llama's "rotate half" layout):
/// each head's queries and keys rotated by their positions, so that scores depend on the
/// distance between tokens. No parameters.
#[derive(Clone, Copy, Debug, Default)]
pub struct Rotary;

impl Positions for NoRotation {
    const ROTARY: bool = false;
}

impl Positions for Rotary {
    const ROTARY: bool = true;
}

/// Multi-head self-attention on `T` tokens of `F` features with `H` heads (`H` divides `F`:
/// the macro checks it, `GEOMETRY` again), masked by `M` ([`Unmasked`] or [`CausalMask`]),
/// positions by `P` ([`NoRotation`] or [`Rotary`]).
#[derive(Clone, Debug)]
pub struct MultiHeadAttention<
    const T: usize,
    const F: usize,
    const H: usize,
    M: Masking = Unmasked,
    P: Positions = NoRotation,
> {
    /// `W_inᵀ [F, 3F]`: PyTorch's `in_proj_weight` transposed (queries, keys, values).
    pub in_weight_t: Vec<f32>,
    /// `[3F]`
    pub in_bias: Vec<f32>,
    /// `W_outᵀ [F, F]`: PyTorch's `out_proj.weight` transposed.
    pub out_weight_t: Vec<f32>,
    /// `[F]`
    pub out_bias: Vec<f32>,
    pub in_weight_t_grad: Vec<f32>,
    pub in_bias_grad: Vec<f32>,
    pub out_weight_t_grad: Vec<f32>,
    pub out_bias_grad: Vec<f32>,
    options: PhantomData<fn() -> (M, P)>,
}

impl<const T: usize, const F: usize, const H: usize, M: Masking, P: Positions>
    MultiHeadAttention<T, F, H, M, P>
{
    pub(crate) const GEOMETRY: AttentionGeom = {
        assert!(
            H > 0 && F.is_multiple_of(H),
            "the number of heads must divide the features"
        );
        assert!(
            !P::ROTARY || (F / H).is_multiple_of(2),
            "rotary positions need an even number of features per head"
        );
        AttentionGeom {
            t: T,
            f: F,
            heads: H,
            causal: M::CAUSAL,
            rope: P::ROTARY,
        }
    };

    /// PyTorch's initialisation: Glorot-uniform projections (`in_proj_weight` as one
    /// `[3F, F]` matrix), zero biases.
    pub fn glorot_uniform(rng: &mut Rng) -> Self {
        let mut layer = MultiHeadAttention {
            in_weight_t: vec![0.0; F * 3 * F],
            in_bias: vec![0.0; 3 * F],
            out_weight_t: vec![0.0; F * F],
            out_bias: vec![0.0; F],
            in_weight_t_grad: vec![0.0; F * 3 * F],
            in_bias_grad: vec![0.0; 3 * F],
            out_weight_t_grad: vec![0.0; F * F],
            out_bias_grad: vec![0.0; F],
            options: PhantomData,
        };
        rng.fill_uniform(&mut layer.in_weight_t, (6.0 / (4 * F) as f32).sqrt());
        rng.fill_uniform(&mut layer.out_weight_t, (6.0 / (2 * F) as f32).sqrt());
        layer
    }

    pub(super) fn params(&self) -> AttentionParams<'_> {
        AttentionParams {
            in_weight_t: &self.in_weight_t,
            in_bias: &self.in_bias,
            out_weight_t: &self.out_weight_t,
            out_bias: &self.out_bias,
        }
    }
}

impl<const T: usize, const F: usize, const H: usize, M: Masking, P: Positions> Layer
    for MultiHeadAttention<T, F, H, M, P>
{
    type In = Tensor2<T, F>;
    type Out = Tensor2<T, F>;
    /// Q, K, V, the attention probabilities and the heads' outputs.
    type Cache = AttentionScratch;
    type Workspace = AttentionScratch;
    const SAMPLE_WORKSPACE: bool = true;
    const PARAMS: usize = 4 * F * F + 4 * F;
    /// Projections at every token, and the scores and weighted sums of every head.
    const FLOPS: usize = 2 * T * 4 * F * F + 4 * T * T * F;
    const KIND: &'static str = "MultiHeadAttention";

    /// Decomposed (ONNX 17 has no attention operator): see [`attention_onnx`].
    fn to_onnx(&self, g: &mut OnnxGraph, path: &Path<'_>, input: &str) -> crate::Result<String> {
        // Its checks (heads divide the features, an even head size for rotations) hold.
        let _checked = Self::GEOMETRY;
        let sizes = AttentionOnnx {
            queries: T,
            keys: T,
            features: F,
            heads: H,
            causal: M::CAUSAL,
            rotary: P::ROTARY,
        };
        attention_onnx(g, &LayerState::of(self, path), path, input, None, sizes)
    }

    fn init(rng: &mut Rng) -> Self {
        Self::glorot_uniform(rng)
    }

    fn forward_into(&self, x: &Tensor2<T, F>, y: &mut Tensor2<T, F>, ws: &mut AttentionScratch) {
        attention_forward(
            &Self::GEOMETRY,
            &self.params(),
            x.as_slice(),
            y.as_mut_slice(),
            1,
            None,
            ws,
        );
    }

    fn forward_batch_into(
        &self,
        x: &Batch<Tensor2<T, F>>,
        y: &mut Batch<Tensor2<T, F>>,
        ws: &mut AttentionScratch,
    ) {
        y.set_rows(x.rows());
        attention_forward(
            &Self::GEOMETRY,
            &self.params(),
            x.as_slice(),
            y.as_mut_slice(),
            x.rows(),
            x.lengths(),
            ws,
        );
    }

    fn forward_train(
        &self,
        x: &Batch<Tensor2<T, F>>,
        y: &mut Batch<Tensor2<T, F>>,
        cache: &mut AttentionScratch,
        _rng: &mut Rng,
    ) {
        self.forward_batch_into(x, y, cache);
    }

    fn backward(
        &mut self,
        x: &Batch<Tensor2<T, F>>,
        _y: &Batch<Tensor2<T, F>>,
        cache: &mut AttentionScratch,
        dy: &Batch<Tensor2<T, F>>,
        dx: Option<&mut Batch<Tensor2<T, F>>>,
    ) {
        let dx = dx.map(|dx| {
            dx.set_rows(x.rows());
            dx.as_mut_slice()
        });
        let params = AttentionParams {
            in_weight_t: &self.in_weight_t,
            in_bias: &self.in_bias,
            out_weight_t: &self.out_weight_t,
            out_bias: &self.out_bias,
        };
        let grads = AttentionGrads {
            in_weight_t: &mut self.in_weight_t_grad,
            in_bias: &mut self.in_bias_grad,
            out_weight_t: &mut self.out_weight_t_grad,
            out_bias: &mut self.out_bias_grad,
        };
        attention_backward(
            &Self::GEOMETRY,
            &params,
            x.as_slice(),
            dy.as_slice(),
            x.rows(),
            cache,
            grads,
            dx,
        );
    }

    fn walk<W: Walk<Self>>(walk: &mut W) {
        walk.param(
            "in_proj_weight",
            &[3 * F, F],
            Layout::Transposed,
            |l| (&l.in_weight_t, &l.in_weight_t_grad),
            |l| (&mut l.in_weight_t, &mut l.in_weight_t_grad),
        );
        walk.param(
            "in_proj_bias",
            &[3 * F],
            Layout::RowMajor,
            |l| (&l.in_bias, &l.in_bias_grad),
            |l| (&mut l.in_bias, &mut l.in_bias_grad),
        );
        walk.param(
            "out_proj.weight",
            &[F, F],
            Layout::Transposed,
            |l| (&l.out_weight_t, &l.out_weight_t_grad),
            |l| (&mut l.out_weight_t, &mut l.out_weight_t_grad),
        );
        walk.param(
            "out_proj.bias",
            &[F],
            Layout::RowMajor,
            |l| (&l.out_bias, &l.out_bias_grad),
            |l| (&mut l.out_bias, &mut l.out_bias_grad),
        );
    }
}

/// The sizes and options of an attention written as ONNX nodes.
pub(super) struct AttentionOnnx {
    pub queries: usize,
    pub keys: usize,
    pub features: usize,
    pub heads: usize,
    pub causal: bool,
    pub rotary: bool,
}

/// An attention's nodes, decomposed (ONNX 17 has no attention operator), reading the
/// parameters of `state` (a [`MultiHeadAttention`]'s): the input projection, the heads
/// split as `[N, H, T, F/H]`, queries and keys rotated by their positions where `rotary`,
/// softmax(q·kᵀ/√(F/H) + mask)·v, the heads joined and the output projection. Self-attention
/// (`keys` `None`) projects every token once by the whole `in_proj_weight`; cross-attention
/// projects `queries` by its first block of rows and `keys` by the other two, as the
/// kernels do. Every key of the sample is attended (lengths are not exported).
pub(super) fn attention_onnx(
    g: &mut OnnxGraph,
    state: &LayerState,
    path: &Path<'_>,
    queries: &str,
    keys: Option<&str>,
    a: AttentionOnnx,
) -> crate::Result<String> {
    let scope = path.to_string();
    let (f, heads) = (a.features, a.heads);
    let (in_w, in_b) = (
        state.initializer(g, "in_proj_weight")?,
        state.initializer(g, "in_proj_bias")?,
    );
    let (out_w, out_b) = (
        state.initializer(g, "out_proj.weight")?,
        state.initializer(g, "out_proj.bias")?,
    );
    let dh = f / heads;
    let (q, k, v) = match keys {
        None => {
            let qkv = g.linear(&scope, queries, 2, &in_w, Some(&in_b));
            let [q, k, v] = split_heads(g, &scope, &qkv, a.queries, heads, dh);
            (q, k, v)
        }
        Some(keys) => {
            let w_q = g.slice(&scope, &in_w, 0, 0, f);
            let b_q = g.slice(&scope, &in_b, 0, 0, f);
            let w_kv = g.slice(&scope, &in_w, 0, f, 3 * f);
            let b_kv = g.slice(&scope, &in_b, 0, f, 3 * f);
            let q = g.linear(&scope, queries, 2, &w_q, Some(&b_q));
            let [q] = split_heads(g, &scope, &q, a.queries, heads, dh);
            let kv = g.linear(&scope, keys, 2, &w_kv, Some(&b_kv));
            let [k, v] = split_heads(g, &scope, &kv, a.keys, heads, dh);
            (q, k, v)
        }
    };
    let (q, k) = if a.rotary {
        // One table for queries and keys: rotary positions are self-attention's, where
        // both have the same tokens.
        let (cos, sin) = rotary_onnx(g, &scope, a.queries, dh);
        (
            rotate_onnx(g, &scope, &q, &cos, &sin, dh),
            rotate_onnx(g, &scope, &k, &cos, &sin, dh),
        )
    } else {
        (q, k)
    };
    let kt = g.transpose(&scope, &k, &[0, 1, 3, 2]);
    let scores = g.op("MatMul", &scope, &[&q, &kt], vec![]);
    let scale = g.scalar(&scope, "scale", 1.0 / (dh as f32).sqrt());
    let mut scores = g.op("Mul", &scope, &[&scores, &scale], vec![]);
    if a.causal {
        // Query i sees keys 0..=i: −∞ above the diagonal.
        let (tq, tk) = (a.queries, a.keys);
        let mask: Vec<f32> = (0..tq * tk)
            .map(|i| {
                if i % tk > i / tk {
                    f32::NEG_INFINITY
                } else {
                    0.0
                }
            })
            .collect();
        let mask = g.const_f32(&scope, "causal_mask", &[tq, tk], &mask);
        scores = g.op("Add", &scope, &[&scores, &mask], vec![]);
    }
    let weights = g.op("Softmax", &scope, &[&scores], vec![attr::int("axis", -1)]);
    let heads_out = g.op("MatMul", &scope, &[&weights, &v], vec![]);
    let heads_out = g.transpose(&scope, &heads_out, &[0, 2, 1, 3]);
    let joined = g.reshape(&scope, &heads_out, &[a.queries, f]);
    Ok(g.linear(&scope, &joined, 2, &out_w, Some(&out_b)))
}

/// The `K` blocks of `F` features of each of `t` tokens of `x` (`[N, t, K·F]`, a
/// projection's output), each as heads `[N, H, t, d]`.
fn split_heads<const K: usize>(
    g: &mut OnnxGraph,
    scope: &str,
    x: &str,
    t: usize,
    heads: usize,
    d: usize,
) -> [String; K] {
    let x = g.reshape(scope, x, &[t, K, heads, d]);
    let x = g.transpose(scope, &x, &[2, 0, 3, 1, 4]);
    core::array::from_fn(|i| {
        let index = g.const_i64(scope, "index", &[], &[i as i64]);
        g.op("Gather", scope, &[&x, &index], vec![attr::int("axis", 0)])
    })
}

/// RoPE's `cos` and `sin` of every position `< t` as `[t, d]` constants, each half of a
/// row the same angles (the "rotate half" layout).
fn rotary_onnx(g: &mut OnnxGraph, scope: &str, t: usize, d: usize) -> (String, String) {
    let (cos, sin) = rotary_tables(t, d);
    let both_halves = |table: &[f32]| -> Vec<f32> {
        table
            .chunks_exact((d / 2).max(1))
            .flat_map(|row| row.iter().chain(row).copied())
            .collect()
    };
    (
        g.const_f32(scope, "rope_cos", &[t, d], &both_halves(&cos)),
        g.const_f32(scope, "rope_sin", &[t, d], &both_halves(&sin)),
    )
}

/// Heads `x` (`[N, H, t, d]`) rotated by their positions: with `x = [a, b]` in halves,
/// `[a·cos − b·sin, b·cos + a·sin] = x·cos + [−b, a]·sin`.
fn rotate_onnx(g: &mut OnnxGraph, scope: &str, x: &str, cos: &str, sin: &str, d: usize) -> String {
    let a = g.slice(scope, x, -1, 0, d / 2);
    let b = g.slice(scope, x, -1, d / 2, d);
    let minus_b = g.op("Neg", scope, &[&b], vec![]);
    let turned = g.op(
        "Concat",
        scope,
        &[&minus_b, &a],
        vec![attr::int("axis", -1)],
    );
    let x_cos = g.op("Mul", scope, &[x, cos], vec![]);
    let turned_sin = g.op("Mul", scope, &[&turned, sin], vec![]);
    g.op("Add", scope, &[&x_cos, &turned_sin], vec![])
}

/// A learned position embedding: `y = x + E`, one `[T, F]` table `E` for every sample
/// (parameter `weight`).
#[derive(Clone, Debug)]
pub struct PositionalEmbedding<const T: usize, const F: usize> {
    /// `[T, F]`
    pub weight: Vec<f32>,
    pub weight_grad: Vec<f32>,
}

impl<const T: usize, const F: usize> PositionalEmbedding<T, F> {
    fn add(&self, x: &[f32], y: &mut [f32]) {
        for (ys, xs) in y.chunks_exact_mut(T * F).zip(x.chunks_exact(T * F)) {
            for ((o, &v), &e) in ys.iter_mut().zip(xs).zip(&self.weight) {
                *o = v + e;
            }
        }
    }
}

impl<const T: usize, const F: usize> Layer for PositionalEmbedding<T, F> {
    type In = Tensor2<T, F>;
    type Out = Tensor2<T, F>;
    type Cache = ();
    type Workspace = ();
    const PARAMS: usize = T * F;
    const FLOPS: usize = T * F;
    const KIND: &'static str = "PositionalEmbedding";

    fn to_onnx(&self, g: &mut OnnxGraph, path: &Path<'_>, input: &str) -> crate::Result<String> {
        let table = LayerState::of(self, path).initializer(g, "weight")?;
        Ok(g.op("Add", &path.to_string(), &[input, &table], vec![]))
    }

    /// N(0, 0.02²) entries, as vision transformers initialise theirs.
    fn init(rng: &mut Rng) -> Self {
        PositionalEmbedding {
            weight: (0..T * F).map(|_| 0.02 * rng.normal()).collect(),
            weight_grad: vec![0.0; T * F],
        }
    }

    fn forward_into(&self, x: &Tensor2<T, F>, y: &mut Tensor2<T, F>, _ws: &mut ()) {
        self.add(x.as_slice(), y.as_mut_slice());
    }

    fn forward_batch_into(
        &self,
        x: &Batch<Tensor2<T, F>>,
        y: &mut Batch<Tensor2<T, F>>,
        _ws: &mut (),
    ) {
        y.set_rows(x.rows());
        self.add(x.as_slice(), y.as_mut_slice());
    }

    fn forward_train(
        &self,
        x: &Batch<Tensor2<T, F>>,
        y: &mut Batch<Tensor2<T, F>>,
        _cache: &mut (),
        _rng: &mut Rng,
    ) {
        self.forward_batch_into(x, y, &mut ());
    }

    /// ∂E = Σ over the batch of dy; dx = dy.
    fn backward(
        &mut self,
        x: &Batch<Tensor2<T, F>>,
        _y: &Batch<Tensor2<T, F>>,
        _cache: &mut (),
        dy: &Batch<Tensor2<T, F>>,
        dx: Option<&mut Batch<Tensor2<T, F>>>,
    ) {
        self.weight_grad.fill(0.0);
        for ds in dy.as_slice().chunks_exact(T * F) {
            for (g, &d) in self.weight_grad.iter_mut().zip(ds) {
                *g += d;
            }
        }
        if let Some(dx) = dx {
            dx.set_rows(x.rows());
            dx.as_mut_slice().copy_from_slice(dy.as_slice());
        }
    }

    fn walk<W: Walk<Self>>(walk: &mut W) {
        walk.param(
            "weight",
            &[T, F],
            Layout::RowMajor,
            |l| (&l.weight, &l.weight_grad),
            |l| (&mut l.weight, &mut l.weight_grad),
        );
    }
}
