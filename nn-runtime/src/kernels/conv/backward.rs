//! A convolution's backward pass over a batch: the weight gradient (dot products, a
//! register-tiled product or the direct kernel's, by shape), the bias gradient and the
//! input gradient (a product and col2im, or Winograd's algorithm where the input gradient
//! is a convolution it applies to), weight and bias gradients summed over chunks.

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::direct::{conv_taps_dweight, direct_applies, pad_input};
use super::geom::{flip_weights, ConvGeom, PoolGeom};
use super::im2col::{col2im_add, im2col, unfold_is_identity};
use super::plan::{NO_DIRECT, NO_WINOGRAD};
use super::pool::max_pool_backward_with;
use super::winograd;
use super::workspace::{for_each_chunk, ConvWorkspace, Rows};
use crate::kernels::activation::activation_backward_with;
use crate::kernels::gemm::{gemm_in, gemm_nt_with, MatMul, MatMulNt, Product};
use crate::kernels::isa::Arch;
use crate::kernels::matrix::transpose;
use crate::kernels::reduce::sum_with;
use crate::kernels::simd::EpilogueAct;
use core::sync::atomic::Ordering;

/// Rows of the unfolded input per group (`group_ckk`) below which a weight gradient is
/// computed as dot products (see `conv2d_backward_with`).
const DOT_FORM_MAX_GK: usize = 64;

/// Gradients of a convolution for `rows` samples: overwrites `dweight` (laid out as the
/// weight) and `dbias` when given, and writes `dx` when given.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_backward(
    g: &ConvGeom,
    weight: &[f32],
    act: EpilogueAct,
    x: &[f32],
    y: &[f32],
    dy: &[f32],
    rows: usize,
    dweight: &mut [f32],
    dbias: Option<&mut [f32]>,
    dx: Option<&mut [f32]>,
    ws: &mut ConvWorkspace,
) {
    conv2d_backward_with(
        Arch::current(),
        g,
        weight,
        act,
        x,
        y,
        dy,
        rows,
        dweight,
        dbias,
        dx,
        ws,
    )
}

/// [`conv2d_backward`] on a given path.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_backward_with(
    arch: Arch,
    g: &ConvGeom,
    weight: &[f32],
    act: EpilogueAct,
    x: &[f32],
    y: &[f32],
    dy: &[f32],
    rows: usize,
    dweight: &mut [f32],
    dbias: Option<&mut [f32]>,
    dx: Option<&mut [f32]>,
    ws: &mut ConvWorkspace,
) {
    let grad = OutputGradient::Dense { y, dy };
    conv2d_backward_from(arch, g, weight, act, x, grad, rows, dweight, dbias, dx, ws);
}

/// Where a convolution's backward pass takes each sample's gradient at the activation's
/// input (dz) from.
#[derive(Clone, Copy)]
pub(super) enum OutputGradient<'a> {
    /// The convolution's output `y` (after its activation) and the gradient `dy` there,
    /// `out_len` values a sample: dz = dy · act′(y).
    Dense { y: &'a [f32], dy: &'a [f32] },
    /// A max pooling after the convolution: its output `y`, the gradient `dy` there and its
    /// choices `argmax`, `pool.out_len()` values a sample. Only the chosen positions have a
    /// gradient, and there the convolution's output is the pooling's: dz = the pooling's
    /// backward pass of dy · act′(y), built per sample in cache; the convolution's whole
    /// output is never stored or read.
    MaxPooled {
        pool: &'a PoolGeom,
        y: &'a [f32],
        dy: &'a [f32],
        argmax: &'a [u32],
    },
}

/// A convolution's gradients for `rows` samples from the output gradient `grad`: the body
/// of [`conv2d_backward_with`] and of the fused pooling's backward pass.
#[allow(clippy::too_many_arguments)]
pub(super) fn conv2d_backward_from(
    arch: Arch,
    g: &ConvGeom,
    weight: &[f32],
    act: EpilogueAct,
    x: &[f32],
    grad: OutputGradient<'_>,
    rows: usize,
    dweight: &mut [f32],
    dbias: Option<&mut [f32]>,
    dx: Option<&mut [f32]>,
    ws: &mut ConvWorkspace,
) {
    let (ckk, gk, co_g, p, c_out) = (
        g.ckk(),
        g.group_ckk(),
        g.group_out(),
        g.positions(),
        g.c_out,
    );
    let (in_len, out_len) = (g.in_len(), g.out_len());
    assert!(weight.len() == g.weight_len() && dweight.len() == g.weight_len());
    assert!(dbias.as_deref().is_none_or(|b| b.len() == c_out));
    assert!(x.len() >= rows * in_len);
    match grad {
        OutputGradient::Dense { y, dy } => {
            assert!(y.len() >= rows * out_len && dy.len() >= rows * out_len);
        }
        OutputGradient::MaxPooled {
            pool,
            y,
            dy,
            argmax,
        } => {
            let pooled = rows * pool.out_len();
            assert!(pool.c == c_out && pool.h == g.oh && pool.w == g.ow);
            assert!(y.len() >= pooled && dy.len() >= pooled && argmax.len() >= pooled);
        }
    }
    let (want_dx, want_dbias) = (dx.is_some(), dbias.is_some());
    let identity = unfold_is_identity(g);
    // The weight gradient's form (BENCHMARKS.md, convolution passes): with few rows of the
    // unfolded input per group, dot products along P of dz and the unfolded input as they
    // lie; with many, those rows stream from L2 once per tile of dz's rows, and the
    // register-tiled product against dz transposed, which broadcasts the unfolded input's
    // values and reuses each loaded vector of dzᵀ four times, is faster.
    let dot_form = gk < DOT_FORM_MAX_GK;
    // The direct convolution's weight gradient reads the padded input as the forward pass
    // does, with no unfolding; the input gradient (when wanted) stays a product and col2im.
    let direct = direct_applies(g) && !NO_DIRECT.load(Ordering::Relaxed);
    let mut no_dx: [f32; 0] = [];
    let dx = match dx {
        Some(dx) => Rows {
            data: &mut dx[..rows * in_len],
            len: in_len,
        },
        None => Rows {
            data: &mut no_dx[..],
            len: 0,
        },
    };
    // The input gradient is itself a convolution (of dz by the flipped weights): computed
    // by Winograd's algorithm where a forward pass of that shape would be, else by a
    // product and col2im.
    let dx_conv = g
        .input_gradient_conv()
        .filter(|t| want_dx && winograd::applies(t) && !NO_WINOGRAD.load(Ordering::Relaxed));
    let mut flipped = core::mem::take(&mut ws.flipped);
    if dx_conv.is_some() {
        flip_weights(g, weight, &mut flipped);
    }
    let chunks = ws.chunks(rows, 2 * g.flops());
    for_each_chunk(chunks, 0..rows, dx, &|s, range, dx| {
        if !identity && (want_dx || !direct) {
            s.cols.resize(ckk * p, 0.0);
        }
        s.dz.resize(out_len, 0.0);
        s.dweight.resize(g.weight_len(), 0.0);
        if !dot_form && !direct {
            s.dz_t.resize(p * c_out, 0.0);
            s.dweight_t.resize(g.weight_len(), 0.0);
        }
        s.dbias.clear();
        s.dbias.resize(c_out, 0.0);
        if let Some(t) = &dx_conv {
            winograd::prepare(t, &flipped, &mut s.winograd_dx);
        }
        if range.is_empty() {
            s.dweight.fill(0.0);
            s.dweight_t.fill(0.0);
        }
        for (n, r) in range.enumerate() {
            let xr = &x[r * in_len..][..in_len];
            match grad {
                OutputGradient::Dense { y, dy } => {
                    let (yr, dyr) = (&y[r * out_len..][..out_len], &dy[r * out_len..][..out_len]);
                    // dz = dy · act′(y)
                    activation_backward_with(arch, act, yr, dyr, &mut s.dz);
                }
                OutputGradient::MaxPooled {
                    pool,
                    y,
                    dy,
                    argmax,
                } => {
                    let pool_len = pool.out_len();
                    let (yr, dyr, ar) = (
                        &y[r * pool_len..][..pool_len],
                        &dy[r * pool_len..][..pool_len],
                        &argmax[r * pool_len..][..pool_len],
                    );
                    // The pooled gradient through the activation, at the chosen positions.
                    s.dz_pooled.resize(pool_len, 0.0);
                    activation_backward_with(arch, act, yr, dyr, &mut s.dz_pooled);
                    max_pool_backward_with(arch, pool, &s.dz_pooled, ar, &mut s.dz, 1);
                }
            }
            // Summed over dz as laid out, so that the fused pooling's bias gradient is the
            // unfused one to the bit where windows do not overlap.
            if want_dbias {
                for (db, channel) in s.dbias.iter_mut().zip(s.dz.chunks_exact(p)) {
                    *db += sum_with(arch, channel);
                }
            }
            if direct {
                let l = pad_input(g, xr, s);
                conv_taps_dweight(
                    arch,
                    g,
                    l,
                    &s.padded,
                    &s.offsets,
                    &s.dz,
                    &mut s.dweight,
                    n > 0,
                );
            }
            let cols: &[f32] = if identity {
                xr
            } else if direct {
                &[]
            } else {
                im2col(g, xr, &mut s.cols);
                &s.cols
            };
            if direct {
                // The weight gradient is done.
            } else if dot_form {
                // Per group k: ∂W_k[c_out/G, gk] (+)= dz_k[c_out/G, P] · cols_k[gk, P]ᵀ, both
                // operands read along P as they lie, written in the weight's layout.
                let product = MatMulNt {
                    rsa: p,
                    rsb: p,
                    rsc: gk,
                    accumulate: n > 0,
                    ..MatMulNt::new(co_g, gk, p)
                };
                for ((dz_k, cols_k), dw_k) in
                    s.dz.chunks_exact(co_g * p)
                        .zip(cols.chunks_exact(gk * p))
                        .zip(s.dweight.chunks_exact_mut(co_g * gk))
                {
                    gemm_nt_with(arch, &product, dz_k, cols_k, dw_k);
                }
            } else {
                // Per group k: ∂W_kᵀ[gk, c_out/G] (+)= cols_k[gk, P] · dzᵀ[P, group k's
                // columns], at k·gk·(c_out/G) in `dweight_t`.
                transpose(&s.dz, c_out, p, &mut s.dz_t);
                let product = MatMul {
                    accumulate: n > 0,
                    rsb: c_out,
                    ..MatMul::new(gk, co_g, p)
                };
                for (k, dwt_k) in s.dweight_t.chunks_exact_mut(gk * co_g).enumerate() {
                    let cols_k = &cols[k * gk * p..][..gk * p];
                    gemm_in(arch, &product, cols_k, &s.dz_t[k * co_g..], None, dwt_k);
                }
            }
            if want_dx {
                let dxr = &mut dx.data[n * in_len..(n + 1) * in_len];
                match &dx_conv {
                    Some(t) => winograd::forward_sample(
                        arch,
                        t,
                        None,
                        EpilogueAct::None,
                        &s.dz,
                        dxr,
                        &mut s.winograd_dx,
                    ),
                    None => fold_input_gradient(arch, g, weight, &s.dz, &mut s.cols, dxr),
                }
            }
        }
        if !dot_form && !direct {
            // Into the weight's layout: group k's [gk, c_out/G] block transposed.
            for (dw_k, dwt_k) in s
                .dweight
                .chunks_exact_mut(co_g * gk)
                .zip(s.dweight_t.chunks_exact(gk * co_g))
            {
                transpose(dwt_k, gk, co_g, dw_k);
            }
        }
    });
    let (first, rest) = chunks.split_first().expect("at least one chunk");
    dweight.copy_from_slice(&first.dweight);
    for s in rest {
        for (d, &v) in dweight.iter_mut().zip(&s.dweight) {
            *d += v;
        }
    }
    if let Some(dbias) = dbias {
        dbias.copy_from_slice(&first.dbias);
        for s in rest {
            for (d, &v) in dbias.iter_mut().zip(&s.dbias) {
                *d += v;
            }
        }
    }
    ws.flipped = flipped;
}

/// One sample's input gradient from its output gradient `dz`: per group k, dcols_k[gk, P] =
/// W_kᵀ · dz_k (W_k read transposed through its strides), folded back onto the input
/// (col2im) into `dx`, which it overwrites. `cols` is scratch (`ckk · P` values unless the
/// unfolding is the identity). The transposed convolution's forward pass is this.
pub(super) fn fold_input_gradient(
    arch: Arch,
    g: &ConvGeom,
    weight: &[f32],
    dz: &[f32],
    cols: &mut Vec<f32>,
    dx: &mut [f32],
) {
    if !unfold_is_identity(g) {
        cols.resize(g.ckk() * g.positions(), 0.0);
    }
    fold_input_gradient_in(g, weight, dz, cols, dx, &|p, a, b, bias, c| {
        gemm_in(arch, p, a, b, bias, c)
    });
}

/// [`fold_input_gradient`] with the unfolded gradient in `cols` (`ckk · positions` floats,
/// none when unfolding is the identity) and the products by `product`.
pub(super) fn fold_input_gradient_in(
    g: &ConvGeom,
    weight: &[f32],
    dz: &[f32],
    cols: &mut [f32],
    dx: &mut [f32],
    product: &Product<'_>,
) {
    let (gk, co_g, p) = (g.group_ckk(), g.group_out(), g.positions());
    let transposed = MatMul {
        rsa: 1,
        csa: gk,
        ..MatMul::new(gk, p, co_g)
    };
    if unfold_is_identity(g) {
        // The unfolded gradient is the input gradient.
        for ((w_k, dz_k), dx_k) in weight
            .chunks_exact(co_g * gk)
            .zip(dz.chunks_exact(co_g * p))
            .zip(dx.chunks_exact_mut(gk * p))
        {
            product(&transposed, w_k, dz_k, None, dx_k);
        }
        return;
    }
    let cols = &mut cols[..g.ckk() * p];
    dx.fill(0.0);
    for ((w_k, dz_k), dcols_k) in weight
        .chunks_exact(co_g * gk)
        .zip(dz.chunks_exact(co_g * p))
        .zip(cols.chunks_exact_mut(gk * p))
    {
        product(&transposed, w_k, dz_k, None, dcols_k);
    }
    col2im_add(g, cols, dx);
}
