//! Reductions over a row (its maximum, Σ e^(x − shift), its sum), each with a scalar
//! reference and the SIMD paths of `simd/reduce.rs`, and what is built on them: softmax and
//! log-softmax (forward and backward) and log-sum-exp, computed around the row's maximum so that e^x
//! neither overflows nor underflows.
//!
//! Accuracy of the SIMD paths against an f64 reference (tested in `tests.rs`): e^x
//! relative error ≤ 3e-7 on [−87, 88]; log-sum-exp relative ≤ 1e-6; softmax relative
//! ≤ 4e-6 (the f32 rounding of x − max, up to 2e-6 relative in e^(x − max), dominates).
//!
//! The `*_with` variants run the path of the [`Arch`] token they are given; a token can only
//! be made for a path this CPU has, so they are safe to call with any token.

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::isa::Arch;
use super::simd::dispatch;

/// Row-wise y = e^(x − max x) / Σ e^(x − max x), over rows of `cols` values.
pub fn softmax_forward(x: &[f32], y: &mut [f32], cols: usize) {
    softmax_forward_with(Arch::current(), x, y, cols)
}

/// [`softmax_forward`] on a given path.
pub fn softmax_forward_with(arch: Arch, x: &[f32], y: &mut [f32], cols: usize) {
    if cols == 0 {
        return;
    }
    for (xr, yr) in x.chunks_exact(cols).zip(y.chunks_exact_mut(cols)) {
        let max = max_with(arch, xr);
        let sum = exp_shifted_with(arch, xr, Some(yr), max);
        scale_with(arch, yr, 1.0 / sum);
    }
}

/// Row-wise dx = y ⊙ (dy − ⟨dy, y⟩): the softmax Jacobian applied to dy.
pub fn softmax_backward(y: &[f32], dy: &[f32], dx: &mut [f32], cols: usize) {
    if cols == 0 {
        return;
    }
    for ((yr, gr), dr) in y
        .chunks_exact(cols)
        .zip(dy.chunks_exact(cols))
        .zip(dx.chunks_exact_mut(cols))
    {
        let inner: f32 = yr.iter().zip(gr).map(|(a, b)| a * b).sum();
        for ((d, &yi), &g) in dr.iter_mut().zip(yr).zip(gr) {
            *d = yi * (g - inner);
        }
    }
}

/// Row-wise y = (x − max x) − log Σ e^(x − max x), over rows of `cols` values: the log of
/// the softmax, without computing the softmax and its log apart (which loses everything
/// below e^−87).
pub fn log_softmax_forward(x: &[f32], y: &mut [f32], cols: usize) {
    if cols == 0 {
        return;
    }
    let arch = Arch::current();
    for (xr, yr) in x.chunks_exact(cols).zip(y.chunks_exact_mut(cols)) {
        let (max, log_sum) = log_sum_exp_parts_with(arch, xr);
        for (yi, &xi) in yr.iter_mut().zip(xr) {
            *yi = (xi - max) - log_sum;
        }
    }
}

/// Row-wise dx = dy − e^y · Σ dy: the log-softmax Jacobian applied to dy (e^y is the
/// softmax).
pub fn log_softmax_backward(y: &[f32], dy: &[f32], dx: &mut [f32], cols: usize) {
    if cols == 0 {
        return;
    }
    for ((yr, gr), dr) in y
        .chunks_exact(cols)
        .zip(dy.chunks_exact(cols))
        .zip(dx.chunks_exact_mut(cols))
    {
        let sum: f32 = gr.iter().sum();
        for ((d, &yi), &g) in dr.iter_mut().zip(yr).zip(gr) {
            *d = g - yi.exp() * sum;
        }
    }
}

/// log Σ e^x of one row, computed around its maximum so it neither overflows nor underflows.
pub fn log_sum_exp(row: &[f32]) -> f32 {
    log_sum_exp_with(Arch::current(), row)
}

/// [`log_sum_exp`] on a given path.
pub fn log_sum_exp_with(arch: Arch, row: &[f32]) -> f32 {
    let (max, log_sum) = log_sum_exp_parts_with(arch, row);
    max + log_sum
}

/// log Σ e^x of one row as its two parts, `(max, log Σ e^(x − max))`. Log-probabilities
/// are `(x − max) − log_sum`: subtracting the whole log-sum-exp from `x` instead would
/// round it at the scale of `x` first (an error of 5·10⁻⁴ for logits near 10⁴).
pub fn log_sum_exp_parts(row: &[f32]) -> (f32, f32) {
    log_sum_exp_parts_with(Arch::current(), row)
}

/// [`log_sum_exp_parts`] on a given path.
pub fn log_sum_exp_parts_with(arch: Arch, row: &[f32]) -> (f32, f32) {
    let max = max_with(arch, row);
    if !max.is_finite() {
        return (max, 0.0);
    }
    (max, exp_shifted_with(arch, row, None, max).ln())
}

fn max_with(arch: Arch, x: &[f32]) -> f32 {
    dispatch!(
        arch,
        // SAFETY: reads `x.len()` values of `x`; `arch` proves this CPU has the path's
        // features.
        simd => unsafe { simd::max_of(x.as_ptr(), x.len()) },
        scalar => x.iter().copied().fold(f32::NEG_INFINITY, f32::max),
    )
}

/// Σ e^(x − shift), writing the terms to `y` when given (same length as `x`).
fn exp_shifted_with(arch: Arch, x: &[f32], y: Option<&mut [f32]>, shift: f32) -> f32 {
    let y = y.inspect(|y| assert_eq!(y.len(), x.len()));
    dispatch!(
        arch,
        simd => {
            let y = y.map_or(core::ptr::null_mut(), |y| y.as_mut_ptr());
            // SAFETY: reads `x.len()` values of `x` and writes as many to `y` (same length,
            // asserted) or nowhere (null); `arch` proves this CPU has the path's features.
            unsafe { simd::exp_shifted(x.as_ptr(), y, x.len(), shift) }
        },
        scalar => match y {
            Some(y) => {
                let mut sum = 0.0;
                for (yi, &xi) in y.iter_mut().zip(x) {
                    *yi = (xi - shift).exp();
                    sum += *yi;
                }
                sum
            }
            None => x.iter().map(|&v| (v - shift).exp()).sum(),
        },
    )
}

fn scale_with(arch: Arch, y: &mut [f32], factor: f32) {
    dispatch!(
        arch,
        // SAFETY: reads and writes `y.len()` values of `y`; `arch` proves this CPU has the
        // path's features.
        simd => unsafe { simd::scale(y.as_mut_ptr(), y.len(), factor) },
        scalar => y.iter_mut().for_each(|v| *v *= factor),
    )
}

/// e^x over a slice on a given path (exposed for accuracy tests).
pub fn exp_with(arch: Arch, x: &[f32], y: &mut [f32]) {
    exp_shifted_with(arch, x, Some(y), 0.0);
}

/// Σ of the values (vectorised on the SIMD paths, so not summed in order).
pub fn sum_with(arch: Arch, x: &[f32]) -> f32 {
    dispatch!(
        arch,
        // SAFETY: reads the `x.len()` values of the slice; `arch` proves this CPU has the
        // path's features.
        simd => unsafe { simd::sum(x.as_ptr(), x.len()) },
        scalar => x.iter().sum(),
    )
}
