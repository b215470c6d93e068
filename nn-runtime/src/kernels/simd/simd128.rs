//! The WebAssembly simd128 path's primitives: 4 lanes (`v128` as `f32x4`), tails masked by
//! a lane count, and tiles sized for 16 registers. Every kernel family is written over
//! these in its own file and instantiated here by `simd_kernels!` (see `simd/mod.rs`).
//!
//! WebAssembly has no run-time feature detection (a module that uses an instruction its
//! engine lacks fails to load), so this path exists exactly when the crate is compiled with
//! `-C target-feature=+simd128`, and `Isa::Simd128` is then always available.
//!
//! # Masked tails
//!
//! simd128 has no masked loads or stores, so a mask here is the number of lanes it selects
//! (`M`), and a masked load or store of n < `LANES` values moves those n values one lane at
//! a time, never touching the memory past them; a whole vector takes the ordinary load or
//! store (tested first: the families also ask for masked accesses of whole vectors).
//!
//! # Tile shapes
//!
//! The engine maps the module's vectors onto its host's registers: 16 on x86-64, the most
//! common host, so the tiles are AVX2's (4×2-vector GEMM tiles, 8 accumulators; 2×3 A·Bᵀ
//! tiles), which do not spill there. Not measured.
//!
//! # Semantics beside x86
//!
//! - `fma` is a multiply then an add, two roundings: simd128 has no fused multiply-add
//!   (relaxed-simd's `f32x4_relaxed_madd` may or may not fuse, engine by engine, so results
//!   would depend on the engine). The kernels' error bounds hold either way; the tests check
//!   this path against the same f64 references.
//! - `max` and `min` are `f32x4.pmax`/`f32x4.pmin` with their operands swapped, which is
//!   exactly x86's `maxps`/`minps`: the second operand when either is NaN or both are zeros.
//! - `round` is `f32x4.nearest`, ties to even, as x86's `_MM_FROUND_TO_NEAREST_INT`.

use core::arch::wasm32::*;

type V = v128;
/// How many lanes, from the first, a masked access touches (at most `LANES`).
#[derive(Clone, Copy)]
struct M(usize);
pub const LANES: usize = 4;
const MR: usize = 4;
const MAX_NV: usize = 2;
const GEMV_NV: usize = 8;
/// No wider panel for a vector-matrix product: 16 registers hold 8 accumulators and their
/// operands.
const GEMV_WIDE: usize = GEMV_NV;
/// Rows of B per k block (a 2-vector panel: 10 KiB).
const KC: usize = 320;
/// A·Bᵀ tiles: 2×3 outputs, 6 accumulators and 3 + 1 operand vectors.
const NT_MR: usize = 2;
const NT_NR: usize = 3;

use super::tiles::{taps_4x2 as dispatch_taps, tile_4x2 as dispatch_tile};

#[inline]
#[target_feature(enable = "simd128")]
fn mask(n: usize) -> M {
    M(n.min(LANES))
}
#[inline]
#[target_feature(enable = "simd128")]
fn splat(x: f32) -> V {
    f32x4_splat(x)
}
/// # Safety
/// `p` must be valid for reads of `LANES` values and aligned for `f32` (the families only
/// pass pointers into `f32` data; no 16-byte alignment is needed).
#[inline]
#[target_feature(enable = "simd128")]
unsafe fn load(p: *const f32) -> V {
    // SAFETY: the caller vouches for `LANES` values at `p`; `v128.load` takes any
    // alignment.
    unsafe { v128_load(p.cast()) }
}
/// The lanes `m` selects, zero elsewhere.
///
/// # Safety
/// `p + l` must be valid for reads and aligned for `f32` for every lane `l` that `m`
/// selects (the others are not accessed).
#[inline]
#[target_feature(enable = "simd128")]
unsafe fn load_m(p: *const f32, m: M) -> V {
    // SAFETY: as our caller vouches.
    unsafe { load_m_or(p, m, splat(0.0)) }
}
/// The lanes `m` selects, `fill` elsewhere.
///
/// # Safety
/// As for `load_m`.
#[inline]
#[target_feature(enable = "simd128")]
unsafe fn load_m_or(p: *const f32, m: M, fill: V) -> V {
    // SAFETY: each arm reads exactly the first m.0 values at `p` (the whole vector when
    // m.0 = LANES), the lanes our caller vouches for; `mask` never makes m.0 > LANES.
    unsafe {
        match m.0 {
            LANES => v128_load(p.cast()),
            0 => fill,
            1 => f32x4_replace_lane::<0>(fill, *p),
            2 => f32x4_replace_lane::<1>(f32x4_replace_lane::<0>(fill, *p), *p.add(1)),
            _ => f32x4_replace_lane::<2>(
                f32x4_replace_lane::<1>(f32x4_replace_lane::<0>(fill, *p), *p.add(1)),
                *p.add(2),
            ),
        }
    }
}
/// # Safety
/// `p` must be valid for writes of `LANES` values and aligned for `f32`.
#[inline]
#[target_feature(enable = "simd128")]
unsafe fn store(p: *mut f32, v: V) {
    // SAFETY: the caller vouches for `LANES` values at `p`; `v128.store` takes any
    // alignment.
    unsafe { v128_store(p.cast(), v) }
}
/// Writes the lanes `m` selects.
///
/// # Safety
/// `p + l` must be valid for writes and aligned for `f32` for every lane `l` that `m`
/// selects (the others are not accessed).
#[inline]
#[target_feature(enable = "simd128")]
unsafe fn store_m(p: *mut f32, v: V, m: M) {
    // SAFETY: each arm writes exactly the first m.0 values at `p` (the whole vector when
    // m.0 = LANES), the lanes our caller vouches for; `mask` never makes m.0 > LANES.
    unsafe {
        match m.0 {
            LANES => v128_store(p.cast(), v),
            0 => {}
            n => {
                *p = f32x4_extract_lane::<0>(v);
                if n > 1 {
                    *p.add(1) = f32x4_extract_lane::<1>(v);
                }
                if n > 2 {
                    *p.add(2) = f32x4_extract_lane::<2>(v);
                }
            }
        }
    }
}
#[inline]
#[target_feature(enable = "simd128")]
fn zero_outside(v: V, m: M) -> V {
    // m.0 ≤ LANES, so the cast is exact.
    let keep = u32x4_lt(u32x4(0, 1, 2, 3), u32x4_splat(m.0 as u32));
    v128_and(v, keep)
}
#[inline]
#[target_feature(enable = "simd128")]
fn add(a: V, b: V) -> V {
    f32x4_add(a, b)
}
#[inline]
#[target_feature(enable = "simd128")]
fn sub(a: V, b: V) -> V {
    f32x4_sub(a, b)
}
#[inline]
#[target_feature(enable = "simd128")]
fn mul(a: V, b: V) -> V {
    f32x4_mul(a, b)
}
#[inline]
#[target_feature(enable = "simd128")]
fn div(a: V, b: V) -> V {
    f32x4_div(a, b)
}
/// a·b + c, rounded twice: simd128 has no fused multiply-add (see the module docs).
#[inline]
#[target_feature(enable = "simd128")]
fn fma(a: V, b: V, c: V) -> V {
    f32x4_add(f32x4_mul(a, b), c)
}
#[inline]
#[target_feature(enable = "simd128")]
fn sqrt(a: V) -> V {
    f32x4_sqrt(a)
}
/// x86's `maxps`: `a > b ? a : b`, so `b` when either is NaN. `pmax(x, y)` is
/// `x < y ? y : x`.
#[inline]
#[target_feature(enable = "simd128")]
fn max(a: V, b: V) -> V {
    f32x4_pmax(b, a)
}
/// x86's `minps`: `a < b ? a : b`, so `b` when either is NaN. `pmin(x, y)` is
/// `y < x ? y : x`.
#[inline]
#[target_feature(enable = "simd128")]
fn min(a: V, b: V) -> V {
    f32x4_pmin(b, a)
}
/// Round to nearest integer, ties to even.
#[inline]
#[target_feature(enable = "simd128")]
fn round(x: V) -> V {
    f32x4_nearest(x)
}
/// 2^n for integer-valued n in [−126, 127].
#[inline]
#[target_feature(enable = "simd128")]
fn pow2i(n: V) -> V {
    // n is integer-valued and in range, so truncating converts it exactly.
    i32x4_shl(i32x4_add(i32x4_trunc_sat_f32x4(n), i32x4_splat(127)), 23)
}
#[inline]
#[target_feature(enable = "simd128")]
fn abs(x: V) -> V {
    f32x4_abs(x)
}
/// |magnitude| with the sign of `sign`.
#[inline]
#[target_feature(enable = "simd128")]
fn copy_sign(magnitude: V, sign: V) -> V {
    // Bit select: the sign bit from `sign`, every other bit from `magnitude`.
    v128_bitselect(sign, magnitude, u32x4_splat(0x8000_0000))
}
/// if a < b { x } else { y }, lane-wise.
#[inline]
#[target_feature(enable = "simd128")]
fn select_lt(a: V, b: V, x: V, y: V) -> V {
    v128_bitselect(x, y, f32x4_lt(a, b))
}
/// Pairwise, as the x86 paths add: (v0 + v2) + (v1 + v3).
#[inline]
#[target_feature(enable = "simd128")]
fn reduce_add(v: V) -> f32 {
    let s = f32x4_add(v, i32x4_shuffle::<2, 3, 0, 1>(v, v));
    f32x4_extract_lane::<0>(f32x4_add(s, i32x4_shuffle::<1, 0, 3, 2>(s, s)))
}
#[inline]
#[target_feature(enable = "simd128")]
fn reduce_max(v: V) -> f32 {
    let s = max(v, i32x4_shuffle::<2, 3, 0, 1>(v, v));
    f32x4_extract_lane::<0>(max(s, i32x4_shuffle::<1, 0, 3, 2>(s, s)))
}

simd_kernels!("simd128");
#[cfg(test)]
primitive_tests!(Simd128, "simd128");
