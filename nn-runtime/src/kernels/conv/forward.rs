//! A convolution's forward pass over a batch: its samples split into chunks, each sample
//! computed by the algorithm `plan.rs` chose for the shape.

use super::geom::ConvGeom;
use super::im2col::unfold_is_identity;
use super::plan::{group_product, unfolded_forward, ForwardPlan};
use super::workspace::{for_each_chunk, ConvWorkspace, Rows};
use crate::kernels::gemm::{gemm_with, Backend};
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

/// Floats of scratch [`conv2d_forward_arena`] takes for a convolution of geometry `g`: one
/// sample's unfolded columns (none when unfolding is the identity, a 1×1 convolution
/// without stride or padding).
pub const fn conv2d_arena_floats(g: &ConvGeom) -> usize {
    if unfold_is_identity(g) {
        0
    } else {
        g.ckk() * g.positions()
    }
}

/// y = act(W ⋆ x + b) for one sample, by im2col + GEMM with the columns in `scratch` (at
/// least [`conv2d_arena_floats`]) and the products on this crate's own register-tiled
/// kernels, on this thread: nothing is allocated (the `gemm` crate's packed products and
/// the Winograd and direct algorithms keep buffers of their own). What a network's
/// `forward_in` runs.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_forward_arena(
    g: &ConvGeom,
    weight: &[f32],
    bias: Option<&[f32]>,
    act: EpilogueAct,
    x: &[f32],
    y: &mut [f32],
    scratch: &mut [f32],
) {
    let arch = Arch::current();
    assert!(weight.len() == g.weight_len() && bias.is_none_or(|b| b.len() == g.c_out));
    assert!(x.len() >= g.in_len() && y.len() >= g.out_len());
    let product = group_product(g, act);
    let (x, y) = (&x[..g.in_len()], &mut y[..g.out_len()]);
    unfolded_forward(
        g,
        &product,
        weight,
        bias,
        x,
        scratch,
        y,
        &|p, a, b, bias, c| gemm_with(arch, Backend::Own, 1, p, a, b, bias, c),
    );
}
