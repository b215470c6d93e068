//! Multi-head self-attention on flat buffers with run-time sizes, PyTorch's
//! `nn.MultiheadAttention` (batch first): for each sample `X [T, F]`,
//! `[Q K V] = X·W_inᵀ + b_in`, per head `P = softmax(Q_h K_hᵀ/√d + M)`, `O_h = P V_h`,
//! `Y = O·W_outᵀ + b_out`, where the mask `M` is −∞ on the keys a query may not see (after
//! it, when causal: PyTorch's `is_causal`; past a sample's length: `key_padding_mask`) and 0
//! elsewhere. With rotary positions (RoFormer's RoPE, in the "rotate half" layout of Llama)
//! each head's queries and keys are rotated by their position before the scores. Every
//! product is a call to the GEMM kernel; the transposed operands the kernel cannot stride
//! over are copied into scratch first. One query at a time against a cache of keys and
//! values is [`attention_step`], what generation runs.

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::gemm::{gemm, MatMul};
use super::matrix::{column_sums, transpose};
use super::reduce::softmax_forward;

/// Sizes of a self-attention layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttentionGeom {
    /// Tokens per sample.
    pub t: usize,
    /// Features per token.
    pub f: usize,
    pub heads: usize,
    /// Each query sees only the keys at and before its own position.
    pub causal: bool,
    /// Queries and keys are rotated by their positions (RoPE, base 10 000).
    pub rope: bool,
}

impl AttentionGeom {
    fn head_dim(&self) -> usize {
        self.f / self.heads
    }

    /// How many keys query `i` of a sample with `valid` real tokens sees (the rest get no
    /// probability).
    fn visible(&self, i: usize, valid: usize) -> usize {
        if self.causal {
            (i + 1).min(valid)
        } else {
            valid
        }
    }
}

/// `cos` and `sin` of RoPE's angles `p·θ_i`, θ_i = 10000^(−2i/d), for positions `p < t`
/// and `i < d/2`, row-major `[t, d/2]`: the one formula of the kernel and the ONNX export.
pub fn rotary_tables(t: usize, d: usize) -> (Vec<f32>, Vec<f32>) {
    let half = d / 2;
    let (mut cos, mut sin) = (Vec::with_capacity(t * half), Vec::with_capacity(t * half));
    for p in 0..t {
        for i in 0..half {
            // In f64: at p·θ near the window's end an f32 angle loses the low digits
            // PyTorch's reference keeps.
            let theta = (p as f64) * 10000f64.powf(-2.0 * i as f64 / d as f64);
            cos.push(theta.cos() as f32);
            sin.push(theta.sin() as f32);
        }
    }
    (cos, sin)
}

/// RoPE's angles: `cos`/`sin` of `p·θ_i`, θ_i = 10000^(−2i/d), for positions `p < t` and
/// `i < d/2`, row-major `[t, d/2]`.
#[derive(Default, Debug, Clone)]
struct Rotary {
    /// (t, d) the table was made for.
    made_for: (usize, usize),
    cos: Vec<f32>,
    sin: Vec<f32>,
}

impl Rotary {
    fn prepare(&mut self, t: usize, d: usize) {
        if self.made_for == (t, d) && !self.cos.is_empty() {
            return;
        }
        (self.cos, self.sin) = rotary_tables(t, d);
        self.made_for = (t, d);
    }

    /// Rotates `v [d]` (one head's query or key at position `p`) by `+p·θ`, or by `−p·θ`
    /// when `inverse` (what carries a gradient back through the rotation: its transpose).
    fn rotate(&self, v: &mut [f32], p: usize, inverse: bool) {
        let half = v.len() / 2;
        let (cos, sin) = (
            &self.cos[p * half..(p + 1) * half],
            &self.sin[p * half..(p + 1) * half],
        );
        let (a, b) = v.split_at_mut(half);
        for i in 0..half {
            let s = if inverse { -sin[i] } else { sin[i] };
            let (x, y) = (a[i], b[i]);
            a[i] = x * cos[i] - y * s;
            b[i] = y * cos[i] + x * s;
        }
    }

    /// Rotates the queries and keys of every head of every token of `qkv` (`rows` samples of
    /// `[t, 3f]`), each by its position in its sample.
    fn rotate_qk(&self, g: &AttentionGeom, qkv: &mut [f32], rows: usize, inverse: bool) {
        let (t, f, d) = (g.t, g.f, g.head_dim());
        for (n, token) in qkv.chunks_exact_mut(3 * f).take(rows * t).enumerate() {
            let p = n % t;
            for head in token[..2 * f].chunks_exact_mut(d) {
                self.rotate(head, p, inverse);
            }
        }
    }
}

/// Parameters, in the layout the products want: `W_inᵀ [F, 3F]`, `W_outᵀ [F, F]`.
pub struct AttentionParams<'a> {
    pub in_weight_t: &'a [f32],
    pub in_bias: &'a [f32],
    pub out_weight_t: &'a [f32],
    pub out_bias: &'a [f32],
}

/// What the forward pass computes on the way, kept for the backward pass in training.
#[derive(Default, Debug)]
pub struct AttentionScratch {
    /// `[B, T, 3F]`
    pub qkv: Vec<f32>,
    /// Attention probabilities `[B, H, T, T]`.
    pub probs: Vec<f32>,
    /// Heads' outputs side by side, `[B, T, F]`.
    pub heads_out: Vec<f32>,
    /// One head's keys or values transposed, `[d, T]`.
    head_t: Vec<f32>,
    /// One head's scaled scores `[T, T]`, before the softmax.
    scores: Vec<f32>,
    /// ∂ of `qkv`, `probs` and `heads_out` (backward only).
    dqkv: Vec<f32>,
    dprobs: Vec<f32>,
    dheads_out: Vec<f32>,
    /// A weight in PyTorch's layout for an input gradient.
    weight: Vec<f32>,
    rotary: Rotary,
}

/// y = attention(x) for `rows` samples `[T, F]`. With `lengths` (one per sample, 1 to T),
/// sample b's keys from its length on are padding and get no weight (PyTorch's
/// `key_padding_mask`); its queries there still attend to the valid keys. Causal, query i
/// sees keys 0 to i only (both masks together when both apply).
pub fn attention_forward(
    g: &AttentionGeom,
    p: &AttentionParams<'_>,
    x: &[f32],
    y: &mut [f32],
    rows: usize,
    lengths: Option<&[u32]>,
    s: &mut AttentionScratch,
) {
    attention_forward_with(g, p, x, y, rows, lengths, s, &|m, a, b, bias, c| {
        gemm(m, a, b, bias, c)
    });
}

/// [`attention_forward`] with the input and output projections by `project` (the
/// low-precision conversions' products); the heads' products stay f32.
#[allow(clippy::too_many_arguments)]
pub fn attention_forward_with(
    g: &AttentionGeom,
    p: &AttentionParams<'_>,
    x: &[f32],
    y: &mut [f32],
    rows: usize,
    lengths: Option<&[u32]>,
    s: &mut AttentionScratch,
    project: &super::Product<'_>,
) {
    let (t, f, heads, d) = (g.t, g.f, g.heads, g.head_dim());
    let n = rows * t;
    s.qkv.resize(n * 3 * f, 0.0);
    s.probs.resize(rows * heads * t * t, 0.0);
    s.heads_out.resize(n * f, 0.0);
    s.head_t.resize(d * t, 0.0);
    s.scores.resize(t * t, 0.0);
    // [Q K V] = X·W_inᵀ + b_in, all tokens of all samples at once.
    project(
        &MatMul::new(n, 3 * f, f),
        x,
        p.in_weight_t,
        Some(p.in_bias),
        &mut s.qkv,
    );
    if g.rope {
        s.rotary.prepare(t, d);
        s.rotary.rotate_qk(g, &mut s.qkv, rows, false);
    }
    let scale = 1.0 / (d as f32).sqrt();
    for b in 0..rows {
        let qkv = &s.qkv[b * t * 3 * f..(b + 1) * t * 3 * f];
        for h in 0..heads {
            // K_hᵀ [d, T], contiguous for the product's right operand.
            for (tok, row) in qkv.chunks_exact(3 * f).enumerate() {
                for (c, &v) in row[f + h * d..f + (h + 1) * d].iter().enumerate() {
                    s.head_t[c * t + tok] = v;
                }
            }
            let probs = &mut s.probs[(b * heads + h) * t * t..(b * heads + h + 1) * t * t];
            // S = Q_h K_hᵀ, then P = softmax(S/√d) row by row.
            gemm(
                &MatMul {
                    rsa: 3 * f,
                    ..MatMul::new(t, t, d)
                },
                &qkv[h * d..],
                &s.head_t,
                None,
                &mut s.scores,
            );
            s.scores.iter_mut().for_each(|v| *v *= scale);
            // e^−∞ = 0: masked keys drop out of their rows' softmax (the probabilities the
            // backward pass reads are zero there, so no gradient reaches them). Every row
            // keeps at least key 0.
            let valid = lengths
                .and_then(|l| l.get(b))
                .map_or(t, |&len| (len as usize).clamp(1, t));
            for (i, row) in s.scores.chunks_exact_mut(t).enumerate() {
                row[g.visible(i, valid)..].fill(f32::NEG_INFINITY);
            }
            softmax_forward(&s.scores, probs, t);
            // O_h = P V_h, into the head's columns of O.
            gemm(
                &MatMul {
                    rsb: 3 * f,
                    rsc: f,
                    ..MatMul::new(t, d, t)
                },
                probs,
                &qkv[2 * f + h * d..],
                None,
                &mut s.heads_out[b * t * f + h * d..],
            );
        }
    }
    // Y = O·W_outᵀ + b_out
    project(
        &MatMul::new(n, f, f),
        &s.heads_out,
        p.out_weight_t,
        Some(p.out_bias),
        &mut y[..n * f],
    );
}

/// Gradients of one training pass (after `attention_forward` filled `s`): overwrites the
/// parameter gradients (in the parameters' layout) and writes `dx` when given.
#[allow(clippy::too_many_arguments)]
pub fn attention_backward(
    g: &AttentionGeom,
    p: &AttentionParams<'_>,
    x: &[f32],
    dy: &[f32],
    rows: usize,
    s: &mut AttentionScratch,
    grads: AttentionGrads<'_>,
    dx: Option<&mut [f32]>,
) {
    let (t, f, heads, d) = (g.t, g.f, g.heads, g.head_dim());
    let n = rows * t;
    s.dqkv.resize(n * 3 * f, 0.0);
    s.dprobs.resize(t * t, 0.0);
    s.dheads_out.resize(n * f, 0.0);
    s.weight.resize(3 * f * f, 0.0);
    // ∂W_outᵀ = Oᵀ·dY, ∂b_out = Σ dY, dO = dY·W_out.
    gemm(
        &MatMul {
            rsa: 1,
            csa: f,
            ..MatMul::new(f, f, n)
        },
        &s.heads_out,
        dy,
        None,
        grads.out_weight_t,
    );
    column_sums(&dy[..n * f], f, grads.out_bias);
    transpose(p.out_weight_t, f, f, &mut s.weight[..f * f]);
    gemm(
        &MatMul::new(n, f, f),
        dy,
        &s.weight[..f * f],
        None,
        &mut s.dheads_out,
    );
    let scale = 1.0 / (d as f32).sqrt();
    for b in 0..rows {
        let base = b * t * 3 * f;
        for h in 0..heads {
            let qkv = &s.qkv[base..base + t * 3 * f];
            let probs = &s.probs[(b * heads + h) * t * t..(b * heads + h + 1) * t * t];
            let dout = &s.dheads_out[b * t * f + h * d..];
            // V_hᵀ [d, T] for dP = dO_h V_hᵀ.
            for (tok, row) in qkv.chunks_exact(3 * f).enumerate() {
                for (c, &v) in row[2 * f + h * d..2 * f + (h + 1) * d].iter().enumerate() {
                    s.head_t[c * t + tok] = v;
                }
            }
            gemm(
                &MatMul {
                    rsa: f,
                    ..MatMul::new(t, t, d)
                },
                dout,
                &s.head_t,
                None,
                &mut s.dprobs,
            );
            let dqkv = &mut s.dqkv[base..base + t * 3 * f];
            // dV_h = Pᵀ dO_h
            gemm(
                &MatMul {
                    rsa: 1,
                    csa: t,
                    rsb: f,
                    rsc: 3 * f,
                    ..MatMul::new(t, d, t)
                },
                probs,
                dout,
                None,
                &mut dqkv[2 * f + h * d..],
            );
            // dS = P ⊙ (dP − Σ_row dP ⊙ P), times 1/√d for the scores' scale.
            for (dp, pr) in s.dprobs.chunks_exact_mut(t).zip(probs.chunks_exact(t)) {
                let inner: f32 = dp.iter().zip(pr).map(|(a, b)| a * b).sum();
                for (v, &pv) in dp.iter_mut().zip(pr) {
                    *v = pv * (*v - inner) * scale;
                }
            }
            // dQ_h = dS K_h, dK_h = dSᵀ Q_h
            gemm(
                &MatMul {
                    rsb: 3 * f,
                    rsc: 3 * f,
                    ..MatMul::new(t, d, t)
                },
                &s.dprobs,
                &qkv[f + h * d..],
                None,
                &mut dqkv[h * d..],
            );
            gemm(
                &MatMul {
                    rsa: 1,
                    csa: t,
                    rsb: 3 * f,
                    rsc: 3 * f,
                    ..MatMul::new(t, d, t)
                },
                &s.dprobs,
                &qkv[h * d..],
                None,
                &mut dqkv[f + h * d..],
            );
        }
    }
    if g.rope {
        // The scores read the rotated queries and keys: carry their gradients back through
        // the rotation (orthogonal, so its transpose is the inverse rotation).
        s.rotary.rotate_qk(g, &mut s.dqkv, rows, true);
    }
    // ∂W_inᵀ = Xᵀ·d[QKV], ∂b_in = Σ d[QKV], dX = d[QKV]·W_in.
    gemm(
        &MatMul {
            rsa: 1,
            csa: f,
            ..MatMul::new(f, 3 * f, n)
        },
        x,
        &s.dqkv,
        None,
        grads.in_weight_t,
    );
    column_sums(&s.dqkv, 3 * f, grads.in_bias);
    if let Some(dx) = dx {
        transpose(p.in_weight_t, f, 3 * f, &mut s.weight);
        gemm(
            &MatMul::new(n, f, 3 * f),
            &s.dqkv,
            &s.weight,
            None,
            &mut dx[..n * f],
        );
    }
}

/// Where the backward pass writes the parameter gradients.
pub struct AttentionGrads<'a> {
    pub in_weight_t: &'a mut [f32],
    pub in_bias: &'a mut [f32],
    pub out_weight_t: &'a mut [f32],
    pub out_bias: &'a mut [f32],
}

/// What one sample's generation carries from step to step: the keys and values of the
/// steps so far (at most `capacity`, the layer's `T`) and a step's scratch.
#[derive(Clone, Debug, Default)]
pub struct KvCache {
    /// Keys transposed, `[F, capacity]`: the scores of a query against every cached key are
    /// then sums of rows scaled by the query's features, which vectorise over the keys.
    keys_t: Vec<f32>,
    /// Values `[steps, F]`, the rows written so far.
    values: Vec<f32>,
    /// Steps cached.
    len: usize,
    qkv: Vec<f32>,
    scores: Vec<f32>,
    probs: Vec<f32>,
    heads_out: Vec<f32>,
    rotary: Rotary,
}

impl KvCache {
    /// Steps cached so far.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// One step of causal attention: the output `y [F]` for the query of the token `x [F]`
/// against the keys and values of every earlier step and its own, which join the cache.
/// The cache must have room (`cache.len() < g.t`): the caller checks it. Costs one
/// projection of one token and O(steps) for the scores, not a pass over the window.
pub fn attention_step(
    g: &AttentionGeom,
    p: &AttentionParams<'_>,
    x: &[f32],
    y: &mut [f32],
    c: &mut KvCache,
) {
    let (t, f, heads, d) = (g.t, g.f, g.heads, g.head_dim());
    debug_assert!(c.len < t, "a full cache is the caller's error to report");
    let pos = c.len;
    c.qkv.resize(3 * f, 0.0);
    c.heads_out.resize(f, 0.0);
    c.scores.resize(t, 0.0);
    c.probs.resize(t, 0.0);
    gemm(
        &MatMul::new(1, 3 * f, f),
        x,
        p.in_weight_t,
        Some(p.in_bias),
        &mut c.qkv,
    );
    if g.rope {
        c.rotary.prepare(t, d);
        for head in c.qkv[..2 * f].chunks_exact_mut(d) {
            c.rotary.rotate(head, pos, false);
        }
    }
    c.keys_t.resize(f * t, 0.0);
    for (feature, &k) in c.qkv[f..2 * f].iter().enumerate() {
        c.keys_t[feature * t + pos] = k;
    }
    c.values.truncate(pos * f);
    c.values.extend_from_slice(&c.qkv[2 * f..]);
    c.len = pos + 1;
    let steps = c.len;
    let scale = 1.0 / (d as f32).sqrt();
    for h in 0..heads {
        let q = &c.qkv[h * d..(h + 1) * d];
        // S = q_h·K_hᵀ/√d over the cached keys (K_hᵀ: rows of `t`, the first `steps` used).
        gemm(
            &MatMul {
                rsb: t,
                ..MatMul::new(1, steps, d)
            },
            q,
            &c.keys_t[h * d * t..],
            None,
            &mut c.scores[..steps],
        );
        c.scores[..steps].iter_mut().for_each(|v| *v *= scale);
        softmax_forward(&c.scores[..steps], &mut c.probs[..steps], steps);
        // O_h = P·V_h
        gemm(
            &MatMul {
                rsb: f,
                ..MatMul::new(1, d, steps)
            },
            &c.probs[..steps],
            &c.values[h * d..],
            None,
            &mut c.heads_out[h * d..(h + 1) * d],
        );
    }
    gemm(
        &MatMul::new(1, f, f),
        &c.heads_out,
        p.out_weight_t,
        Some(p.out_bias),
        &mut y[..f],
    );
}
