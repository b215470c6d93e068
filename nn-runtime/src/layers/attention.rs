//! Self-attention over `[tokens, features]` samples, PyTorch's `nn.MultiheadAttention`
//! (`batch_first=True`; a batch with lengths masks each sample's padded keys, as
//! `key_padding_mask`) with its parameter names and layouts (`in_proj_weight
//! [3F, F]`, `in_proj_bias`, `out_proj.weight [F, F]`, `out_proj.bias`), causal or not,
//! with rotary positions or not; and a learned positional embedding added to every sample.

use super::{Layer, Layout, Path, Walk};
use crate::io::onnx::{attr, LayerState, OnnxGraph};
use crate::kernels::attention::{
    attention_backward, attention_forward, AttentionGeom, AttentionGrads, AttentionParams,
    AttentionScratch,
};
use crate::tensor::{Batch, Sample, Tensor2};
use crate::Rng;
use std::marker::PhantomData;

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
    pub(super) const GEOMETRY: AttentionGeom = {
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

    /// Decomposed (ONNX 17 has no attention operator): the input projection, the heads
    /// split as `[N, H, T, F/H]`, softmax(q·kᵀ/√(F/H) + mask)·v, the heads joined and the
    /// output projection. Every key of the sample is attended (lengths are not exported).
    fn to_onnx(&self, g: &mut OnnxGraph, path: &Path<'_>, input: &str) -> crate::Result<String> {
        if P::ROTARY {
            return Err(crate::io::onnx::unsupported::<Self>(
                path,
                "rotary positions have no ONNX export yet",
            ));
        }
        let scope = path.to_string();
        let state = LayerState::of(self, path);
        let (in_w, in_b) = (
            state.initializer(g, "in_proj_weight")?,
            state.initializer(g, "in_proj_bias")?,
        );
        let (out_w, out_b) = (
            state.initializer(g, "out_proj.weight")?,
            state.initializer(g, "out_proj.bias")?,
        );
        let dh = F / H;
        let qkv = g.linear(&scope, input, 2, &in_w, Some(&in_b));
        let qkv = g.reshape(&scope, &qkv, &[T, 3, H, dh]);
        let qkv = g.transpose(&scope, &qkv, &[2, 0, 3, 1, 4]);
        let [q, k, v] = [0, 1, 2].map(|i| {
            let index = g.const_i64(&scope, "index", &[], &[i]);
            g.op(
                "Gather",
                &scope,
                &[&qkv, &index],
                vec![attr::int("axis", 0)],
            )
        });
        let kt = g.transpose(&scope, &k, &[0, 1, 3, 2]);
        let scores = g.op("MatMul", &scope, &[&q, &kt], vec![]);
        let scale = g.scalar(&scope, "scale", 1.0 / (dh as f32).sqrt());
        let mut scores = g.op("Mul", &scope, &[&scores, &scale], vec![]);
        if M::CAUSAL {
            // Query i sees keys 0..=i: −∞ above the diagonal.
            let mask: Vec<f32> = (0..T * T)
                .map(|i| {
                    if i % T > i / T {
                        f32::NEG_INFINITY
                    } else {
                        0.0
                    }
                })
                .collect();
            let mask = g.const_f32(&scope, "causal_mask", &[T, T], &mask);
            scores = g.op("Add", &scope, &[&scores, &mask], vec![]);
        }
        let weights = g.op("Softmax", &scope, &[&scores], vec![attr::int("axis", -1)]);
        let heads = g.op("MatMul", &scope, &[&weights, &v], vec![]);
        let heads = g.transpose(&scope, &heads, &[0, 2, 1, 3]);
        let joined = g.reshape(&scope, &heads, &[T, F]);
        Ok(g.linear(&scope, &joined, 2, &out_w, Some(&out_b)))
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
