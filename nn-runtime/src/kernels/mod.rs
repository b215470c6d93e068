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
mod matrix;
pub mod norm;
mod optim;
mod recurrence;
mod reduce;
mod simd;
mod threads;

#[cfg(test)]
mod tests;

pub use activation::{
    activation_backward, activation_backward_with, activation_forward, activation_forward_in_place,
    activation_forward_with, gelu_backward, gelu_forward, leaky_relu_backward, leaky_relu_forward,
    sigmoid,
};
pub use denormal::{flush_denormals, set_flush_denormals, FlushDenormals};
pub use gemm::{
    fma_peak_probe, gemm, gemm_nt, gemm_nt_with, gemm_with, Backend, MatMul, MatMulNt,
    LIBRARY_MIN_DIM, LIBRARY_MIN_FLOPS,
};
pub use isa::{isa, set_isa, Arch, Isa};
pub use matrix::{argmax, column_sums, transpose};
pub use optim::{adam_update, adam_update_with};
pub use recurrence::rnn_sequence_with;
pub use reduce::{
    exp_with, log_sum_exp, log_sum_exp_parts, log_sum_exp_parts_with, log_sum_exp_with,
    softmax_backward, softmax_forward, softmax_forward_with, sum_with,
};
pub use simd::{AdamStep, EpilogueAct};
pub use threads::{as_shard, join, on_pool, set_threads, threads, PARALLEL_MIN_FLOPS};

/// Winograd's F(2×2, 3×3), which lives with the other convolution algorithms.
pub use conv::winograd;
