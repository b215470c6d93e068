//! Numeric kernels on flat slices with run-time sizes.
//!
//! Every layer's typed wrapper calls into these non-generic functions, so they are compiled
//! once, in this crate, at this crate's optimisation level, whatever the shapes of the
//! networks that use them (compile time is a feature: each distinct const shape of a generic
//! kernel would be compiled again).
//!
//! One choice ([`isa()`]) picks AVX-512, AVX2+FMA, NEON, WebAssembly simd128 or the scalar
//! path once; every SIMD path is tested against the scalar one on awkward sizes (`tests.rs`,
//! `tests/`; `tools/test-aarch64.sh` and `tools/test-wasm.sh` run them on the other
//! architectures, emulated). The `*_with`
//! variants run a path given as an [`Arch`] token, which can only be made after checking
//! that the CPU has the path's features: no safe function here can reach an instruction the
//! CPU lacks.
//!
//! # Map
//!
//! Safe kernels, by family (each checks its slices, then runs its SIMD path or its scalar
//! reference):
//!
//! | File | What it holds |
//! |---|---|
//! | `activation.rs` | element-wise activations (ReLU, tanh, sigmoid, leaky ReLU, GELU) |
//! | `reduce.rs` | row maximum and sum, softmax, log-sum-exp |
//! | `gemm.rs` | matrix products with a fused epilogue, the FMA peak probe |
//! | `matrix.rs` | transpose, column sums, arg-max (no SIMD path) |
//! | `recurrence.rs` | a simple RNN's recurrence over one sequence |
//! | `optim.rs` | the Adam update |
//! | `conv/` | convolution (direct, Winograd, im2col + GEMM) and pooling ([`conv`]) |
//! | `attention.rs` | multi-head self-attention, built on the products and softmax |
//! | `cross_attention.rs` | multi-head attention of one sequence's queries over another's keys and values |
//! | `norm.rs` | batch and layer normalisation (no SIMD path) |
//! | `lowp/` | int8 and bf16 products (VNNI, AVX2, AVX-512 BF16) with their own path tokens, AMX detection, the bf16 products of mixed-precision training ([`lowp`]) |
//!
//! Beside them: `isa.rs` (which path runs, the [`Arch`] token), `threads.rs` (the thread
//! pool and when to split work), `denormal.rs` (flushing subnormals), `arena.rs` (the
//! statically planned memory of `forward_in`, and its tensor views).
//!
//! `simd/` holds the unsafe SIMD paths: one module per instruction set with its primitives
//! (`simd/avx512.rs`, `simd/avx2.rs`, `simd/neon.rs`, `simd/simd128.rs`) and one macro file
//! per kernel family that every instruction set instantiates (`simd/math.rs`,
//! `simd/reduce.rs`, `simd/gemm_tile.rs`, `simd/conv_taps.rs`, `simd/recurrence.rs`,
//! `simd/optim.rs`).
//!
//! # Dispatch
//!
//! A safe kernel reaches a SIMD path only through `simd::dispatch!`: given an `Arch` token,
//! the SIMD call (written once, under one `// SAFETY:` comment, with `simd` naming the
//! path's module) and the scalar expression, it expands to the `match` on the token with one
//! arm per instruction set. `simd/mod.rs` shows it in use and says why it is sound.
//!
//! # Extending
//!
//! - A kernel in an existing family: its body in the family's `simd/` macro, its safe
//!   wrapper (bounds checks, `dispatch!`, scalar reference) in the family's file here, a
//!   test against an f64 reference on every path in `tests.rs` or `tests/`.
//! - A new family: a `simd/<family>.rs` macro written over the primitives, one line for it in
//!   `simd_kernels!` (`simd/mod.rs`), and a safe file here re-exported below.
//! - A new instruction set (say RISC-V V): its primitives in `simd/<isa>.rs` ending in
//!   `simd_kernels!`, its arm in `dispatch!`, its `Isa` variant and feature check in
//!   `isa.rs`, and its tile span in the direct convolution's slack check
//!   (`conv/direct.rs`).

// On a target with no SIMD path (wasm32 without simd128, other architectures) every
// dispatch is its scalar arm: the SIMD kernel families, and what the wrappers compute for
// their SIMD arms, go unused there, which is no defect of any one of them.
#![cfg_attr(
    not(any(
        target_arch = "x86_64",
        target_arch = "aarch64",
        all(target_arch = "wasm32", target_feature = "simd128")
    )),
    allow(unused, clippy::let_unit_value)
)]

mod activation;
pub mod arena;
pub mod attention;
pub mod conv;
#[cfg(feature = "std")]
mod counting_alloc;
pub mod cross_attention;
mod denormal;
mod gemm;
mod isa;
pub mod lowp;
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
    activation_forward_with, gelu_backward, gelu_backward_scalar, gelu_backward_with, gelu_forward,
    gelu_forward_scalar, gelu_forward_with, leaky_relu_backward, leaky_relu_forward, sigmoid,
};
/// Reads the process-wide settings the kernels take from the environment
/// (`TYPED_NN_ISA`, `TYPED_NN_FLUSH_DENORMALS`) if no call has yet. Reading the environment
/// allocates, so a network reads them when it is made, and its `forward_in` allocates
/// nothing even at the first call.
pub fn read_settings() {
    let _ = (isa(), flush_denormals());
}

#[cfg(feature = "std")]
pub use counting_alloc::{allocations, allocations_during, CountingAllocator};
pub use denormal::{flush_denormals, set_flush_denormals, FlushDenormals};
pub use gemm::{
    fma_peak_probe, gemm, gemm_inference, gemm_nt, gemm_nt_split, gemm_nt_with, gemm_with, Backend,
    MatMul, MatMulNt, Product, LIBRARY_MIN_DEPTH, LIBRARY_MIN_DIM, LIBRARY_MIN_FLOPS,
};
pub use isa::{isa, set_isa, Arch, Isa};
pub use matrix::{argmax, column_sums, transpose};
pub use optim::{adam_update, adam_update_with};
pub use recurrence::{
    gru_cell_backward_with, gru_cell_forward_with, lstm_cell_backward, lstm_cell_backward_with,
    lstm_cell_forward, lstm_cell_forward_strided_with, lstm_cell_forward_with, rnn_sequence_with,
};
pub use reduce::{
    exp_with, log_softmax_backward, log_softmax_forward, log_sum_exp, log_sum_exp_parts,
    log_sum_exp_parts_with, log_sum_exp_with, softmax_backward, softmax_forward,
    softmax_forward_with, sum_with,
};
pub use simd::{AdamStep, EpilogueAct};
pub use threads::{as_shard, join, on_pool, set_threads, threads, PARALLEL_MIN_FLOPS};

/// Winograd's F(2×2, 3×3), which lives with the other convolution algorithms.
pub use conv::winograd;
