//! Numeric kernels on flat slices with run-time sizes.
//!
//! Every layer's typed wrapper calls into these non-generic functions, so they are compiled
//! once, in this crate, at this crate's optimisation level, whatever the shapes of the
//! networks that use them (compile time is a feature: see DESIGN.md).
//!
//! The loops are written with fixed-width lane arrays so that LLVM vectorises them on any
//! target; explicit SIMD paths with run-time dispatch belong here too and must keep these
//! as their scalar reference.

mod activation;
mod matmul;

pub use activation::*;
pub use matmul::*;

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
