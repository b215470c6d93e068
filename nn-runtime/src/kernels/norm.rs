//! Normalisation on flat buffers with run-time sizes: batch normalisation over a channel's
//! values across the batch, and the normalisation of blocks of each sample on their own
//! (group normalisation; layer normalisation is its case of one group per row with a
//! parameter per value). Statistics are accumulated
//! in f64 (a channel of a large batch sums tens of thousands of values).
//!
//! A batch of `rows` samples is laid out `[rows, channels, inner]`: `inner` is 1 for
//! `[features]`, the length for `[channels, length]`, h·w for `[channels, h, w]`.

#[allow(unused_imports)]
use crate::core_prelude::*;

/// Batch statistics of one training pass: per channel, the mean and the biased variance.
pub fn batch_stats(
    x: &[f32],
    rows: usize,
    channels: usize,
    inner: usize,
    mean: &mut [f32],
    var: &mut [f32],
) {
    let n = (rows * inner) as f64;
    for c in 0..channels {
        let values =
            || (0..rows).flat_map(move |r| x[(r * channels + c) * inner..][..inner].iter());
        let m = values().map(|&v| v as f64).sum::<f64>() / n;
        let v = values().map(|&v| (v as f64 - m).powi(2)).sum::<f64>() / n;
        mean[c] = m as f32;
        var[c] = v as f32;
    }
}

/// y = γ·(x − mean)/√(var + ε) + β per channel; writes x̂ too when given (training).
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_forward(
    x: &[f32],
    rows: usize,
    channels: usize,
    inner: usize,
    mean: &[f32],
    var: &[f32],
    eps: f32,
    gamma: &[f32],
    beta: &[f32],
    y: &mut [f32],
    mut xhat: Option<&mut [f32]>,
) {
    for r in 0..rows {
        for c in 0..channels {
            let at = (r * channels + c) * inner;
            let inv_std = 1.0 / (var[c] + eps).sqrt();
            let (m, g, b) = (mean[c], gamma[c], beta[c]);
            for i in at..at + inner {
                let h = (x[i] - m) * inv_std;
                y[i] = g * h + b;
                if let Some(xhat) = xhat.as_deref_mut() {
                    xhat[i] = h;
                }
            }
        }
    }
}

/// Gradients of batch normalisation in training (through the batch statistics):
/// dγ = Σ dy·x̂, dβ = Σ dy, dx = γ/(N·σ) · (N·dy − Σ dy − x̂·Σ dy·x̂), sums over a channel's N
/// values. Overwrites `dgamma` and `dbeta`; writes `dx` when given.
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_backward(
    xhat: &[f32],
    dy: &[f32],
    rows: usize,
    channels: usize,
    inner: usize,
    var: &[f32],
    eps: f32,
    gamma: &[f32],
    dgamma: &mut [f32],
    dbeta: &mut [f32],
    mut dx: Option<&mut [f32]>,
) {
    let n = (rows * inner) as f64;
    for c in 0..channels {
        let (mut sum_dy, mut sum_dy_xhat) = (0.0f64, 0.0f64);
        for r in 0..rows {
            let at = (r * channels + c) * inner;
            for i in at..at + inner {
                sum_dy += dy[i] as f64;
                sum_dy_xhat += (dy[i] * xhat[i]) as f64;
            }
        }
        dgamma[c] = sum_dy_xhat as f32;
        dbeta[c] = sum_dy as f32;
        if let Some(dx) = dx.as_deref_mut() {
            let scale = gamma[c] as f64 / ((var[c] + eps).sqrt() as f64 * n);
            for r in 0..rows {
                let at = (r * channels + c) * inner;
                for i in at..at + inner {
                    dx[i] =
                        (scale * (n * dy[i] as f64 - sum_dy - xhat[i] as f64 * sum_dy_xhat)) as f32;
                }
            }
        }
    }
}

/// Σ f(v) over `values`, in f64, in 8 independent lanes (so that the sum vectorises; a single
/// f64 accumulator would be a chain of dependent additions).
#[inline]
fn lane_sum(values: &[f32], f: impl Fn(f32) -> f64) -> f64 {
    let mut lanes = [0.0f64; 8];
    let chunks = values.chunks_exact(8);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane += f(v);
        }
    }
    lanes.iter().sum::<f64>() + rest.iter().map(|&v| f(v)).sum::<f64>()
}

/// Σ f(a, b) over pairs of `a` and `b`, as [`lane_sum`].
#[inline]
fn lane_sum2(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f64) -> f64 {
    let mut lanes = [0.0f64; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let rest: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(&x, &y)| f(x, y))
        .sum();
    for (xa, xb) in ca.zip(cb) {
        for ((lane, &x), &y) in lanes.iter_mut().zip(xa).zip(xb) {
            *lane += f(x, y);
        }
    }
    lanes.iter().sum::<f64>() + rest
}

/// Group normalisation of each sample's `channels` channels (of `inner` values each) in
/// `groups` groups of consecutive channels: each group normalised with its own mean and
/// variance, then y = γ_c·x̂ + β_c per channel. Writes x̂ and 1/σ per (sample, group) when
/// given (training). Layer normalisation of rows of `n` values is the case `channels = n`,
/// `inner = 1`, `groups = 1`.
#[allow(clippy::too_many_arguments)]
pub fn group_norm_forward(
    x: &[f32],
    channels: usize,
    inner: usize,
    groups: usize,
    eps: f32,
    gamma: &[f32],
    beta: &[f32],
    y: &mut [f32],
    mut saved: Option<(&mut [f32], &mut [f32])>,
) {
    let per_group = channels / groups;
    let len = per_group * inner;
    for (k, (xg, yg)) in x.chunks_exact(len).zip(y.chunks_exact_mut(len)).enumerate() {
        let mean = lane_sum(xg, |v| v as f64) / len as f64;
        let var = lane_sum(xg, |v| (v as f64 - mean).powi(2)) / len as f64;
        let inv_std = (1.0 / (var + eps as f64).sqrt()) as f32;
        let mean = mean as f32;
        let first_channel = (k % groups) * per_group;
        let params = gamma[first_channel..first_channel + per_group]
            .iter()
            .zip(&beta[first_channel..first_channel + per_group]);
        if inner == 1 {
            // Layer normalisation: a γ and β per value, one loop that vectorises.
            for ((yv, &xv), (&g, &b)) in yg.iter_mut().zip(xg).zip(params) {
                *yv = g * ((xv - mean) * inv_std) + b;
            }
        } else {
            // Channel by channel: one γ and β for `inner` values.
            for (c, (&g, &b)) in params.enumerate() {
                let span = c * inner..(c + 1) * inner;
                for (yv, &xv) in yg[span.clone()].iter_mut().zip(&xg[span]) {
                    *yv = g * ((xv - mean) * inv_std) + b;
                }
            }
        }
        if let Some((xhat, inv)) = saved.as_mut() {
            for (h, &xv) in xhat[k * len..(k + 1) * len].iter_mut().zip(xg) {
                *h = (xv - mean) * inv_std;
            }
            inv[k] = inv_std;
        }
    }
}

/// Gradients of group normalisation: per (sample, group) of n values, with dx̂ = dy·γ_c,
/// dx = (1/σ)/n · (n·dx̂ − Σ dx̂ − x̂·Σ dx̂·x̂); dγ_c = Σ dy·x̂ and dβ_c = Σ dy over a channel's
/// values in every sample. Overwrites `dgamma` and `dbeta`; writes `dx` when given.
#[allow(clippy::too_many_arguments)]
pub fn group_norm_backward(
    xhat: &[f32],
    inv_std: &[f32],
    dy: &[f32],
    channels: usize,
    inner: usize,
    groups: usize,
    gamma: &[f32],
    dgamma: &mut [f32],
    dbeta: &mut [f32],
    mut dx: Option<&mut [f32]>,
) {
    dgamma.fill(0.0);
    dbeta.fill(0.0);
    let per_group = channels / groups;
    let len = per_group * inner;
    let n = len as f64;
    for (k, (hg, gg)) in xhat.chunks_exact(len).zip(dy.chunks_exact(len)).enumerate() {
        let first_channel = (k % groups) * per_group;
        let (mut sum, mut sum_h) = (0.0f64, 0.0f64);
        for c in 0..per_group {
            let span = c * inner..(c + 1) * inner;
            let (h, g) = (&hg[span.clone()], &gg[span]);
            let (gamma_c, channel) = (gamma[first_channel + c] as f64, first_channel + c);
            if inner == 1 {
                // Layer normalisation: a parameter per value, no sums within a channel.
                dgamma[channel] += g[0] * h[0];
                dbeta[channel] += g[0];
                sum += g[0] as f64 * gamma_c;
                sum_h += (g[0] * h[0]) as f64 * gamma_c;
                continue;
            }
            let dot = lane_sum2(g, h, |a, b| (a * b) as f64);
            let total = lane_sum(g, |a| a as f64);
            dgamma[channel] += dot as f32;
            dbeta[channel] += total as f32;
            sum += total * gamma_c;
            sum_h += dot * gamma_c;
        }
        if let Some(dx) = dx.as_deref_mut() {
            // In f64: n·dx̂ and the two sums nearly cancel in a large group.
            let scale = inv_std[k] as f64 / n;
            let out = &mut dx[k * len..(k + 1) * len];
            for c in 0..per_group {
                let gamma_c = gamma[first_channel + c] as f64;
                let span = c * inner..(c + 1) * inner;
                let values = out[span.clone()]
                    .iter_mut()
                    .zip(&gg[span.clone()])
                    .zip(&hg[span]);
                for ((o, &g), &h) in values {
                    *o = (scale * (n * g as f64 * gamma_c - sum - h as f64 * sum_h)) as f32;
                }
            }
        }
    }
}
