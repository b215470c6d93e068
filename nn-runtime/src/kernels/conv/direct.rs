//! The direct convolution, for few input channels (stride 1, one group, a short weight
//! row): each sample's input is zero-padded once, and every output is a sum over the
//! kernel's taps read straight from the padded planes, with no unfolding. The forward pass
//! and the weight gradient; the input gradient stays im2col + GEMM.

use super::geom::ConvGeom;
use super::im2col::unfold_is_identity;
use super::workspace::ConvScratch;
use crate::kernels::activation::activation_forward_with;
use crate::kernels::isa::Arch;
use crate::kernels::simd::{dispatch, EpilogueAct, TapsInput};

/// Longest weight row (`c_in·kh·kw`) for which the direct convolution is used: with few
/// input channels, im2col + GEMM is a product with a short inner dimension, whose tiles
/// spend as long loading and storing their outputs as accumulating (BENCHMARKS.md,
/// convolution passes).
pub const DIRECT_MAX_CKK: usize = 32;

/// Zero values after a padded plane, so that the direct kernel's whole tiles stay inside
/// the buffer: at least every path's tile span.
const DIRECT_SLACK: usize = 64;
#[cfg(target_arch = "x86_64")]
const _: () = assert!(
    crate::kernels::simd::avx512::TAPS_SPAN <= DIRECT_SLACK
        && crate::kernels::simd::avx2::TAPS_SPAN <= DIRECT_SLACK
);
#[cfg(target_arch = "aarch64")]
const _: () = assert!(crate::kernels::simd::neon::TAPS_SPAN <= DIRECT_SLACK);
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
const _: () = assert!(crate::kernels::simd::simd128::TAPS_SPAN <= DIRECT_SLACK);

/// Whether the forward pass is a direct convolution: stride 1, one group, a weight row of at
/// most [`DIRECT_MAX_CKK`] values, and not a 1×1 kernel that reads its input as it lies
/// (which is one GEMM with no unfolding).
pub fn direct_applies(g: &ConvGeom) -> bool {
    g.sh == 1 && g.sw == 1 && g.groups == 1 && g.ckk() <= DIRECT_MAX_CKK && !unfold_is_identity(g)
}

/// The zero-padded input of a direct convolution: each channel a `ph × pw` plane with the
/// input at row `pt`, column `pl`, wide and tall enough that output (oy, ox)'s taps are at
/// `(oy + i·dh)·pw + ox + j·dw`.
#[derive(Clone, Copy, Debug)]
pub(super) struct DirectLayout {
    ph: usize,
    pw: usize,
}

impl DirectLayout {
    fn new(g: &ConvGeom) -> DirectLayout {
        DirectLayout {
            ph: (g.oh + (g.kh - 1) * g.dh).max(g.pt + g.h),
            pw: (g.ow + (g.kw - 1) * g.dw).max(g.pl + g.w),
        }
    }
    fn plane(&self) -> usize {
        self.ph * self.pw
    }
}

/// One sample of the direct convolution: pads `x` into `s.padded`, then runs the taps over
/// it straight into `y`.
#[allow(clippy::too_many_arguments)]
pub(super) fn direct_forward_sample(
    arch: Arch,
    g: &ConvGeom,
    weight: &[f32],
    bias: Option<&[f32]>,
    act: EpilogueAct,
    x: &[f32],
    y: &mut [f32],
    s: &mut ConvScratch,
) {
    let l = pad_input(g, x, s);
    conv_taps(arch, g, l, weight, bias, act, &s.padded, &s.offsets, y);
}

/// Writes one sample's zero-padded planes into `s.padded` and the taps' offsets into
/// `s.offsets`.
pub(super) fn pad_input(g: &ConvGeom, x: &[f32], s: &mut ConvScratch) -> DirectLayout {
    let l = DirectLayout::new(g);
    let plane = l.plane();
    s.offsets.clear();
    for i in 0..g.kh {
        for j in 0..g.kw {
            s.offsets.push(i * g.dh * l.pw + j * g.dw);
        }
    }
    s.padded.clear();
    s.padded
        .resize(g.c_in * plane + DIRECT_SLACK + (g.kw - 1) * g.dw, 0.0);
    for c in 0..g.c_in {
        for (r, row) in x[c * g.h * g.w..][..g.h * g.w]
            .chunks_exact(g.w)
            .enumerate()
        {
            let at = c * plane + (g.pt + r) * l.pw + g.pl;
            s.padded[at..at + g.w].copy_from_slice(row);
        }
    }
    l
}

/// Checks that `padded` holds what the direct kernels may read, and describes it to them.
fn taps_input<'a>(
    g: &ConvGeom,
    l: DirectLayout,
    padded: &'a [f32],
    offsets: &'a [usize],
) -> TapsInput<'a> {
    let max_off = offsets.iter().copied().max().unwrap_or(0);
    // Whole vectors past the last row of the last channel.
    assert!(
        padded.len()
            >= g.c_in.saturating_sub(1) * l.plane()
                + g.oh.saturating_sub(1) * l.pw
                + max_off
                + g.ow
                + DIRECT_SLACK
    );
    TapsInput {
        x: padded.as_ptr(),
        plane: l.plane(),
        pw: l.pw,
        c_in: g.c_in,
        offs: offsets,
    }
}

/// `dweight[co, c, t] (+)= Σ_{oy, ox} dz[co, oy, ox] · padded[c·plane + oy·pw + ox +
/// offsets[t]]` on `arch`'s path: the weight gradient of [`conv_taps`].
#[allow(clippy::too_many_arguments)]
pub(super) fn conv_taps_dweight(
    arch: Arch,
    g: &ConvGeom,
    l: DirectLayout,
    padded: &[f32],
    offsets: &[usize],
    dz: &[f32],
    dweight: &mut [f32],
    accumulate: bool,
) {
    #[cfg_attr(not(target_arch = "x86_64"), allow(unused_variables))]
    let input = taps_input(g, l, padded, offsets);
    let (c_out, oh, ow) = (g.c_out, g.oh, g.ow);
    assert!(dz.len() >= c_out * oh * ow && dweight.len() == c_out * g.c_in * offsets.len());
    dispatch!(
        arch,
        // SAFETY: `taps_input` checked the span of `padded` the kernel reads; `dz` and
        // `dweight` have the lengths its contract asks for; `arch` proves this CPU has the
        // path's features.
        simd => unsafe {
            simd::conv_taps_dweight(
                input,
                dz.as_ptr(),
                (c_out, oh, ow),
                dweight.as_mut_ptr(),
                accumulate,
            )
        },
        scalar => conv_taps_dweight_scalar(g, l, padded, offsets, dz, dweight, accumulate),
    )
}

/// The scalar path of [`conv_taps_dweight`].
#[allow(clippy::too_many_arguments)]
fn conv_taps_dweight_scalar(
    g: &ConvGeom,
    l: DirectLayout,
    padded: &[f32],
    offsets: &[usize],
    dz: &[f32],
    dweight: &mut [f32],
    accumulate: bool,
) {
    let (oh, ow) = (g.oh, g.ow);
    let (plane, pairs) = (l.plane(), g.c_in * offsets.len());
    for (co, dw_co) in dweight.chunks_exact_mut(pairs).enumerate() {
        let dz_co = &dz[co * oh * ow..][..oh * ow];
        for (pair, dw) in dw_co.iter_mut().enumerate() {
            let start = (pair / offsets.len()) * plane + offsets[pair % offsets.len()];
            let mut sum = 0.0;
            for (oy, dz_row) in dz_co.chunks_exact(ow).enumerate() {
                let x_row = &padded[start + oy * l.pw..][..ow];
                for (&d, &v) in dz_row.iter().zip(x_row) {
                    sum += d * v;
                }
            }
            *dw = if accumulate { *dw + sum } else { sum };
        }
    }
}

/// `y[co, oy, ox] = act(b[co] + Σ_c Σ_t w[co, c, t] · padded[c·plane + oy·pw + ox +
/// offsets[t]])` on `arch`'s path.
#[allow(clippy::too_many_arguments)]
fn conv_taps(
    arch: Arch,
    g: &ConvGeom,
    l: DirectLayout,
    weight: &[f32],
    bias: Option<&[f32]>,
    act: EpilogueAct,
    padded: &[f32],
    offsets: &[usize],
    y: &mut [f32],
) {
    let (c_in, c_out, taps) = (g.c_in, g.c_out, offsets.len());
    #[cfg_attr(not(target_arch = "x86_64"), allow(unused_variables))]
    let input = taps_input(g, l, padded, offsets);
    assert!(weight.len() == c_out * c_in * taps && y.len() >= c_out * g.oh * g.ow);
    assert!(bias.is_none_or(|b| b.len() == c_out));
    dispatch!(
        arch,
        simd => {
            let output = crate::kernels::simd::TapsOutput {
                c_out,
                oh: g.oh,
                ow: g.ow,
                act,
                y: y.as_mut_ptr(),
            };
            let (w, b) = (
                weight.as_ptr(),
                bias.map_or(core::ptr::null(), <[f32]>::as_ptr),
            );
            // SAFETY: `taps_input` checked the span of `padded` the kernel reads (the slack
            // is at least its tile span), the assertions above the weights, the bias and
            // the c_out·oh·ow outputs; `arch` proves this CPU has the path's features.
            unsafe { simd::conv_taps(input, w, b, output) }
        },
        scalar => conv_taps_scalar(arch, g, l, weight, bias, act, padded, offsets, y),
    )
}

/// The scalar path of [`conv_taps`].
#[allow(clippy::too_many_arguments)]
fn conv_taps_scalar(
    arch: Arch,
    g: &ConvGeom,
    l: DirectLayout,
    weight: &[f32],
    bias: Option<&[f32]>,
    act: EpilogueAct,
    padded: &[f32],
    offsets: &[usize],
    y: &mut [f32],
) {
    let (c_in, c_out, taps, plane) = (g.c_in, g.c_out, offsets.len(), l.plane());
    let p = g.oh * g.ow;
    for (co, y_co) in y.chunks_exact_mut(p).take(c_out).enumerate() {
        let b = bias.map_or(0.0, |b| b[co]);
        let w_co = &weight[co * c_in * taps..][..c_in * taps];
        for (oy, y_row) in y_co.chunks_exact_mut(g.ow).enumerate() {
            for (ox, out) in y_row.iter_mut().enumerate() {
                let mut sum = b;
                for c in 0..c_in {
                    let at = c * plane + oy * l.pw + ox;
                    for (t, &off) in offsets.iter().enumerate() {
                        sum += w_co[c * taps + t] * padded[at + off];
                    }
                }
                *out = sum;
            }
        }
        activation_forward_with(arch, act, y_co);
    }
}
