//! The recurrence of a simple RNN over one sequence, with a scalar reference and the SIMD
//! paths of `simd/recurrence.rs`: the step-to-step products, which cannot be batched since
//! each step needs the previous one's output (the input projections of all the steps are
//! one product before the call, in `layers/rnn.rs`).

use super::activation::activation_forward_with;
use super::isa::Arch;
use super::simd::{dispatch, EpilogueAct};

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
