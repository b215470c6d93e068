//! Low-precision products: int8 (unsigned 7-bit activations × signed 8-bit weights, 32-bit
//! integer sums) and bf16 (bf16 × bf16, f32 sums), on the instructions made for them.
//!
//! | precision | paths |
//! |---|---|
//! | int8 | scalar; AVX2 `vpmaddubsw` + `vpmaddwd`; AVX-512 VNNI `vpdpbusd` |
//! | bf16 | scalar; AVX-512 BF16 `vdpbf16ps` |
//!
//! The conversions that feed them follow the same tokens: [`quantize_u8_with`] runs on
//! AVX-512 (the VNNI token) or AVX2, [`to_bf16_slice_with`] on `vcvtne2ps2bf16`; every path
//! gives the scalar reference's bits.
//!
//! Each path is a token ([`Int8Arch`], [`Bf16Arch`]) that only a successful feature check
//! makes, as [`Arch`](super::Arch) is for the f32 kernels; the process-wide choice follows
//! [`isa()`](super::isa) (forcing `scalar` forces these to scalar too, `avx2` keeps them off
//! AVX-512). AMX tiles are detected ([`amx`]) but have no kernels yet.
//!
//! # Why 7-bit activations
//!
//! `vpmaddubsw` adds two u8 × i8 products into a *saturating* i16: with 8-bit activations
//! 2 · 255 · 127 overflows it. Activations are therefore quantised to `0..=127` (with a zero
//! point), as PyTorch's fbgemm backend does (`reduce_range`), and every path computes the
//! same exact integer sums: the SIMD paths are tested for equality with the scalar one. The
//! weights keep all 8 bits (`-127..=127`, symmetric, per output channel).
//!
//! # Layouts
//!
//! Weights are packed once into panels of [`PANEL`] output columns: for each panel, for each
//! group of `G` consecutive inputs (`G` = 4 for int8, 2 for bf16), the panel's 16 columns ×
//! `G` values, so that one 512-bit load holds what one `vpdpbusd` / `vdpbf16ps` needs and an
//! activation group is one broadcast 32-bit word. Depth is padded to a multiple of `G` with
//! zeros, columns to a multiple of `PANEL`; the packing is the same on every path.

#[allow(unused_imports)]
use crate::core_prelude::*;

pub mod amx;
pub mod mixed;
#[cfg(target_arch = "x86_64")]
mod x86;

use super::isa::{isa, Isa};

/// Output columns per packed panel.
pub const PANEL: usize = 16;
/// Inputs per int8 group (one 32-bit lane of `vpdpbusd`).
pub const I8_GROUP: usize = 4;
/// Inputs per bf16 group (one 32-bit lane of `vdpbf16ps`).
pub const BF16_GROUP: usize = 2;
/// The largest quantised activation (7 bits; see the module docs).
pub const ACT_MAX: u8 = 127;
/// The largest quantised weight magnitude.
pub const WEIGHT_MAX: i8 = 127;

/// The deepest product whose int8 sums cannot overflow an `i32`: every term is at most
/// `ACT_MAX · WEIGHT_MAX` in magnitude. Layers assert their depth against it at compile time.
pub const MAX_INT8_DEPTH: usize = i32::MAX as usize / (ACT_MAX as usize * WEIGHT_MAX as usize);

/// `n` rounded up to a multiple of `m`.
#[inline]
pub const fn round_up(n: usize, m: usize) -> usize {
    n.div_ceil(m) * m
}

/// An int8 product path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Int8Isa {
    /// Portable Rust: the reference.
    Scalar,
    /// AVX2 `vpmaddubsw` (u8 × i8 pairs into i16) then `vpmaddwd` (into i32).
    Avx2,
    /// AVX-512 VNNI `vpdpbusd` (four u8 × i8 products into each i32 lane).
    Avx512Vnni,
}

/// A bf16 product path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Bf16Isa {
    /// Portable Rust: the reference (each product exact in f32, summed in order).
    Scalar,
    /// AVX-512 BF16 `vdpbf16ps`.
    Avx512Bf16,
}

impl Int8Isa {
    const ALL: [Int8Isa; 3] = [Int8Isa::Scalar, Int8Isa::Avx2, Int8Isa::Avx512Vnni];

    /// Whether this CPU can run the path.
    pub fn is_available(self) -> bool {
        match self {
            Int8Isa::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Int8Isa::Avx2 => Isa::Avx2.is_available(),
            #[cfg(target_arch = "x86_64")]
            Int8Isa::Avx512Vnni => x86::has_vnni(),
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }
}

impl Bf16Isa {
    const ALL: [Bf16Isa; 2] = [Bf16Isa::Scalar, Bf16Isa::Avx512Bf16];

    /// Whether this CPU can run the path.
    pub fn is_available(self) -> bool {
        match self {
            Bf16Isa::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Bf16Isa::Avx512Bf16 => x86::has_bf16(),
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }
}

/// A checked int8 path: made only by a feature check, so the SIMD code behind it needs none.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Int8Arch {
    isa: Int8Isa,
}

/// A checked bf16 path, as [`Int8Arch`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Bf16Arch {
    isa: Bf16Isa,
}

impl Int8Arch {
    /// The token for `isa`, or `None` if this CPU cannot run it.
    pub fn new(isa: Int8Isa) -> Option<Int8Arch> {
        isa.is_available().then_some(Int8Arch { isa })
    }
    /// Every int8 path this CPU runs, widest last.
    pub fn available() -> Vec<Int8Arch> {
        Int8Isa::ALL.into_iter().filter_map(Int8Arch::new).collect()
    }
    /// The path the process-wide choice ([`isa()`]) allows: none wider than it.
    pub fn current() -> Int8Arch {
        let widest = match isa() {
            Isa::Avx512 => Int8Isa::Avx512Vnni,
            Isa::Avx2 => Int8Isa::Avx2,
            _ => Int8Isa::Scalar,
        };
        Int8Arch::available()
            .into_iter()
            .rfind(|a| a.isa as u8 <= widest as u8)
            .unwrap_or(Int8Arch {
                isa: Int8Isa::Scalar,
            })
    }
    /// The path this token is for.
    pub fn isa(self) -> Int8Isa {
        self.isa
    }
}

impl Bf16Arch {
    /// The token for `isa`, or `None` if this CPU cannot run it.
    pub fn new(isa: Bf16Isa) -> Option<Bf16Arch> {
        isa.is_available().then_some(Bf16Arch { isa })
    }
    /// Every bf16 path this CPU runs, widest last.
    pub fn available() -> Vec<Bf16Arch> {
        Bf16Isa::ALL.into_iter().filter_map(Bf16Arch::new).collect()
    }
    /// The path the process-wide choice ([`isa()`]) allows.
    pub fn current() -> Bf16Arch {
        match isa() {
            Isa::Avx512 => *Bf16Arch::available().last().unwrap_or(&Bf16Arch {
                isa: Bf16Isa::Scalar,
            }),
            _ => Bf16Arch {
                isa: Bf16Isa::Scalar,
            },
        }
    }
    /// The path this token is for.
    pub fn isa(self) -> Bf16Isa {
        self.isa
    }
}

/// An f32 rounded to the nearest bf16 (ties to even), as `vcvtne2ps2bf16` does: NaN stays
/// NaN (quiet, with its sign and high payload), and a subnormal f32 becomes a zero of its
/// sign, since the instruction treats subnormal inputs as zero whatever MXCSR says (and
/// `vdpbf16ps` would read a subnormal bf16 as zero anyway).
#[inline]
pub fn to_bf16(x: f32) -> u16 {
    // Selects rather than early returns, so that loops over it vectorise.
    let bits = x.to_bits();
    let magnitude = bits & 0x7fff_ffff;
    let high = (bits >> 16) as u16;
    let rounded = (bits.wrapping_add(0x7fff + ((bits >> 16) & 1)) >> 16) as u16;
    if magnitude > 0x7f80_0000 {
        high | 0x0040 // NaN, quiet
    } else if magnitude < 0x0080_0000 {
        high & 0x8000 // subnormal (or zero): a zero of its sign
    } else {
        rounded
    }
}

/// The f32 a bf16 stands for (exact).
#[inline]
pub fn from_bf16(x: u16) -> f32 {
    f32::from_bits((x as u32) << 16)
}

/// Int8 weights packed for [`gemm_u8i8`]: `n` output columns of depth `k`, with each
/// column's sum (the zero-point correction).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PackedI8 {
    k: usize,
    n: usize,
    data: Vec<i8>,
    col_sums: Vec<i32>,
}

impl PackedI8 {
    /// Packs `w`, `n` rows of `k` weights each (row `j` is output `j`'s weights, PyTorch's
    /// `[out, in]` layout).
    pub fn pack(w: &[i8], n: usize, k: usize) -> PackedI8 {
        assert_eq!(w.len(), n * k, "int8 weights: {n} × {k} expected");
        let (kp, np) = (round_up(k, I8_GROUP), round_up(n, PANEL));
        let mut data = vec![0i8; kp * np];
        for j in 0..n {
            let (panel, col) = (j / PANEL, j % PANEL);
            for (i, &v) in w[j * k..(j + 1) * k].iter().enumerate() {
                let (g, r) = (i / I8_GROUP, i % I8_GROUP);
                data[panel * kp * PANEL + g * PANEL * I8_GROUP + col * I8_GROUP + r] = v;
            }
        }
        let col_sums = (0..n)
            .map(|j| w[j * k..(j + 1) * k].iter().map(|&v| v as i32).sum())
            .collect();
        PackedI8 {
            k,
            n,
            data,
            col_sums,
        }
    }
    /// Depth (inputs).
    pub fn k(&self) -> usize {
        self.k
    }
    /// Depth padded to whole groups: the row stride [`gemm_u8i8`] reads activations with.
    pub fn k_padded(&self) -> usize {
        round_up(self.k, I8_GROUP)
    }
    /// Output columns.
    pub fn n(&self) -> usize {
        self.n
    }
    /// Each column's weight sum.
    pub fn col_sums(&self) -> &[i32] {
        &self.col_sums
    }
    /// The packed panels.
    pub fn data(&self) -> &[i8] {
        &self.data
    }
}

/// Bf16 weights packed for [`gemm_bf16`], as [`PackedI8`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PackedBf16 {
    k: usize,
    n: usize,
    data: Vec<u16>,
}

impl PackedBf16 {
    /// Packs `w`, `n` rows of `k` bf16 weights each (`[out, in]`).
    pub fn pack(w: &[u16], n: usize, k: usize) -> PackedBf16 {
        assert_eq!(w.len(), n * k, "bf16 weights: {n} × {k} expected");
        let (kp, np) = (round_up(k, BF16_GROUP), round_up(n, PANEL));
        let mut data = vec![0u16; kp * np];
        for j in 0..n {
            let (panel, col) = (j / PANEL, j % PANEL);
            for (i, &v) in w[j * k..(j + 1) * k].iter().enumerate() {
                let (g, r) = (i / BF16_GROUP, i % BF16_GROUP);
                data[panel * kp * PANEL + g * PANEL * BF16_GROUP + col * BF16_GROUP + r] = v;
            }
        }
        PackedBf16 { k, n, data }
    }
    /// Depth (inputs).
    pub fn k(&self) -> usize {
        self.k
    }
    /// Depth padded to whole pairs: the row stride [`gemm_bf16`] reads activations with.
    pub fn k_padded(&self) -> usize {
        round_up(self.k, BF16_GROUP)
    }
    /// Output columns.
    pub fn n(&self) -> usize {
        self.n
    }
    /// The packed panels.
    pub fn data(&self) -> &[u16] {
        &self.data
    }
}

/// `c = a · b` in exact integer arithmetic: `a` is `m` rows of `b.k_padded()` activations
/// (`0..=ACT_MAX`; the padding zero), `c` is `m` rows of `b.n()` sums.
///
/// # Panics
/// If a slice is shorter than the sizes say (a caller's bug, not a user's input).
pub fn gemm_u8i8(arch: Int8Arch, m: usize, a: &[u8], b: &PackedI8, c: &mut [i32]) {
    let (kp, n) = (b.k_padded(), b.n());
    assert!(
        a.len() >= m * kp && c.len() >= m * n,
        "gemm_u8i8: slices too short"
    );
    match arch.isa {
        #[cfg(target_arch = "x86_64")]
        Int8Isa::Avx512Vnni => {
            // SAFETY: the token proves AVX-512F/BW and VNNI; the sizes were checked above.
            unsafe { x86::gemm_u8i8_vnni(m, a, b, c) }
        }
        #[cfg(target_arch = "x86_64")]
        Int8Isa::Avx2 => {
            // SAFETY: the token proves AVX2; the sizes were checked above.
            unsafe { x86::gemm_u8i8_avx2(m, a, b, c) }
        }
        _ => gemm_u8i8_scalar(m, a, b, c),
    }
}

/// The reference for [`gemm_u8i8`].
pub fn gemm_u8i8_scalar(m: usize, a: &[u8], b: &PackedI8, c: &mut [i32]) {
    let (kp, n) = (b.k_padded(), b.n());
    for r in 0..m {
        let row = &a[r * kp..(r + 1) * kp];
        for j in 0..n {
            let (panel, col) = (j / PANEL, j % PANEL);
            let base = panel * kp * PANEL + col * I8_GROUP;
            let mut sum = 0i32;
            for g in 0..kp / I8_GROUP {
                let w = &b.data[base + g * PANEL * I8_GROUP..][..I8_GROUP];
                let x = &row[g * I8_GROUP..][..I8_GROUP];
                for t in 0..I8_GROUP {
                    sum += x[t] as i32 * w[t] as i32;
                }
            }
            c[r * n + j] = sum;
        }
    }
}

/// `c = a · b` with bf16 operands and f32 sums: `a` is `m` rows of `b.k_padded()` bf16
/// values (the padding zero), `c` is `m` rows of `b.n()`. The paths may differ by the
/// order of f32 additions.
///
/// # Panics
/// If a slice is shorter than the sizes say.
pub fn gemm_bf16(arch: Bf16Arch, m: usize, a: &[u16], b: &PackedBf16, c: &mut [f32]) {
    let (kp, n) = (b.k_padded(), b.n());
    assert!(
        a.len() >= m * kp && c.len() >= m * n,
        "gemm_bf16: slices too short"
    );
    match arch.isa {
        #[cfg(target_arch = "x86_64")]
        Bf16Isa::Avx512Bf16 => {
            // SAFETY: the token proves AVX-512F and AVX-512 BF16; sizes checked above.
            unsafe { x86::gemm_bf16_avx512(m, a, b, c) }
        }
        _ => gemm_bf16_scalar(m, a, b, c),
    }
}

/// The reference for [`gemm_bf16`].
pub fn gemm_bf16_scalar(m: usize, a: &[u16], b: &PackedBf16, c: &mut [f32]) {
    let (kp, n) = (b.k_padded(), b.n());
    for r in 0..m {
        let row = &a[r * kp..(r + 1) * kp];
        for j in 0..n {
            let (panel, col) = (j / PANEL, j % PANEL);
            let base = panel * kp * PANEL + col * BF16_GROUP;
            let mut sum = 0f32;
            for g in 0..kp / BF16_GROUP {
                let w = &b.data[base + g * PANEL * BF16_GROUP..][..BF16_GROUP];
                let x = &row[g * BF16_GROUP..][..BF16_GROUP];
                for t in 0..BF16_GROUP {
                    sum += from_bf16(x[t]) * from_bf16(w[t]);
                }
            }
            c[r * n + j] = sum;
        }
    }
}

/// Quantises `x` to `0..=ACT_MAX`: `clamp(round(x · inv_scale) + zero)`, rounding half to
/// even; NaN becomes `zero`. `out` must be at least as long as `x`; the rest of it is left.
/// On the process-wide path ([`Int8Arch::current`]).
pub fn quantize_u8(x: &[f32], inv_scale: f32, zero: u8, out: &mut [u8]) {
    quantize_u8_with(Int8Arch::current(), x, inv_scale, zero, out)
}

/// [`quantize_u8`] on `arch`'s instructions (AVX-512 on the VNNI path, AVX2 on the AVX2
/// one): the same bytes on every path. Only the first `min(x.len(), out.len())` values are
/// converted.
pub fn quantize_u8_with(arch: Int8Arch, x: &[f32], inv_scale: f32, zero: u8, out: &mut [u8]) {
    match arch.isa {
        #[cfg(target_arch = "x86_64")]
        Int8Isa::Avx512Vnni => {
            // SAFETY: the token proves AVX-512F/BW (with VNNI); the kernel reads and
            // writes only inside both slices.
            unsafe { x86::quantize_u8_avx512(x, inv_scale, zero, out) }
        }
        #[cfg(target_arch = "x86_64")]
        Int8Isa::Avx2 => {
            // SAFETY: the token proves AVX2; the kernel stays inside both slices.
            unsafe { x86::quantize_u8_avx2(x, inv_scale, zero, out) }
        }
        _ => quantize_u8_scalar(x, inv_scale, zero, out),
    }
}

/// The reference for [`quantize_u8_with`].
pub fn quantize_u8_scalar(x: &[f32], inv_scale: f32, zero: u8, out: &mut [u8]) {
    let z = zero as f32;
    for (o, &v) in out.iter_mut().zip(x) {
        let q = (v * inv_scale).round_ties_even() + z;
        // `as u8` saturates and sends NaN to 0; clamp first so that NaN maps to the zero point.
        *o = if q.is_nan() {
            zero
        } else {
            q.clamp(0.0, ACT_MAX as f32) as u8
        };
    }
}

/// `x` rounded to bf16 into `out` (at least as long), on the process-wide path
/// ([`Bf16Arch::current`]).
pub fn to_bf16_slice(x: &[f32], out: &mut [u16]) {
    to_bf16_slice_with(Bf16Arch::current(), x, out)
}

/// [`to_bf16_slice`] on `arch`'s instructions: [`to_bf16`] of each value, the same bits
/// on every path. Only the first `min(x.len(), out.len())` values are converted.
pub fn to_bf16_slice_with(arch: Bf16Arch, x: &[f32], out: &mut [u16]) {
    match arch.isa {
        #[cfg(target_arch = "x86_64")]
        Bf16Isa::Avx512Bf16 => {
            // SAFETY: the token proves AVX-512F/BW and BF16; the kernel stays inside both
            // slices.
            unsafe { x86::to_bf16_avx512(x, out) }
        }
        _ => to_bf16_slice_scalar(x, out),
    }
}

/// The reference for [`to_bf16_slice_with`].
pub fn to_bf16_slice_scalar(x: &[f32], out: &mut [u16]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = to_bf16(v);
    }
}

#[cfg(test)]
mod tests;
