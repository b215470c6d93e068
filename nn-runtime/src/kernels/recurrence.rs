//! The recurrence of a simple RNN over one sequence, with a scalar reference and the SIMD
//! paths of `simd/recurrence.rs`: the step-to-step products, which cannot be batched since
//! each step needs the previous one's output (the input projections of all the steps are
//! one product before the call, in `layers/rnn.rs`). And the LSTM and GRU cells' forward
//! steps (the gates' activations, the cell and the state in one pass) and backward steps,
//! element-wise over their units.

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::activation::{activation_forward_with, sigmoid};
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

/// One LSTM cell step over `h` units, on a given path: `gates` (`[i | f | g | o]`, pre-
/// activation) activated in place, then c_t = f·c_{t−1} + i·g (`c_prev` `None` before the
/// first step: 0), tanh(c_t) and h_t = o·tanh(c_t) written to `c`, `tanh_c` and `h_out`.
pub fn lstm_cell_forward_with(
    arch: Arch,
    gates: &mut [f32],
    c_prev: Option<&[f32]>,
    c: &mut [f32],
    tanh_c: &mut [f32],
    h_out: &mut [f32],
) {
    assert!(gates.len() == 4 * c.len());
    lstm_cell_forward_strided_with(arch, gates, c.len(), c_prev, c, tanh_c, h_out)
}

/// [`lstm_cell_forward_with`] over a block of `h` units whose four gates lie `stride`
/// apart in `gates` (`[i…, f…, g…, o…]` at offsets 0, stride, 2·stride, 3·stride; stride
/// ≥ h): the cell of some of a layer's units, in the gate row of all of them, as the
/// recurrent pass runs it right after the product of those units' gates.
pub fn lstm_cell_forward_strided_with(
    arch: Arch,
    gates: &mut [f32],
    stride: usize,
    c_prev: Option<&[f32]>,
    c: &mut [f32],
    tanh_c: &mut [f32],
    h_out: &mut [f32],
) {
    let h = c.len();
    assert!(stride >= h && gates.len() >= 3 * stride + h);
    assert!(tanh_c.len() == h && h_out.len() == h);
    assert!(c_prev.is_none_or(|p| p.len() == h));
    dispatch!(
        arch,
        // SAFETY: every slice holds the values the kernel reads or writes (asserted above:
        // the gates' 3·stride + h); the written slices are `&mut` and so overlap nothing;
        // `arch` proves this CPU has the path's features.
        simd => unsafe {
            simd::lstm_cell_forward(
                h,
                stride,
                gates.as_mut_ptr(),
                c_prev.map_or(core::ptr::null(), |p| p.as_ptr()),
                c.as_mut_ptr(),
                tanh_c.as_mut_ptr(),
                h_out.as_mut_ptr(),
            )
        },
        scalar => {
            let s = stride;
            for k in 0..h {
                let i = sigmoid(gates[k]);
                let f = sigmoid(gates[s + k]);
                let g = gates[2 * s + k].tanh();
                let o = sigmoid(gates[3 * s + k]);
                [gates[k], gates[s + k], gates[2 * s + k], gates[3 * s + k]] = [i, f, g, o];
                c[k] = f * c_prev.map_or(0.0, |p| p[k]) + i * g;
                tanh_c[k] = c[k].tanh();
                h_out[k] = o * tanh_c[k];
            }
        },
    )
}

/// [`lstm_cell_forward_with`] on the process-wide path.
pub fn lstm_cell_forward(
    gates: &mut [f32],
    c_prev: Option<&[f32]>,
    c: &mut [f32],
    tanh_c: &mut [f32],
    h_out: &mut [f32],
) {
    lstm_cell_forward_with(Arch::current(), gates, c_prev, c, tanh_c, h_out)
}

/// One GRU cell step over `h` units, on a given path: from the input projection `gates`
/// `[r | z | n]` and the recurrent one `hh` (h_{t−1}·W_hh + b_hh), r, z = σ(gates + hh) and
/// n = tanh(gates_n + r·hh_n) written over `gates`, hh_n copied to `hh_n_out`, and h_t =
/// (1 − z)·n + z·h_{t−1} (`h_prev` `None` before the first step: 0) written to `h_out`.
pub fn gru_cell_forward_with(
    arch: Arch,
    gates: &mut [f32],
    hh: &[f32],
    h_prev: Option<&[f32]>,
    hh_n_out: &mut [f32],
    h_out: &mut [f32],
) {
    let h = h_out.len();
    assert!(gates.len() == 3 * h && hh.len() == 3 * h && hh_n_out.len() == h);
    assert!(h_prev.is_none_or(|p| p.len() == h));
    dispatch!(
        arch,
        // SAFETY: every slice holds the values the kernel reads or writes (asserted above);
        // the written slices are `&mut` and so overlap nothing; `arch` proves this CPU has
        // the path's features.
        simd => unsafe {
            simd::gru_cell_forward(
                h,
                gates.as_mut_ptr(),
                hh.as_ptr(),
                h_prev.map_or(core::ptr::null(), |p| p.as_ptr()),
                hh_n_out.as_mut_ptr(),
                h_out.as_mut_ptr(),
            )
        },
        scalar => {
            for k in 0..h {
                let r = sigmoid(gates[k] + hh[k]);
                let z = sigmoid(gates[h + k] + hh[h + k]);
                let n = (gates[2 * h + k] + r * hh[2 * h + k]).tanh();
                [gates[k], gates[h + k], gates[2 * h + k]] = [r, z, n];
                hh_n_out[k] = hh[2 * h + k];
                h_out[k] = (1.0 - z) * n + z * h_prev.map_or(0.0, |p| p[k]);
            }
        },
    )
}

/// One GRU cell's backward step over `h` units, on a given path, from its activated gates
/// `[r | z | n]`, hh_n, h_{t−1} (`None` before the first step: 0) and ∂h_t: writes ∂ of the
/// gates' input pre-activations to `dgates` `[dr | dz | dn]`, ∂ of the recurrent projection to
/// `dhid` `[dr | dz | dn·r]`, and ∂h_t·z (the direct part of ∂h_{t−1}) to `dh_direct`.
#[allow(clippy::too_many_arguments)]
pub fn gru_cell_backward_with(
    arch: Arch,
    gates: &[f32],
    hh_n: &[f32],
    h_prev: Option<&[f32]>,
    dh: &[f32],
    dgates: &mut [f32],
    dhid: &mut [f32],
    dh_direct: &mut [f32],
) {
    let h = dh.len();
    assert!(gates.len() == 3 * h && dgates.len() == 3 * h && dhid.len() == 3 * h);
    assert!(hh_n.len() == h && dh_direct.len() == h && h_prev.is_none_or(|p| p.len() == h));
    dispatch!(
        arch,
        // SAFETY: every slice holds the values the kernel reads or writes (asserted above);
        // the written slices are `&mut` and so overlap nothing; `arch` proves this CPU has
        // the path's features.
        simd => unsafe {
            simd::gru_cell_backward(
                h,
                gates.as_ptr(),
                hh_n.as_ptr(),
                h_prev.map_or(core::ptr::null(), |p| p.as_ptr()),
                dh.as_ptr(),
                dgates.as_mut_ptr(),
                dhid.as_mut_ptr(),
                dh_direct.as_mut_ptr(),
            )
        },
        scalar => {
            for k in 0..h {
                let (r, z, n) = (gates[k], gates[h + k], gates[2 * h + k]);
                let hp = h_prev.map_or(0.0, |p| p[k]);
                let dn = dh[k] * (1.0 - z) * (1.0 - n * n);
                let dz = dh[k] * (hp - n) * z * (1.0 - z);
                let dr = dn * hh_n[k] * r * (1.0 - r);
                [dgates[k], dgates[h + k], dgates[2 * h + k]] = [dr, dz, dn];
                [dhid[k], dhid[h + k], dhid[2 * h + k]] = [dr, dz, dn * r];
                dh_direct[k] = dh[k] * z;
            }
        },
    )
}

/// An LSTM cell's backward step over `h` units (PyTorch's gate order i, f, g, o): from the
/// step's gates after their activations, tanh(c_t), c_{t−1} (`None` before the first step)
/// and the gradients ∂h_t, ∂c_t, writes the gradients of the gates' pre-activations to
/// `dgates` and ∂c_{t−1} over `dc`:
///
/// dcell = ∂c_t + ∂h_t·o·(1 − tanh²c_t); ∂i = dcell·g·i(1 − i); ∂f = dcell·c_{t−1}·f(1 − f);
/// ∂g = dcell·i·(1 − g²); ∂o = ∂h_t·tanh c_t·o(1 − o); ∂c_{t−1} = dcell·f.
#[allow(clippy::too_many_arguments)]
pub fn lstm_cell_backward_with(
    arch: Arch,
    h: usize,
    gates: &[f32],
    tanh_c: &[f32],
    c_prev: Option<&[f32]>,
    dh: &[f32],
    dc: &mut [f32],
    dgates: &mut [f32],
) {
    assert!(gates.len() >= 4 * h && dgates.len() >= 4 * h);
    assert!(tanh_c.len() >= h && dh.len() >= h && dc.len() >= h);
    assert!(c_prev.is_none_or(|c| c.len() >= h));
    dispatch!(
        arch,
        // SAFETY: every slice holds the values the kernel reads or writes (asserted above);
        // `dc` and `dgates` are `&mut` and so overlap nothing; `arch` proves this CPU has
        // the path's features.
        simd => unsafe {
            simd::lstm_cell_backward(
                h,
                gates.as_ptr(),
                tanh_c.as_ptr(),
                c_prev.map_or(core::ptr::null(), |c| c.as_ptr()),
                dh.as_ptr(),
                dc.as_mut_ptr(),
                dgates.as_mut_ptr(),
            )
        },
        scalar => lstm_cell_backward_scalar(h, gates, tanh_c, c_prev, dh, dc, dgates),
    )
}

/// [`lstm_cell_backward_with`] on the process-wide path.
#[allow(clippy::too_many_arguments)]
pub fn lstm_cell_backward(
    h: usize,
    gates: &[f32],
    tanh_c: &[f32],
    c_prev: Option<&[f32]>,
    dh: &[f32],
    dc: &mut [f32],
    dgates: &mut [f32],
) {
    lstm_cell_backward_with(Arch::current(), h, gates, tanh_c, c_prev, dh, dc, dgates)
}

/// The scalar path of [`lstm_cell_backward_with`], and the reference its SIMD paths are
/// tested against.
#[allow(clippy::too_many_arguments)]
fn lstm_cell_backward_scalar(
    h: usize,
    gates: &[f32],
    tanh_c: &[f32],
    c_prev: Option<&[f32]>,
    dh: &[f32],
    dc: &mut [f32],
    dgates: &mut [f32],
) {
    let (gi, rest) = gates.split_at(h);
    let (gf, rest) = rest.split_at(h);
    let (gg, go) = rest.split_at(h);
    let (di, rest) = dgates.split_at_mut(h);
    let (df, rest) = rest.split_at_mut(h);
    let (dg, dout) = rest.split_at_mut(h);
    for k in 0..h {
        let (i, f, g, o, tc) = (gi[k], gf[k], gg[k], go[k], tanh_c[k]);
        let cp = c_prev.map_or(0.0, |c| c[k]);
        let dcell = dc[k] + dh[k] * o * (1.0 - tc * tc);
        di[k] = dcell * g * i * (1.0 - i);
        df[k] = dcell * cp * f * (1.0 - f);
        dg[k] = dcell * i * (1.0 - g * g);
        dout[k] = dh[k] * tc * o * (1.0 - o);
        dc[k] = dcell * f;
    }
}
