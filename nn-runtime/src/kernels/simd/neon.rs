//! The AArch64 NEON path's primitives: 4 lanes (`float32x4_t`), tails masked by a lane
//! count, and 32 registers, which hold 8×3-vector GEMM tiles (24 accumulators). Every
//! kernel family is written over these in its own file and instantiated here by
//! `simd_kernels!` (see `simd/mod.rs`).
//!
//! # Masked tails
//!
//! NEON has no masked loads or stores, so a mask here is the number of lanes it selects
//! (`M`), and a masked load or store of n < `LANES` values moves those n values one lane at
//! a time (`LD1`/`ST1` of one lane), never touching the memory past them; a whole vector
//! takes the ordinary load or store. The families ask for masked accesses in their loops
//! as well as in their tails (`mask(LANES)` on all but a panel's last vector), so the
//! whole-vector case is tested first.
//!
//! # Tile shapes
//!
//! Not measured on hardware (the path is tested under emulation): chosen from the register
//! file and the L1 size of current cores (32–64 KiB). A GEMM tile of 8 rows by 3 vectors
//! keeps 24 accumulators, 3 vectors of B and one broadcast of A in 28 of the 32 registers,
//! and reads 11 vectors' worth per 24 FMAs (AVX2's 4×2 tile reads 6 per 8); `KC` keeps the
//! B panel of a k block (256 rows of 48 bytes, 12 KiB) and the 8 rows of A it meets
//! (8 KiB) in a 32 KiB L1. One-row products use 8-vector panels: 8 independent
//! accumulators cover the FMA latency (4 cycles) on two pipes. The A·Bᵀ tiles and the
//! direct convolution's take the AVX-512 path's shapes (4×3 and 4 rows by up to 3
//! vectors), whose accumulators also fit 32 registers.
//!
//! # Semantics beside x86
//!
//! `max` and `min` are `FMAX`/`FMIN`: NaN in either operand gives NaN (x86's return their
//! second operand), so every place the families rely on NaN passing through still gets
//! it. `round` is `FRINTN`, to nearest with ties to even, as x86's `_MM_FROUND_TO_NEAREST_INT`.
//! `fma` is fused (`FMLA`), as on x86.

use core::arch::aarch64::*;

type V = float32x4_t;
/// How many lanes, from the first, a masked access touches (at most `LANES`).
#[derive(Clone, Copy)]
struct M(usize);
pub const LANES: usize = 4;
const MR: usize = 8;
const MAX_NV: usize = 3;
const GEMV_NV: usize = 8;
/// No wider panel for a vector-matrix product: 8 accumulators already cover the FMA
/// latency (AVX-512's wider panel is there for the length of its runs of B, 1 KiB, which
/// would take 64 accumulators of 4 lanes).
const GEMV_WIDE: usize = GEMV_NV;
/// Rows of B per k block (a 3-vector panel: 12 KiB).
const KC: usize = 256;
/// A·Bᵀ tiles: 4×3 outputs, 12 accumulators and 3 + 1 operand vectors.
const NT_MR: usize = 4;
const NT_NR: usize = 3;

/// The direct convolution's tiles: up to `TAPS_ROWS` rows by up to `MAX_NV` vectors.
macro_rules! dispatch_taps {
    ($go:ident, $rows:expr, $nv:expr) => {
        match ($rows, $nv) {
            (1, 1) => $go!(1, 1),
            (1, 2) => $go!(1, 2),
            (1, _) => $go!(1, 3),
            (2, 1) => $go!(2, 1),
            (2, 2) => $go!(2, 2),
            (2, _) => $go!(2, 3),
            (3, 1) => $go!(3, 1),
            (3, 2) => $go!(3, 2),
            (3, _) => $go!(3, 3),
            (_, 1) => $go!(4, 1),
            (_, 2) => $go!(4, 2),
            (_, _) => $go!(4, 3),
        }
    };
}

/// Every remainder of rows (1..=MR) by every vector count (1..=MAX_NV), and the one-row
/// panels (up to GEMV_NV).
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
            (1, _) => $go!(1, 8),
            (2, 1) => $go!(2, 1),
            (2, 2) => $go!(2, 2),
            (2, _) => $go!(2, 3),
            (3, 1) => $go!(3, 1),
            (3, 2) => $go!(3, 2),
            (3, _) => $go!(3, 3),
            (4, 1) => $go!(4, 1),
            (4, 2) => $go!(4, 2),
            (4, _) => $go!(4, 3),
            (5, 1) => $go!(5, 1),
            (5, 2) => $go!(5, 2),
            (5, _) => $go!(5, 3),
            (6, 1) => $go!(6, 1),
            (6, 2) => $go!(6, 2),
            (6, _) => $go!(6, 3),
            (7, 1) => $go!(7, 1),
            (7, 2) => $go!(7, 2),
            (7, _) => $go!(7, 3),
            (_, 1) => $go!(8, 1),
            (_, 2) => $go!(8, 2),
            (_, _) => $go!(8, 3),
        }
    };
}

#[inline]
#[target_feature(enable = "neon")]
fn mask(n: usize) -> M {
    M(n.min(LANES))
}
#[inline]
#[target_feature(enable = "neon")]
fn splat(x: f32) -> V {
    vdupq_n_f32(x)
}
/// # Safety
/// `p` must be valid for reads of `LANES` values and aligned for `f32` (the families only
/// pass pointers into `f32` data; no 16-byte alignment is needed); the CPU must support
/// `neon`.
#[inline]
#[target_feature(enable = "neon")]
unsafe fn load(p: *const f32) -> V {
    // SAFETY: the caller vouches for `LANES` values at `p`.
    unsafe { vld1q_f32(p) }
}
/// The lanes `m` selects, zero elsewhere.
///
/// # Safety
/// `p + l` must be valid for reads and aligned for `f32` for every lane `l` that `m`
/// selects (the others are not accessed); the CPU must support `neon`.
#[inline]
#[target_feature(enable = "neon")]
unsafe fn load_m(p: *const f32, m: M) -> V {
    // SAFETY: as our caller vouches.
    unsafe { load_m_or(p, m, splat(0.0)) }
}
/// The lanes `m` selects, `fill` elsewhere.
///
/// # Safety
/// As for `load_m`.
#[inline]
#[target_feature(enable = "neon")]
unsafe fn load_m_or(p: *const f32, m: M, fill: V) -> V {
    // SAFETY: each arm reads exactly the first m.0 values at `p` (the whole vector when
    // m.0 = LANES), the lanes our caller vouches for; `mask` never makes m.0 > LANES.
    unsafe {
        match m.0 {
            LANES => vld1q_f32(p),
            0 => fill,
            1 => vsetq_lane_f32::<0>(*p, fill),
            2 => vsetq_lane_f32::<1>(*p.add(1), vsetq_lane_f32::<0>(*p, fill)),
            _ => vsetq_lane_f32::<2>(
                *p.add(2),
                vsetq_lane_f32::<1>(*p.add(1), vsetq_lane_f32::<0>(*p, fill)),
            ),
        }
    }
}
/// # Safety
/// `p` must be valid for writes of `LANES` values and aligned for `f32`; the CPU must
/// support `neon`.
#[inline]
#[target_feature(enable = "neon")]
unsafe fn store(p: *mut f32, v: V) {
    // SAFETY: the caller vouches for `LANES` values at `p`.
    unsafe { vst1q_f32(p, v) }
}
/// Writes the lanes `m` selects.
///
/// # Safety
/// `p + l` must be valid for writes and aligned for `f32` for every lane `l` that `m`
/// selects (the others are not accessed); the CPU must support `neon`.
#[inline]
#[target_feature(enable = "neon")]
unsafe fn store_m(p: *mut f32, v: V, m: M) {
    // SAFETY: each arm writes exactly the first m.0 values at `p` (the whole vector when
    // m.0 = LANES), the lanes our caller vouches for; `mask` never makes m.0 > LANES.
    unsafe {
        match m.0 {
            LANES => vst1q_f32(p, v),
            0 => {}
            n => {
                *p = vgetq_lane_f32::<0>(v);
                if n > 1 {
                    *p.add(1) = vgetq_lane_f32::<1>(v);
                }
                if n > 2 {
                    *p.add(2) = vgetq_lane_f32::<2>(v);
                }
            }
        }
    }
}
#[inline]
#[target_feature(enable = "neon")]
fn zero_outside(v: V, m: M) -> V {
    const INDEX: [u32; LANES] = [0, 1, 2, 3];
    // SAFETY: reads the `LANES` values of `INDEX`.
    let index = unsafe { vld1q_u32(INDEX.as_ptr()) };
    // m.0 ≤ LANES, so the cast is exact.
    let keep = vcltq_u32(index, vdupq_n_u32(m.0 as u32));
    vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(v), keep))
}
#[inline]
#[target_feature(enable = "neon")]
fn add(a: V, b: V) -> V {
    vaddq_f32(a, b)
}
#[inline]
#[target_feature(enable = "neon")]
fn sub(a: V, b: V) -> V {
    vsubq_f32(a, b)
}
#[inline]
#[target_feature(enable = "neon")]
fn mul(a: V, b: V) -> V {
    vmulq_f32(a, b)
}
#[inline]
#[target_feature(enable = "neon")]
fn div(a: V, b: V) -> V {
    vdivq_f32(a, b)
}
/// a·b + c, one rounding.
#[inline]
#[target_feature(enable = "neon")]
fn fma(a: V, b: V, c: V) -> V {
    vfmaq_f32(c, a, b)
}
#[inline]
#[target_feature(enable = "neon")]
fn sqrt(a: V) -> V {
    vsqrtq_f32(a)
}
/// NaN if either operand is NaN (see the module docs).
#[inline]
#[target_feature(enable = "neon")]
fn max(a: V, b: V) -> V {
    vmaxq_f32(a, b)
}
/// NaN if either operand is NaN (see the module docs).
#[inline]
#[target_feature(enable = "neon")]
fn min(a: V, b: V) -> V {
    vminq_f32(a, b)
}
/// Round to nearest integer, ties to even.
#[inline]
#[target_feature(enable = "neon")]
fn round(x: V) -> V {
    vrndnq_f32(x)
}
/// 2^n for integer-valued n in [−126, 127].
#[inline]
#[target_feature(enable = "neon")]
fn pow2i(n: V) -> V {
    // n is integer-valued, so truncating converts it exactly.
    let bits = vshlq_n_s32::<23>(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)));
    vreinterpretq_f32_s32(bits)
}
#[inline]
#[target_feature(enable = "neon")]
fn abs(x: V) -> V {
    vabsq_f32(x)
}
/// |magnitude| with the sign of `sign`.
#[inline]
#[target_feature(enable = "neon")]
fn copy_sign(magnitude: V, sign: V) -> V {
    // Bit select: the sign bit from `sign`, every other bit from `magnitude`.
    vbslq_f32(vdupq_n_u32(0x8000_0000), sign, magnitude)
}
/// if a < b { x } else { y }, lane-wise.
#[inline]
#[target_feature(enable = "neon")]
fn select_lt(a: V, b: V, x: V, y: V) -> V {
    vbslq_f32(vcltq_f32(a, b), x, y)
}
#[inline]
#[target_feature(enable = "neon")]
fn reduce_add(v: V) -> f32 {
    vaddvq_f32(v)
}
#[inline]
#[target_feature(enable = "neon")]
fn reduce_max(v: V) -> f32 {
    vmaxvq_f32(v)
}

simd_kernels!("neon");
#[cfg(test)]
primitive_tests!(Neon, "neon");
