//! The choice of a convolution's forward algorithm by shape (direct, Winograd's F(2×2, 3×3)
//! or im2col + GEMM), the switches that turn the first two off for benchmarks, and one
//! sample's forward pass by the chosen algorithm.

use super::direct::{direct_applies, direct_forward_sample};
use super::geom::ConvGeom;
use super::im2col::{im2col, unfold_is_identity};
use super::winograd;
use super::workspace::ConvScratch;
use crate::kernels::gemm::{gemm_in, MatMul, Product};
use crate::kernels::isa::Arch;
use crate::kernels::simd::EpilogueAct;
use core::sync::atomic::{AtomicBool, Ordering};

/// Turns Winograd's algorithm off, so that benchmarks can time im2col + GEMM on the same
/// shapes (`set_winograd`).
pub(super) static NO_WINOGRAD: AtomicBool = AtomicBool::new(false);

/// Turns the direct convolution off (`set_direct`).
pub(super) static NO_DIRECT: AtomicBool = AtomicBool::new(false);

/// Whether 3×3 stride-1 convolutions with enough channels use Winograd's F(2×2, 3×3)
/// ([`winograd::applies`]; on by default) or im2col + GEMM like every other shape. Results
/// differ only by rounding.
pub fn set_winograd(on: bool) {
    NO_WINOGRAD.store(!on, Ordering::Relaxed);
}

/// Whether convolutions with short weight rows use the direct convolution
/// ([`direct_applies`]; on by default) or im2col + GEMM, so that benchmarks can time both
/// on the same shapes. Results differ only by rounding.
pub fn set_direct(on: bool) {
    NO_DIRECT.store(!on, Ordering::Relaxed);
}

/// One group's product of the unfolded forward pass, `Y_k[c_out/G, P] = W_k · cols_k`,
/// with bias and activation in its epilogue, while each tile is in registers: one bias per
/// row of Y (an output channel).
pub(super) fn group_product(g: &ConvGeom, act: EpilogueAct) -> MatMul {
    MatMul {
        act,
        row_bias: true,
        ..MatMul::new(g.group_out(), g.positions(), g.group_ckk())
    }
}

/// How one sample's forward pass is computed, chosen once per call by shape.
pub(super) struct ForwardPlan {
    identity: bool,
    direct: bool,
    winograd: bool,
    product: MatMul,
}

impl ForwardPlan {
    pub(super) fn new(g: &ConvGeom, act: EpilogueAct) -> Self {
        ForwardPlan {
            identity: unfold_is_identity(g),
            direct: direct_applies(g) && !NO_DIRECT.load(Ordering::Relaxed),
            winograd: winograd::applies(g) && !NO_WINOGRAD.load(Ordering::Relaxed),
            product: group_product(g, act),
        }
    }

    /// Readies a chunk's scratch for its samples.
    pub(super) fn prepare(&self, g: &ConvGeom, weight: &[f32], s: &mut ConvScratch) {
        // The direct convolution pads each sample as it comes.
        if self.direct {
            return;
        }
        if self.winograd {
            winograd::prepare(g, weight, &mut s.winograd);
        } else if !self.identity {
            s.cols.resize(g.ckk() * g.positions(), 0.0);
        }
    }

    /// y = act(W ⋆ x + b) for one sample, in a chunk's scratch readied by `prepare`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn sample(
        &self,
        arch: Arch,
        g: &ConvGeom,
        weight: &[f32],
        bias: Option<&[f32]>,
        act: EpilogueAct,
        xr: &[f32],
        yr: &mut [f32],
        s: &mut ConvScratch,
    ) {
        if self.direct {
            return direct_forward_sample(arch, g, weight, bias, act, xr, yr, s);
        }
        if self.winograd {
            return winograd::forward_sample(arch, g, bias, act, xr, yr, &mut s.winograd);
        }
        unfolded_forward(
            g,
            &self.product,
            weight,
            bias,
            xr,
            &mut s.cols,
            yr,
            &|p, a, b, bias, c| gemm_in(arch, p, a, b, bias, c),
        );
    }
}

/// y = act(W ⋆ x + b) for one sample by im2col + GEMM: `x` unfolded into `cols` (at least
/// `ckk · positions` floats; untouched when unfolding is the identity), then one `product`
/// (`product` of [`ForwardPlan`]: bias and activation in its epilogue) per group by
/// `multiply`.
#[allow(clippy::too_many_arguments)]
pub(super) fn unfolded_forward(
    g: &ConvGeom,
    product: &MatMul,
    weight: &[f32],
    bias: Option<&[f32]>,
    xr: &[f32],
    cols: &mut [f32],
    yr: &mut [f32],
    multiply: &Product<'_>,
) {
    let (gk, co_g, p) = (g.group_ckk(), g.group_out(), g.positions());
    let cols: &[f32] = if unfold_is_identity(g) {
        xr
    } else {
        let cols = &mut cols[..g.ckk() * p];
        im2col(g, xr, cols);
        cols
    };
    // Per group k: Y_k[c_out/G, P] = W_k[c_out/G, gk] · cols_k[gk, P]; the rows of cols
    // are ordered by input channel, so a group's rows are contiguous.
    for (k, ((w_k, cols_k), y_k)) in weight
        .chunks_exact(co_g * gk)
        .zip(cols.chunks_exact(gk * p))
        .zip(yr.chunks_exact_mut(co_g * p))
        .enumerate()
    {
        let bias_k = bias.map(|b| &b[k * co_g..(k + 1) * co_g]);
        multiply(product, w_k, cols_k, bias_k, y_k);
    }
}
