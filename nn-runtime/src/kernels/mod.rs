//! Numeric kernels on flat slices with run-time sizes.
//!
//! Every layer's typed wrapper calls into these non-generic functions, so they are compiled
//! once, in this crate, at this crate's optimisation level, whatever the shapes of the
//! networks that use them (compile time is a feature: see DESIGN.md).
//!
//! One dispatch point ([`isa`]) picks AVX-512, AVX2+FMA or the scalar path once; every SIMD
//! path is tested against the scalar one on awkward sizes (`tests.rs`).

mod activation;
mod gemm;
mod isa;
mod simd;
mod threads;

#[cfg(test)]
mod tests;

pub use activation::*;
pub use gemm::{gemm, gemm_with, Backend, MatMul, LIBRARY_MIN_DIM, LIBRARY_MIN_FLOPS};
pub use isa::{isa, set_isa, Isa};
pub use simd::EpilogueAct;
pub use threads::{set_threads, threads, PARALLEL_MIN_FLOPS};

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

/// out[j] = Σ_r x[r·cols + j]: column sums of a row-major matrix (bias gradients).
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
