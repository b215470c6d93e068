//! The unfolded input of im2col + GEMM: each (input channel, kernel row, kernel column)
//! becomes a row of every output position's input value, so that a convolution is one
//! product of the weight with it; and its adjoint, which folds a gradient back onto the
//! input.

use super::geom::{covered, ConvGeom};
use core::ops::Range;

/// Whether the unfolded input is the input itself: a 1×1 kernel of stride 1 with no
/// padding reads every input position once, in order.
pub(super) const fn unfold_is_identity(g: &ConvGeom) -> bool {
    g.kh == 1
        && g.kw == 1
        && g.sh == 1
        && g.sw == 1
        && g.pt == 0
        && g.pl == 0
        && g.oh == g.h
        && g.ow == g.w
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
