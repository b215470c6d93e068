//! 2×2 max pooling of stride 2, forward and backward: kernels the AVX-512F path alone has.
//! Besides the shared primitives they use AVX-512 instructions directly (two-source
//! permutes, blends under 32-bit lane masks); on the other paths the safe wrappers run the
//! scalar loops instead.

use super::{load_m, mask, store_m, LANES, M, V};
use core::arch::x86_64::*;

/// Where `b` beats `a` in a max: larger, or NaN while `a` is not (NaN propagates; the
/// earlier operand `a` wins ties).
#[inline]
#[target_feature(enable = "avx512f")]
fn beats(b: V, a: V) -> M {
    _mm512_cmp_ps_mask::<_CMP_GT_OQ>(b, a)
        | (_mm512_cmp_ps_mask::<_CMP_UNORD_Q>(b, b) & _mm512_cmp_ps_mask::<_CMP_ORD_Q>(a, a))
}

/// 2×2 max pooling with stride 2 of one output row: `out[ox]` = the maximum of
/// `row0[2ox..2ox+2]` and `row1[2ox..2ox+2]`, `argmax[ox]` (when non-null) its index,
/// counting `row0[0]` as `first` and `row1[0]` as `first + w`.
///
/// # Safety
/// `row0` and `row1` must be valid for reads of `2·ow` values, `out` for writes of `ow`
/// values, and `argmax` null or valid for writes of `ow` values; the CPU must support
/// `avx512f`.
#[target_feature(enable = "avx512f")]
pub unsafe fn max_pool_2x2_s2(
    row0: *const f32,
    row1: *const f32,
    ow: usize,
    first: u32,
    w: u32,
    out: *mut f32,
    argmax: *mut u32,
) {
    let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    let odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    let mut ox = 0;
    while ox < ow {
        let n = (ow - ox).min(LANES);
        let (m_lo, m_hi) = (
            mask((2 * n).min(LANES)),
            mask((2 * n).saturating_sub(LANES)),
        );
        // row[2ox..2ox + 2n) as two masked halves. When n ≤ LANES / 2 the upper half's
        // mask is empty and its address may lie past the row, so it is computed with
        // `wrapping_add` (no claim to be in bounds).
        let pairs = |row: *const f32| {
            // SAFETY: 2ox < 2·ow keeps `row + 2ox` in bounds, and the lanes the masks
            // select are row[2ox..2ox + 2n), within the 2·ow values the caller vouches
            // for (ox + n ≤ ow).
            let (lo, hi) = unsafe {
                (
                    load_m(row.add(2 * ox), m_lo),
                    load_m(row.wrapping_add(2 * ox + LANES), m_hi),
                )
            };
            (
                _mm512_permutex2var_ps(lo, even, hi),
                _mm512_permutex2var_ps(lo, odd, hi),
            )
        };
        let ((e0, o0), (e1, o1)) = (pairs(row0), pairs(row1));
        // Index of row0[2ox + 2·lane].
        let i0 = _mm512_add_epi32(_mm512_set1_epi32((first as usize + 2 * ox) as i32), even);
        let one = _mm512_set1_epi32(1);
        let t0 = beats(o0, e0);
        let (v0, x0) = (
            _mm512_mask_blend_ps(t0, e0, o0),
            _mm512_mask_blend_epi32(t0, i0, _mm512_add_epi32(i0, one)),
        );
        let t1 = beats(o1, e1);
        let i1 = _mm512_add_epi32(i0, _mm512_set1_epi32(w as i32));
        let (v1, x1) = (
            _mm512_mask_blend_ps(t1, e1, o1),
            _mm512_mask_blend_epi32(t1, i1, _mm512_add_epi32(i1, one)),
        );
        let t = beats(v1, v0);
        let m = mask(n);
        // SAFETY: the lanes of `m` are out[ox..ox + n) and argmax[ox..ox + n), within the
        // `ow` values the caller vouches for; `argmax` is written only when non-null.
        unsafe {
            store_m(out.add(ox), _mm512_mask_blend_ps(t, v0, v1), m);
            if !argmax.is_null() {
                _mm512_mask_storeu_epi32(
                    argmax.add(ox) as *mut i32,
                    m,
                    _mm512_mask_blend_epi32(t, x0, x1),
                );
            }
        }
        ox += LANES;
    }
}

/// The backward pass of [`max_pool_2x2_s2`] for one output row: row0[2ox..2ox + 2] and
/// row1[2ox..2ox + 2] get `dy[ox]` at the position `argmax[ox]` names (counting
/// `row0[0]` as `first` and `row1[0]` as `first + w`) and zero at the other three.
///
/// # Safety
/// `dy` and `argmax` must be valid for reads of `ow` values, `row0` and `row1` for writes
/// of `2·ow` values; the CPU must support `avx512f`.
#[target_feature(enable = "avx512f")]
pub unsafe fn max_pool_2x2_s2_backward(
    dy: *const f32,
    argmax: *const u32,
    ow: usize,
    first: u32,
    w: u32,
    row0: *mut f32,
    row1: *mut f32,
) {
    let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    // Interleaving two vectors of 16 (values at even, values at odd positions): lanes
    // 0..16 and 16..32 of the pairs.
    let lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    let hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    let one = _mm512_set1_epi32(1);
    let mut ox = 0;
    while ox < ow {
        let n = (ow - ox).min(LANES);
        let m = mask(n);
        // SAFETY: the lanes of `m` are dy[ox..ox + n) and argmax[ox..ox + n), within the
        // `ow` values the caller vouches for.
        let (d, at) = unsafe {
            (
                load_m(dy.add(ox), m),
                _mm512_maskz_loadu_epi32(m, argmax.add(ox) as *const i32),
            )
        };
        // Index of row0[2ox + 2·lane].
        let i0 = _mm512_add_epi32(_mm512_set1_epi32((first as usize + 2 * ox) as i32), even);
        let i1 = _mm512_add_epi32(i0, _mm512_set1_epi32(w as i32));
        let pick = |index| _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(at, index), d);
        let (e0, o0) = (pick(i0), pick(_mm512_add_epi32(i0, one)));
        let (e1, o1) = (pick(i1), pick(_mm512_add_epi32(i1, one)));
        let (m_lo, m_hi) = (
            mask((2 * n).min(LANES)),
            mask((2 * n).saturating_sub(LANES)),
        );
        // SAFETY: the lanes the masks select are row[2ox..2ox + 2n), within the 2·ow
        // values the caller vouches for (ox + n ≤ ow); when n ≤ LANES / 2 the upper
        // half's mask is empty and its address is computed with `wrapping_add` (no
        // claim to be in bounds, nothing written).
        unsafe {
            for (row, e, o) in [(row0, e0, o0), (row1, e1, o1)] {
                store_m(row.add(2 * ox), _mm512_permutex2var_ps(e, lo, o), m_lo);
                store_m(
                    row.wrapping_add(2 * ox + LANES),
                    _mm512_permutex2var_ps(e, hi, o),
                    m_hi,
                );
            }
        }
        ox += LANES;
    }
}
