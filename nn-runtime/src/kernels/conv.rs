//! Convolution as im2col + GEMM, and pooling, on flat NCHW buffers with run-time sizes.
//! Every conv and pool layer, whatever its const shape, calls these: compiled once.
//!
//! A batch is split into chunks, one per thread and each with its own scratch buffers, when
//! the work is large enough (`PARALLEL_MIN_FLOPS`); weight gradients are summed over chunks.

use super::gemm::{gemm, MatMul};
use super::simd::EpilogueAct;
use super::threads::{threads, PARALLEL_MIN_FLOPS};
use super::{activation_backward, activation_forward_in_place};
use std::ops::Range;

/// Sizes of a 2-D convolution (a 1-D one has `h = kh = sh = 1`, `pt = 0`).
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
    /// Zero rows above the input.
    pub pt: usize,
    /// Zero columns left of the input.
    pub pl: usize,
    pub oh: usize,
    pub ow: usize,
}

impl ConvGeom {
    /// Rows of the unfolded input: one per (input channel, kernel row, kernel column).
    pub fn ckk(&self) -> usize {
        self.c_in * self.kh * self.kw
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
        2 * self.c_out * self.ckk() * self.positions()
    }
}

/// Buffers one thread's share of a convolution reuses between calls.
#[derive(Default, Debug)]
pub struct ConvScratch {
    cols: Vec<f32>,
    dz: Vec<f32>,
    dz_t: Vec<f32>,
    dweight_t: Vec<f32>,
    dbias: Vec<f32>,
}

/// Scratch for every chunk a batch may be split into.
#[derive(Default, Debug)]
pub struct ConvWorkspace {
    chunks: Vec<ConvScratch>,
}

impl ConvWorkspace {
    fn chunks(&mut self, rows: usize, flops_per_row: usize) -> &mut [ConvScratch] {
        let n = if rows * flops_per_row >= PARALLEL_MIN_FLOPS {
            threads().min(rows)
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

/// The output columns `ox` whose input column `ox·sw + j − pl` lies inside `0..w`.
fn valid_columns(g: &ConvGeom, j: usize) -> std::ops::Range<usize> {
    let lo = if g.pl > j {
        (g.pl - j).div_ceil(g.sw)
    } else {
        0
    };
    let hi = if g.w + g.pl > j {
        ((g.w - 1 + g.pl - j) / g.sw + 1).min(g.ow)
    } else {
        0
    };
    lo.min(hi)..hi
}

/// cols[(c, i, j), (oy, ox)] = x[c, oy·sh + i − pt, ox·sw + j − pl], zero outside the input.
pub fn im2col(g: &ConvGeom, x: &[f32], cols: &mut [f32]) {
    let p = g.positions();
    for c in 0..g.c_in {
        for i in 0..g.kh {
            for j in 0..g.kw {
                let row = &mut cols[((c * g.kh + i) * g.kw + j) * p..][..p];
                let valid = valid_columns(g, j);
                for oy in 0..g.oh {
                    let y = (oy * g.sh + i) as isize - g.pt as isize;
                    let out = &mut row[oy * g.ow..(oy + 1) * g.ow];
                    if y < 0 || y >= g.h as isize || valid.is_empty() {
                        out.fill(0.0);
                        continue;
                    }
                    let src = &x[(c * g.h + y as usize) * g.w..][..g.w];
                    out[..valid.start].fill(0.0);
                    out[valid.end..].fill(0.0);
                    // Input column of the first valid output.
                    let first = valid.start * g.sw + j - g.pl;
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
            for j in 0..g.kw {
                let row = &cols[((c * g.kh + i) * g.kw + j) * p..][..p];
                let valid = valid_columns(g, j);
                if valid.is_empty() {
                    continue;
                }
                let first = valid.start * g.sw + j - g.pl;
                for oy in 0..g.oh {
                    let y = (oy * g.sh + i) as isize - g.pt as isize;
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

/// Runs `f(scratch, rows, out_rows)` over `rows` split into one chunk per scratch, `out`
/// split alike (`out_len` values a row; 0 when there is no per-row output).
fn for_each_chunk<F>(
    scratch: &mut [ConvScratch],
    rows: Range<usize>,
    out: &mut [f32],
    out_len: usize,
    f: &F,
) where
    F: Fn(&mut ConvScratch, Range<usize>, &mut [f32]) + Sync,
{
    if scratch.len() <= 1 || rows.len() <= 1 {
        f(&mut scratch[0], rows, out);
        return;
    }
    let half = scratch.len() / 2;
    let mid = rows.start + rows.len() * half / scratch.len();
    let (s_lo, s_hi) = scratch.split_at_mut(half);
    let (o_lo, o_hi) = out.split_at_mut(((mid - rows.start) * out_len).min(out.len()));
    rayon::join(
        || for_each_chunk(s_lo, rows.start..mid, o_lo, out_len, f),
        || for_each_chunk(s_hi, mid..rows.end, o_hi, out_len, f),
    );
}

/// y = act(W ⋆ x + b) for `rows` samples. `weight` is PyTorch's `[c_out, c_in, kh, kw]`.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_forward(
    g: &ConvGeom,
    weight: &[f32],
    bias: &[f32],
    act: EpilogueAct,
    x: &[f32],
    y: &mut [f32],
    rows: usize,
    ws: &mut ConvWorkspace,
) {
    let (ckk, p, in_len, out_len) = (g.ckk(), g.positions(), g.in_len(), g.out_len());
    assert!(weight.len() == g.c_out * ckk && bias.len() == g.c_out);
    assert!(x.len() >= rows * in_len && y.len() >= rows * out_len);
    let chunks = ws.chunks(rows, g.flops());
    for_each_chunk(
        chunks,
        0..rows,
        &mut y[..rows * out_len],
        out_len,
        &|s, range, y| {
            s.cols.resize(ckk * p, 0.0);
            for (r, yr) in range.zip(y.chunks_exact_mut(out_len)) {
                im2col(g, &x[r * in_len..(r + 1) * in_len], &mut s.cols);
                // Y[c_out, P] = W[c_out, ckk] · cols[ckk, P]
                gemm(&MatMul::new(g.c_out, p, ckk), weight, &s.cols, None, yr);
                for (channel, &b) in yr.chunks_exact_mut(p).zip(bias) {
                    channel.iter_mut().for_each(|v| *v += b);
                    activation_forward_in_place(act, channel);
                }
            }
        },
    );
}

/// Gradients of a convolution for `rows` samples: overwrites `dweight` `[c_out, ckk]` and
/// `dbias`, and writes `dx` when given.
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
    dbias: &mut [f32],
    dx: Option<&mut [f32]>,
    ws: &mut ConvWorkspace,
) {
    let (ckk, p, in_len, out_len, c_out) =
        (g.ckk(), g.positions(), g.in_len(), g.out_len(), g.c_out);
    assert!(x.len() >= rows * in_len && y.len() >= rows * out_len && dy.len() >= rows * out_len);
    let want_dx = dx.is_some();
    let mut no_dx: [f32; 0] = [];
    let (dx, dx_len) = match dx {
        Some(dx) => (&mut dx[..rows * in_len], in_len),
        None => (&mut no_dx[..], 0),
    };
    let chunks = ws.chunks(rows, 2 * g.flops());
    for_each_chunk(chunks, 0..rows, dx, dx_len, &|s, range, dx| {
        s.cols.resize(ckk * p, 0.0);
        s.dz.resize(out_len, 0.0);
        s.dz_t.resize(p * c_out, 0.0);
        s.dweight_t.clear();
        s.dweight_t.resize(ckk * c_out, 0.0);
        s.dbias.clear();
        s.dbias.resize(c_out, 0.0);
        for (k, r) in range.enumerate() {
            let (xr, yr, dyr) = (
                &x[r * in_len..][..in_len],
                &y[r * out_len..][..out_len],
                &dy[r * out_len..][..out_len],
            );
            // dz = dy · act′(y)
            activation_backward(act, yr, dyr, &mut s.dz);
            for (db, channel) in s.dbias.iter_mut().zip(s.dz.chunks_exact(p)) {
                *db += channel.iter().sum::<f32>();
            }
            // ∂Wᵀ[ckk, c_out] += cols[ckk, P] · dzᵀ[P, c_out]
            im2col(g, xr, &mut s.cols);
            for (c, channel) in s.dz.chunks_exact(p).enumerate() {
                for (q, &v) in channel.iter().enumerate() {
                    s.dz_t[q * c_out + c] = v;
                }
            }
            let accumulate = MatMul {
                accumulate: true,
                ..MatMul::new(ckk, c_out, p)
            };
            gemm(&accumulate, &s.cols, &s.dz_t, None, &mut s.dweight_t);
            if want_dx {
                // dcols[ckk, P] = Wᵀ · dz (W read transposed through its strides), folded back.
                let dxr = &mut dx[k * in_len..(k + 1) * in_len];
                dxr.fill(0.0);
                gemm(
                    &MatMul {
                        rsa: 1,
                        csa: ckk,
                        ..MatMul::new(ckk, p, c_out)
                    },
                    weight,
                    &s.dz,
                    None,
                    &mut s.cols,
                );
                col2im_add(g, &s.cols, dxr);
            }
        }
    });
    dweight.fill(0.0);
    dbias.fill(0.0);
    for s in chunks.iter() {
        for (i, row) in s.dweight_t.chunks_exact(c_out).enumerate() {
            for (c, &v) in row.iter().enumerate() {
                dweight[c * ckk + i] += v;
            }
        }
        for (d, &v) in dbias.iter_mut().zip(&s.dbias) {
            *d += v;
        }
    }
}

/// Sizes of a pooling window over `[c, h, w]` (1-D pooling has `h = kh = sh = 1`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolGeom {
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub kh: usize,
    pub kw: usize,
    pub sh: usize,
    pub sw: usize,
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

/// [`max_pool_forward`] on a given path (2×2 windows of stride 2 have an AVX-512 kernel).
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
    #[cfg(target_arch = "x86_64")]
    if g.sw == 2 && arch.isa() == super::Isa::Avx512 {
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
                // SAFETY: the kernel reads row0[..2·ow] and row1[..2·ow], inside both rows of
                // w ≥ 2·ow values (asserted), and writes ow values to `out` and, when non-null,
                // to `at` (a slice of ow values); `arch` proves this CPU has AVX-512F.
                unsafe {
                    super::simd::avx512::max_pool_2x2_s2(
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
    let (in_len, out_len) = (g.in_len(), g.out_len());
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

/// y = the mean of each window.
pub fn avg_pool_forward(g: &PoolGeom, x: &[f32], y: &mut [f32], rows: usize) {
    let (in_len, out_len) = (g.in_len(), g.out_len());
    let inv = 1.0 / (g.kh * g.kw) as f32;
    for r in 0..rows {
        let (xr, yr) = (&x[r * in_len..][..in_len], &mut y[r * out_len..][..out_len]);
        for c in 0..g.c {
            for oy in 0..g.oh {
                for ox in 0..g.ow {
                    let mut sum = 0.0;
                    for i in 0..g.kh {
                        let base = (c * g.h + oy * g.sh + i) * g.w + ox * g.sw;
                        sum += xr[base..base + g.kw].iter().sum::<f32>();
                    }
                    yr[(c * g.oh + oy) * g.ow + ox] = sum * inv;
                }
            }
        }
    }
}

/// dx = dy spread evenly over each window.
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
                for ox in 0..g.ow {
                    let v = dyr[(c * g.oh + oy) * g.ow + ox] * inv;
                    for i in 0..g.kh {
                        let base = (c * g.h + oy * g.sh + i) * g.w + ox * g.sw;
                        dxr[base..base + g.kw].iter_mut().for_each(|d| *d += v);
                    }
                }
            }
        }
    }
}
