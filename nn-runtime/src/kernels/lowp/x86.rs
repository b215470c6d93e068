//! The x86-64 paths of the low-precision products (AVX-512 VNNI, AVX2, AVX-512 BF16) and of
//! the conversions that feed them (quantisation to 7-bit activations, rounding to bf16).
//!
//! The products cover C with register tiles of `MR` rows × `NP` panels of 16 columns, over
//! the whole depth or over blocks of it (`KC_*` groups, so that a block of panels stays in
//! L1 while every row of A streams past it; later blocks add to C). Tiles with few
//! accumulators (one row) split the depth over `KS` accumulator sets, so that at least eight
//! multiply-adds are in flight whatever the latency (5 cycles for `vpdpbusd`, 6 for
//! `vdpbf16ps`). Each tile reads B panels at `b + p·ldb + g·64` bytes (panel `p`, group
//! `g`) and A's groups as broadcast 32-bit words at `a + r·lda + g·G`.

use core::arch::x86_64::*;
use core::mem::transmute;

use super::{PackedBf16, PackedI8};
use super::{ACT_MAX, BF16_GROUP, I8_GROUP, PANEL};

/// Whether this CPU has AVX-512 VNNI (with F and BW, which the kernel also uses).
pub fn has_vnni() -> bool {
    #[cfg(feature = "std")]
    {
        std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512vnni")
    }
    #[cfg(not(feature = "std"))]
    {
        cfg!(all(
            target_feature = "avx512f",
            target_feature = "avx512bw",
            target_feature = "avx512vnni"
        ))
    }
}

/// Whether this CPU has AVX-512 BF16 (with F and BW).
pub fn has_bf16() -> bool {
    #[cfg(feature = "std")]
    {
        std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512bf16")
    }
    #[cfg(not(feature = "std"))]
    {
        cfg!(all(
            target_feature = "avx512f",
            target_feature = "avx512bw",
            target_feature = "avx512bf16"
        ))
    }
}

/// Groups per depth block when there are enough rows to reuse it: 64 groups of a 4-panel
/// tile are 16 KiB of int8 (or bf16: 64 pairs × 4 panels × 64 bytes) weights, half of L1.
const KC: usize = 64;
/// Rows at least this many make depth blocking pay (below it every weight is read once
/// or twice anyway, and blocking would only add passes over C).
const BLOCK_ROWS: usize = 8;

/// The lanes below `n` (at most 16).
#[inline]
fn mask16(n: usize) -> __mmask16 {
    if n >= 16 {
        0xffff
    } else {
        ((1u32 << n) - 1) as __mmask16
    }
}

/// The 32-bit word at `p`, any alignment.
///
/// # Safety
/// `p` must be valid for reads of 4 bytes.
#[inline]
unsafe fn word(p: *const u8) -> i32 {
    // SAFETY: the caller vouches for 4 bytes at `p`; the read is unaligned.
    unsafe { p.cast::<i32>().read_unaligned() }
}

/// The walk over C shared by the products: depth blocks, then column blocks of up to
/// `$np_max` panels, then rows in tiles of `$mr(panels)` (the leftover rows one at a time),
/// calling `$tile!(MR, NP, a, b, ng, c, cols, add)` with raw pointers at the tile's corner.
macro_rules! walk {
    ($m:expr, $kp:expr, $n:expr, $group:expr, $a:expr, $b:expr, $c:expr,
     $np_max:expr, $mr:expr, $tile:ident, $row:ident) => {{
        let (m, kp, n) = ($m, $kp, $n);
        let ng = kp / $group;
        let panels = n.div_ceil(PANEL);
        let ldb = kp * PANEL;
        let kc = if m >= BLOCK_ROWS { KC } else { ng.max(1) };
        let (a, b, c) = ($a, $b, $c);
        let mut g0 = 0;
        // With k = 0 there is one (empty) block, which writes the zero sums.
        while g0 < ng || (g0 == 0 && ng == 0) {
            let kb = kc.min(ng - g0);
            let add = g0 > 0;
            let mut p0 = 0;
            while p0 < panels {
                let np = $np_max.min(panels - p0);
                let cols = (n - p0 * PANEL).min(np * PANEL);
                let mr = $mr(np);
                let bp = b.wrapping_add(p0 * ldb + g0 * PANEL * $group);
                let mut r0 = 0;
                while r0 + mr <= m {
                    let ap = a.wrapping_add(r0 * kp + g0 * $group);
                    let cp = c.wrapping_add(r0 * n + p0 * PANEL);
                    $tile!(np, ap, kp, bp, ldb, kb, cp, n, cols, add);
                    r0 += mr;
                }
                while r0 < m {
                    let ap = a.wrapping_add(r0 * kp + g0 * $group);
                    let cp = c.wrapping_add(r0 * n + p0 * PANEL);
                    $row!(np, ap, kp, bp, ldb, kb, cp, n, cols, add);
                    r0 += 1;
                }
                p0 += np;
            }
            g0 += kc;
        }
    }};
}

// ---------------------------------------------------------------------------------------
// int8, AVX-512 VNNI

/// One tile of int8 sums: `MR` rows × `NP` panels over `ng` groups, in `KS` accumulator
/// sets; written to C (`cols` valid columns from the tile's first, masked), or added to it
/// with `add`.
///
/// # Safety
/// For r < MR, g < ng, p < NP: `a + r·lda + 4g` valid for 4-byte reads, `b + p·ldb + 64g`
/// for 64-byte reads, and `c + r·ldc + j` for reads and writes for j < cols; the CPU must
/// support AVX-512F/BW and VNNI.
#[inline(never)]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
#[allow(clippy::too_many_arguments)]
unsafe fn vnni_tile<const MR: usize, const NP: usize, const KS: usize>(
    a: *const u8,
    lda: usize,
    b: *const i8,
    ldb: usize,
    ng: usize,
    c: *mut i32,
    ldc: usize,
    cols: usize,
    add: bool,
) {
    let mut acc = [[[_mm512_setzero_si512(); NP]; MR]; KS];
    let step = |g: usize, acc: &mut [[__m512i; NP]; MR]| {
        let mut w = [_mm512_setzero_si512(); NP];
        for (p, w) in w.iter_mut().enumerate() {
            // SAFETY: g < ng and p < NP: 64 bytes our caller vouches for.
            *w = unsafe { _mm512_loadu_si512(b.add(p * ldb + g * 64).cast()) };
        }
        for (r, acc) in acc.iter_mut().enumerate() {
            // SAFETY: r < MR and g < ng: 4 bytes our caller vouches for.
            let x = _mm512_set1_epi32(unsafe { word(a.add(r * lda + g * I8_GROUP)) });
            for (acc, &w) in acc.iter_mut().zip(&w) {
                *acc = _mm512_dpbusd_epi32(*acc, x, w);
            }
        }
    };
    let mut g = 0;
    while g + KS <= ng {
        for (s, acc) in acc.iter_mut().enumerate() {
            step(g + s, acc);
        }
        g += KS;
    }
    while g < ng {
        step(g, &mut acc[0]);
        g += 1;
    }
    for r in 0..MR {
        for p in 0..NP {
            let mut v = acc[0][r][p];
            for set in &acc[1..] {
                v = _mm512_add_epi32(v, set[r][p]);
            }
            let mask = mask16(cols.saturating_sub(p * PANEL));
            let cp = c.wrapping_add(r * ldc + p * PANEL);
            // SAFETY: `mask` selects only columns below `cols` of row r < MR, which our
            // caller vouches for; masked loads and stores do not touch the other lanes.
            unsafe {
                if add {
                    v = _mm512_add_epi32(v, _mm512_maskz_loadu_epi32(mask, cp));
                }
                _mm512_mask_storeu_epi32(cp, mask, v);
            }
        }
    }
}

/// `c = a · b` on AVX-512 VNNI (see [`super::gemm_u8i8`]).
///
/// # Safety
/// The CPU must support AVX-512F/BW and VNNI; `a` must hold `m · b.k_padded()` values and
/// `c` `m · b.n()`.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub unsafe fn gemm_u8i8_vnni(m: usize, a: &[u8], b: &PackedI8, c: &mut [i32]) {
    let (kp, n) = (b.k_padded(), b.n());
    debug_assert!(a.len() >= m * kp && c.len() >= m * n);
    if m == 0 || n == 0 {
        return;
    }
    // Rows per tile: 16 accumulators at 4 panels, 16 at 2, 8 at 1.
    let mr = |np: usize| match np {
        1 | 2 => 8,
        _ => 4,
    };
    macro_rules! tile {
        ($np:expr, $($arg:expr),*) => {
            // SAFETY: the walk passes tiles inside A (m × kp), the packed panels (whole
            // groups, whole panels) and C (m × n, `cols` columns), which our caller vouches
            // for; the token proves the features.
            unsafe {
                match $np {
                    1 => vnni_tile::<8, 1, 1>($($arg),*),
                    2 => vnni_tile::<8, 2, 1>($($arg),*),
                    3 => vnni_tile::<4, 3, 1>($($arg),*),
                    _ => vnni_tile::<4, 4, 1>($($arg),*),
                }
            }
        };
    }
    macro_rules! row {
        ($np:expr, $($arg:expr),*) => {
            // SAFETY: as for `tile!`, one row.
            unsafe {
                match $np {
                    1 => vnni_tile::<1, 1, 8>($($arg),*),
                    2 => vnni_tile::<1, 2, 4>($($arg),*),
                    3 => vnni_tile::<1, 3, 4>($($arg),*),
                    _ => vnni_tile::<1, 4, 2>($($arg),*),
                }
            }
        };
    }
    walk!(
        m,
        kp,
        n,
        I8_GROUP,
        a.as_ptr(),
        b.data().as_ptr(),
        c.as_mut_ptr(),
        4usize,
        mr,
        tile,
        row
    );
}

// ---------------------------------------------------------------------------------------
// int8, AVX2

/// As [`vnni_tile`] on AVX2: each panel is two 8-column halves, and each group costs
/// `vpmaddubsw` (u8 × i8 pairs into i16, which cannot saturate with activations ≤ 127 and
/// weights ≥ −128) then `vpmaddwd` by ones (pairs of i16 into i32) and an add.
///
/// # Safety
/// As for [`vnni_tile`], with AVX2 instead.
#[inline(never)]
#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments)]
unsafe fn avx2_tile<const MR: usize, const NP: usize, const KS: usize>(
    a: *const u8,
    lda: usize,
    b: *const i8,
    ldb: usize,
    ng: usize,
    c: *mut i32,
    ldc: usize,
    cols: usize,
    add: bool,
) {
    let ones = _mm256_set1_epi16(1);
    let mut acc = [[[[_mm256_setzero_si256(); 2]; NP]; MR]; KS];
    let step = |g: usize, acc: &mut [[[__m256i; 2]; NP]; MR]| {
        let mut w = [[_mm256_setzero_si256(); 2]; NP];
        for (p, w) in w.iter_mut().enumerate() {
            for (h, w) in w.iter_mut().enumerate() {
                // SAFETY: g < ng, p < NP: half h of the group's 64 bytes, vouched for.
                *w = unsafe { _mm256_loadu_si256(b.add(p * ldb + g * 64 + h * 32).cast()) };
            }
        }
        for (r, acc) in acc.iter_mut().enumerate() {
            // SAFETY: r < MR and g < ng: 4 bytes our caller vouches for.
            let x = _mm256_set1_epi32(unsafe { word(a.add(r * lda + g * I8_GROUP)) });
            for (acc, w) in acc.iter_mut().zip(&w) {
                for (acc, &w) in acc.iter_mut().zip(w) {
                    let pairs = _mm256_maddubs_epi16(x, w);
                    *acc = _mm256_add_epi32(*acc, _mm256_madd_epi16(pairs, ones));
                }
            }
        }
    };
    let mut g = 0;
    while g + KS <= ng {
        for (s, acc) in acc.iter_mut().enumerate() {
            step(g + s, acc);
        }
        g += KS;
    }
    while g < ng {
        step(g, &mut acc[0]);
        g += 1;
    }
    for r in 0..MR {
        for p in 0..NP {
            for h in 0..2 {
                let mut v = acc[0][r][p][h];
                for set in &acc[1..] {
                    v = _mm256_add_epi32(v, set[r][p][h]);
                }
                let first = p * PANEL + h * 8;
                let valid = cols.saturating_sub(first).min(8);
                if valid == 0 {
                    continue;
                }
                let cp = c.wrapping_add(r * ldc + first);
                if valid == 8 {
                    // SAFETY: 8 columns below `cols` of row r < MR: vouched for.
                    unsafe {
                        if add {
                            v = _mm256_add_epi32(v, _mm256_loadu_si256(cp.cast()));
                        }
                        _mm256_storeu_si256(cp.cast(), v);
                    }
                } else {
                    // A partial half goes through a buffer: no access past column `cols`.
                    let mut buf = [0i32; 8];
                    // SAFETY: `buf` holds 8 i32.
                    unsafe { _mm256_storeu_si256(buf.as_mut_ptr().cast(), v) };
                    for (j, &s) in buf[..valid].iter().enumerate() {
                        // SAFETY: column first + j < cols of row r < MR: vouched for.
                        unsafe {
                            let cj = cp.add(j);
                            *cj = if add { *cj + s } else { s };
                        }
                    }
                }
            }
        }
    }
}

/// `c = a · b` on AVX2 (see [`super::gemm_u8i8`]).
///
/// # Safety
/// The CPU must support AVX2; `a` must hold `m · b.k_padded()` values and `c` `m · b.n()`.
#[target_feature(enable = "avx2")]
pub unsafe fn gemm_u8i8_avx2(m: usize, a: &[u8], b: &PackedI8, c: &mut [i32]) {
    let (kp, n) = (b.k_padded(), b.n());
    debug_assert!(a.len() >= m * kp && c.len() >= m * n);
    if m == 0 || n == 0 {
        return;
    }
    // 16 ymm registers: 2 rows × 2 panels (8 accumulators, 4 weight vectors) or 4 × 1.
    let mr = |np: usize| match np {
        1 => 4,
        _ => 2,
    };
    macro_rules! tile {
        ($np:expr, $($arg:expr),*) => {
            // SAFETY: as in `gemm_u8i8_vnni`'s tiles; the token proves AVX2.
            unsafe {
                match $np {
                    1 => avx2_tile::<4, 1, 1>($($arg),*),
                    _ => avx2_tile::<2, 2, 1>($($arg),*),
                }
            }
        };
    }
    macro_rules! row {
        ($np:expr, $($arg:expr),*) => {
            // SAFETY: as for `tile!`, one row.
            unsafe {
                match $np {
                    1 => avx2_tile::<1, 1, 4>($($arg),*),
                    _ => avx2_tile::<1, 2, 2>($($arg),*),
                }
            }
        };
    }
    walk!(
        m,
        kp,
        n,
        I8_GROUP,
        a.as_ptr(),
        b.data().as_ptr(),
        c.as_mut_ptr(),
        2usize,
        mr,
        tile,
        row
    );
}

// ---------------------------------------------------------------------------------------
// bf16, AVX-512 BF16

/// One tile of bf16 products with f32 sums, as [`vnni_tile`] (`a` and `b` in bf16 units:
/// a group is 2 values, a panel's group 32).
///
/// # Safety
/// For r < MR, g < ng, p < NP: `a + r·lda + 2g` valid for reads of 2 values, `b + p·ldb +
/// 32g` for 32 values, and `c + r·ldc + j` for reads and writes for j < cols; the CPU must
/// support AVX-512F/BW and BF16.
#[inline(never)]
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
#[allow(clippy::too_many_arguments)]
unsafe fn bf16_tile<const MR: usize, const NP: usize, const KS: usize>(
    a: *const u16,
    lda: usize,
    b: *const u16,
    ldb: usize,
    ng: usize,
    c: *mut f32,
    ldc: usize,
    cols: usize,
    add: bool,
) {
    let mut acc = [[[_mm512_setzero_ps(); NP]; MR]; KS];
    let step = |g: usize, acc: &mut [[__m512; NP]; MR]| {
        let mut w = [_mm512_setzero_si512(); NP];
        for (p, w) in w.iter_mut().enumerate() {
            // SAFETY: g < ng and p < NP: 32 values our caller vouches for.
            *w = unsafe { _mm512_loadu_si512(b.add(p * ldb + g * PANEL * BF16_GROUP).cast()) };
        }
        for (r, acc) in acc.iter_mut().enumerate() {
            // SAFETY: r < MR and g < ng: 2 values (4 bytes) our caller vouches for.
            let x = _mm512_set1_epi32(unsafe { word(a.add(r * lda + g * BF16_GROUP).cast()) });
            // SAFETY: `__m512i` and `__m512bh` are both 64 plain bytes; the bits are
            // reinterpreted as 32 bf16 values, which is what they hold.
            let x: __m512bh = unsafe { transmute(x) };
            for (acc, &w) in acc.iter_mut().zip(&w) {
                // SAFETY: as for `x`.
                let w: __m512bh = unsafe { transmute(w) };
                *acc = _mm512_dpbf16_ps(*acc, x, w);
            }
        }
    };
    let mut g = 0;
    while g + KS <= ng {
        for (s, acc) in acc.iter_mut().enumerate() {
            step(g + s, acc);
        }
        g += KS;
    }
    while g < ng {
        step(g, &mut acc[0]);
        g += 1;
    }
    for r in 0..MR {
        for p in 0..NP {
            let mut v = acc[0][r][p];
            for set in &acc[1..] {
                v = _mm512_add_ps(v, set[r][p]);
            }
            let mask = mask16(cols.saturating_sub(p * PANEL));
            let cp = c.wrapping_add(r * ldc + p * PANEL);
            // SAFETY: `mask` selects only columns below `cols` of row r < MR, which our
            // caller vouches for; masked loads and stores do not touch the other lanes.
            unsafe {
                if add {
                    v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, cp));
                }
                _mm512_mask_storeu_ps(cp, mask, v);
            }
        }
    }
}

/// `c = a · b` on AVX-512 BF16 (see [`super::gemm_bf16`]). `vdpbf16ps` treats bf16
/// subnormals as zero and flushes subnormal sums, whatever MXCSR says.
///
/// # Safety
/// The CPU must support AVX-512F/BW and BF16; `a` must hold `m · b.k_padded()` values and
/// `c` `m · b.n()`.
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
pub unsafe fn gemm_bf16_avx512(m: usize, a: &[u16], b: &PackedBf16, c: &mut [f32]) {
    let (kp, n) = (b.k_padded(), b.n());
    debug_assert!(a.len() >= m * kp && c.len() >= m * n);
    if m == 0 || n == 0 {
        return;
    }
    let mr = |np: usize| match np {
        1 | 2 => 8,
        _ => 4,
    };
    macro_rules! tile {
        ($np:expr, $($arg:expr),*) => {
            // SAFETY: as in `gemm_u8i8_vnni`'s tiles; the token proves the features.
            unsafe {
                match $np {
                    1 => bf16_tile::<8, 1, 1>($($arg),*),
                    2 => bf16_tile::<8, 2, 1>($($arg),*),
                    3 => bf16_tile::<4, 3, 1>($($arg),*),
                    _ => bf16_tile::<4, 4, 1>($($arg),*),
                }
            }
        };
    }
    macro_rules! row {
        ($np:expr, $($arg:expr),*) => {
            // SAFETY: as for `tile!`, one row.
            unsafe {
                match $np {
                    1 => bf16_tile::<1, 1, 8>($($arg),*),
                    2 => bf16_tile::<1, 2, 4>($($arg),*),
                    3 => bf16_tile::<1, 3, 4>($($arg),*),
                    _ => bf16_tile::<1, 4, 2>($($arg),*),
                }
            }
        };
    }
    walk!(
        m,
        kp,
        n,
        BF16_GROUP,
        a.as_ptr(),
        b.data().as_ptr(),
        c.as_mut_ptr(),
        4usize,
        mr,
        tile,
        row
    );
}

// ---------------------------------------------------------------------------------------
// Conversions

/// [`super::quantize_u8_with`] on AVX-512 (F and BW), 16 values at a time, the tail
/// masked. Products are clamped to ±1024 before the conversion (beyond it every result
/// clamps to 0 or 127 anyway), so that `vcvtps2dq` never sees a value out of i32 range;
/// it rounds half to even (the default MXCSR mode, which Rust code runs in).
///
/// # Safety
/// The CPU must support AVX-512F/BW.
#[target_feature(enable = "avx512f,avx512bw")]
pub unsafe fn quantize_u8_avx512(x: &[f32], inv_scale: f32, zero: u8, out: &mut [u8]) {
    let len = x.len().min(out.len());
    let scale = _mm512_set1_ps(inv_scale);
    let (lo, hi) = (_mm512_set1_ps(-1024.0), _mm512_set1_ps(1024.0));
    let z = _mm512_set1_epi32(zero as i32);
    let (qmin, qmax) = (_mm512_setzero_si512(), _mm512_set1_epi32(ACT_MAX as i32));
    let mut i = 0;
    while i < len {
        let mask = mask16(len - i);
        // SAFETY: `mask` selects the values i.. below len ≤ x.len(); the others are not
        // read.
        let v = unsafe { _mm512_maskz_loadu_ps(mask, x.as_ptr().add(i)) };
        let p = _mm512_mul_ps(v, scale);
        let nan = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(p, p);
        let p = _mm512_min_ps(_mm512_max_ps(p, lo), hi);
        let q = _mm512_add_epi32(_mm512_cvtps_epi32(p), z);
        let q = _mm512_min_epi32(_mm512_max_epi32(q, qmin), qmax);
        let q = _mm512_mask_blend_epi32(nan, q, z);
        // SAFETY: `mask` selects the bytes i.. below len ≤ out.len(); the others are not
        // written.
        unsafe { _mm512_mask_cvtepi32_storeu_epi8(out.as_mut_ptr().add(i).cast(), mask, q) };
        i += 16;
    }
}

/// [`super::quantize_u8_with`] on AVX2, 8 values at a time (the tail through a buffer),
/// as [`quantize_u8_avx512`].
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
pub unsafe fn quantize_u8_avx2(x: &[f32], inv_scale: f32, zero: u8, out: &mut [u8]) {
    let len = x.len().min(out.len());
    let scale = _mm256_set1_ps(inv_scale);
    let (lo, hi) = (_mm256_set1_ps(-1024.0), _mm256_set1_ps(1024.0));
    let z = _mm256_set1_epi32(zero as i32);
    let (qmin, qmax) = (_mm256_setzero_si256(), _mm256_set1_epi32(ACT_MAX as i32));
    // The low byte of each 32-bit lane to the lane's first 4 bytes, then lanes 0 and 4 to
    // the first 8 bytes.
    let bytes = _mm256_setr_epi8(
        0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, //
        0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    );
    let gather = _mm256_setr_epi32(0, 4, 0, 0, 0, 0, 0, 0);
    let mut i = 0;
    while i < len {
        let valid = (len - i).min(8);
        let mut src = [0f32; 8];
        src[..valid].copy_from_slice(&x[i..i + valid]);
        // SAFETY: `src` holds 8 f32.
        let v = unsafe { _mm256_loadu_ps(src.as_ptr()) };
        let p = _mm256_mul_ps(v, scale);
        let nan = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_UNORD_Q>(p, p));
        let p = _mm256_min_ps(_mm256_max_ps(p, lo), hi);
        let q = _mm256_add_epi32(_mm256_cvtps_epi32(p), z);
        let q = _mm256_min_epi32(_mm256_max_epi32(q, qmin), qmax);
        let q = _mm256_blendv_epi8(q, z, nan);
        let q = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(q, bytes), gather);
        let mut dst = [0u8; 8];
        // SAFETY: `dst` holds 8 bytes.
        unsafe { _mm_storel_epi64(dst.as_mut_ptr().cast(), _mm256_castsi256_si128(q)) };
        out[i..i + valid].copy_from_slice(&dst[..valid]);
        i += 8;
    }
}

/// [`super::to_bf16_slice_with`] on AVX-512 BF16: `vcvtne2ps2bf16`, 32 values at a time,
/// the tail masked.
///
/// # Safety
/// The CPU must support AVX-512F/BW and BF16.
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
pub unsafe fn to_bf16_avx512(x: &[f32], out: &mut [u16]) {
    let len = x.len().min(out.len());
    let mut i = 0;
    while i < len {
        let left = len - i;
        let (m0, m1) = (mask16(left), mask16(left.saturating_sub(16)));
        // SAFETY: the masks select the values i.. below len ≤ x.len(); the others are not
        // read (the second half's address may lie past the end when `m1` is empty, hence
        // `wrapping_add`: nothing is read through it then).
        let (v0, v1) = unsafe {
            (
                _mm512_maskz_loadu_ps(m0, x.as_ptr().add(i)),
                _mm512_maskz_loadu_ps(m1, x.as_ptr().wrapping_add(i + 16)),
            )
        };
        // The second operand goes to the low 16 results.
        let h = _mm512_cvtne2ps_pbh(v1, v0);
        // SAFETY: `__m512bh` and `__m512i` are both 64 plain bytes.
        let h: __m512i = unsafe { transmute(h) };
        let mask = (m0 as u32 | ((m1 as u32) << 16)) as __mmask32;
        // SAFETY: `mask` selects the values i.. below len ≤ out.len(); the others are not
        // written.
        unsafe { _mm512_mask_storeu_epi16(out.as_mut_ptr().add(i).cast(), mask, h) };
        i += 32;
    }
}
