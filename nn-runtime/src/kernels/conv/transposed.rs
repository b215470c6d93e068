//! The transposed convolution (PyTorch's `ConvTranspose1d/2d`), as the adjoint of a
//! convolution: for the convolution `g` from the transposed layer's *output* `[g.c_in, g.h,
//! g.w]` to its *input* `[g.c_out, g.oh, g.ow]`, whose weight `[g.c_out, g.c_in / groups,
//! kh, kw]` is PyTorch's transposed weight `[in, out / groups, kh, kw]` as it lies,
//!
//! - the forward pass is that convolution's input gradient (a product and col2im),
//! - the input gradient is that convolution's forward pass,
//! - the weight gradient is that convolution's weight gradient with the roles of its input
//!   and output gradient exchanged,
//!
//! so the transposed layer runs on the convolution's kernels, with no code of its own
//! beyond the bias.

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::backward::{conv2d_backward_with, fold_input_gradient, fold_input_gradient_in};
use super::forward::conv2d_forward_with;
use super::geom::ConvGeom;
use super::workspace::{for_each_chunk, ConvWorkspace, Rows};
use crate::kernels::gemm::{gemm_with, Backend};
use crate::kernels::isa::Arch;
use crate::kernels::reduce::sum_with;
use crate::kernels::simd::EpilogueAct;

/// y = Wᵀ ⋆ x + b for `rows` samples `x` of `[g.c_out, g.oh, g.ow]` into `y` of `[g.c_in,
/// g.h, g.w]`; `bias`, when given, `[g.c_in]`.
pub fn conv_transpose_forward(
    g: &ConvGeom,
    weight: &[f32],
    bias: Option<&[f32]>,
    x: &[f32],
    y: &mut [f32],
    rows: usize,
    ws: &mut ConvWorkspace,
) {
    let arch = Arch::current();
    let (x_len, y_len, plane) = (g.out_len(), g.in_len(), g.h * g.w);
    assert!(weight.len() == g.weight_len() && bias.is_none_or(|b| b.len() == g.c_in));
    assert!(x.len() >= rows * x_len && y.len() >= rows * y_len);
    let chunks = ws.chunks(rows, g.flops());
    let y = Rows {
        data: &mut y[..rows * y_len],
        len: y_len,
    };
    for_each_chunk(chunks, 0..rows, y, &|s, range, y| {
        for (r, yr) in range.zip(y.data.chunks_exact_mut(y_len)) {
            let xr = &x[r * x_len..(r + 1) * x_len];
            fold_input_gradient(arch, g, weight, xr, &mut s.cols, yr);
            if let Some(bias) = bias {
                for (channel, &b) in yr.chunks_exact_mut(plane).zip(bias) {
                    channel.iter_mut().for_each(|v| *v += b);
                }
            }
        }
    });
}

/// One sample of [`conv_transpose_forward`] with its scratch in `scratch` (at least
/// [`super::conv2d_arena_floats`] of `g`) and the products on this crate's own kernels, on
/// this thread: nothing is allocated. What a network's `forward_in` runs.
pub fn conv_transpose_forward_arena(
    g: &ConvGeom,
    weight: &[f32],
    bias: Option<&[f32]>,
    x: &[f32],
    y: &mut [f32],
    scratch: &mut [f32],
) {
    let arch = Arch::current();
    let (x_len, y_len, plane) = (g.out_len(), g.in_len(), g.h * g.w);
    assert!(weight.len() == g.weight_len() && bias.is_none_or(|b| b.len() == g.c_in));
    assert!(x.len() >= x_len && y.len() >= y_len);
    let y = &mut y[..y_len];
    fold_input_gradient_in(g, weight, &x[..x_len], scratch, y, &|p, a, b, bias, c| {
        gemm_with(arch, Backend::Own, 1, p, a, b, bias, c)
    });
    if let Some(bias) = bias {
        for (channel, &b) in y.chunks_exact_mut(plane).zip(bias) {
            channel.iter_mut().for_each(|v| *v += b);
        }
    }
}

/// Gradients of [`conv_transpose_forward`] for `rows` samples: overwrites `dweight` and
/// `dbias` (when given), and writes `dx` (when given) from `dy`.
#[allow(clippy::too_many_arguments)]
pub fn conv_transpose_backward(
    g: &ConvGeom,
    weight: &[f32],
    x: &[f32],
    dy: &[f32],
    rows: usize,
    dweight: &mut [f32],
    dbias: Option<&mut [f32]>,
    dx: Option<&mut [f32]>,
    ws: &mut ConvWorkspace,
) {
    let arch = Arch::current();
    let (x_len, y_len, plane) = (g.out_len(), g.in_len(), g.h * g.w);
    assert!(x.len() >= rows * x_len && dy.len() >= rows * y_len);
    // ∂W: the convolution's weight gradient with dy as its input and x as its output
    // gradient (no activation, so its output is not read beyond its gradient).
    conv2d_backward_with(
        arch,
        g,
        weight,
        EpilogueAct::None,
        dy,
        x,
        x,
        rows,
        dweight,
        None,
        None,
        ws,
    );
    if let Some(dbias) = dbias {
        dbias.fill(0.0);
        for sample in dy[..rows * y_len].chunks_exact(y_len) {
            for (db, channel) in dbias.iter_mut().zip(sample.chunks_exact(plane)) {
                *db += sum_with(arch, channel);
            }
        }
    }
    if let Some(dx) = dx {
        conv2d_forward_with(arch, g, weight, None, EpilogueAct::None, dy, dx, rows, ws);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Rng;

    /// PyTorch's definition read literally: input (ci, iy, ix) scatters `x · W[ci, co_g, i,
    /// j]` to output (co, iy·s + i·d − p, ix·s + j·d − p), co in ci's group.
    #[allow(clippy::too_many_arguments)]
    fn reference(g: &ConvGeom, w: &[f32], b: &[f32], x: &[f32]) -> Vec<f64> {
        // In the transposed layer's own words: c_in = g.c_out channels of oh×ow in, c_out =
        // g.c_in channels of h×w out.
        let (ci_n, co_n) = (g.c_out, g.c_in);
        let (ci_g, co_g) = (ci_n / g.groups, co_n / g.groups);
        let mut y: Vec<f64> = (0..co_n * g.h * g.w)
            .map(|at| b.get(at / (g.h * g.w)).copied().unwrap_or(0.0) as f64)
            .collect();
        for ci in 0..ci_n {
            let group = ci / ci_g;
            for iy in 0..g.oh {
                for ix in 0..g.ow {
                    let xv = x[(ci * g.oh + iy) * g.ow + ix] as f64;
                    for cg in 0..co_g {
                        let co = group * co_g + cg;
                        for i in 0..g.kh {
                            for j in 0..g.kw {
                                let oy = (iy * g.sh + i * g.dh) as isize - g.pt as isize;
                                let ox = (ix * g.sw + j * g.dw) as isize - g.pl as isize;
                                if oy < 0 || ox < 0 || oy >= g.h as isize || ox >= g.w as isize {
                                    continue;
                                }
                                let wv = w[((ci * co_g + cg) * g.kh + i) * g.kw + j] as f64;
                                y[(co * g.h + oy as usize) * g.w + ox as usize] += xv * wv;
                            }
                        }
                    }
                }
            }
        }
        y
    }

    /// The transposed layer `[ci, ih, iw] → [co, oh, ow]` as the adjoint geometry.
    #[allow(clippy::too_many_arguments)]
    fn geometry(
        ci: usize,
        co: usize,
        (ih, iw): (usize, usize),
        k: (usize, usize),
        s: (usize, usize),
        p: (usize, usize),
        op: (usize, usize),
        d: (usize, usize),
        groups: usize,
    ) -> ConvGeom {
        let out = |len: usize, k: usize, s: usize, p: usize, op: usize, d: usize| {
            (len - 1) * s + (k - 1) * d + 1 + op - 2 * p
        };
        ConvGeom {
            c_in: co,
            h: out(ih, k.0, s.0, p.0, op.0, d.0),
            w: out(iw, k.1, s.1, p.1, op.1, d.1),
            c_out: ci,
            kh: k.0,
            kw: k.1,
            sh: s.0,
            sw: s.1,
            dh: d.0,
            dw: d.1,
            pt: p.0,
            pl: p.1,
            oh: ih,
            ow: iw,
            groups,
        }
    }

    fn random(n: usize, rng: &mut Rng) -> Vec<f32> {
        let mut v = vec![0.0; n];
        rng.fill_uniform(&mut v, 1.0);
        v
    }

    #[test]
    fn the_forward_pass_matches_pytorchs_definition_on_awkward_sizes() {
        let mut rng = Rng::seed(7);
        let cases = [
            geometry(3, 5, (4, 5), (3, 3), (2, 2), (1, 1), (1, 0), (1, 1), 1),
            geometry(4, 6, (3, 3), (2, 3), (1, 2), (0, 1), (0, 1), (2, 1), 2),
            geometry(2, 2, (1, 7), (1, 4), (1, 3), (0, 2), (0, 2), (1, 1), 2),
            geometry(6, 3, (5, 2), (1, 1), (1, 1), (0, 0), (0, 0), (1, 1), 3),
            geometry(1, 1, (2, 2), (4, 4), (3, 3), (2, 2), (2, 1), (1, 1), 1),
        ];
        for g in cases {
            let (w, b) = (random(g.weight_len(), &mut rng), random(g.c_in, &mut rng));
            let rows = 3;
            let x = random(rows * g.out_len(), &mut rng);
            let mut y = vec![f32::NAN; rows * g.in_len()];
            let mut ws = ConvWorkspace::default();
            conv_transpose_forward(&g, &w, Some(&b), &x, &mut y, rows, &mut ws);
            for r in 0..rows {
                let want = reference(&g, &w, &b, &x[r * g.out_len()..][..g.out_len()]);
                for (at, (&got, &want)) in y[r * g.in_len()..].iter().zip(&want).enumerate() {
                    assert!(
                        (got as f64 - want).abs() < 1e-4 * (1.0 + want.abs()),
                        "{g:?} sample {r} at {at}: {got} vs {want}"
                    );
                }
            }
        }
    }
}
