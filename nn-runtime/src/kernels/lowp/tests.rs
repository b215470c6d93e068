//! Every low-precision path this machine has against the scalar references (equal bits for
//! the int8 products and both conversions; a stated tolerance for the bf16 products), and
//! the references against naive loops over the unpacked weights, on awkward sizes.

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::*;
use crate::Rng;

const MS: [usize; 8] = [0, 1, 2, 3, 5, 7, 13, 64];
const KS: [usize; 10] = [0, 1, 3, 4, 5, 17, 31, 64, 784, 785];
const NS: [usize; 9] = [1, 7, 15, 16, 17, 33, 100, 128, 130];

/// Beyond the m × n outputs: the kernels must leave it.
const GUARD: usize = 37;

fn int8_paths() -> Vec<Int8Arch> {
    let paths = Int8Arch::available();
    std::println!(
        "int8 paths: {:?}",
        paths.iter().map(|a| a.isa()).collect::<Vec<_>>()
    );
    paths
}

fn bf16_paths() -> Vec<Bf16Arch> {
    let paths = Bf16Arch::available();
    std::println!(
        "bf16 paths: {:?}",
        paths.iter().map(|a| a.isa()).collect::<Vec<_>>()
    );
    paths
}

fn random_acts(m: usize, k: usize, rng: &mut Rng) -> Vec<u8> {
    let kp = round_up(k, I8_GROUP);
    let mut a = vec![0u8; m * kp];
    for r in 0..m {
        for v in &mut a[r * kp..r * kp + k] {
            *v = rng.below(ACT_MAX as usize + 1) as u8;
        }
    }
    a
}

fn random_weights(n: usize, k: usize, rng: &mut Rng) -> Vec<i8> {
    let span = 2 * WEIGHT_MAX as usize + 1;
    (0..n * k)
        .map(|_| (rng.below(span) as i32 - WEIGHT_MAX as i32) as i8)
        .collect()
}

/// `a · wᵀ` by the definition: `a` is m × kp (row stride kp), `w` is n × k.
fn naive_i8(m: usize, k: usize, n: usize, a: &[u8], w: &[i8]) -> Vec<i32> {
    let kp = round_up(k, I8_GROUP);
    let mut c = vec![0i32; m * n];
    for r in 0..m {
        for j in 0..n {
            c[r * n + j] = (0..k)
                .map(|i| a[r * kp + i] as i32 * w[j * k + i] as i32)
                .sum();
        }
    }
    c
}

/// Runs `arch` with garbage in C and a guard after it; returns the m × n outputs.
fn run_i8(arch: Int8Arch, m: usize, a: &[u8], b: &PackedI8) -> Vec<i32> {
    let mn = m * b.n();
    let mut c = vec![i32::MIN + 12345; mn + GUARD];
    gemm_u8i8(arch, m, a, b, &mut c);
    assert!(
        c[mn..].iter().all(|&v| v == i32::MIN + 12345),
        "{:?}: wrote past m × n",
        arch.isa()
    );
    c.truncate(mn);
    c
}

#[test]
fn int8_products_equal_the_reference_on_every_path_and_awkward_size() {
    let paths = int8_paths();
    let mut rng = Rng::seed(0x1a8);
    for m in MS {
        for k in KS {
            for n in NS {
                let a = random_acts(m, k, &mut rng);
                let w = random_weights(n, k, &mut rng);
                let b = PackedI8::pack(&w, n, k);
                let mut want = vec![0i32; m * n];
                gemm_u8i8_scalar(m, &a, &b, &mut want);
                // The packing and the reference against the definition.
                assert_eq!(want, naive_i8(m, k, n, &a, &w), "scalar {m}×{k}×{n}");
                for &arch in &paths {
                    let got = run_i8(arch, m, &a, &b);
                    assert_eq!(got, want, "{:?} {m}×{k}×{n}", arch.isa());
                }
            }
        }
    }
}

/// The largest sums: every activation 127 against weights of one sign (the depth the
/// module allows, where the sums approach `i32`'s range) and of mixed signs, with enough
/// rows to take the depth-blocked walk.
#[test]
fn int8_products_are_exact_at_the_extremes() {
    let paths = int8_paths();
    let mut rng = Rng::seed(0x1a9);
    for (k, n) in [(785, 33), (MAX_INT8_DEPTH, 17)] {
        for m in [1, 9] {
            let kp = round_up(k, I8_GROUP);
            let mut a = vec![ACT_MAX; m * kp];
            for r in 0..m {
                a[r * kp + k..(r + 1) * kp].fill(0);
            }
            let fills: [&dyn Fn(usize) -> i8; 3] = [&|_| WEIGHT_MAX, &|_| -WEIGHT_MAX, &|j| {
                if j % 3 == 0 {
                    -WEIGHT_MAX
                } else {
                    WEIGHT_MAX
                }
            }];
            for fill in fills {
                let w: Vec<i8> = (0..n * k).map(|i| fill(i / k + i % 7)).collect();
                let b = PackedI8::pack(&w, n, k);
                let mut want = vec![0i32; m * n];
                gemm_u8i8_scalar(m, &a, &b, &mut want);
                for (j, &v) in want[..n].iter().enumerate() {
                    let exact: i64 = w[j * k..(j + 1) * k]
                        .iter()
                        .map(|&x| ACT_MAX as i64 * x as i64)
                        .sum();
                    assert_eq!(v as i64, exact, "scalar {m}×{k}×{n} column {j}");
                }
                for &arch in &paths {
                    let got = run_i8(arch, m, &a, &b);
                    assert_eq!(got, want, "{:?} {m}×{k}×{n}", arch.isa());
                }
            }
            // Random weights at this depth too.
            let w = random_weights(n, k, &mut rng);
            let b = PackedI8::pack(&w, n, k);
            let mut want = vec![0i32; m * n];
            gemm_u8i8_scalar(m, &a, &b, &mut want);
            for &arch in &paths {
                assert_eq!(run_i8(arch, m, &a, &b), want, "{:?} random", arch.isa());
            }
        }
    }
}

fn random_bf16(len: usize, rng: &mut Rng) -> Vec<u16> {
    (0..len).map(|_| to_bf16(rng.uniform(-1.0, 1.0))).collect()
}

/// The tolerance of the bf16 products: each product of two bf16 values is exact in f32 (8
/// × 8 significant bits), so the paths differ only in the order (and grouping) of at most
/// k + 16 f32 additions. Each order's error is at most γ · Σ|aᵢ·wᵢ| with γ = (k + 16)·u,
/// u = 2⁻²⁴ (Higham's bound for recursive summation), so two orders differ by at most twice
/// that. (`vdpbf16ps` also flushes subnormals, which the data here, of magnitude ~1 and
/// sums far from 2⁻¹²⁶, never produces.)
fn bf16_tolerance(k: usize, abs_sum: f64) -> f64 {
    2.0 * (k + 16) as f64 * f64::powi(2.0, -24) * abs_sum + 1e-30
}

#[test]
fn bf16_products_match_the_reference_on_every_path_and_awkward_size() {
    let paths = bf16_paths();
    let mut rng = Rng::seed(0xbf16);
    for m in MS {
        for k in KS {
            for n in NS {
                let kp = round_up(k, BF16_GROUP);
                let mut a = vec![0u16; m * kp];
                for r in 0..m {
                    a[r * kp..r * kp + k].copy_from_slice(&random_bf16(k, &mut rng));
                }
                let w = random_bf16(n * k, &mut rng);
                let b = PackedBf16::pack(&w, n, k);
                let mut want = vec![0f32; m * n];
                gemm_bf16_scalar(m, &a, &b, &mut want);
                // The packing and the reference against the definition, in f64.
                let mut tol = vec![0f64; m * n];
                for r in 0..m {
                    for j in 0..n {
                        let terms = (0..k).map(|i| {
                            from_bf16(a[r * kp + i]) as f64 * from_bf16(w[j * k + i]) as f64
                        });
                        let exact: f64 = terms.clone().sum();
                        let abs: f64 = terms.map(f64::abs).sum();
                        tol[r * n + j] = bf16_tolerance(k, abs);
                        let got = want[r * n + j] as f64;
                        assert!(
                            (got - exact).abs() <= tol[r * n + j] / 2.0,
                            "scalar {m}×{k}×{n} ({r}, {j}): {got} vs {exact}"
                        );
                    }
                }
                for &arch in &paths {
                    let mn = m * n;
                    let mut c = vec![f32::NAN; mn + GUARD];
                    gemm_bf16(arch, m, &a, &b, &mut c);
                    assert!(
                        c[mn..].iter().all(|v| v.is_nan()),
                        "{:?}: wrote past m × n",
                        arch.isa()
                    );
                    for (i, (&got, &want)) in c[..mn].iter().zip(&want).enumerate() {
                        assert!(
                            (got as f64 - want as f64).abs() <= tol[i],
                            "{:?} {m}×{k}×{n} at {i}: {got} vs {want} (tolerance {})",
                            arch.isa(),
                            tol[i]
                        );
                    }
                }
            }
        }
    }
}

/// Values that test the conversions' edges: NaNs, infinities, the largest finite values,
/// signed zeros, subnormals, exact halves (ties), and the i32 range's edges.
fn special_f32() -> Vec<f32> {
    let mut v = vec![
        f32::NAN,
        -f32::NAN,
        f32::from_bits(0x7f80_0001), // signalling NaN
        f32::from_bits(0xffc1_2345),
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::MAX,
        f32::MIN,
        3.0e9,
        -3.0e9,
        2147483648.0,
        -2147483648.0,
        16777217.0,
        1.0e7,
        -1.0e7,
        0.0,
        -0.0,
        f32::MIN_POSITIVE,
        -f32::MIN_POSITIVE,
        f32::from_bits(1),
        f32::from_bits(0x8000_0001),
        f32::from_bits(0x0040_0000),
        f32::from_bits(0x007f_ffff),
        1.0,
        -1.0,
        126.5,
        127.5,
        128.5,
        255.5,
        1000.0,
        -1000.0,
        1024.5,
        -1024.5,
        2000.0,
        // bf16 ties: halfway between two bf16 values, with an even and an odd lower one.
        f32::from_bits(0x3f80_8000),
        f32::from_bits(0x3f81_8000),
        f32::from_bits(0x3f80_8001),
        f32::from_bits(0x7f7f_8000), // rounds up to infinity
        f32::from_bits(0x7f7f_7fff),
    ];
    for i in -12..=12 {
        v.push(i as f32 + 0.5);
        v.push(-(i as f32) - 0.5);
    }
    v
}

#[test]
fn quantize_equals_the_reference_on_every_path() {
    let paths = int8_paths();
    let mut rng = Rng::seed(0x9a);
    let specials = special_f32();
    for len in 0..70 {
        for (inv_scale, zero) in [(1.0, 0u8), (1.0, 64), (37.3, 10), (0.25, 127), (3.0, 200)] {
            // Exact halves (ties) and arbitrary values, with specials sprinkled in.
            let x: Vec<f32> = (0..len)
                .map(|i| match i % 4 {
                    0 => (rng.below(801) as f32 - 400.0) * 0.5,
                    1 => specials[rng.below(specials.len())],
                    _ => rng.uniform(-300.0, 300.0) / inv_scale,
                })
                .collect();
            let mut want = vec![0xa5u8; len + GUARD];
            quantize_u8_scalar(&x, inv_scale, zero, &mut want);
            for &arch in &paths {
                let mut got = vec![0xa5u8; len + GUARD];
                quantize_u8_with(arch, &x, inv_scale, zero, &mut got);
                assert_eq!(
                    got,
                    want,
                    "{:?} len {len} inv_scale {inv_scale}",
                    arch.isa()
                );
                // `out` shorter than `x`: only its length is written.
                if len > 0 {
                    let mut short = vec![0xa5u8; len - 1];
                    quantize_u8_with(arch, &x, inv_scale, zero, &mut short);
                    assert_eq!(short[..], want[..len - 1], "{:?} short out", arch.isa());
                }
            }
        }
    }
    // Every special value, on every path, against the definition.
    for (inv_scale, zero) in [(1.0, 0u8), (1.0, 5), (2.0, 127), (0.5, 200)] {
        let mut want = vec![0u8; specials.len()];
        quantize_u8_scalar(&specials, inv_scale, zero, &mut want);
        for (&x, &q) in specials.iter().zip(&want) {
            let p = x * inv_scale;
            let expect = if p.is_nan() {
                zero
            } else {
                let r = p.round_ties_even() + zero as f32;
                r.clamp(0.0, ACT_MAX as f32) as u8
            };
            assert_eq!(q, expect, "scalar {x}");
        }
        assert_eq!(want[0], zero, "NaN quantises to the zero point");
        for &arch in &paths {
            let mut got = vec![0u8; specials.len()];
            quantize_u8_with(arch, &specials, inv_scale, zero, &mut got);
            for (i, (&g, &w)) in got.iter().zip(&want).enumerate() {
                assert_eq!(
                    g,
                    w,
                    "{:?} {} (inv_scale {inv_scale})",
                    arch.isa(),
                    specials[i]
                );
            }
        }
    }
    // Ties go to even: 0.5 → 0, 1.5 → 2, 2.5 → 2, −0.5 → −0 → zero point.
    let mut q = [0u8; 4];
    quantize_u8(&[0.5, 1.5, 2.5, -0.5], 1.0, 0, &mut q);
    assert_eq!(q, [0, 2, 2, 0]);
}

#[test]
fn bf16_conversion_equals_the_reference_on_every_path() {
    let paths = bf16_paths();
    let mut rng = Rng::seed(0xbf);
    let specials = special_f32();
    for len in 0..70 {
        // Arbitrary bit patterns (every class: NaNs, subnormals, infinities), ordinary
        // values and specials.
        let x: Vec<f32> = (0..len)
            .map(|i| match i % 3 {
                0 => f32::from_bits(rng.next_u64() as u32),
                1 => rng.uniform(-4.0, 4.0),
                _ => specials[rng.below(specials.len())],
            })
            .collect();
        let mut want = vec![0xdeadu16; len + GUARD];
        to_bf16_slice_scalar(&x, &mut want);
        for &arch in &paths {
            let mut got = vec![0xdeadu16; len + GUARD];
            to_bf16_slice_with(arch, &x, &mut got);
            for i in 0..len + GUARD {
                assert_eq!(
                    got[i],
                    want[i],
                    "{:?} len {len} at {i}: {:?}",
                    arch.isa(),
                    x.get(i).map(|v| v.to_bits())
                );
            }
            if len > 0 {
                let mut short = vec![0xdeadu16; len - 1];
                to_bf16_slice_with(arch, &x, &mut short);
                assert_eq!(short[..], want[..len - 1], "{:?} short out", arch.isa());
            }
        }
    }
    for &arch in &paths {
        let mut got = vec![0u16; specials.len()];
        to_bf16_slice_with(arch, &specials, &mut got);
        for (i, &x) in specials.iter().enumerate() {
            assert_eq!(got[i], to_bf16(x), "{:?} {:#010x}", arch.isa(), x.to_bits());
        }
    }
    // The scalar rounding itself: ties to even, overflow to infinity, NaN stays a quiet
    // NaN with its sign and high payload.
    assert_eq!(to_bf16(f32::from_bits(0x3f80_8000)), 0x3f80);
    assert_eq!(to_bf16(f32::from_bits(0x3f81_8000)), 0x3f82);
    assert_eq!(to_bf16(f32::from_bits(0x7f7f_8000)), 0x7f80);
    assert_eq!(to_bf16(f32::from_bits(0x7f80_0001)), 0x7fc0);
    assert_eq!(to_bf16(f32::from_bits(0xffc1_2345)), 0xffc1);
    assert_eq!(to_bf16(-0.0), 0x8000);
    // Subnormals flush to a zero of their sign, as the instruction does.
    assert_eq!(to_bf16(f32::from_bits(0x007f_ffff)), 0x0000);
    assert_eq!(to_bf16(f32::from_bits(0x8000_0001)), 0x8000);
    assert_eq!(to_bf16(f32::MIN_POSITIVE), 0x0080);
}
