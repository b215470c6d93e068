//! Element-wise and row-wise activations, forward and backward side by side, each with a
//! scalar reference and the SIMD paths of `simd.rs`.
//!
//! Accuracy of the SIMD paths against an f64 reference (tested in `tests.rs`):
//! e^x relative error ≤ 3e-7 on [−87, 88]; tanh absolute error ≤ 3e-7 and relative
//! ≤ 2e-6; sigmoid absolute ≤ 3e-7; log-sum-exp relative ≤ 1e-6; softmax relative ≤ 4e-6
//! (the f32 rounding of x − max, up to 2e-6 relative in e^(x − max), dominates).
//!
//! The `*_with` variants run the path of the [`Arch`] token they are given; a token can only
//! be made for a path this CPU has, so they are safe to call with any token.

use super::isa::Arch;
use super::simd::{dispatch, EpilogueAct};

/// Numerically stable logistic function: never evaluates `exp` of a large positive number.
#[inline]
pub fn sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// y = act(x), in place, on the process-wide path.
pub fn activation_forward_in_place(act: EpilogueAct, y: &mut [f32]) {
    activation_forward_with(Arch::current(), act, y)
}

/// y = act(y) on a given path.
pub fn activation_forward_with(arch: Arch, act: EpilogueAct, y: &mut [f32]) {
    if act == EpilogueAct::None {
        return;
    }
    dispatch!(
        arch,
        simd => {
            // One pointer serves as input and output: a read-only pointer taken from `y`
            // next to the writable one would be invalidated by the kernel's first write,
            // and reading through it after that would be undefined behaviour.
            let (p, n) = (y.as_mut_ptr(), y.len());
            // SAFETY: `p` covers the `n` values of `y`, read and written in place (the
            // kernel loads each vector before storing it); `arch` proves this CPU has the
            // path's features.
            unsafe { simd::map(p, p, n, act) }
        },
        scalar => activation_forward_scalar(act, y),
    )
}

/// The scalar path of [`activation_forward_with`].
fn activation_forward_scalar(act: EpilogueAct, y: &mut [f32]) {
    for v in y {
        *v = match act {
            EpilogueAct::None => *v,
            // NaN stays NaN (`f32::max` would turn it into 0 and hide a diverged run).
            EpilogueAct::Relu => {
                if *v < 0.0 {
                    0.0
                } else {
                    *v
                }
            }
            EpilogueAct::Tanh => v.tanh(),
            EpilogueAct::Sigmoid => sigmoid(*v),
        };
    }
}

/// dx = dy · act′(y), the derivative read off the output y.
pub fn activation_backward_with(
    arch: Arch,
    act: EpilogueAct,
    y: &[f32],
    dy: &[f32],
    dx: &mut [f32],
) {
    let n = dx.len();
    assert!(y.len() >= n && dy.len() >= n);
    dispatch!(
        arch,
        // SAFETY: `y`, `dy` and `dx` hold at least `n` values (asserted above), and `dx` (a
        // `&mut`) overlaps neither input; `arch` proves this CPU has the path's features.
        simd => unsafe { simd::map_backward(y.as_ptr(), dy.as_ptr(), dx.as_mut_ptr(), n, act) },
        scalar => activation_backward_scalar(act, y, dy, dx),
    )
}

/// The scalar path of [`activation_backward_with`].
fn activation_backward_scalar(act: EpilogueAct, y: &[f32], dy: &[f32], dx: &mut [f32]) {
    for ((d, &yi), &g) in dx.iter_mut().zip(y).zip(dy) {
        *d = match act {
            EpilogueAct::None => g,
            EpilogueAct::Relu => {
                if yi > 0.0 {
                    g
                } else {
                    0.0
                }
            }
            EpilogueAct::Tanh => g * (1.0 - yi * yi),
            EpilogueAct::Sigmoid => g * yi * (1.0 - yi),
        };
    }
}

/// y = act(x) on the process-wide path.
pub fn activation_forward(act: EpilogueAct, x: &[f32], y: &mut [f32]) {
    y.copy_from_slice(&x[..y.len()]);
    activation_forward_in_place(act, y);
}

/// dx = dy · act′(y) on the process-wide path.
pub fn activation_backward(act: EpilogueAct, y: &[f32], dy: &[f32], dx: &mut [f32]) {
    activation_backward_with(Arch::current(), act, y, dy, dx)
}

/// y = x if x > 0 else alpha · x
pub fn leaky_relu_forward(alpha: f32, x: &[f32], y: &mut [f32]) {
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi = if xi > 0.0 { xi } else { alpha * xi };
    }
}

/// dx = dy if x > 0 else alpha · dy
pub fn leaky_relu_backward(alpha: f32, x: &[f32], dy: &[f32], dx: &mut [f32]) {
    for ((d, &xi), &g) in dx.iter_mut().zip(x).zip(dy) {
        *d = if xi > 0.0 { g } else { alpha * g };
    }
}

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
            let y = y.map_or(std::ptr::null_mut(), |y| y.as_mut_ptr());
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

/// erf(x), Numerical Recipes' `erfcc` Chebyshev fit (fractional error below 1.2e-7), in f64.
#[allow(clippy::excessive_precision)] // the published coefficients
fn erf(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let erfc = t * poly.exp();
    if x >= 0.0 {
        1.0 - erfc
    } else {
        erfc - 1.0
    }
}

/// y = x·Φ(x) = x/2·(1 + erf(x/√2)): GELU in its exact form (PyTorch's default).
pub fn gelu_forward(x: &[f32], y: &mut [f32]) {
    for (yi, &xi) in y.iter_mut().zip(x) {
        let v = xi as f64;
        *yi = (0.5 * v * (1.0 + erf(v * std::f64::consts::FRAC_1_SQRT_2))) as f32;
    }
}

/// dx = dy · (Φ(x) + x·φ(x)), φ the standard normal density.
pub fn gelu_backward(x: &[f32], dy: &[f32], dx: &mut [f32]) {
    let inv_sqrt_2pi = 0.5 * std::f64::consts::FRAC_2_SQRT_PI * std::f64::consts::FRAC_1_SQRT_2;
    for ((d, &xi), &g) in dx.iter_mut().zip(x).zip(dy) {
        let v = xi as f64;
        let cdf = 0.5 * (1.0 + erf(v * std::f64::consts::FRAC_1_SQRT_2));
        let pdf = inv_sqrt_2pi * (-0.5 * v * v).exp();
        *d = (g as f64 * (cdf + v * pdf)) as f32;
    }
}
