//! Normalisation on flat buffers with run-time sizes: batch normalisation over a channel's
//! values across the batch, and the normalisation of blocks of each sample on their own
//! (group normalisation; layer normalisation is its case of one group per row with a
//! parameter per value). The passes run on the SIMD paths (`simd/norm.rs`); statistics and
//! gradient sums are taken in f32 over blocks of at most [`BLOCK`] contiguous values and
//! combined in f64 (a channel of a large batch sums tens of thousands of values).
//!
//! A batch of `rows` samples is laid out `[rows, channels, inner]`: `inner` is 1 for
//! `[features]`, the length for `[channels, length]`, h·w for `[channels, h, w]`.

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::activation::activation_forward_with;
use super::isa::Arch;
use super::simd::{dispatch, EpilogueAct};

/// Values summed in f32 (in vector lanes) before the sum joins the f64 total: a block this
/// long stays in L1 between a pass's two reads, and its f32 sums lose at most about
/// `BLOCK / lanes` roundings.
const BLOCK: usize = 1024;

/// Below this many values per channel and sample, batch normalisation runs value by value
/// (BatchNorm1d over features: a channel's values lie a whole sample apart).
const MIN_VECTOR_INNER: usize = 8;

/// The path batch normalisation's passes take for `inner` values per channel and sample:
/// `arch`, or value by value below [`MIN_VECTOR_INNER`].
fn batch_arch(arch: Arch, inner: usize) -> Arch {
    if inner < MIN_VECTOR_INNER {
        Arch::scalar()
    } else {
        arch
    }
}

/// Mean and variance of blocks of values merged one block at a time in f64 (Chan, Golub and
/// LeVeque's pairwise update), each block's sum and squared deviations from its own mean
/// taken in f32 vector lanes: one read of the values from memory, no cancellation between
/// Σx² and (Σx)²/n.
#[derive(Default, Clone, Copy)]
struct Moments {
    count: f64,
    mean: f64,
    m2: f64,
}

impl Moments {
    fn add(&mut self, arch: Arch, values: &[f32]) {
        for block in values.chunks(BLOCK) {
            let (sum, m2) = sum_and_deviation_with(arch, block);
            let n = block.len() as f64;
            let delta = sum as f64 / n - self.mean;
            let total = self.count + n;
            self.mean += delta * n / total;
            self.m2 += m2 as f64 + delta * delta * self.count * n / total;
            self.count = total;
        }
    }

    /// The biased variance.
    fn var(&self) -> f64 {
        self.m2 / self.count
    }
}

/// `(Σ x, Σ (x − mean)²)` of a non-empty block, `mean` its own.
fn sum_and_deviation_with(arch: Arch, x: &[f32]) -> (f32, f32) {
    dispatch!(
        arch,
        // SAFETY: reads the `x.len()` values of `x`; `arch` proves this CPU has the path's
        // features.
        simd => unsafe { simd::sum_and_deviation(x.as_ptr(), x.len()) },
        scalar => {
            let sum: f32 = x.iter().sum();
            let mean = sum / x.len() as f32;
            (sum, x.iter().map(|&v| (v - mean) * (v - mean)).sum())
        },
    )
}

/// `(Σ dy, Σ dy·x̂)`, summed in f32 a [`BLOCK`] at a time and in f64 across blocks.
fn sum_and_dot_with(arch: Arch, dy: &[f32], xhat: &[f32]) -> (f64, f64) {
    assert_eq!(dy.len(), xhat.len());
    let (mut sum, mut dot) = (0.0f64, 0.0f64);
    for (g, h) in dy.chunks(BLOCK).zip(xhat.chunks(BLOCK)) {
        let (s, d) = dispatch!(
            arch,
            // SAFETY: reads the `g.len()` values of `g` and of `h` (same length: chunks of
            // equal slices); `arch` proves this CPU has the path's features.
            simd => unsafe { simd::sum_and_dot(g.as_ptr(), h.as_ptr(), g.len()) },
            scalar => (g.iter().sum::<f32>(), g.iter().zip(h).map(|(a, b)| a * b).sum::<f32>()),
        );
        sum += s as f64;
        dot += d as f64;
    }
    (sum, dot)
}

/// The parameters of [`normalize_with`]: one γ and β for every value, or one each per value.
#[derive(Clone, Copy)]
enum Affine<'a> {
    Shared(f32, f32),
    PerValue(&'a [f32], &'a [f32]),
}

/// x̂ = (x − mean)·inv_std and y = γ·x̂ + β, writing x̂ when given.
fn normalize_with(
    arch: Arch,
    x: &[f32],
    y: &mut [f32],
    xhat: Option<&mut [f32]>,
    (mean, inv_std): (f32, f32),
    affine: Affine<'_>,
) {
    let n = x.len();
    assert_eq!(y.len(), n);
    let xhat = xhat.inspect(|h| assert_eq!(h.len(), n));
    let (gamma, beta, gamma_v, beta_v) = match affine {
        Affine::Shared(g, b) => (g, b, None, None),
        Affine::PerValue(g, b) => {
            assert!(g.len() == n && b.len() == n);
            (0.0, 0.0, Some(g), Some(b))
        }
    };
    dispatch!(
        arch,
        simd => {
            let h = xhat.map_or(core::ptr::null_mut(), |h| h.as_mut_ptr());
            let gv = gamma_v.map_or(core::ptr::null(), |g| g.as_ptr());
            let bv = beta_v.map_or(core::ptr::null(), |b| b.as_ptr());
            // SAFETY: reads `n` values of `x` and writes `n` to `y` and to `xhat` (when not
            // null), and reads `n` of γ and β when given (lengths asserted above); `arch`
            // proves this CPU has the path's features.
            unsafe {
                simd::normalize(x.as_ptr(), y.as_mut_ptr(), h, n, mean, inv_std, gamma, beta, gv, bv)
            }
        },
        scalar => {
            let mut xhat = xhat;
            for i in 0..n {
                let h = x[i] * inv_std - mean * inv_std;
                let (g, b) = match affine {
                    Affine::Shared(g, b) => (g, b),
                    Affine::PerValue(g, b) => (g[i], b[i]),
                };
                y[i] = g * h + b;
                if let Some(xhat) = xhat.as_deref_mut() {
                    xhat[i] = h;
                }
            }
        },
    )
}

/// dx = a·γ·dy − b − c·x̂, γ per value when given, else 1.
#[allow(clippy::too_many_arguments)]
fn norm_dx_with(
    arch: Arch,
    dy: &[f32],
    xhat: &[f32],
    gamma: Option<&[f32]>,
    dx: &mut [f32],
    (a, b, c): (f32, f32, f32),
) {
    let n = dx.len();
    assert!(dy.len() == n && xhat.len() == n && gamma.is_none_or(|g| g.len() == n));
    dispatch!(
        arch,
        simd => {
            let gv = gamma.map_or(core::ptr::null(), |g| g.as_ptr());
            // SAFETY: reads `n` values of `dy`, `xhat` and γ (when not null) and writes `n`
            // to `dx` (lengths asserted above); `arch` proves this CPU has the path's
            // features.
            unsafe { simd::norm_dx(dy.as_ptr(), xhat.as_ptr(), gv, dx.as_mut_ptr(), n, a, b, c) }
        },
        scalar => {
            for i in 0..n {
                let g = gamma.map_or(dy[i], |gm| dy[i] * gm[i]);
                dx[i] = a * g - b - c * xhat[i];
            }
        },
    )
}

/// One row of layer normalisation's parameter gradients: dγ += dy·x̂, dβ += dy; returns
/// `(Σ dy·γ, Σ dy·γ·x̂)` (f32 a [`BLOCK`] at a time, f64 across blocks).
fn param_grads_with(
    arch: Arch,
    dy: &[f32],
    xhat: &[f32],
    gamma: &[f32],
    dgamma: &mut [f32],
    dbeta: &mut [f32],
) -> (f64, f64) {
    let n = dy.len();
    assert!(xhat.len() == n && gamma.len() == n && dgamma.len() == n && dbeta.len() == n);
    let (mut sum, mut dot) = (0.0f64, 0.0f64);
    let mut at = 0;
    while at < n {
        let len = BLOCK.min(n - at);
        let span = at..at + len;
        let (g, h, gm) = (&dy[span.clone()], &xhat[span.clone()], &gamma[span.clone()]);
        let (dg, db) = (&mut dgamma[span.clone()], &mut dbeta[span]);
        let (s, d) = dispatch!(
            arch,
            // SAFETY: reads `len` values of `g`, `h` and `gm` and reads and writes `len` of
            // `dg` and `db` (each cut to `len` above); `arch` proves this CPU has the path's
            // features.
            simd => unsafe {
                simd::param_grads(g.as_ptr(), h.as_ptr(), gm.as_ptr(), dg.as_mut_ptr(),
                    db.as_mut_ptr(), len)
            },
            scalar => {
                let (mut s, mut d) = (0.0f32, 0.0f32);
                for i in 0..len {
                    dg[i] += g[i] * h[i];
                    db[i] += g[i];
                    s += g[i] * gm[i];
                    d += g[i] * gm[i] * h[i];
                }
                (s, d)
            },
        );
        sum += s as f64;
        dot += d as f64;
        at += len;
    }
    (sum, dot)
}

/// Batch statistics of one training pass: per channel, the mean and the biased variance.
pub fn batch_stats(
    x: &[f32],
    rows: usize,
    channels: usize,
    inner: usize,
    mean: &mut [f32],
    var: &mut [f32],
) {
    batch_stats_with(Arch::current(), x, rows, channels, inner, mean, var)
}

/// [`batch_stats`] on a given path.
pub fn batch_stats_with(
    arch: Arch,
    x: &[f32],
    rows: usize,
    channels: usize,
    inner: usize,
    mean: &mut [f32],
    var: &mut [f32],
) {
    if inner < MIN_VECTOR_INNER {
        let n = (rows * inner) as f64;
        for c in 0..channels {
            let span = |r: usize| &x[(r * channels + c) * inner..][..inner];
            let m = (0..rows)
                .map(|r| span(r).iter().map(|&v| v as f64).sum::<f64>())
                .sum::<f64>()
                / n;
            let v = (0..rows)
                .map(|r| span(r).iter().map(|&v| (v as f64 - m).powi(2)).sum::<f64>())
                .sum::<f64>()
                / n;
            mean[c] = m as f32;
            var[c] = v as f32;
        }
        return;
    }
    for c in 0..channels {
        let mut moments = Moments::default();
        for r in 0..rows {
            moments.add(arch, &x[(r * channels + c) * inner..][..inner]);
        }
        mean[c] = moments.mean as f32;
        var[c] = moments.var() as f32;
    }
}

/// y = act(γ·(x − mean)/√(var + ε) + β) per channel; writes x̂ too when given (training).
/// The activation runs on each channel's values of a sample right after they are
/// normalised, while they are in cache.
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
    xhat: Option<&mut [f32]>,
    act: EpilogueAct,
) {
    batch_norm_forward_with(
        Arch::current(),
        x,
        rows,
        channels,
        inner,
        mean,
        var,
        eps,
        gamma,
        beta,
        y,
        xhat,
        act,
    )
}

/// [`batch_norm_forward`] on a given path.
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_forward_with(
    arch: Arch,
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
    act: EpilogueAct,
) {
    let arch = batch_arch(arch, inner);
    for r in 0..rows {
        for c in 0..channels {
            let span = (r * channels + c) * inner..(r * channels + c + 1) * inner;
            let inv_std = 1.0 / (var[c] + eps).sqrt();
            let h = xhat.as_deref_mut().map(|h| &mut h[span.clone()]);
            let stats = (mean[c], inv_std);
            let affine = Affine::Shared(gamma[c], beta[c]);
            normalize_with(
                arch,
                &x[span.clone()],
                &mut y[span.clone()],
                h,
                stats,
                affine,
            );
            if act != EpilogueAct::None {
                activation_forward_with(arch, act, &mut y[span]);
            }
        }
    }
}

/// Which statistics a batch normalisation's training pass normalised with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Statistics {
    /// The batch's own: the gradients run through them.
    Batch,
    /// Fixed ones (the running statistics, PyTorch's `bn.eval()` while the rest trains):
    /// y = γ·x̂ + β is an affine map per channel.
    Fixed,
}

/// Gradients of batch normalisation in training: dγ = Σ dy·x̂, dβ = Σ dy, and through the
/// batch statistics dx = γ/(N·σ) · (N·dy − Σ dy − x̂·Σ dy·x̂), sums over a channel's N values;
/// with [`Statistics::Fixed`], dx = dy·γ/σ. Overwrites `dgamma` and `dbeta`; writes `dx` when
/// given.
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
    dx: Option<&mut [f32]>,
    statistics: Statistics,
) {
    batch_norm_backward_with(
        Arch::current(),
        xhat,
        dy,
        rows,
        channels,
        inner,
        var,
        eps,
        gamma,
        dgamma,
        dbeta,
        dx,
        statistics,
    )
}

/// [`batch_norm_backward`] on a given path.
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_backward_with(
    arch: Arch,
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
    statistics: Statistics,
) {
    let arch = batch_arch(arch, inner);
    let n = (rows * inner) as f64;
    for c in 0..channels {
        let span = |r: usize| (r * channels + c) * inner..(r * channels + c + 1) * inner;
        let (mut sum_dy, mut sum_dy_xhat) = (0.0f64, 0.0f64);
        for r in 0..rows {
            let (s, d) = sum_and_dot_with(arch, &dy[span(r)], &xhat[span(r)]);
            sum_dy += s;
            sum_dy_xhat += d;
        }
        dgamma[c] = sum_dy_xhat as f32;
        dbeta[c] = sum_dy as f32;
        if let Some(dx) = dx.as_deref_mut() {
            // dx = a·dy − b − c·x̂, the coefficients in f64 and rounded once.
            let scale = gamma[c] as f64 / ((var[c] + eps).sqrt() as f64 * n);
            let coefficients = if statistics == Statistics::Batch {
                (
                    (scale * n) as f32,
                    (scale * sum_dy) as f32,
                    (scale * sum_dy_xhat) as f32,
                )
            } else {
                ((scale * n) as f32, 0.0, 0.0)
            };
            for r in 0..rows {
                let s = span(r);
                norm_dx_with(
                    arch,
                    &dy[s.clone()],
                    &xhat[s.clone()],
                    None,
                    &mut dx[s],
                    coefficients,
                );
            }
        }
    }
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
    saved: Option<(&mut [f32], &mut [f32])>,
) {
    group_norm_forward_with(
        Arch::current(),
        x,
        channels,
        inner,
        groups,
        eps,
        gamma,
        beta,
        y,
        saved,
    )
}

/// [`group_norm_forward`] on a given path.
#[allow(clippy::too_many_arguments)]
pub fn group_norm_forward_with(
    arch: Arch,
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
        let mut moments = Moments::default();
        moments.add(arch, xg);
        let inv_std = (1.0 / (moments.var() + eps as f64).sqrt()) as f32;
        let stats = (moments.mean as f32, inv_std);
        let first_channel = (k % groups) * per_group;
        let params = first_channel..first_channel + per_group;
        let mut xhat = saved.as_mut().map(|(xhat, inv)| {
            inv[k] = inv_std;
            &mut xhat[k * len..(k + 1) * len]
        });
        if inner == 1 {
            // Layer normalisation: a γ and β per value.
            let affine = Affine::PerValue(&gamma[params.clone()], &beta[params]);
            normalize_with(arch, xg, yg, xhat, stats, affine);
        } else {
            // Channel by channel: one γ and β for `inner` values.
            for (c, p) in params.enumerate() {
                let span = c * inner..(c + 1) * inner;
                let h = xhat.as_deref_mut().map(|h| &mut h[span.clone()]);
                let affine = Affine::Shared(gamma[p], beta[p]);
                normalize_with(arch, &xg[span.clone()], &mut yg[span], h, stats, affine);
            }
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
    dx: Option<&mut [f32]>,
) {
    group_norm_backward_with(
        Arch::current(),
        xhat,
        inv_std,
        dy,
        channels,
        inner,
        groups,
        gamma,
        dgamma,
        dbeta,
        dx,
    )
}

/// [`group_norm_backward`] on a given path.
#[allow(clippy::too_many_arguments)]
pub fn group_norm_backward_with(
    arch: Arch,
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
        let params = first_channel..first_channel + per_group;
        // Σ dy·γ and Σ dy·γ·x̂ over the group.
        let (mut sum, mut sum_h) = (0.0f64, 0.0f64);
        if inner == 1 {
            // Layer normalisation: a parameter per value.
            let (dg, db) = (&mut dgamma[params.clone()], &mut dbeta[params.clone()]);
            (sum, sum_h) = param_grads_with(arch, gg, hg, &gamma[params.clone()], dg, db);
        } else {
            for (c, p) in params.clone().enumerate() {
                let span = c * inner..(c + 1) * inner;
                let (total, dot) = sum_and_dot_with(arch, &gg[span.clone()], &hg[span]);
                dgamma[p] += dot as f32;
                dbeta[p] += total as f32;
                sum += total * gamma[p] as f64;
                sum_h += dot * gamma[p] as f64;
            }
        }
        if let Some(dx) = dx.as_deref_mut() {
            // dx = a·γ·dy − b − c·x̂, the coefficients in f64 and rounded once.
            let scale = inv_std[k] as f64 / n;
            let (b, c) = ((scale * sum) as f32, (scale * sum_h) as f32);
            let out = &mut dx[k * len..(k + 1) * len];
            if inner == 1 {
                let coefficients = ((scale * n) as f32, b, c);
                norm_dx_with(arch, gg, hg, Some(&gamma[params]), out, coefficients);
            } else {
                for (ch, p) in params.enumerate() {
                    let span = ch * inner..(ch + 1) * inner;
                    let coefficients = ((scale * n * gamma[p] as f64) as f32, b, c);
                    let (g, h) = (&gg[span.clone()], &hg[span.clone()]);
                    norm_dx_with(arch, g, h, None, &mut out[span], coefficients);
                }
            }
        }
    }
}
