//! Multi-head self-attention on flat buffers with run-time sizes, PyTorch's
//! `nn.MultiheadAttention` (batch first, no mask): for each sample `X [T, F]`,
//! `[Q K V] = X·W_inᵀ + b_in`, per head `P = softmax(Q_h K_hᵀ/√d)`, `O_h = P V_h`,
//! `Y = O·W_outᵀ + b_out`. Every product is a call to the GEMM kernel; the transposed
//! operands the kernel cannot stride over are copied into scratch first.

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
}

impl AttentionGeom {
    fn head_dim(&self) -> usize {
        self.f / self.heads
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
}

/// y = attention(x) for `rows` samples `[T, F]`. With `lengths` (one per sample, 1 to T),
/// sample b's keys from its length on are padding and get no weight (PyTorch's
/// `key_padding_mask`); its queries there still attend to the valid keys.
pub fn attention_forward(
    g: &AttentionGeom,
    p: &AttentionParams<'_>,
    x: &[f32],
    y: &mut [f32],
    rows: usize,
    lengths: Option<&[u32]>,
    s: &mut AttentionScratch,
) {
    let (t, f, heads, d) = (g.t, g.f, g.heads, g.head_dim());
    let n = rows * t;
    s.qkv.resize(n * 3 * f, 0.0);
    s.probs.resize(rows * heads * t * t, 0.0);
    s.heads_out.resize(n * f, 0.0);
    s.head_t.resize(d * t, 0.0);
    s.scores.resize(t * t, 0.0);
    // [Q K V] = X·W_inᵀ + b_in, all tokens of all samples at once.
    gemm(
        &MatMul::new(n, 3 * f, f),
        x,
        p.in_weight_t,
        Some(p.in_bias),
        &mut s.qkv,
    );
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
            if let Some(&len) = lengths.and_then(|l| l.get(b)) {
                // e^−∞ = 0: padded keys drop out of every row's softmax (the probabilities
                // the backward pass reads are zero there, so no gradient reaches them).
                let valid = (len as usize).clamp(1, t);
                for row in s.scores.chunks_exact_mut(t) {
                    row[valid..].fill(f32::NEG_INFINITY);
                }
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
    gemm(
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
