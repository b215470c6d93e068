//! Convolution and pooling on flat NCHW buffers with run-time sizes. Every conv and pool
//! layer, whatever its const shape, calls these: compiled once.
//!
//! The forward pass takes one of three algorithms by shape: a direct convolution when a
//! weight row is short (few input channels: [`direct_applies`]), Winograd's F(2×2, 3×3) for
//! 3×3 stride-1 convolutions with many channels ([`winograd::applies`]), im2col + GEMM for
//! everything else. The backward pass is im2col + GEMM throughout.
//!
//! A batch is split into chunks, one per thread and each with its own scratch buffers, when
//! the work is large enough (`PARALLEL_MIN_FLOPS`); weight gradients are summed over chunks.

use super::gemm::{gemm_in, gemm_nt_with, MatMul, MatMulNt};
use super::reduce::sum_with;
use super::simd::{dispatch, EpilogueAct};
use super::threads::{join, threads_here, PARALLEL_MIN_FLOPS};
use super::winograd::{self, WinogradScratch};
use super::{activation_backward_with, activation_forward_with, transpose, Arch};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};

/// Turns Winograd's algorithm off, so that benchmarks can time im2col + GEMM on the same
/// shapes (`set_winograd`).
static NO_WINOGRAD: AtomicBool = AtomicBool::new(false);

/// Turns the direct convolution off (`set_direct`).
static NO_DIRECT: AtomicBool = AtomicBool::new(false);

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
    super::simd::avx512::TAPS_SPAN <= DIRECT_SLACK && super::simd::avx2::TAPS_SPAN <= DIRECT_SLACK
);

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
struct DirectLayout {
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
fn direct_forward_sample(
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
fn pad_input(g: &ConvGeom, x: &[f32], s: &mut ConvScratch) -> DirectLayout {
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
) -> super::simd::TapsInput<'a> {
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
    super::simd::TapsInput {
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
fn conv_taps_dweight(
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
            let output = super::simd::TapsOutput {
                c_out,
                oh: g.oh,
                ow: g.ow,
                act,
                y: y.as_mut_ptr(),
            };
            let (w, b) = (
                weight.as_ptr(),
                bias.map_or(std::ptr::null(), <[f32]>::as_ptr),
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
    pub fn ckk(&self) -> usize {
        self.c_in * self.kh * self.kw
    }
    /// Rows of the unfolded input one group reads, and the length of a weight row.
    pub fn group_ckk(&self) -> usize {
        self.ckk() / self.groups
    }
    /// Output channels per group.
    fn group_out(&self) -> usize {
        self.c_out / self.groups
    }
    /// Values of the weight `[c_out, c_in / groups, kh, kw]`.
    pub fn weight_len(&self) -> usize {
        self.c_out * self.group_ckk()
    }
    /// Output positions per channel.
    pub fn positions(&self) -> usize {
        self.oh * self.ow
    }
    fn in_len(&self) -> usize {
        self.c_in * self.h * self.w
    }
    fn out_len(&self) -> usize {
        self.c_out * self.positions()
    }
    /// Multiply-adds of one sample's forward pass, as FLOPs.
    pub fn flops(&self) -> usize {
        2 * self.c_out * self.group_ckk() * self.positions()
    }
}

/// Buffers one thread's share of a convolution reuses between calls.
#[derive(Default, Debug)]
pub struct ConvScratch {
    cols: Vec<f32>,
    winograd: WinogradScratch,
    /// The direct convolution's padded input and tap offsets.
    padded: Vec<f32>,
    offsets: Vec<usize>,
    dz: Vec<f32>,
    dz_t: Vec<f32>,
    dweight: Vec<f32>,
    dweight_t: Vec<f32>,
    dbias: Vec<f32>,
    /// One sample's convolution output before its pooling (`conv2d_pool_forward`).
    pre: Vec<f32>,
}

/// Scratch for every chunk a batch may be split into.
#[derive(Default, Debug)]
pub struct ConvWorkspace {
    chunks: Vec<ConvScratch>,
    /// The whole batch's convolution output when pooling is not fused.
    unfused: Vec<f32>,
}

impl ConvWorkspace {
    fn chunks(&mut self, rows: usize, flops_per_row: usize) -> &mut [ConvScratch] {
        let n = if rows * flops_per_row >= PARALLEL_MIN_FLOPS {
            threads_here().min(rows)
        } else {
            1
        }
        .max(1);
        if self.chunks.len() < n {
            self.chunks.resize_with(n, ConvScratch::default);
        }
        &mut self.chunks[..n]
    }
}

/// The outputs `o < outputs` whose input index `o·stride + offset − pad` lies inside
/// `0..len`: a contiguous range, empty when none does.
fn covered(outputs: usize, stride: usize, offset: usize, pad: usize, len: usize) -> Range<usize> {
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

/// The output columns `ox` whose input column `ox·sw + dj − pl` lies inside `0..w`, for the
/// kernel column at offset `dj = j·dw`.
fn valid_columns(g: &ConvGeom, dj: usize) -> Range<usize> {
    covered(g.ow, g.sw, dj, g.pl, g.w)
}

/// cols[(c, i, j), (oy, ox)] = x[c, oy·sh + i·dh − pt, ox·sw + j·dw − pl], zero outside the
/// input.
pub fn im2col(g: &ConvGeom, x: &[f32], cols: &mut [f32]) {
    let p = g.positions();
    for c in 0..g.c_in {
        for i in 0..g.kh {
            let di = i * g.dh;
            for j in 0..g.kw {
                let dj = j * g.dw;
                let row = &mut cols[((c * g.kh + i) * g.kw + j) * p..][..p];
                let valid = valid_columns(g, dj);
                for oy in 0..g.oh {
                    let y = (oy * g.sh + di) as isize - g.pt as isize;
                    let out = &mut row[oy * g.ow..(oy + 1) * g.ow];
                    if y < 0 || y >= g.h as isize || valid.is_empty() {
                        out.fill(0.0);
                        continue;
                    }
                    let src = &x[(c * g.h + y as usize) * g.w..][..g.w];
                    out[..valid.start].fill(0.0);
                    out[valid.end..].fill(0.0);
                    // Input column of the first valid output.
                    let first = valid.start * g.sw + dj - g.pl;
                    if g.sw == 1 {
                        out[valid.clone()].copy_from_slice(&src[first..first + valid.len()]);
                    } else {
                        for (k, o) in out[valid.clone()].iter_mut().enumerate() {
                            *o = src[first + k * g.sw];
                        }
                    }
                }
            }
        }
    }
}

/// The adjoint of [`im2col`]: dx[c, y, x] += every cols entry that was read from it.
pub fn col2im_add(g: &ConvGeom, cols: &[f32], dx: &mut [f32]) {
    let p = g.positions();
    for c in 0..g.c_in {
        for i in 0..g.kh {
            let di = i * g.dh;
            for j in 0..g.kw {
                let dj = j * g.dw;
                let row = &cols[((c * g.kh + i) * g.kw + j) * p..][..p];
                let valid = valid_columns(g, dj);
                if valid.is_empty() {
                    continue;
                }
                let first = valid.start * g.sw + dj - g.pl;
                for oy in 0..g.oh {
                    let y = (oy * g.sh + di) as isize - g.pt as isize;
                    if y < 0 || y >= g.h as isize {
                        continue;
                    }
                    let dst = &mut dx[(c * g.h + y as usize) * g.w..][..g.w];
                    let src = &row[oy * g.ow..(oy + 1) * g.ow][valid.clone()];
                    if g.sw == 1 {
                        for (d, &v) in dst[first..first + src.len()].iter_mut().zip(src) {
                            *d += v;
                        }
                    } else {
                        for (k, &v) in src.iter().enumerate() {
                            dst[first + k * g.sw] += v;
                        }
                    }
                }
            }
        }
    }
}

/// Outputs written row by row, which the chunks of a batch split between them.
trait RowOutputs: Send + Sized {
    /// The first `rows` rows, and the rest.
    fn split_rows(self, rows: usize) -> (Self, Self);
}

/// `len` values a row of `data` (0 and empty when there is no such output).
struct Rows<'a, T> {
    data: &'a mut [T],
    len: usize,
}

impl<T: Send> RowOutputs for Rows<'_, T> {
    fn split_rows(self, rows: usize) -> (Self, Self) {
        let at = (rows * self.len).min(self.data.len());
        let (lo, hi) = self.data.split_at_mut(at);
        let len = self.len;
        (Rows { data: lo, len }, Rows { data: hi, len })
    }
}

impl<A: RowOutputs, B: RowOutputs> RowOutputs for (A, B) {
    fn split_rows(self, rows: usize) -> (Self, Self) {
        let ((a_lo, a_hi), (b_lo, b_hi)) = (self.0.split_rows(rows), self.1.split_rows(rows));
        ((a_lo, b_lo), (a_hi, b_hi))
    }
}

/// Runs `f(scratch, rows, out_rows)` over `rows` split into one chunk per scratch, `out`
/// split alike.
fn for_each_chunk<O, F>(scratch: &mut [ConvScratch], rows: Range<usize>, out: O, f: &F)
where
    O: RowOutputs,
    F: Fn(&mut ConvScratch, Range<usize>, O) + Sync,
{
    if scratch.len() <= 1 || rows.len() <= 1 {
        f(&mut scratch[0], rows, out);
        return;
    }
    let half = scratch.len() / 2;
    let mid = rows.start + rows.len() * half / scratch.len();
    let (s_lo, s_hi) = scratch.split_at_mut(half);
    let (o_lo, o_hi) = out.split_rows(mid - rows.start);
    join(
        || for_each_chunk(s_lo, rows.start..mid, o_lo, f),
        || for_each_chunk(s_hi, mid..rows.end, o_hi, f),
    );
}

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

/// Whether the unfolded input is the input itself: a 1×1 kernel of stride 1 with no
/// padding reads every input position once, in order.
fn unfold_is_identity(g: &ConvGeom) -> bool {
    g.kh == 1
        && g.kw == 1
        && g.sh == 1
        && g.sw == 1
        && g.pt == 0
        && g.pl == 0
        && g.oh == g.h
        && g.ow == g.w
}

/// How one sample's forward pass is computed, chosen once per call by shape.
struct ForwardPlan {
    identity: bool,
    direct: bool,
    winograd: bool,
    product: MatMul,
}

impl ForwardPlan {
    fn new(g: &ConvGeom, act: EpilogueAct) -> Self {
        ForwardPlan {
            identity: unfold_is_identity(g),
            direct: direct_applies(g) && !NO_DIRECT.load(Ordering::Relaxed),
            winograd: winograd::applies(g) && !NO_WINOGRAD.load(Ordering::Relaxed),
            // Bias and activation in the product's epilogue, while each tile is in
            // registers: one bias per row of Y (an output channel).
            product: MatMul {
                act,
                row_bias: true,
                ..MatMul::new(g.group_out(), g.positions(), g.group_ckk())
            },
        }
    }

    /// Readies a chunk's scratch for its samples.
    fn prepare(&self, g: &ConvGeom, weight: &[f32], s: &mut ConvScratch) {
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
    fn sample(
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
        let (gk, co_g, p) = (g.group_ckk(), g.group_out(), g.positions());
        let cols: &[f32] = if self.identity {
            xr
        } else {
            im2col(g, xr, &mut s.cols);
            &s.cols
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
            gemm_in(arch, &self.product, w_k, cols_k, bias_k, y_k);
        }
    }
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

/// A pooling that follows a convolution: its sizes, and whether it takes the maximum (else
/// the mean) of each window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolAfter {
    pub geom: PoolGeom,
    pub max: bool,
}

impl PoolAfter {
    fn apply(&self, arch: Arch, x: &[f32], y: &mut [f32], argmax: Option<&mut [u32]>) {
        if self.max {
            max_pool_forward_with(arch, &self.geom, x, y, argmax, 1);
        } else {
            avg_pool_forward(&self.geom, x, y, 1);
        }
    }
}

/// Turns the fused convolution + pooling off (`set_fused_pooling`).
static NO_FUSED_POOLING: AtomicBool = AtomicBool::new(false);

/// Whether a convolution followed by a pooling pools each sample's output as soon as it is
/// computed, while it is in cache ([`conv2d_pool_forward`]; on by default), or convolves the
/// whole batch and then pools it, so that benchmarks can time both. Results are the same.
pub fn set_fused_pooling(on: bool) {
    NO_FUSED_POOLING.store(!on, Ordering::Relaxed);
}

/// y = pool(act(W ⋆ x + b)) for `rows` samples, each sample pooled as soon as its
/// convolution is computed, while it is in cache (the batch's convolution output, several
/// times the size of L2 in a training batch, is never read back from memory). `pre`, when
/// given, receives the convolution's output and `argmax` the max pooling's choices (both
/// for the backward pass); otherwise the convolution of one sample at a time lives in the
/// chunk's scratch.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_pool_forward(
    g: &ConvGeom,
    pool: &PoolAfter,
    weight: &[f32],
    bias: Option<&[f32]>,
    act: EpilogueAct,
    x: &[f32],
    pre: Option<&mut [f32]>,
    y: &mut [f32],
    argmax: Option<&mut [u32]>,
    rows: usize,
    ws: &mut ConvWorkspace,
) {
    let arch = Arch::current();
    let (in_len, out_len, pool_len) = (g.in_len(), g.out_len(), pool.geom.out_len());
    assert_eq!(
        pool.geom.in_len(),
        out_len,
        "the pooling takes the convolution's output"
    );
    assert!(x.len() >= rows * in_len && y.len() >= rows * pool_len);
    let (mut no_pre, mut no_argmax): ([f32; 0], [u32; 0]) = ([], []);
    let pre = match pre {
        Some(pre) => Rows {
            data: &mut pre[..rows * out_len],
            len: out_len,
        },
        None => Rows {
            data: &mut no_pre[..],
            len: 0,
        },
    };
    let argmax = match argmax {
        Some(a) if pool.max => Rows {
            data: &mut a[..rows * pool_len],
            len: pool_len,
        },
        _ => Rows {
            data: &mut no_argmax[..],
            len: 0,
        },
    };
    if NO_FUSED_POOLING.load(Ordering::Relaxed) {
        // The whole batch's convolution, then its pooling.
        let mut pre = pre;
        let mut whole = std::mem::take(&mut ws.unfused);
        if pre.len == 0 {
            whole.resize(rows * out_len, 0.0);
            pre.data = &mut whole[..];
        }
        conv2d_forward_with(arch, g, weight, bias, act, x, pre.data, rows, ws);
        for r in 0..rows {
            let pre_r = &pre.data[r * out_len..][..out_len];
            let argmax_r = (argmax.len > 0).then(|| &mut argmax.data[r * pool_len..][..pool_len]);
            pool.apply(arch, pre_r, &mut y[r * pool_len..][..pool_len], argmax_r);
        }
        ws.unfused = whole;
        return;
    }
    let plan = ForwardPlan::new(g, act);
    let chunks = ws.chunks(rows, g.flops());
    let y = Rows {
        data: &mut y[..rows * pool_len],
        len: pool_len,
    };
    for_each_chunk(chunks, 0..rows, (y, (pre, argmax)), &|s,
                                                          range,
                                                          (
        y,
        (pre, argmax),
    )| {
        plan.prepare(g, weight, s);
        let mut own = std::mem::take(&mut s.pre);
        own.resize(out_len, 0.0);
        for (n, r) in range.enumerate() {
            let xr = &x[r * in_len..(r + 1) * in_len];
            let pre_r = if pre.len > 0 {
                &mut pre.data[n * out_len..][..out_len]
            } else {
                &mut own[..]
            };
            plan.sample(arch, g, weight, bias, act, xr, pre_r, s);
            let argmax_r = (argmax.len > 0).then(|| &mut argmax.data[n * pool_len..][..pool_len]);
            pool.apply(
                arch,
                pre_r,
                &mut y.data[n * pool_len..][..pool_len],
                argmax_r,
            );
        }
        s.pre = own;
    });
}

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
    assert!(x.len() >= rows * in_len && y.len() >= rows * out_len && dy.len() >= rows * out_len);
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
        if range.is_empty() {
            s.dweight.fill(0.0);
            s.dweight_t.fill(0.0);
        }
        for (n, r) in range.enumerate() {
            let (xr, yr, dyr) = (
                &x[r * in_len..][..in_len],
                &y[r * out_len..][..out_len],
                &dy[r * out_len..][..out_len],
            );
            // dz = dy · act′(y)
            activation_backward_with(arch, act, yr, dyr, &mut s.dz);
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
                // dcols_k[gk, P] = W_kᵀ · dz_k (W_k read transposed through its strides),
                // then folded back onto the input.
                let dxr = &mut dx.data[n * in_len..(n + 1) * in_len];
                let transposed = MatMul {
                    rsa: 1,
                    csa: gk,
                    ..MatMul::new(gk, p, co_g)
                };
                if identity {
                    // The unfolded gradient is the input gradient.
                    for ((w_k, dz_k), dx_k) in weight
                        .chunks_exact(co_g * gk)
                        .zip(s.dz.chunks_exact(co_g * p))
                        .zip(dxr.chunks_exact_mut(gk * p))
                    {
                        gemm_in(arch, &transposed, w_k, dz_k, None, dx_k);
                    }
                    continue;
                }
                dxr.fill(0.0);
                for ((w_k, dz_k), dcols_k) in weight
                    .chunks_exact(co_g * gk)
                    .zip(s.dz.chunks_exact(co_g * p))
                    .zip(s.cols.chunks_exact_mut(gk * p))
                {
                    gemm_in(arch, &transposed, w_k, dz_k, None, dcols_k);
                }
                col2im_add(g, &s.cols, dxr);
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
    fn in_len(&self) -> usize {
        self.c * self.h * self.w
    }
    fn out_len(&self) -> usize {
        self.c * self.oh * self.ow
    }
    /// The input rows of output row `oy`'s window.
    fn rows(&self, oy: usize) -> Range<usize> {
        window(oy, self.sh, self.kh, self.pt, self.h)
    }
    /// The input columns of output column `ox`'s window.
    fn cols(&self, ox: usize) -> Range<usize> {
        window(ox, self.sw, self.kw, self.pl, self.w)
    }
}

/// The part inside `0..len` of output `o`'s window of `k` positions, `pad` positions of
/// padding before the input.
#[inline]
fn window(o: usize, stride: usize, k: usize, pad: usize, len: usize) -> Range<usize> {
    let start = o * stride;
    start.max(pad) - pad..(start + k).min(len + pad) - pad
}

/// The larger of two values, NaN if either is (as PyTorch's max pooling propagates NaN).
#[inline]
fn max_nan(a: f32, b: f32) -> f32 {
    if a > b || a.is_nan() {
        a
    } else {
        b
    }
}

/// y = the largest value of each window (NaN if the window holds one); `argmax`, when
/// given, records where (index in the sample; the first position on ties), for the
/// backward pass.
pub fn max_pool_forward(
    g: &PoolGeom,
    x: &[f32],
    y: &mut [f32],
    argmax: Option<&mut [u32]>,
    rows: usize,
) {
    max_pool_forward_with(super::Arch::current(), g, x, y, argmax, rows)
}

/// [`max_pool_forward`] on a given path (unpadded 2×2 windows of stride 2 have an AVX-512
/// kernel).
pub fn max_pool_forward_with(
    arch: super::Arch,
    g: &PoolGeom,
    x: &[f32],
    y: &mut [f32],
    mut argmax: Option<&mut [u32]>,
    rows: usize,
) {
    let (in_len, out_len) = (g.in_len(), g.out_len());
    for r in 0..rows {
        let (xr, yr) = (&x[r * in_len..][..in_len], &mut y[r * out_len..][..out_len]);
        let mut ar = argmax
            .as_deref_mut()
            .map(|a| &mut a[r * out_len..][..out_len]);
        if g.pt > 0 || g.pl > 0 {
            max_pool_padded(g, xr, yr, ar);
            continue;
        }
        if g.kh == 2 && g.kw == 2 {
            max_pool_2x2(arch, g, xr, yr, ar);
            continue;
        }
        // Window position by window position over a whole output row: the maxima of
        // different outputs are independent, so they pipeline instead of waiting on one
        // compare chain per window.
        for c in 0..g.c {
            for oy in 0..g.oh {
                let o = (c * g.oh + oy) * g.ow;
                let out = &mut yr[o..o + g.ow];
                for i in 0..g.kh {
                    let base = (c * g.h + oy * g.sh + i) * g.w;
                    let src = &xr[base..base + g.w];
                    for j in 0..g.kw {
                        let first = i == 0 && j == 0;
                        match ar.as_deref_mut() {
                            None => {
                                for (ox, m) in out.iter_mut().enumerate() {
                                    let v = src[ox * g.sw + j];
                                    *m = if first { v } else { max_nan(v, *m) };
                                }
                            }
                            Some(ar) => {
                                for (ox, (m, at)) in
                                    out.iter_mut().zip(&mut ar[o..o + g.ow]).enumerate()
                                {
                                    let v = src[ox * g.sw + j];
                                    // Which value wins is data: a branch would mispredict.
                                    let take = first | (v > *m) | (v.is_nan() & !m.is_nan());
                                    *m = std::hint::select_unpredictable(take, v, *m);
                                    *at = std::hint::select_unpredictable(
                                        take,
                                        (base + ox * g.sw + j) as u32,
                                        *at,
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Max pooling with padding. Padded positions hold −∞, which never wins, so each window is
/// reduced over its part inside the input (never empty); a window of −∞ alone reports its
/// first input position, as in PyTorch. As in the unpadded loop, one kernel position at a
/// time over a whole output row.
fn max_pool_padded(g: &PoolGeom, x: &[f32], y: &mut [f32], mut argmax: Option<&mut [u32]>) {
    for c in 0..g.c {
        for oy in 0..g.oh {
            let rows = g.rows(oy);
            let o = (c * g.oh + oy) * g.ow;
            let out = &mut y[o..o + g.ow];
            out.fill(f32::NEG_INFINITY);
            if let Some(ar) = argmax.as_deref_mut() {
                for (ox, at) in ar[o..o + g.ow].iter_mut().enumerate() {
                    *at = ((c * g.h + rows.start) * g.w + g.cols(ox).start) as u32;
                }
            }
            for iy in rows {
                let base = (c * g.h + iy) * g.w;
                let src = &x[base..base + g.w];
                for j in 0..g.kw {
                    // The outputs whose window column j is an input column.
                    let valid = covered(g.ow, g.sw, j, g.pl, g.w);
                    if valid.is_empty() {
                        continue;
                    }
                    let first = valid.start * g.sw + j - g.pl;
                    match argmax.as_deref_mut() {
                        None => {
                            for (k, m) in out[valid.clone()].iter_mut().enumerate() {
                                *m = max_nan(src[first + k * g.sw], *m);
                            }
                        }
                        Some(ar) => {
                            let ats = &mut ar[o + valid.start..o + valid.end];
                            for (k, (m, at)) in out[valid].iter_mut().zip(ats).enumerate() {
                                let v = src[first + k * g.sw];
                                // Strictly larger: the earlier of equal values keeps its place.
                                let take = (v > *m) | (v.is_nan() & !m.is_nan());
                                *m = std::hint::select_unpredictable(take, v, *m);
                                *at = std::hint::select_unpredictable(
                                    take,
                                    (base + first + k * g.sw) as u32,
                                    *at,
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `a` unless `b` is larger (or NaN while `a` is not), with its index: the earlier of two
/// equal values wins, as in PyTorch.
#[inline(always)]
fn pick(a: (f32, u32), b: (f32, u32)) -> (f32, u32) {
    let take_b = (b.0 > a.0) | (b.0.is_nan() & !a.0.is_nan());
    (
        std::hint::select_unpredictable(take_b, b.0, a.0),
        std::hint::select_unpredictable(take_b, b.1, a.1),
    )
}

/// The common 2×2 window of one sample, each window reduced in registers (a tree of three
/// picks; earlier positions win ties, as in PyTorch).
fn max_pool_2x2(
    arch: super::Arch,
    g: &PoolGeom,
    x: &[f32],
    y: &mut [f32],
    mut argmax: Option<&mut [u32]>,
) {
    if g.sw == 2 {
        dispatch!(
            arch,
            avx512 => {
                for c in 0..g.c {
                    for oy in 0..g.oh {
                        let top = (c * g.h + oy * g.sh) * g.w;
                        let (row0, row1) = (&x[top..top + g.w], &x[top + g.w..top + 2 * g.w]);
                        let o = (c * g.oh + oy) * g.ow;
                        let out = &mut y[o..o + g.ow];
                        let at = argmax
                            .as_deref_mut()
                            .map_or(std::ptr::null_mut(), |a| a[o..o + g.ow].as_mut_ptr());
                        assert!(2 * g.ow <= g.w);
                        // SAFETY: the kernel reads row0[..2·ow] and row1[..2·ow], inside
                        // both rows of w ≥ 2·ow values (asserted), and writes ow values to
                        // `out` and, when non-null, to `at` (a slice of ow values); `arch`
                        // proves this CPU has AVX-512F.
                        unsafe {
                            avx512::max_pool_2x2_s2(
                                row0.as_ptr(),
                                row1.as_ptr(),
                                g.ow,
                                top as u32,
                                g.w as u32,
                                out.as_mut_ptr(),
                                at,
                            )
                        };
                    }
                }
                return;
            },
            other => {},
        );
    }
    for c in 0..g.c {
        for oy in 0..g.oh {
            let top = (c * g.h + oy * g.sh) * g.w;
            let (row0, row1) = (&x[top..top + g.w], &x[top + g.w..top + 2 * g.w]);
            let o = (c * g.oh + oy) * g.ow;
            for ox in 0..g.ow {
                let j = ox * g.sw;
                let at = (top + j) as u32;
                let upper = pick((row0[j], at), (row0[j + 1], at + 1));
                let lower = pick(
                    (row1[j], at + g.w as u32),
                    (row1[j + 1], at + g.w as u32 + 1),
                );
                let (best, index) = pick(upper, lower);
                y[o + ox] = best;
                if let Some(argmax) = argmax.as_deref_mut() {
                    argmax[o + ox] = index;
                }
            }
        }
    }
}

/// dx = dy routed to each window's recorded arg-max.
pub fn max_pool_backward(g: &PoolGeom, dy: &[f32], argmax: &[u32], dx: &mut [f32], rows: usize) {
    max_pool_backward_with(super::Arch::current(), g, dy, argmax, dx, rows)
}

/// [`max_pool_backward`] on a given path. Windows that tile the input without overlap or
/// padding (stride = window) write each input position once, the gradient where it was the
/// arg-max and zero elsewhere, instead of clearing dx and scattering into it; 2×2 windows
/// have an AVX-512 kernel.
pub fn max_pool_backward_with(
    arch: super::Arch,
    g: &PoolGeom,
    dy: &[f32],
    argmax: &[u32],
    dx: &mut [f32],
    rows: usize,
) {
    let (in_len, out_len) = (g.in_len(), g.out_len());
    assert!(dy.len() >= rows * out_len && argmax.len() >= rows * out_len);
    assert!(dx.len() >= rows * in_len);
    if g.pt == 0 && g.pl == 0 && g.kh == g.sh && g.kw == g.sw {
        for r in 0..rows {
            let dxr = &mut dx[r * in_len..][..in_len];
            let (dyr, ar) = (
                &dy[r * out_len..][..out_len],
                &argmax[r * out_len..][..out_len],
            );
            for c in 0..g.c {
                for oy in 0..g.oh {
                    let o = (c * g.oh + oy) * g.ow;
                    let (dyo, ao) = (&dyr[o..o + g.ow], &ar[o..o + g.ow]);
                    let top = (c * g.h + oy * g.sh) * g.w;
                    if g.kh == 2 && g.kw == 2 {
                        dispatch!(
                            arch,
                            avx512 => {
                                let (row0, row1) = dxr[top..top + 2 * g.w].split_at_mut(g.w);
                                assert!(2 * g.ow <= g.w);
                                // SAFETY: the kernel reads ow values of `dyo` and `ao`
                                // (slices of ow values) and writes row0[..2·ow] and
                                // row1[..2·ow], inside the two rows of w ≥ 2·ow values
                                // (asserted); `arch` proves AVX-512F.
                                unsafe {
                                    avx512::max_pool_2x2_s2_backward(
                                        dyo.as_ptr(),
                                        ao.as_ptr(),
                                        g.ow,
                                        top as u32,
                                        g.w as u32,
                                        row0.as_mut_ptr(),
                                        row1.as_mut_ptr(),
                                    )
                                };
                                row0[2 * g.ow..].fill(0.0);
                                row1[2 * g.ow..].fill(0.0);
                                continue;
                            },
                            other => {},
                        );
                    }
                    for i in 0..g.kh {
                        let at = top + i * g.w;
                        let row = &mut dxr[at..at + g.w];
                        for (ox, (&d, &a)) in dyo.iter().zip(ao).enumerate() {
                            for (j, v) in row[ox * g.sw..][..g.kw].iter_mut().enumerate() {
                                let pos = (at + ox * g.sw + j) as u32;
                                *v = if a == pos { d } else { 0.0 };
                            }
                        }
                        // Columns no window covers.
                        row[g.ow * g.sw..].fill(0.0);
                    }
                }
                // Rows no window covers.
                dxr[(c * g.h + g.oh * g.sh) * g.w..(c + 1) * g.h * g.w].fill(0.0);
            }
        }
        return;
    }
    dx[..rows * in_len].fill(0.0);
    for r in 0..rows {
        let dxr = &mut dx[r * in_len..][..in_len];
        for (&grad, &at) in dy[r * out_len..][..out_len]
            .iter()
            .zip(&argmax[r * out_len..][..out_len])
        {
            dxr[at as usize] += grad;
        }
    }
}

/// y = the mean of each window, padding counted as zeros (PyTorch's default
/// `count_include_pad=True`: the divisor is always kh·kw).
pub fn avg_pool_forward(g: &PoolGeom, x: &[f32], y: &mut [f32], rows: usize) {
    let (in_len, out_len) = (g.in_len(), g.out_len());
    let inv = 1.0 / (g.kh * g.kw) as f32;
    for r in 0..rows {
        let (xr, yr) = (&x[r * in_len..][..in_len], &mut y[r * out_len..][..out_len]);
        for c in 0..g.c {
            for oy in 0..g.oh {
                let rows = g.rows(oy);
                for ox in 0..g.ow {
                    let cols = g.cols(ox);
                    let mut sum = 0.0;
                    for iy in rows.clone() {
                        let base = (c * g.h + iy) * g.w;
                        sum += xr[base + cols.start..base + cols.end].iter().sum::<f32>();
                    }
                    yr[(c * g.oh + oy) * g.ow + ox] = sum * inv;
                }
            }
        }
    }
}

/// dx = dy spread evenly over each window (the share of padded positions is dropped).
pub fn avg_pool_backward(g: &PoolGeom, dy: &[f32], dx: &mut [f32], rows: usize) {
    let (in_len, out_len) = (g.in_len(), g.out_len());
    let inv = 1.0 / (g.kh * g.kw) as f32;
    dx[..rows * in_len].fill(0.0);
    for r in 0..rows {
        let (dyr, dxr) = (
            &dy[r * out_len..][..out_len],
            &mut dx[r * in_len..][..in_len],
        );
        for c in 0..g.c {
            for oy in 0..g.oh {
                let rows = g.rows(oy);
                for ox in 0..g.ow {
                    let cols = g.cols(ox);
                    let v = dyr[(c * g.oh + oy) * g.ow + ox] * inv;
                    for iy in rows.clone() {
                        let base = (c * g.h + iy) * g.w;
                        dxr[base + cols.start..base + cols.end]
                            .iter_mut()
                            .for_each(|d| *d += v);
                    }
                }
            }
        }
    }
}
