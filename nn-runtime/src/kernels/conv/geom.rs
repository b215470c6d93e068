//! The sizes of a convolution and of a pooling window, with PyTorch's semantics, and the
//! index arithmetic of a window sliding over a padded axis.

#[allow(unused_imports)]
use crate::core_prelude::*;

use core::ops::Range;

/// Sizes of a 2-D convolution (a 1-D one has `h = kh = sh = dh = 1`, `pt = 0`), with
/// PyTorch's semantics: output (oy, ox) of channel co reads input rows `oy·sh + i·dh − pt`
/// and columns `ox·sw + j·dw − pl` (zero outside the input) of the `c_in / groups` channels
/// of co's group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeom {
    pub c_in: usize,
    pub h: usize,
    pub w: usize,
    pub c_out: usize,
    pub kh: usize,
    pub kw: usize,
    pub sh: usize,
    pub sw: usize,
    /// Dilation: kernel rows `dh` input rows apart, kernel columns `dw` columns apart.
    pub dh: usize,
    pub dw: usize,
    /// Zero rows above the input.
    pub pt: usize,
    /// Zero columns left of the input.
    pub pl: usize,
    pub oh: usize,
    pub ow: usize,
    /// Output channels `[k·c_out/groups, (k+1)·c_out/groups)` see input channels
    /// `[k·c_in/groups, (k+1)·c_in/groups)`; both counts are multiples of `groups`.
    pub groups: usize,
}

impl ConvGeom {
    /// Rows of the unfolded input: one per (input channel, kernel row, kernel column).
    pub const fn ckk(&self) -> usize {
        self.c_in * self.kh * self.kw
    }
    /// The convolution whose forward pass is this one's input gradient, where there is one
    /// of the same form: for stride 1, no dilation and one group, dx is dz convolved with
    /// the weights' taps reversed and their channels swapped (`flip_weights`), over dz
    /// padded by `k − 1 − p` on each side (zero outside dz, so padding after the input that
    /// `same` adds needs nothing). `None` for other convolutions, or padding beyond `k − 1`.
    pub(super) fn input_gradient_conv(&self) -> Option<ConvGeom> {
        let plain = self.sh == 1 && self.sw == 1 && self.dh == 1 && self.dw == 1;
        (plain && self.groups == 1 && self.pt < self.kh && self.pl < self.kw).then(|| ConvGeom {
            c_in: self.c_out,
            h: self.oh,
            w: self.ow,
            c_out: self.c_in,
            pt: self.kh - 1 - self.pt,
            pl: self.kw - 1 - self.pl,
            oh: self.h,
            ow: self.w,
            ..*self
        })
    }
    /// Rows of the unfolded input one group reads, and the length of a weight row.
    pub const fn group_ckk(&self) -> usize {
        self.ckk() / self.groups
    }
    /// Output channels per group.
    pub(super) fn group_out(&self) -> usize {
        self.c_out / self.groups
    }
    /// Values of the weight `[c_out, c_in / groups, kh, kw]`.
    pub const fn weight_len(&self) -> usize {
        self.c_out * self.group_ckk()
    }
    /// Output positions per channel.
    pub const fn positions(&self) -> usize {
        self.oh * self.ow
    }
    pub(super) fn in_len(&self) -> usize {
        self.c_in * self.h * self.w
    }
    pub(super) fn out_len(&self) -> usize {
        self.c_out * self.positions()
    }
    /// Multiply-adds of one sample's forward pass, as FLOPs.
    pub const fn flops(&self) -> usize {
        2 * self.c_out * self.group_ckk() * self.positions()
    }
}

/// The weights of `ConvGeom::input_gradient_conv`: `flipped[ci][co][kh − 1 − i][kw − 1 − j]
/// = weight[co][ci][i][j]`, for a convolution of one group.
pub(super) fn flip_weights(g: &ConvGeom, weight: &[f32], flipped: &mut Vec<f32>) {
    let taps = g.kh * g.kw;
    assert!(g.groups == 1 && weight.len() == g.c_out * g.c_in * taps);
    flipped.resize(weight.len(), 0.0);
    for (co, w_co) in weight.chunks_exact(g.c_in * taps).enumerate() {
        for (ci, w) in w_co.chunks_exact(taps).enumerate() {
            let out = &mut flipped[(ci * g.c_out + co) * taps..][..taps];
            for (o, &v) in out.iter_mut().zip(w.iter().rev()) {
                *o = v;
            }
        }
    }
}

/// Sizes of a pooling window over `[c, h, w]` (1-D pooling has `h = kh = sh = 1`, `pt = 0`).
/// Output (oy, ox) pools input rows `oy·sh − pt ..` and columns `ox·sw − pl ..`; padding is
/// at most half the window (as PyTorch requires), so every window overlaps the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolGeom {
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub kh: usize,
    pub kw: usize,
    pub sh: usize,
    pub sw: usize,
    /// Padded rows above the input (−∞ for max pooling, zeros for average pooling).
    pub pt: usize,
    /// Padded columns left of the input.
    pub pl: usize,
    pub oh: usize,
    pub ow: usize,
}

impl PoolGeom {
    pub(super) fn in_len(&self) -> usize {
        self.c * self.h * self.w
    }
    pub(super) fn out_len(&self) -> usize {
        self.c * self.oh * self.ow
    }
    /// The input rows of output row `oy`'s window.
    pub(super) fn rows(&self, oy: usize) -> Range<usize> {
        window(oy, self.sh, self.kh, self.pt, self.h)
    }
    /// The input columns of output column `ox`'s window.
    pub(super) fn cols(&self, ox: usize) -> Range<usize> {
        window(ox, self.sw, self.kw, self.pl, self.w)
    }
}

/// The outputs `o < outputs` whose input index `o·stride + offset − pad` lies inside
/// `0..len`: a contiguous range, empty when none does.
pub(super) fn covered(
    outputs: usize,
    stride: usize,
    offset: usize,
    pad: usize,
    len: usize,
) -> Range<usize> {
    let lo = if pad > offset {
        (pad - offset).div_ceil(stride)
    } else {
        0
    };
    let hi = if len + pad > offset {
        ((len - 1 + pad - offset) / stride + 1).min(outputs)
    } else {
        0
    };
    lo.min(hi)..hi
}

/// The part inside `0..len` of output `o`'s window of `k` positions, `pad` positions of
/// padding before the input.
#[inline]
fn window(o: usize, stride: usize, k: usize, pad: usize, len: usize) -> Range<usize> {
    let start = o * stride;
    start.max(pad) - pad..(start + k).min(len + pad) - pad
}
