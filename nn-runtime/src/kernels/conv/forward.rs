//! A convolution's forward pass over a batch: its samples split into chunks, each sample
//! computed by the algorithm `plan.rs` chose for the shape.

use super::geom::ConvGeom;
use super::plan::ForwardPlan;
use super::workspace::{for_each_chunk, ConvWorkspace, Rows};
use crate::kernels::isa::Arch;
use crate::kernels::simd::EpilogueAct;

/// y = act(W ⋆ x + b) for `rows` samples. `weight` is PyTorch's `[c_out, c_in / groups, kh,
/// kw]`; `bias`, when given, `[c_out]`.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_forward(
    g: &ConvGeom,
    weight: &[f32],
    bias: Option<&[f32]>,
    act: EpilogueAct,
    x: &[f32],
    y: &mut [f32],
    rows: usize,
    ws: &mut ConvWorkspace,
) {
    conv2d_forward_with(Arch::current(), g, weight, bias, act, x, y, rows, ws)
}

/// [`conv2d_forward`] on a given path.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_forward_with(
    arch: Arch,
    g: &ConvGeom,
    weight: &[f32],
    bias: Option<&[f32]>,
    act: EpilogueAct,
    x: &[f32],
    y: &mut [f32],
    rows: usize,
    ws: &mut ConvWorkspace,
) {
    let (in_len, out_len) = (g.in_len(), g.out_len());
    assert!(weight.len() == g.weight_len() && bias.is_none_or(|b| b.len() == g.c_out));
    assert!(x.len() >= rows * in_len && y.len() >= rows * out_len);
    let plan = ForwardPlan::new(g, act);
    let chunks = ws.chunks(rows, g.flops());
    let y = Rows {
        data: &mut y[..rows * out_len],
        len: out_len,
    };
    for_each_chunk(chunks, 0..rows, y, &|s, range, y| {
        plan.prepare(g, weight, s);
        for (r, yr) in range.zip(y.data.chunks_exact_mut(out_len)) {
            let xr = &x[r * in_len..(r + 1) * in_len];
            plan.sample(arch, g, weight, bias, act, xr, yr, s);
        }
    });
}
