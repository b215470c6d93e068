//! Numeric kernels on flat slices with run-time sizes.
//!
//! Every layer's typed wrapper calls into these non-generic functions, so they are compiled
//! once, in this crate, at this crate's optimisation level, whatever the shapes of the
//! networks that use them (compile time is a feature: each distinct const shape of a generic
//! kernel would be compiled again).
//!
//! One dispatch point ([`isa`]) picks AVX-512, AVX2+FMA or the scalar path once; every SIMD
//! path is tested against the scalar one on awkward sizes (`tests.rs`). The `*_with`
//! variants run a path given as an [`Arch`] token, which can only be made after checking
//! that the CPU has the path's features: no safe function here can reach an instruction the
//! CPU lacks.

mod activation;
pub mod attention;
pub mod conv;
mod denormal;
mod gemm;
mod isa;
pub mod norm;
mod simd;
mod threads;
pub mod winograd;

#[cfg(test)]
mod tests;

pub use activation::*;
pub use denormal::{flush_denormals, set_flush_denormals, FlushDenormals};
pub use gemm::{
    gemm, gemm_nt, gemm_nt_with, gemm_with, sum_with, Backend, MatMul, MatMulNt, LIBRARY_MIN_DIM,
    LIBRARY_MIN_FLOPS,
};
pub use isa::{isa, set_isa, Arch, Isa};
use simd::dispatch;
pub use simd::{AdamStep, EpilogueAct};
pub use threads::{as_shard, join, on_pool, set_threads, threads, PARALLEL_MIN_FLOPS};

/// Index of the largest value (the first one on ties); 0 for an empty slice. NaN never wins.
pub fn argmax(values: &[f32]) -> usize {
    let mut best = 0;
    let mut best_value = f32::NEG_INFINITY;
    for (i, &v) in values.iter().enumerate() {
        if v > best_value {
            best = i;
            best_value = v;
        }
    }
    best
}

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

/// Runs `iters` rounds of independent FMAs on `arch` and returns how many FLOPs that was
/// (the benches divide by the time to get the core's peak); `None` for the scalar path.
pub fn fma_peak_probe(arch: Arch, iters: usize) -> Option<u64> {
    let flops = (iters * simd::PROBE_CHAINS * arch.isa().lanes() * 2) as u64;
    let sink = dispatch!(
        arch,
        // SAFETY: touches registers only; `arch` proves this CPU has the path's features.
        simd => unsafe { simd::fma_probe(iters) },
        scalar => return None,
    );
    std::hint::black_box(sink);
    Some(flops)
}

/// The recurrence of a simple RNN over one sequence of `t` steps with `h` units: for each
/// step, h_t = act(gates_t + h_{t−1}·W) (no product at the first step), written over row t
/// of `gates` (which holds the step's input projection and bias on entry) and to row t of
/// `hs`. `w` is `[h, h]` with rows `rsw` apart, row p the weights from `h_{t−1}[p]` (PyTorch's
/// `weight_hh` transposed).
#[allow(clippy::too_many_arguments)]
pub fn rnn_sequence_with(
    arch: Arch,
    t: usize,
    h: usize,
    w: &[f32],
    rsw: usize,
    act: EpilogueAct,
    gates: &mut [f32],
    hs: &mut [f32],
) {
    assert!(rsw >= h && gates.len() >= t * h && hs.len() >= t * h);
    assert!(h == 0 || w.len() >= (h - 1) * rsw + h);
    dispatch!(
        arch,
        // SAFETY: `w` holds (h−1)·rsw + h values and `gates`, `hs` t·h each (asserted); the
        // two `&mut` slices do not overlap; `arch` proves this CPU has the path's features.
        simd => unsafe {
            simd::rnn_sequence(
                t,
                h,
                w.as_ptr(),
                rsw,
                gates.as_mut_ptr(),
                hs.as_mut_ptr(),
                act,
            )
        },
        scalar => rnn_sequence_scalar(arch, t, h, w, rsw, act, gates, hs),
    )
}

/// The scalar path of [`rnn_sequence_with`].
#[allow(clippy::too_many_arguments)]
fn rnn_sequence_scalar(
    arch: Arch,
    t: usize,
    h: usize,
    w: &[f32],
    rsw: usize,
    act: EpilogueAct,
    gates: &mut [f32],
    hs: &mut [f32],
) {
    for step in 0..t {
        let (done, rest) = hs.split_at_mut(step * h);
        let row = &mut gates[step * h..(step + 1) * h];
        if step > 0 {
            let prev = &done[(step - 1) * h..];
            for (p, &hp) in prev.iter().enumerate().take(h) {
                for (g, &wv) in row.iter_mut().zip(&w[p * rsw..p * rsw + h]) {
                    *g += hp * wv;
                }
            }
        }
        activation_forward_with(arch, act, row);
        rest[..h].copy_from_slice(row);
    }
}

/// out = xᵀ for a `rows × cols` row-major `x` (out is `cols × rows`, row-major).
pub fn transpose(x: &[f32], rows: usize, cols: usize, out: &mut [f32]) {
    assert!(x.len() >= rows * cols && out.len() >= rows * cols);
    // In square blocks, so that the strided side touches a few cache lines many times
    // instead of a new line per value (a 12544×128 weight: 4.5 ms row by row).
    const BLOCK: usize = 16;
    for r0 in (0..rows).step_by(BLOCK) {
        let r1 = (r0 + BLOCK).min(rows);
        for c0 in (0..cols).step_by(BLOCK) {
            let c1 = (c0 + BLOCK).min(cols);
            for r in r0..r1 {
                let row = &x[r * cols + c0..r * cols + c1];
                for (c, &v) in (c0..c1).zip(row) {
                    out[c * rows + r] = v;
                }
            }
        }
    }
}

/// `out[j] = Σ_r x[r·cols + j]`: column sums of a row-major matrix (bias gradients).
pub fn column_sums(x: &[f32], cols: usize, out: &mut [f32]) {
    out.fill(0.0);
    if cols == 0 {
        return;
    }
    for row in x.chunks_exact(cols) {
        for (o, &v) in out.iter_mut().zip(row) {
            *o += v;
        }
    }
}
