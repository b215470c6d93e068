//! Optimiser updates over parallel slices of parameters, gradients and moments, with a
//! scalar reference and the SIMD paths of `simd/optim.rs`: one call per parameter tensor
//! and step (Adam and AdamW, `optim/adam.rs`).

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::isa::Arch;
use super::simd::{dispatch, AdamStep};

/// One Adam update over parallel slices of parameters, gradients and moments.
pub fn adam_update(c: &AdamStep, value: &mut [f32], grad: &[f32], m: &mut [f32], v: &mut [f32]) {
    adam_update_with(Arch::current(), c, value, grad, m, v)
}

/// [`adam_update`] on a given path.
pub fn adam_update_with(
    arch: Arch,
    c: &AdamStep,
    value: &mut [f32],
    grad: &[f32],
    m: &mut [f32],
    v: &mut [f32],
) {
    let n = value.len();
    assert!(
        grad.len() == n && m.len() == n && v.len() == n,
        "Adam slices differ in length"
    );
    dispatch!(
        arch,
        // SAFETY: the four slices hold `n` values each (asserted above) and do not alias
        // (three are `&mut`); `arch` proves this CPU has the path's features.
        simd => unsafe {
            simd::adam(
                value.as_mut_ptr(),
                grad.as_ptr(),
                m.as_mut_ptr(),
                v.as_mut_ptr(),
                n,
                c,
            )
        },
        scalar => adam_scalar(c, value, grad, m, v),
    )
}

/// The scalar path of [`adam_update_with`].
fn adam_scalar(c: &AdamStep, value: &mut [f32], grad: &[f32], m: &mut [f32], v: &mut [f32]) {
    for (((p, &g), m), v) in value
        .iter_mut()
        .zip(grad)
        .zip(m.iter_mut())
        .zip(v.iter_mut())
    {
        let g = g + c.l2 * *p;
        *m = c.beta1 * *m + (1.0 - c.beta1) * g;
        *v = c.beta2 * *v + (1.0 - c.beta2) * g * g;
        *p = *p * c.decay - c.step_size * *m / (v.sqrt() * c.inv_sqrt_correction2 + c.eps);
    }
}
