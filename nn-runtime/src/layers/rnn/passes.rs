//! A recurrent layer's passes over whole sequences: forward (in a cache's buffers or an
//! arena's) and backpropagation through time; the cells' arithmetic per step.

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::{CellKind, RnnCache, RnnGeom, RnnParams};
use crate::kernels::{self, EpilogueAct, MatMul, Product};

/// Whether step `t` of row `b` lies past that row's length (a padded step).
fn padded(lengths: Option<&[u32]>, b: usize, t: usize) -> bool {
    lengths.is_some_and(|l| t >= l[b] as usize)
}

/// Runs the layer over `rows` sequences `x` (`[B, T, F]`), filling the cache. With
/// `lengths`, row b's state stops changing after its last step (`lengths[b] − 1`): the
/// state at every later step is that one, as PyTorch's packed sequences end there.
pub fn rnn_forward(
    g: &RnnGeom,
    p: &RnnParams,
    x: &[f32],
    rows: usize,
    lengths: Option<&[u32]>,
    c: &mut RnnCache,
    product: &Product<'_>,
) {
    let (h, gh) = (g.h, g.gh());
    let bt = rows * g.t;
    c.gates.resize(bt * gh, 0.0);
    c.hs.resize(bt * h, 0.0);
    match g.kind {
        CellKind::SimpleTanh | CellKind::SimpleRelu if rows == 1 => {
            c.weight_hh.resize(h * h.next_multiple_of(16) + 16, 0.0);
        }
        CellKind::Gru => {
            c.extra.resize(bt * h, 0.0);
            c.step.resize(rows * gh, 0.0);
        }
        CellKind::Lstm => {
            c.extra.resize(bt * h, 0.0);
            c.tanh_c.resize(bt * h, 0.0);
            c.weight_hh.resize(h * gh, 0.0);
        }
        _ => {}
    }
    let mut buffers = RnnBuffers {
        gates: &mut c.gates,
        hs: &mut c.hs,
        extra: &mut c.extra,
        tanh_c: &mut c.tanh_c,
        step: &mut c.step,
        weight_hh: &mut c.weight_hh,
    };
    rnn_forward_in(g, p, x, rows, lengths, &mut buffers, product);
}

/// What [`rnn_forward_in`] computes in: the cache's buffers, or an arena's.
pub struct RnnBuffers<'a> {
    /// `[B, T, G·H]`.
    pub gates: &'a mut [f32],
    /// `[B, T, H]`.
    pub hs: &'a mut [f32],
    /// LSTM and GRU: `[B, T, H]`; empty otherwise.
    pub extra: &'a mut [f32],
    /// LSTM: `[B, T, H]`; empty otherwise.
    pub tanh_c: &'a mut [f32],
    /// GRU: `[B, G·H]`; empty otherwise.
    pub step: &'a mut [f32],
    /// A simple RNN over one sequence: `H · round16(H) + 16`; an LSTM: `H · G·H` (its
    /// recurrent weights packed by unit block, [`pack_lstm_weights`]); empty otherwise.
    pub weight_hh: &'a mut [f32],
}

/// The lengths of [`RnnBuffers`]' buffers for one sequence of `g`, in their order.
const fn rnn_buffer_lens(g: &RnnGeom) -> [usize; 6] {
    let (t, h, gh) = (g.t, g.h, g.kind.gates() * g.h);
    let (extra, tanh_c, step, weight_hh) = match g.kind {
        CellKind::Lstm => (t * h, t * h, 0, h * gh),
        CellKind::Gru => (t * h, 0, gh, 0),
        _ => (0, 0, 0, h * h.next_multiple_of(16) + 16),
    };
    [t * gh, t * h, extra, tanh_c, step, weight_hh]
}

/// Floats of [`RnnBuffers`] for one sequence of `g`: the scratch of the arena pass.
pub const fn rnn_arena_floats(g: &RnnGeom) -> usize {
    let lens = rnn_buffer_lens(g);
    let (mut sum, mut i) = (0, 0);
    while i < lens.len() {
        sum += lens[i];
        i += 1;
    }
    sum
}

/// [`RnnBuffers`] for one sequence of `g`, cut from `arena` (at least [`rnn_arena_floats`]).
pub fn rnn_buffers_in<'a>(g: &RnnGeom, arena: &'a mut [f32]) -> RnnBuffers<'a> {
    let [gates, hs, extra, tanh_c, step, weight_hh] = rnn_buffer_lens(g);
    let (gates, rest) = arena.split_at_mut(gates);
    let (hs, rest) = rest.split_at_mut(hs);
    let (extra, rest) = rest.split_at_mut(extra);
    let (tanh_c, rest) = rest.split_at_mut(tanh_c);
    let (step, rest) = rest.split_at_mut(step);
    let weight_hh = &mut rest[..weight_hh];
    RnnBuffers {
        gates,
        hs,
        extra,
        tanh_c,
        step,
        weight_hh,
    }
}

/// [`rnn_forward`] in `c`'s buffers (sized for `rows` sequences), its products by
/// `product`.
pub fn rnn_forward_in(
    g: &RnnGeom,
    p: &RnnParams,
    x: &[f32],
    rows: usize,
    lengths: Option<&[u32]>,
    c: &mut RnnBuffers<'_>,
    product: &Product<'_>,
) {
    let (t_len, h, gh) = (g.t, g.h, g.gh());
    let bt = rows * t_len;
    let RnnBuffers {
        gates: c_gates,
        hs: c_hs,
        extra: c_extra,
        tanh_c: c_tanh_c,
        step: c_step,
        weight_hh: c_weight_hh,
    } = c;
    let (c_gates, c_hs) = (&mut c_gates[..bt * gh], &mut c_hs[..bt * h]);
    // Input projection of every time step at once: [B·T, G·H] = X · W_ih_t + b_ih.
    product(
        &MatMul::new(bt, gh, g.f),
        x,
        &p.weight_ih_t,
        Some(&p.bias_ih),
        c_gates,
    );
    if rows == 1 && matches!(g.kind, CellKind::SimpleTanh | CellKind::SimpleRelu) {
        // One sequence: the whole recurrence in one kernel call, no dispatch per step (a
        // 1×H·H×H product per step is too small to repay one).
        let act = if g.kind == CellKind::SimpleTanh {
            EpilogueAct::Tanh
        } else {
            EpilogueAct::Relu
        };
        let arch = kernels::Arch::current();
        // W_hh with rows padded to whole cache lines and aligned: each vector load of a row
        // then touches one line, not two.
        let rsw = h.next_multiple_of(16);
        let skip = c_weight_hh.as_ptr().align_offset(64).min(15);
        let w = &mut c_weight_hh[skip..skip + h * rsw];
        for (dst, src) in w.chunks_exact_mut(rsw).zip(p.weight_hh_t.chunks_exact(h)) {
            dst[..h].copy_from_slice(src);
        }
        // Only its own steps; the state after them is the last one.
        let steps = lengths.map_or(t_len, |l| l[0] as usize);
        kernels::rnn_sequence_with(arch, steps, h, w, rsw, act, c_gates, c_hs);
        for t in steps..t_len {
            c_hs.copy_within((t - 1) * h..t * h, t * h);
        }
        return;
    }
    if g.kind == CellKind::Lstm {
        let cells = LstmBuffers {
            gates: c_gates,
            hs: c_hs,
            cells: &mut c_extra[..bt * h],
            tanh_c: &mut c_tanh_c[..bt * h],
            packed: &mut c_weight_hh[..h * gh],
        };
        return lstm_recurrence(g, p, rows, lengths, cells, product);
    }
    let row_stride_gates = t_len * gh;
    let row_stride_h = t_len * h;
    for t in 0..t_len {
        if g.kind == CellKind::Gru {
            // hh = h_{t−1}·W_hh_t + b_hh, kept apart: the n gate multiplies it by r.
            for b in 0..rows {
                c_step[b * gh..(b + 1) * gh].copy_from_slice(&p.bias_hh);
            }
            if t > 0 {
                let mm = MatMul {
                    rsa: row_stride_h,
                    accumulate: true,
                    ..MatMul::new(rows, gh, h)
                };
                product(&mm, &c_hs[(t - 1) * h..], &p.weight_hh_t, None, c_step);
            }
        } else if t > 0 {
            // gates_t += h_{t−1} · W_hh_t, rows of both strided by a whole sequence.
            let mm = MatMul {
                rsa: row_stride_h,
                rsc: row_stride_gates,
                accumulate: true,
                ..MatMul::new(rows, gh, h)
            };
            product(
                &mm,
                &c_hs[(t - 1) * h..],
                &p.weight_hh_t,
                None,
                &mut c_gates[t * gh..],
            );
        }
        for b in 0..rows {
            let gate = &mut c_gates[(b * t_len + t) * gh..][..gh];
            let prev = (t > 0).then(|| (b * t_len + t - 1) * h);
            let at = (b * t_len + t) * h;
            match g.kind {
                CellKind::SimpleTanh | CellKind::SimpleRelu => {
                    let act = if g.kind == CellKind::SimpleTanh {
                        EpilogueAct::Tanh
                    } else {
                        EpilogueAct::Relu
                    };
                    kernels::activation_forward_in_place(act, gate);
                    c_hs[at..at + h].copy_from_slice(gate);
                }
                CellKind::Lstm => unreachable!("the LSTM runs in lstm_recurrence"),
                CellKind::Gru => {
                    // r, z = σ(x_rz + hh_rz); n = tanh(x_n + r⊙hh_n); h = (1−z)⊙n + z⊙h₋, in
                    // one pass; h₋ is row b's previous step, an earlier block of `c_hs`.
                    let hh = &c_step[b * gh..(b + 1) * gh];
                    let (before, state) = c_hs.split_at_mut(at);
                    kernels::gru_cell_forward_with(
                        kernels::Arch::current(),
                        gate,
                        hh,
                        prev.map(|q| &before[q..q + h]),
                        &mut c_extra[at..at + h],
                        &mut state[..h],
                    );
                }
            }
            if let (Some(q), true) = (prev, padded(lengths, b, t)) {
                // Past the row's length its state stays.
                c_hs.copy_within(q..q + h, at);
            }
        }
    }
}

/// Units per block of [`lstm_recurrence`]'s step: the product of a block's four gates
/// (rows × 4·64 values, 32 KiB at 32 rows) is still in L1 when its cells read it.
const LSTM_UNIT_BLOCK: usize = 64;

/// `W_hh_t` `[H, 4·H]` packed for [`lstm_recurrence`]: for each block of
/// [`LSTM_UNIT_BLOCK`] units `u0..u0 + ub`, its four gates' columns one after the other,
/// each `[H, ub]` contiguous: the panel of (u0, gate q) starts at `4·H·u0 + q·H·ub`. Packed
/// once a pass, the panels are read from cache at every step without the strides of the
/// whole gate row.
fn pack_lstm_weights(h: usize, weight_hh_t: &[f32], packed: &mut [f32]) {
    let gh = 4 * h;
    for u0 in (0..h).step_by(LSTM_UNIT_BLOCK) {
        let ub = LSTM_UNIT_BLOCK.min(h - u0);
        for q in 0..4 {
            let panel = &mut packed[4 * h * u0 + q * h * ub..][..h * ub];
            for (dst, src) in panel.chunks_exact_mut(ub).zip(weight_hh_t.chunks_exact(gh)) {
                dst.copy_from_slice(&src[q * h + u0..][..ub]);
            }
        }
    }
}

/// An LSTM's buffers for [`lstm_recurrence`], over `B·T` steps.
struct LstmBuffers<'a> {
    /// `[B, T, 4·H]`: the input projections on entry, the activated gates on return.
    gates: &'a mut [f32],
    hs: &'a mut [f32],
    cells: &'a mut [f32],
    tanh_c: &'a mut [f32],
    /// `H · 4·H`: scratch for [`pack_lstm_weights`].
    packed: &'a mut [f32],
}

/// An LSTM's recurrence with each step's product and cell arithmetic fused by block of
/// units: for each block, the product h_{t−1}·W_hh of its four gates' columns, then, while
/// those gates are in L1, the cells of its units in every row (σ, tanh, c_t = f⊙c₋ + i⊙g,
/// h_t = o⊙tanh(c_t)). Block by block is exact: a unit's cell reads its own four gates only.
fn lstm_recurrence(
    g: &RnnGeom,
    p: &RnnParams,
    rows: usize,
    lengths: Option<&[u32]>,
    c: LstmBuffers<'_>,
    product: &Product<'_>,
) {
    let (t_len, h, gh) = (g.t, g.h, g.gh());
    let LstmBuffers {
        gates,
        hs,
        cells,
        tanh_c,
        packed,
    } = c;
    pack_lstm_weights(h, &p.weight_hh_t, packed);
    let arch = kernels::Arch::current();
    for t in 0..t_len {
        for u0 in (0..h).step_by(LSTM_UNIT_BLOCK) {
            let ub = LSTM_UNIT_BLOCK.min(h - u0);
            if t > 0 {
                // The block's gates (+)= h_{t−1} · its panels, rows strided by a sequence.
                for q in 0..4 {
                    let mm = MatMul {
                        rsa: t_len * h,
                        rsb: ub,
                        rsc: t_len * gh,
                        accumulate: true,
                        ..MatMul::new(rows, ub, h)
                    };
                    product(
                        &mm,
                        &hs[(t - 1) * h..],
                        &packed[4 * h * u0 + q * h * ub..],
                        None,
                        &mut gates[t * gh + q * h + u0..],
                    );
                }
            }
            for b in 0..rows {
                let at = (b * t_len + t) * h;
                let gate = &mut gates[(b * t_len + t) * gh + u0..][..3 * h + ub];
                // c₋ is row b's previous step, an earlier block of the same buffer.
                let (before, cell) = cells.split_at_mut(at);
                let c_prev = (t > 0).then(|| &before[at - h + u0..][..ub]);
                kernels::lstm_cell_forward_strided_with(
                    arch,
                    gate,
                    h,
                    c_prev,
                    &mut cell[u0..u0 + ub],
                    &mut tanh_c[at + u0..][..ub],
                    &mut hs[at + u0..][..ub],
                );
            }
        }
        for b in 0..rows {
            let at = (b * t_len + t) * h;
            if t > 0 && padded(lengths, b, t) {
                // Past the row's length its state stays (h and the cell state).
                hs.copy_within(at - h..at, at);
                cells.copy_within(at - h..at, at);
            }
        }
    }
}

/// Backpropagation through time. `dh_out` is ∂loss/∂(every hidden state) `[B, T, H]` when
/// the layer returns sequences, or ∂loss/∂(last hidden state) `[B, H]` when not. With
/// `lengths` (those of the forward pass), a padded step is the identity on the state: its
/// gradient passes to the step before unchanged, it has no gate gradients, and the
/// gradient of its output (zero when returned) is not read.
#[allow(clippy::too_many_arguments)]
pub fn rnn_backward(
    g: &RnnGeom,
    p: &mut RnnParams,
    x: &[f32],
    rows: usize,
    lengths: Option<&[u32]>,
    c: &mut RnnCache,
    dh_out: &[f32],
    sequences: bool,
    dx: Option<&mut [f32]>,
) {
    let (t_len, h, gh, f) = (g.t, g.h, g.gh(), g.f);
    let bt = rows * t_len;
    c.dgates.resize(bt * gh, 0.0);
    c.dh.clear();
    c.dh.resize(rows * h, 0.0);
    c.dc.clear();
    c.dc.resize(rows * h, 0.0);
    if g.kind == CellKind::Gru {
        c.dhidden.resize(bt * gh, 0.0);
    }
    // W_hh [G·H, H] for dh₋ = dgates · W_hh.
    c.weight_hh.resize(gh * h, 0.0);
    kernels::transpose(&p.weight_hh_t, h, gh, &mut c.weight_hh);
    let mut dh_prev_direct = core::mem::take(&mut c.step);
    dh_prev_direct.resize(rows * h, 0.0);
    for t in (0..t_len).rev() {
        for b in 0..rows {
            let at = (b * t_len + t) * h;
            let prev = (t > 0).then(|| (b * t_len + t - 1) * h);
            let dh = &mut c.dh[b * h..(b + 1) * h];
            if padded(lengths, b, t) {
                // The identity on the state: no gate gradients; dh (and an LSTM's dc) pass
                // on unchanged, through the direct term.
                c.dgates[(b * t_len + t) * gh..][..gh].fill(0.0);
                if g.kind == CellKind::Gru {
                    c.dhidden[(b * t_len + t) * gh..][..gh].fill(0.0);
                }
                dh_prev_direct[b * h..(b + 1) * h].copy_from_slice(dh);
                continue;
            }
            if lengths.is_some() && g.kind != CellKind::Gru {
                // Only padded steps have a direct term for these cells.
                dh_prev_direct[b * h..(b + 1) * h].fill(0.0);
            }
            if sequences {
                for (d, &v) in dh.iter_mut().zip(&dh_out[at..at + h]) {
                    *d += v;
                }
            } else if t + 1 == lengths.map_or(t_len, |l| l[b] as usize) {
                // The output is the state at the sample's own last step.
                for (d, &v) in dh.iter_mut().zip(&dh_out[b * h..(b + 1) * h]) {
                    *d += v;
                }
            }
            let gate = &c.gates[(b * t_len + t) * gh..][..gh];
            let dgate = &mut c.dgates[(b * t_len + t) * gh..][..gh];
            match g.kind {
                CellKind::SimpleTanh | CellKind::SimpleRelu => {
                    let act = if g.kind == CellKind::SimpleTanh {
                        EpilogueAct::Tanh
                    } else {
                        EpilogueAct::Relu
                    };
                    kernels::activation_backward(act, gate, dh, dgate);
                }
                CellKind::Lstm => {
                    let c_prev: Option<&[f32]> = prev.map(|q| &c.extra[q..q + h]);
                    kernels::lstm_cell_backward(
                        h,
                        gate,
                        &c.tanh_c[at..at + h],
                        c_prev,
                        dh,
                        &mut c.dc[b * h..(b + 1) * h],
                        dgate,
                    );
                }
                CellKind::Gru => kernels::gru_cell_backward_with(
                    kernels::Arch::current(),
                    gate,
                    &c.extra[at..at + h],
                    prev.map(|q| &c.hs[q..q + h]),
                    dh,
                    dgate,
                    &mut c.dhidden[(b * t_len + t) * gh..][..gh],
                    &mut dh_prev_direct[b * h..(b + 1) * h],
                ),
            }
        }
        // dh₋ = (the recurrent-projection gradient of step t) · W_hh
        let (grads, stride) = if g.kind == CellKind::Gru {
            (&c.dhidden, t_len * gh)
        } else {
            (&c.dgates, t_len * gh)
        };
        if t > 0 {
            let mm = MatMul {
                rsa: stride,
                ..MatMul::new(rows, h, gh)
            };
            kernels::gemm(&mm, &grads[t * gh..], &c.weight_hh, None, &mut c.dh);
            if g.kind == CellKind::Gru || lengths.is_some() {
                for (d, &v) in c.dh.iter_mut().zip(&dh_prev_direct) {
                    *d += v;
                }
            }
        }
    }
    c.step = dh_prev_direct;
    // Weight gradients over all steps at once. h_{t−1} for every step (zero before the first):
    c.hprev.clear();
    c.hprev.resize(bt * h, 0.0);
    for b in 0..rows {
        let base = b * t_len * h;
        c.hprev[base + h..base + t_len * h].copy_from_slice(&c.hs[base..base + (t_len - 1) * h]);
    }
    let recurrent_grads = if g.kind == CellKind::Gru {
        &c.dhidden
    } else {
        &c.dgates
    };
    // ∂W_hh_t [H, G·H] = Hprevᵀ · dG_hh ; ∂W_ih_t [F, G·H] = Xᵀ · dG
    kernels::gemm(
        &MatMul {
            rsa: 1,
            csa: h,
            ..MatMul::new(h, gh, bt)
        },
        &c.hprev,
        recurrent_grads,
        None,
        &mut p.weight_hh_t_grad,
    );
    kernels::gemm(
        &MatMul {
            rsa: 1,
            csa: f,
            ..MatMul::new(f, gh, bt)
        },
        x,
        &c.dgates,
        None,
        &mut p.weight_ih_t_grad,
    );
    kernels::column_sums(&c.dgates, gh, &mut p.bias_ih_grad);
    if g.kind.has_hidden_bias() {
        kernels::column_sums(&c.dhidden, gh, &mut p.bias_hh_grad);
    }
    if let Some(dx) = dx {
        // dX [B·T, F] = dG · W_ih, W_ih = W_ih_tᵀ laid out [G·H, F].
        c.weight_ih.resize(gh * f, 0.0);
        kernels::transpose(&p.weight_ih_t, f, gh, &mut c.weight_ih);
        kernels::gemm(&MatMul::new(bt, f, gh), &c.dgates, &c.weight_ih, None, dx);
    }
}
