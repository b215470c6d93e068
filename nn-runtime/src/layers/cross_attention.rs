//! Cross-attention: the queries of one sequence attend to the keys and values of another
//! (PyTorch's `nn.MultiheadAttention(query, key, value)` with `key` and `value` the same
//! sequence, `batch_first=True`), the layer of a decoder that reads an encoder's output.
//! Its input is a [`Pair`] of the two sequences, each with its own number of tokens and,
//! in a batch with part lengths, each sample's own length: padded keys get no weight
//! (PyTorch's `key_padding_mask`), and the output has the queries' lengths.

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::attention::{attention_onnx, AttentionOnnx};
use super::{Layer, MultiHeadAttention, Path, Walk};
use crate::io::onnx::{LayerState, OnnxGraph};
use crate::kernels::attention::AttentionGrads;
use crate::kernels::cross_attention::{
    cross_attention_backward, cross_attention_forward, CrossGeom, CrossScratch,
};
use crate::pair::Pair;
use crate::tensor::{Batch, Sample, Tensor2};
use crate::Rng;

/// Multi-head attention of `TQ` query tokens over `TK` key and value tokens, `F` features
/// each, `H` heads. Its parameters are those of a [`MultiHeadAttention`] (`in_proj_weight
/// [3F, F]`, its blocks for queries, keys and values; `in_proj_bias`, `out_proj`).
#[derive(Clone, Debug)]
pub struct CrossAttention<const TQ: usize, const TK: usize, const F: usize, const H: usize> {
    pub attention: MultiHeadAttention<TQ, F, H>,
}

/// The two sequences apart (the pair interleaves them row by row) and the kernel's scratch.
#[derive(Default, Debug)]
pub struct CrossCache {
    queries: Vec<f32>,
    keys: Vec<f32>,
    d_queries: Vec<f32>,
    d_keys: Vec<f32>,
    scratch: CrossScratch,
}

impl CrossCache {
    /// Copies the queries and keys of `rows` pairs out of `x`.
    fn split<A: Sample, B: Sample>(&mut self, x: &[f32], rows: usize) {
        self.queries.clear();
        self.keys.clear();
        for row in x.chunks_exact(A::LEN + B::LEN).take(rows) {
            self.queries.extend_from_slice(&row[..A::LEN]);
            self.keys.extend_from_slice(&row[A::LEN..]);
        }
    }
}

impl<const TQ: usize, const TK: usize, const F: usize, const H: usize>
    CrossAttention<TQ, TK, F, H>
{
    const GEOMETRY: CrossGeom = {
        assert!(
            H > 0 && F.is_multiple_of(H),
            "the number of heads must divide the features"
        );
        CrossGeom {
            tq: TQ,
            tk: TK,
            f: F,
            heads: H,
        }
    };

    /// PyTorch's initialisation, as [`MultiHeadAttention::glorot_uniform`].
    pub fn glorot_uniform(rng: &mut Rng) -> Self {
        CrossAttention {
            attention: MultiHeadAttention::glorot_uniform(rng),
        }
    }

    /// The nodes of the attention of `queries` (`[N, TQ, F]`) over `keys` (`[N, TK, F]`),
    /// its parameters under `path`.
    pub(super) fn onnx_of(
        &self,
        g: &mut OnnxGraph,
        path: &Path<'_>,
        queries: &str,
        keys: &str,
    ) -> crate::Result<String> {
        let _checked = Self::GEOMETRY;
        let sizes = AttentionOnnx {
            queries: TQ,
            keys: TK,
            features: F,
            heads: H,
            causal: false,
            rotary: false,
        };
        let state = LayerState::of(&self.attention, path);
        attention_onnx(g, &state, path, queries, Some(keys), sizes)
    }

    fn run(
        &self,
        x: &[f32],
        y: &mut [f32],
        rows: usize,
        key_lengths: Option<&[u32]>,
        c: &mut CrossCache,
    ) {
        c.split::<Tensor2<TQ, F>, Tensor2<TK, F>>(x, rows);
        cross_attention_forward(
            &Self::GEOMETRY,
            &self.attention.params(),
            &c.queries,
            &c.keys,
            y,
            rows,
            key_lengths,
            &mut c.scratch,
        );
    }
}

impl<const TQ: usize, const TK: usize, const F: usize, const H: usize> Layer
    for CrossAttention<TQ, TK, F, H>
{
    type In = Pair<Tensor2<TQ, F>, Tensor2<TK, F>>;
    type Out = Tensor2<TQ, F>;
    type Cache = CrossCache;
    type Workspace = CrossCache;
    const SAMPLE_WORKSPACE: bool = true;
    const PARAMS: usize = 4 * F * F + 4 * F;
    /// The query projection and output at every query token, the key and value projections
    /// at every key token, and the scores and weighted sums of every head.
    const FLOPS: usize = 2 * TQ * 2 * F * F + 2 * TK * 2 * F * F + 4 * TQ * TK * F;
    const KIND: &'static str = "CrossAttention";
    const OWN_LENGTHS: bool = true;

    fn init(rng: &mut Rng) -> Self {
        Self::glorot_uniform(rng)
    }

    /// The pair's two sequences apart, then the attention of the first over the second.
    /// Every key is attended (lengths are not exported).
    fn to_onnx(&self, g: &mut OnnxGraph, path: &Path<'_>, input: &str) -> crate::Result<String> {
        let scope = path.to_string();
        let queries = g.part(&scope, input, Self::In::LEN, 0, &[TQ, F]);
        let keys = g.part(&scope, input, Self::In::LEN, TQ * F, &[TK, F]);
        self.onnx_of(g, path, &queries, &keys)
    }

    fn forward_into(&self, x: &Self::In, y: &mut Tensor2<TQ, F>, ws: &mut CrossCache) {
        self.run(x.as_slice(), y.as_mut_slice(), 1, None, ws);
    }

    fn forward_batch_into(
        &self,
        x: &Batch<Self::In>,
        y: &mut Batch<Tensor2<TQ, F>>,
        ws: &mut CrossCache,
    ) {
        y.set_rows(x.rows());
        // Padded keys of the second sequence are masked; the output has the queries'
        // lengths.
        let keys = x.lengths_at(TQ * F, TK * F);
        self.run(x.as_slice(), y.as_mut_slice(), x.rows(), keys, ws);
        y.take_lengths_of(x, 0);
    }

    fn forward_train(
        &self,
        x: &Batch<Self::In>,
        y: &mut Batch<Tensor2<TQ, F>>,
        cache: &mut CrossCache,
        _rng: &mut Rng,
    ) {
        self.forward_batch_into(x, y, cache);
    }

    fn backward(
        &mut self,
        x: &Batch<Self::In>,
        _y: &Batch<Tensor2<TQ, F>>,
        c: &mut CrossCache,
        dy: &Batch<Tensor2<TQ, F>>,
        dx: Option<&mut Batch<Self::In>>,
    ) {
        let rows = x.rows();
        let wants_dx = dx.is_some();
        if wants_dx {
            c.d_queries.resize(rows * TQ * F, 0.0);
            c.d_keys.resize(rows * TK * F, 0.0);
        }
        let a = &mut self.attention;
        let params = crate::kernels::attention::AttentionParams {
            in_weight_t: &a.in_weight_t,
            in_bias: &a.in_bias,
            out_weight_t: &a.out_weight_t,
            out_bias: &a.out_bias,
        };
        let grads = AttentionGrads {
            in_weight_t: &mut a.in_weight_t_grad,
            in_bias: &mut a.in_bias_grad,
            out_weight_t: &mut a.out_weight_t_grad,
            out_bias: &mut a.out_bias_grad,
        };
        cross_attention_backward(
            &Self::GEOMETRY,
            &params,
            &c.queries,
            &c.keys,
            dy.as_slice(),
            rows,
            &mut c.scratch,
            grads,
            wants_dx.then_some(&mut c.d_queries[..]),
            wants_dx.then_some(&mut c.d_keys[..]),
        );
        if let Some(dx) = dx {
            dx.set_rows(rows);
            let parts = c
                .d_queries
                .chunks_exact(TQ * F)
                .zip(c.d_keys.chunks_exact(TK * F));
            for (row, (dq, dk)) in dx.as_mut_slice().chunks_exact_mut(Self::In::LEN).zip(parts) {
                row[..TQ * F].copy_from_slice(dq);
                row[TQ * F..].copy_from_slice(dk);
            }
        }
    }

    fn walk<W: Walk<Self>>(walk: &mut W) {
        walk.sublayer("", |l| &l.attention, |l| &mut l.attention);
    }
}
