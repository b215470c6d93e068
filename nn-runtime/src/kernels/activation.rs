//! Element-wise activations, forward and backward side by side, each with a scalar
//! reference and the SIMD paths of `simd/math.rs` (row-wise softmax is in `reduce.rs`).
//!
//! Accuracy of the SIMD paths against an f64 reference (tested in `tests.rs`): tanh
//! absolute error ≤ 3e-7 and relative ≤ 2e-6; sigmoid absolute ≤ 3e-7 (both built on the
//! SIMD e^x, relative error ≤ 3e-7 on [−87, 88]).
//!
//! The `*_with` variants run the path of the [`Arch`] token they are given; a token can only
//! be made for a path this CPU has, so they are safe to call with any token.

#[allow(unused_imports)]
use crate::core_prelude::*;

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

/// y = x·Φ(x) = x/2·(1 + erf(x/√2)): GELU in its exact form (PyTorch's default), on the
/// process-wide path.
pub fn gelu_forward(x: &[f32], y: &mut [f32]) {
    gelu_forward_with(Arch::current(), x, y)
}

/// [`gelu_forward`] on a given path.
pub fn gelu_forward_with(arch: Arch, x: &[f32], y: &mut [f32]) {
    let n = x.len().min(y.len());
    dispatch!(
        arch,
        simd => {
            // SAFETY: both pointers cover at least `n` values; `arch` proves this CPU has
            // the path's features.
            unsafe { simd::gelu(x.as_ptr(), y.as_mut_ptr(), n) }
        },
        scalar => gelu_forward_scalar(x, y),
    )
}

/// The scalar path of [`gelu_forward_with`], in f64: the reference the SIMD paths are
/// tested against.
pub fn gelu_forward_scalar(x: &[f32], y: &mut [f32]) {
    for (yi, &xi) in y.iter_mut().zip(x) {
        let v = xi as f64;
        *yi = (0.5 * v * (1.0 + erf(v * core::f64::consts::FRAC_1_SQRT_2))) as f32;
    }
}

/// dx = dy · (Φ(x) + x·φ(x)), φ the standard normal density, on the process-wide path.
pub fn gelu_backward(x: &[f32], dy: &[f32], dx: &mut [f32]) {
    gelu_backward_with(Arch::current(), x, dy, dx)
}

/// [`gelu_backward`] on a given path.
pub fn gelu_backward_with(arch: Arch, x: &[f32], dy: &[f32], dx: &mut [f32]) {
    let n = x.len().min(dy.len()).min(dx.len());
    dispatch!(
        arch,
        simd => {
            // SAFETY: the three pointers cover at least `n` values; `arch` proves this CPU
            // has the path's features.
            unsafe { simd::gelu_backward(x.as_ptr(), dy.as_ptr(), dx.as_mut_ptr(), n) }
        },
        scalar => gelu_backward_scalar(x, dy, dx),
    )
}

/// The scalar path of [`gelu_backward_with`], in f64.
pub fn gelu_backward_scalar(x: &[f32], dy: &[f32], dx: &mut [f32]) {
    let inv_sqrt_2pi = 0.5 * core::f64::consts::FRAC_2_SQRT_PI * core::f64::consts::FRAC_1_SQRT_2;
    for ((d, &xi), &g) in dx.iter_mut().zip(x).zip(dy) {
        let v = xi as f64;
        let cdf = 0.5 * (1.0 + erf(v * core::f64::consts::FRAC_1_SQRT_2));
        let pdf = inv_sqrt_2pi * (-0.5 * v * v).exp();
        *d = (g as f64 * (cdf + v * pdf)) as f32;
    }
}
