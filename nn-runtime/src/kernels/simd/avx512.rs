//! The AVX-512F path's primitives: 16 lanes, masked tails in `__mmask16`, and 32 registers,
//! which hold 4×4-vector GEMM tiles (16 accumulators). Every kernel family is written over
//! these in its own file and instantiated here by `simd_kernels!` (see `simd/mod.rs`); the
//! 2×2 max pooling kernels in `avx512/max_pool.rs` exist on this path only.

use core::arch::x86_64::*;

mod max_pool;

pub use max_pool::{max_pool_2x2_s2, max_pool_2x2_s2_backward};

type V = __m512;
type M = __mmask16;
pub const LANES: usize = 16;
const MR: usize = 4;
const MAX_NV: usize = 4;
const GEMV_NV: usize = 8;
/// A vector-matrix product's panel where B is at least this wide: 16 accumulators, each
/// row of B read as 1 KiB runs (which the prefetchers stream at the cache's bandwidth;
/// 8-vector panels ran at three quarters of it).
const GEMV_WIDE: usize = 16;
/// Rows of B per k block: 160 rows of a 4-vector panel are 40 KiB.
const KC: usize = 160;
/// A·Bᵀ tiles: 4×3 outputs, 12 accumulators and 3 + 1 operand vectors (4×4 tiles
/// were slower: LLVM kept one of their 16 accumulators on the stack).
const NT_MR: usize = 4;
const NT_NR: usize = 3;

/// The direct convolution's tiles: up to `TAPS_ROWS` rows by up to `MAX_NV` vectors.
macro_rules! dispatch_taps {
    ($go:ident, $rows:expr, $nv:expr) => {
        match ($rows, $nv) {
            (1, 1) => $go!(1, 1),
            (1, 2) => $go!(1, 2),
            (1, 3) => $go!(1, 3),
            (1, _) => $go!(1, 4),
            (2, 1) => $go!(2, 1),
            (2, 2) => $go!(2, 2),
            (2, 3) => $go!(2, 3),
            (2, _) => $go!(2, 4),
            (3, 1) => $go!(3, 1),
            (3, 2) => $go!(3, 2),
            (3, 3) => $go!(3, 3),
            (3, _) => $go!(3, 4),
            (_, 1) => $go!(4, 1),
            (_, 2) => $go!(4, 2),
            (_, 3) => $go!(4, 3),
            (_, _) => $go!(4, 4),
        }
    };
}

macro_rules! dispatch_tile {
    ($go:ident, $rows:expr, $nv:expr) => {
        match ($rows, $nv) {
            (1, 1) => $go!(1, 1),
            (1, 2) => $go!(1, 2),
            (1, 3) => $go!(1, 3),
            (1, 4) => $go!(1, 4),
            (1, 5) => $go!(1, 5),
            (1, 6) => $go!(1, 6),
            (1, 7) => $go!(1, 7),
            (1, 16) => $go!(1, 16),
            (1, _) => $go!(1, 8),
            (2, 1) => $go!(2, 1),
            (2, 2) => $go!(2, 2),
            (2, 3) => $go!(2, 3),
            (2, _) => $go!(2, 4),
            (3, 1) => $go!(3, 1),
            (3, 2) => $go!(3, 2),
            (3, 3) => $go!(3, 3),
            (3, _) => $go!(3, 4),
            (_, 1) => $go!(4, 1),
            (_, 2) => $go!(4, 2),
            (_, 3) => $go!(4, 3),
            (_, _) => $go!(4, 4),
        }
    };
}

#[inline]
#[target_feature(enable = "avx512f")]
fn mask(n: usize) -> M {
    if n >= LANES {
        0xffff
    } else {
        ((1u32 << n) - 1) as M
    }
}
#[inline]
#[target_feature(enable = "avx512f")]
fn splat(x: f32) -> V {
    _mm512_set1_ps(x)
}
/// # Safety
/// `p` must be valid for reads of `LANES` values (any alignment); the CPU must support
/// `avx512f`.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn load(p: *const f32) -> V {
    // SAFETY: the caller vouches for `LANES` values at `p`; the load is unaligned.
    unsafe { _mm512_loadu_ps(p) }
}
/// The lanes `m` selects, zero elsewhere.
///
/// # Safety
/// `p + l` must be valid for reads for every lane `l` that `m` selects (the others are
/// not accessed); the CPU must support `avx512f`.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn load_m(p: *const f32, m: M) -> V {
    // SAFETY: the caller vouches for the selected lanes; a masked load does not touch
    // (or fault on) the others.
    unsafe { _mm512_maskz_loadu_ps(m, p) }
}
/// The lanes `m` selects, `fill` elsewhere.
///
/// # Safety
/// As for `load_m`.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn load_m_or(p: *const f32, m: M, fill: V) -> V {
    // SAFETY: as in `load_m`.
    unsafe { _mm512_mask_loadu_ps(fill, m, p) }
}
/// # Safety
/// `p` must be valid for writes of `LANES` values (any alignment); the CPU must support
/// `avx512f`.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn store(p: *mut f32, v: V) {
    // SAFETY: the caller vouches for `LANES` values at `p`; the store is unaligned.
    unsafe { _mm512_storeu_ps(p, v) }
}
/// Writes the lanes `m` selects.
///
/// # Safety
/// `p + l` must be valid for writes for every lane `l` that `m` selects (the others are
/// not accessed); the CPU must support `avx512f`.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn store_m(p: *mut f32, v: V, m: M) {
    // SAFETY: the caller vouches for the selected lanes; a masked store does not touch
    // (or fault on) the others.
    unsafe { _mm512_mask_storeu_ps(p, m, v) }
}
#[inline]
#[target_feature(enable = "avx512f")]
fn zero_outside(v: V, m: M) -> V {
    _mm512_maskz_mov_ps(m, v)
}
#[inline]
#[target_feature(enable = "avx512f")]
fn add(a: V, b: V) -> V {
    _mm512_add_ps(a, b)
}
#[inline]
#[target_feature(enable = "avx512f")]
fn sub(a: V, b: V) -> V {
    _mm512_sub_ps(a, b)
}
#[inline]
#[target_feature(enable = "avx512f")]
fn mul(a: V, b: V) -> V {
    _mm512_mul_ps(a, b)
}
#[inline]
#[target_feature(enable = "avx512f")]
fn div(a: V, b: V) -> V {
    _mm512_div_ps(a, b)
}
/// a·b + c, one rounding.
#[inline]
#[target_feature(enable = "avx512f")]
fn fma(a: V, b: V, c: V) -> V {
    _mm512_fmadd_ps(a, b, c)
}
#[inline]
#[target_feature(enable = "avx512f")]
fn sqrt(a: V) -> V {
    _mm512_sqrt_ps(a)
}
#[inline]
#[target_feature(enable = "avx512f")]
fn max(a: V, b: V) -> V {
    _mm512_max_ps(a, b)
}
#[inline]
#[target_feature(enable = "avx512f")]
fn min(a: V, b: V) -> V {
    _mm512_min_ps(a, b)
}
/// Round to nearest integer.
#[inline]
#[target_feature(enable = "avx512f")]
fn round(x: V) -> V {
    _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(x)
}
/// 2^n for integer-valued n in [−126, 127].
#[inline]
#[target_feature(enable = "avx512f")]
fn pow2i(n: V) -> V {
    let bits = _mm512_slli_epi32::<23>(_mm512_add_epi32(
        _mm512_cvtps_epi32(n),
        _mm512_set1_epi32(127),
    ));
    _mm512_castsi512_ps(bits)
}
#[inline]
#[target_feature(enable = "avx512f")]
fn abs(x: V) -> V {
    _mm512_abs_ps(x)
}
/// |magnitude| with the sign of `sign`.
#[inline]
#[target_feature(enable = "avx512f")]
fn copy_sign(magnitude: V, sign: V) -> V {
    let s = _mm512_and_si512(_mm512_castps_si512(sign), _mm512_set1_epi32(i32::MIN));
    _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(abs(magnitude)), s))
}
/// if a < b { x } else { y }, lane-wise.
#[inline]
#[target_feature(enable = "avx512f")]
fn select_lt(a: V, b: V, x: V, y: V) -> V {
    _mm512_mask_blend_ps(_mm512_cmp_ps_mask::<_CMP_LT_OQ>(a, b), y, x)
}
#[inline]
#[target_feature(enable = "avx512f")]
fn reduce_add(v: V) -> f32 {
    _mm512_reduce_add_ps(v)
}
#[inline]
#[target_feature(enable = "avx512f")]
fn reduce_max(v: V) -> f32 {
    _mm512_reduce_max_ps(v)
}

simd_kernels!("avx512f");
#[cfg(test)]
primitive_tests!(Avx512, "avx512f");
