//! Multi-head cross-attention on flat buffers with run-time sizes, PyTorch's
//! `nn.MultiheadAttention(query, key, value)` with `key is value` (batch first): queries
//! from one sequence `X_q [T_q, F]`, keys and values from another `X_kv [T_kv, F]`:
//! `Q = X_q·W_qᵀ + b_q`, `[K V] = X_kv·[W_k; W_v]ᵀ + [b_k; b_v]` (the three blocks of
//! `in_proj_weight`), per head `P = softmax(Q_h K_hᵀ/√d)`, `O_h = P V_h`,
//! `Y = O·W_outᵀ + b_out`. Parameters as [`super::attention::AttentionParams`].

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::attention::{AttentionGrads, AttentionParams};
use super::gemm::{gemm, gemm_nt, MatMul, MatMulNt};
use super::matrix::{column_sums, transpose};
use super::reduce::softmax_forward;

/// Sizes of a cross-attention layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CrossGeom {
    /// Query tokens per sample.
    pub tq: usize,
    /// Key (and value) tokens per sample.
    pub tk: usize,
    /// Features per token of both sequences.
    pub f: usize,
    pub heads: usize,
}

/// What the forward pass computes on the way, kept for the backward pass in training.
#[derive(Default, Debug)]
pub struct CrossScratch {
    /// `[B, T_q, F]`
    q: Vec<f32>,
    /// `[B, T_kv, 2F]`
    kv: Vec<f32>,
    /// `[B, H, T_q, T_kv]`
    probs: Vec<f32>,
    /// `[B, T_q, F]`
    heads_out: Vec<f32>,
    /// One head's keys or values transposed, `[d, T_kv]`.
    head_t: Vec<f32>,
    /// One head's scaled scores `[T_q, T_kv]`, before the softmax.
    scores: Vec<f32>,
    dq: Vec<f32>,
    dkv: Vec<f32>,
    dprobs: Vec<f32>,
    dheads_out: Vec<f32>,
    weight: Vec<f32>,
}

/// y = cross-attention of the queries `xq` (`rows` samples `[T_q, F]`) over `xkv` (`rows`
/// samples `[T_kv, F]`). With `key_lengths` (one per sample, 1 to T_kv), sample b's keys
/// from its length on are padding and get no weight (PyTorch's `key_padding_mask`).
#[allow(clippy::too_many_arguments)]
pub fn cross_attention_forward(
    g: &CrossGeom,
    p: &AttentionParams<'_>,
    xq: &[f32],
    xkv: &[f32],
    y: &mut [f32],
    rows: usize,
    key_lengths: Option<&[u32]>,
    s: &mut CrossScratch,
) {
    let (tq, tk, f, heads) = (g.tq, g.tk, g.f, g.heads);
    let d = f / heads;
    let (nq, nk) = (rows * tq, rows * tk);
    s.q.resize(nq * f, 0.0);
    s.kv.resize(nk * 2 * f, 0.0);
    s.probs.resize(rows * heads * tq * tk, 0.0);
    s.heads_out.resize(nq * f, 0.0);
    s.head_t.resize(d * tk, 0.0);
    s.scores.resize(tq * tk, 0.0);
    // Q from the first block of W_inᵀ's columns, K and V from the other two.
    gemm(
        &MatMul {
            rsb: 3 * f,
            ..MatMul::new(nq, f, f)
        },
        xq,
        p.in_weight_t,
        Some(&p.in_bias[..f]),
        &mut s.q,
    );
    gemm(
        &MatMul {
            rsb: 3 * f,
            ..MatMul::new(nk, 2 * f, f)
        },
        xkv,
        &p.in_weight_t[f..],
        Some(&p.in_bias[f..]),
        &mut s.kv,
    );
    let scale = 1.0 / (d as f32).sqrt();
    for b in 0..rows {
        let q = &s.q[b * tq * f..(b + 1) * tq * f];
        let kv = &s.kv[b * tk * 2 * f..(b + 1) * tk * 2 * f];
        for h in 0..heads {
            for (tok, row) in kv.chunks_exact(2 * f).enumerate() {
                for (c, &v) in row[h * d..(h + 1) * d].iter().enumerate() {
                    s.head_t[c * tk + tok] = v;
                }
            }
            gemm(
                &MatMul {
                    rsa: f,
                    ..MatMul::new(tq, tk, d)
                },
                &q[h * d..],
                &s.head_t,
                None,
                &mut s.scores,
            );
            s.scores.iter_mut().for_each(|v| *v *= scale);
            // e^−∞ = 0: padded keys drop out of every row's softmax, and so get no gradient.
            if let Some(&len) = key_lengths.and_then(|l| l.get(b)) {
                let valid = (len as usize).clamp(1, tk);
                for row in s.scores.chunks_exact_mut(tk) {
                    row[valid..].fill(f32::NEG_INFINITY);
                }
            }
            let at = (b * heads + h) * tq * tk;
            let probs = &mut s.probs[at..at + tq * tk];
            softmax_forward(&s.scores, probs, tk);
            gemm(
                &MatMul {
                    rsb: 2 * f,
                    rsc: f,
                    ..MatMul::new(tq, d, tk)
                },
                probs,
                &kv[f + h * d..],
                None,
                &mut s.heads_out[b * tq * f + h * d..],
            );
        }
    }
    gemm(
        &MatMul::new(nq, f, f),
        &s.heads_out,
        p.out_weight_t,
        Some(p.out_bias),
        &mut y[..nq * f],
    );
}

/// Gradients of one training pass (after [`cross_attention_forward`] filled `s`):
/// overwrites the parameter gradients and writes `dxq` and `dxkv` when given.
#[allow(clippy::too_many_arguments)]
pub fn cross_attention_backward(
    g: &CrossGeom,
    p: &AttentionParams<'_>,
    xq: &[f32],
    xkv: &[f32],
    dy: &[f32],
    rows: usize,
    s: &mut CrossScratch,
    grads: AttentionGrads<'_>,
    dxq: Option<&mut [f32]>,
    dxkv: Option<&mut [f32]>,
) {
    let (tq, tk, f, heads) = (g.tq, g.tk, g.f, g.heads);
    let d = f / heads;
    let (nq, nk) = (rows * tq, rows * tk);
    s.dq.resize(nq * f, 0.0);
    s.dkv.resize(nk * 2 * f, 0.0);
    s.dprobs.resize(tq * tk, 0.0);
    s.dheads_out.resize(nq * f, 0.0);
    s.weight.resize(f * f, 0.0);
    // ∂W_outᵀ = Oᵀ·dY, ∂b_out = Σ dY, dO = dY·W_out.
    gemm(
        &MatMul {
            rsa: 1,
            csa: f,
            ..MatMul::new(f, f, nq)
        },
        &s.heads_out,
        dy,
        None,
        grads.out_weight_t,
    );
    column_sums(&dy[..nq * f], f, grads.out_bias);
    transpose(p.out_weight_t, f, f, &mut s.weight);
    gemm(
        &MatMul::new(nq, f, f),
        dy,
        &s.weight,
        None,
        &mut s.dheads_out,
    );
    let scale = 1.0 / (d as f32).sqrt();
    for b in 0..rows {
        let (q_at, kv_at) = (b * tq * f, b * tk * 2 * f);
        for h in 0..heads {
            let kv = &s.kv[kv_at..kv_at + tk * 2 * f];
            let at = (b * heads + h) * tq * tk;
            let probs = &s.probs[at..at + tq * tk];
            let dout = &s.dheads_out[q_at + h * d..];
            // V_hᵀ [d, T_kv] for dP = dO_h V_hᵀ.
            for (tok, row) in kv.chunks_exact(2 * f).enumerate() {
                for (c, &v) in row[f + h * d..f + (h + 1) * d].iter().enumerate() {
                    s.head_t[c * tk + tok] = v;
                }
            }
            gemm(
                &MatMul {
                    rsa: f,
                    ..MatMul::new(tq, tk, d)
                },
                dout,
                &s.head_t,
                None,
                &mut s.dprobs,
            );
            // dV_h = Pᵀ dO_h
            gemm(
                &MatMul {
                    rsa: 1,
                    csa: tk,
                    rsb: f,
                    rsc: 2 * f,
                    ..MatMul::new(tk, d, tq)
                },
                probs,
                dout,
                None,
                &mut s.dkv[kv_at + f + h * d..],
            );
            // dS = P ⊙ (dP − Σ_row dP ⊙ P) / √d
            for (dp, pr) in s.dprobs.chunks_exact_mut(tk).zip(probs.chunks_exact(tk)) {
                let inner: f32 = dp.iter().zip(pr).map(|(a, b)| a * b).sum();
                for (v, &pv) in dp.iter_mut().zip(pr) {
                    *v = pv * (*v - inner) * scale;
                }
            }
            // dQ_h = dS K_h, dK_h = dSᵀ Q_h
            gemm(
                &MatMul {
                    rsb: 2 * f,
                    rsc: f,
                    ..MatMul::new(tq, d, tk)
                },
                &s.dprobs,
                &kv[h * d..],
                None,
                &mut s.dq[q_at + h * d..],
            );
            gemm(
                &MatMul {
                    rsa: 1,
                    csa: tk,
                    rsb: f,
                    rsc: 2 * f,
                    ..MatMul::new(tk, d, tq)
                },
                &s.dprobs,
                &s.q[q_at + h * d..],
                None,
                &mut s.dkv[kv_at + h * d..],
            );
        }
    }
    // ∂W_qᵀ = X_qᵀ·dQ into the first block of columns, ∂W_kvᵀ = X_kvᵀ·d[KV] into the
    // others; the biases likewise.
    gemm(
        &MatMul {
            rsa: 1,
            csa: f,
            rsc: 3 * f,
            ..MatMul::new(f, f, nq)
        },
        xq,
        &s.dq,
        None,
        grads.in_weight_t,
    );
    gemm(
        &MatMul {
            rsa: 1,
            csa: f,
            rsc: 3 * f,
            ..MatMul::new(f, 2 * f, nk)
        },
        xkv,
        &s.dkv,
        None,
        &mut grads.in_weight_t[f..],
    );
    column_sums(&s.dq, f, &mut grads.in_bias[..f]);
    column_sums(&s.dkv, 2 * f, &mut grads.in_bias[f..]);
    // dX_q = dQ·W_q, dX_kv = d[KV]·W_kv, read off W_inᵀ's blocks.
    if let Some(dxq) = dxq {
        gemm_nt(
            &MatMulNt {
                rsb: 3 * f,
                ..MatMulNt::new(nq, f, f)
            },
            &s.dq,
            p.in_weight_t,
            &mut dxq[..nq * f],
        );
    }
    if let Some(dxkv) = dxkv {
        gemm_nt(
            &MatMulNt {
                rsb: 3 * f,
                ..MatMulNt::new(nk, f, 2 * f)
            },
            &s.dkv,
            &p.in_weight_t[f..],
            &mut dxkv[..nk * f],
        );
    }
}
