//! Max and average pooling over flat `[c, h, w]` samples, forward and backward, with
//! PyTorch's semantics (NaN propagates through max pooling; average pooling counts padding
//! as zeros). Unpadded 2×2 windows of stride 2 have AVX-512 kernels.

use super::geom::{covered, PoolGeom};
use crate::kernels::isa::Arch;
use crate::kernels::simd::dispatch;

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
    max_pool_forward_with(Arch::current(), g, x, y, argmax, rows)
}

/// [`max_pool_forward`] on a given path (unpadded 2×2 windows of stride 2 have an AVX-512
/// kernel).
pub fn max_pool_forward_with(
    arch: Arch,
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
                                    *m = core::hint::select_unpredictable(take, v, *m);
                                    *at = core::hint::select_unpredictable(
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
                                *m = core::hint::select_unpredictable(take, v, *m);
                                *at = core::hint::select_unpredictable(
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
        core::hint::select_unpredictable(take_b, b.0, a.0),
        core::hint::select_unpredictable(take_b, b.1, a.1),
    )
}

/// The common 2×2 window of one sample, each window reduced in registers (a tree of three
/// picks; earlier positions win ties, as in PyTorch).
fn max_pool_2x2(
    arch: Arch,
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
                            .map_or(core::ptr::null_mut(), |a| a[o..o + g.ow].as_mut_ptr());
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
    max_pool_backward_with(Arch::current(), g, dy, argmax, dx, rows)
}

/// [`max_pool_backward`] on a given path. Windows that tile the input without overlap or
/// padding (stride = window) write each input position once, the gradient where it was the
/// arg-max and zero elsewhere, instead of clearing dx and scattering into it; 2×2 windows
/// have an AVX-512 kernel.
pub fn max_pool_backward_with(
    arch: Arch,
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
