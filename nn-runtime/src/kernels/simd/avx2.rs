//! The AVX2 + FMA path's primitives: 8 lanes, masked tails as integer lane masks
//! (`__m256i`), and 16 registers, which hold 4×2-vector GEMM tiles (8 accumulators). Every
//! kernel family is written over these in its own file and instantiated here by
//! `simd_kernels!` (see `simd/mod.rs`).

use core::arch::x86_64::*;

type V = __m256;
type M = __m256i;
pub const LANES: usize = 8;
const MR: usize = 4;
const MAX_NV: usize = 2;
const GEMV_NV: usize = 8;
/// No wider panel for a vector-matrix product: 16 registers hold 8 accumulators and their
/// operands.
const GEMV_WIDE: usize = GEMV_NV;
/// Rows of B per k block (a 2-vector panel: 20 KiB).
const KC: usize = 320;
/// A·Bᵀ tiles: 2×3 outputs, 6 accumulators and 3 + 1 operand vectors (16 registers).
const NT_MR: usize = 2;
const NT_NR: usize = 3;

use super::tiles::{taps_4x2 as dispatch_taps, tile_4x2 as dispatch_tile};

#[inline]
#[target_feature(enable = "avx2,fma")]
fn mask(n: usize) -> M {
    _mm256_cmpgt_epi32(
        _mm256_set1_epi32(n.min(LANES) as i32),
        _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
    )
}
#[inline]
#[target_feature(enable = "avx2,fma")]
fn splat(x: f32) -> V {
    _mm256_set1_ps(x)
}
/// # Safety
/// `p` must be valid for reads of `LANES` values (any alignment); the CPU must support
/// `avx2` and `fma`.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn load(p: *const f32) -> V {
    // SAFETY: the caller vouches for `LANES` values at `p`; the load is unaligned.
    unsafe { _mm256_loadu_ps(p) }
}
/// The lanes `m` selects, zero elsewhere.
///
/// # Safety
/// `p + l` must be valid for reads for every lane `l` that `m` selects (the others are
/// not accessed); the CPU must support `avx2` and `fma`.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn load_m(p: *const f32, m: M) -> V {
    // SAFETY: the caller vouches for the selected lanes; a masked load does not touch
    // (or fault on) the others.
    unsafe { _mm256_maskload_ps(p, m) }
}
/// The lanes `m` selects, `fill` elsewhere.
///
/// # Safety
/// As for `load_m`.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn load_m_or(p: *const f32, m: M, fill: V) -> V {
    // SAFETY: as in `load_m`.
    unsafe { _mm256_blendv_ps(fill, _mm256_maskload_ps(p, m), _mm256_castsi256_ps(m)) }
}
/// # Safety
/// `p` must be valid for writes of `LANES` values (any alignment); the CPU must support
/// `avx2` and `fma`.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn store(p: *mut f32, v: V) {
    // SAFETY: the caller vouches for `LANES` values at `p`; the store is unaligned.
    unsafe { _mm256_storeu_ps(p, v) }
}
/// Writes the lanes `m` selects.
///
/// # Safety
/// `p + l` must be valid for writes for every lane `l` that `m` selects (the others are
/// not accessed); the CPU must support `avx2` and `fma`.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn store_m(p: *mut f32, v: V, m: M) {
    // SAFETY: the caller vouches for the selected lanes; a masked store does not touch
    // (or fault on) the others.
    unsafe { _mm256_maskstore_ps(p, m, v) }
}
#[inline]
#[target_feature(enable = "avx2,fma")]
fn zero_outside(v: V, m: M) -> V {
    _mm256_and_ps(v, _mm256_castsi256_ps(m))
}
#[inline]
#[target_feature(enable = "avx2,fma")]
fn add(a: V, b: V) -> V {
    _mm256_add_ps(a, b)
}
#[inline]
#[target_feature(enable = "avx2,fma")]
fn sub(a: V, b: V) -> V {
    _mm256_sub_ps(a, b)
}
#[inline]
#[target_feature(enable = "avx2,fma")]
fn mul(a: V, b: V) -> V {
    _mm256_mul_ps(a, b)
}
#[inline]
#[target_feature(enable = "avx2,fma")]
fn div(a: V, b: V) -> V {
    _mm256_div_ps(a, b)
}
/// a·b + c, one rounding.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn fma(a: V, b: V, c: V) -> V {
    _mm256_fmadd_ps(a, b, c)
}
#[inline]
#[target_feature(enable = "avx2,fma")]
fn sqrt(a: V) -> V {
    _mm256_sqrt_ps(a)
}
#[inline]
#[target_feature(enable = "avx2,fma")]
fn max(a: V, b: V) -> V {
    _mm256_max_ps(a, b)
}
#[inline]
#[target_feature(enable = "avx2,fma")]
fn min(a: V, b: V) -> V {
    _mm256_min_ps(a, b)
}
/// Round to nearest integer.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn round(x: V) -> V {
    _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(x)
}
/// 2^n for integer-valued n in [−126, 127].
#[inline]
#[target_feature(enable = "avx2,fma")]
fn pow2i(n: V) -> V {
    let bits = _mm256_slli_epi32::<23>(_mm256_add_epi32(
        _mm256_cvtps_epi32(n),
        _mm256_set1_epi32(127),
    ));
    _mm256_castsi256_ps(bits)
}
#[inline]
#[target_feature(enable = "avx2,fma")]
fn abs(x: V) -> V {
    _mm256_and_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32(i32::MAX)))
}
/// |magnitude| with the sign of `sign`.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn copy_sign(magnitude: V, sign: V) -> V {
    let s = _mm256_and_ps(sign, _mm256_castsi256_ps(_mm256_set1_epi32(i32::MIN)));
    _mm256_or_ps(abs(magnitude), s)
}
/// if a < b { x } else { y }, lane-wise.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn select_lt(a: V, b: V, x: V, y: V) -> V {
    _mm256_blendv_ps(y, x, _mm256_cmp_ps::<_CMP_LT_OQ>(a, b))
}
#[inline]
#[target_feature(enable = "avx2,fma")]
fn reduce_add(v: V) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps::<1>(s, s)))
}
#[inline]
#[target_feature(enable = "avx2,fma")]
fn reduce_max(v: V) -> f32 {
    let s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    _mm_cvtss_f32(_mm_max_ss(s, _mm_shuffle_ps::<1>(s, s)))
}

simd_kernels!("avx2,fma");
#[cfg(test)]
primitive_tests!(Avx2, "avx2,fma");
