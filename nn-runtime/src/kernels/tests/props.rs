//! Property tests: every kernel on every path this machine has, on random shapes, strides
//! and options, against an f64 reference (or, where the result is exact, the scalar path).
//! Lengths run past several vector widths (8 and 16 lanes) so that full vectors, masked
//! tails and lengths shorter than one vector all occur.
//!
//! Tolerances are bounds, not guesses. u = 2⁻²⁴ is f32's unit roundoff; a sum of n terms
//! in any order (vector lanes, k blocks, FMAs) is off by at most γₙ·Σ|terms| with
//! γₙ = n·u/(1 − n·u) (Higham, Accuracy and Stability, §3.1); the bounds below use 1.01·n·u
//! for γₙ, which holds for n·u < 0.01. A wrong index or a lost tail moves a value by
//! about its own size, far beyond any of these bounds.
//!
//! Data comes from a seed the strategy draws, so a failure shrinks to the smallest sizes
//! and reports the seed; the case counts keep the whole set to a few seconds.

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::*;
use crate::Rng;
use proptest::prelude::*;

/// `n` cases, or a few under Miri, where each one costs a thousand times more: there they
/// drive the scalar paths (the only ones Miri reports) through random shapes for the
/// aliasing and bounds checks, not for numerical coverage.
const fn cases(n: u32) -> u32 {
    if cfg!(miri) {
        3
    } else {
        n
    }
}

/// f32's unit roundoff.
const U: f64 = f32::EPSILON as f64 / 2.0;

/// γₙ as used in the bounds (see the module comment).
fn gamma(n: usize) -> f64 {
    1.01 * n as f64 * U
}

/// The largest absolute error of the SIMD paths' tanh and sigmoid (`activation.rs` states
/// and `tests.rs` checks these on a dense grid); libm's are below one ulp of values ≤ 1.
const ACT_ABS_ERR: f64 = 3e-7;

fn arches() -> Vec<Arch> {
    Arch::available()
}

fn act() -> impl Strategy<Value = EpilogueAct> {
    prop::sample::select(ACTS.to_vec())
}

/// Error of act(v) for a v known to within `err`: every activation here is 1-Lipschitz,
/// so the error carries over, plus the activation's own error and the final rounding.
fn act_tol(act: EpilogueAct, err: f64, want: f64) -> f64 {
    let own = match act {
        EpilogueAct::None | EpilogueAct::Relu => 0.0,
        EpilogueAct::Tanh | EpilogueAct::Sigmoid => ACT_ABS_ERR,
    };
    err + own + U * want.abs()
}

#[derive(Clone, Copy, Debug)]
enum BiasKind {
    None,
    Row,
    Column,
}

#[derive(Clone, Debug)]
struct GemmCase {
    m: usize,
    n: usize,
    k: usize,
    transposed_a: bool,
    /// Step between A's elements along its contiguous dimension (1, or 2 to test strides
    /// that are not the row length).
    step_a: usize,
    pad_a: usize,
    pad_b: usize,
    pad_c: usize,
    accumulate: bool,
    bias: BiasKind,
    act: EpilogueAct,
    threads: usize,
    library: bool,
    seed: u64,
}

fn gemm_case() -> impl Strategy<Value = GemmCase> {
    (
        (0usize..40, 0usize..80, 0usize..70),
        (any::<bool>(), 1usize..3, 0usize..5, 0usize..5, 0usize..5),
        (
            any::<bool>(),
            prop::sample::select(vec![BiasKind::None, BiasKind::Row, BiasKind::Column]),
            act(),
        ),
        (1usize..5, prop::bool::weighted(0.2), any::<u64>()),
    )
        .prop_map(
            |(
                (m, n, k),
                (transposed_a, step_a, pad_a, pad_b, pad_c),
                (accumulate, bias, act),
                (threads, library, seed),
            )| GemmCase {
                m,
                n,
                k,
                transposed_a,
                step_a,
                pad_a,
                pad_b,
                pad_c,
                accumulate,
                bias,
                act,
                threads,
                library,
                seed,
            },
        )
}

/// Runs one product on every path and checks it against the f64 product, element by
/// element within γ_{k+2}·Σ|terms| (k products, C's old value and the bias) carried through
/// the activation; the padding between C's rows must be left alone.
fn check_gemm_case(g: &GemmCase) -> Result<(), TestCaseError> {
    let GemmCase { m, n, k, .. } = *g;
    let mut rng = Rng::seed(g.seed);
    let (rsa, csa) = if g.transposed_a {
        (g.step_a, m * g.step_a + g.pad_a)
    } else {
        (k * g.step_a + g.pad_a, g.step_a)
    };
    let a_len = if m == 0 || k == 0 {
        0
    } else {
        (m - 1) * rsa + (k - 1) * csa + 1
    };
    let (rsb, rsc) = (n + g.pad_b, n + g.pad_c);
    let a = random(a_len, &mut rng);
    let b = random(k * rsb, &mut rng);
    let c0 = random(m * rsc, &mut rng);
    let bias_values = random(m.max(n), &mut rng);
    let bias = match g.bias {
        BiasKind::None => None,
        BiasKind::Row => Some(&bias_values[..m]),
        BiasKind::Column => Some(&bias_values[..n]),
    };
    let p = MatMul {
        m,
        n,
        k,
        rsa,
        csa,
        rsb,
        rsc,
        accumulate: g.accumulate,
        row_bias: matches!(g.bias, BiasKind::Row),
        act: g.act,
    };
    let backend = if g.library {
        Backend::Library
    } else {
        Backend::Own
    };
    for arch in arches() {
        let mut c = c0.clone();
        gemm_with(arch, backend, g.threads, &p, &a, &b, bias, &mut c);
        for i in 0..m {
            for j in 0..rsc {
                let got = c[i * rsc + j];
                if j >= n {
                    prop_assert_eq!(got.to_bits(), c0[i * rsc + j].to_bits(), "padding written");
                    continue;
                }
                let (mut sum, mut mag) = (0.0f64, 0.0f64);
                let mut term = |v: f64| {
                    sum += v;
                    mag += v.abs();
                };
                if g.accumulate {
                    term(c0[i * rsc + j] as f64);
                }
                for q in 0..k {
                    term(a[i * rsa + q * csa] as f64 * b[q * rsb + j] as f64);
                }
                match g.bias {
                    BiasKind::None => {}
                    BiasKind::Row => term(bias_values[i] as f64),
                    BiasKind::Column => term(bias_values[j] as f64),
                }
                let want = act_f64(g.act, sum);
                let tol = act_tol(g.act, gamma(k + 2) * mag, want) + 1e-30;
                prop_assert!(
                    (got as f64 - want).abs() <= tol,
                    "{:?} at ({}, {}): {} vs {} (tol {:e})",
                    arch,
                    i,
                    j,
                    got,
                    want,
                    tol
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(300), ..ProptestConfig::default() })]

    #[test]
    fn gemm_matches_f64_on_random_shapes_strides_and_epilogues(g in gemm_case()) {
        check_gemm_case(&g)?;
    }

    /// C (+)= A·Bᵀ: the same bound as the product above.
    #[test]
    fn gemm_nt_matches_f64_on_random_shapes_and_strides(
        (m, n, k) in (0usize..20, 0usize..40, 0usize..100),
        (pad_a, pad_b, pad_c) in (0usize..4, 0usize..4, 0usize..4),
        accumulate in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let mut rng = Rng::seed(seed);
        let (rsa, rsb, rsc) = (k + pad_a, k + pad_b, n + pad_c);
        let a = random(m * rsa, &mut rng);
        let b = random(n * rsb, &mut rng);
        let c0 = random(m * rsc, &mut rng);
        let p = MatMulNt { m, n, k, rsa, rsb, rsc, accumulate };
        for arch in arches() {
            let mut c = c0.clone();
            gemm_nt_with(arch, &p, &a, &b, &mut c);
            for i in 0..m {
                for j in 0..rsc {
                    let got = c[i * rsc + j];
                    if j >= n {
                        prop_assert_eq!(got.to_bits(), c0[i * rsc + j].to_bits(), "padding");
                        continue;
                    }
                    let mut terms: Vec<f64> =
                        (0..k).map(|q| a[i * rsa + q] as f64 * b[j * rsb + q] as f64).collect();
                    if accumulate {
                        terms.push(c0[i * rsc + j] as f64);
                    }
                    let want: f64 = terms.iter().sum();
                    let mag: f64 = terms.iter().map(|v| v.abs()).sum();
                    let tol = gamma(k + 1) * mag + U * want.abs() + 1e-30;
                    prop_assert!(
                        (got as f64 - want).abs() <= tol,
                        "{:?} {}x{}x{} at ({}, {}): {} vs {}", arch, m, k, n, i, j, got, want
                    );
                }
            }
        }
    }

    /// Σx in any order: within γₙ·Σ|x|.
    #[test]
    fn sum_matches_f64(x in prop::collection::vec(-1e3f32..1e3, 0..300)) {
        let want: f64 = x.iter().map(|&v| v as f64).sum();
        let mag: f64 = x.iter().map(|&v| (v as f64).abs()).sum();
        for arch in arches() {
            let got = sum_with(arch, &x) as f64;
            prop_assert!((got - want).abs() <= gamma(x.len()) * mag + U * want.abs(),
                "{:?}: {} vs {}", arch, got, want);
        }
    }

    /// Forward: within the activation's own error of the f64 value (the input is exact).
    /// Backward: dy·act′(y) read off y takes at most three roundings of values of size
    /// ≤ 2·|dy| (1 − y², y·(1 − y), the product), so 4u·2·|dy| bounds the error against
    /// f64 arithmetic on the same f32 y.
    #[test]
    fn activations_forward_and_backward_match_f64(
        x in prop::collection::vec(prop_oneof![-8.0f32..8.0, -100.0f32..100.0], 0..100),
        act in act(),
        seed in any::<u64>(),
    ) {
        let dy = random(x.len(), &mut Rng::seed(seed));
        for arch in arches() {
            let mut y = x.clone();
            activation_forward_with(arch, act, &mut y);
            for (&xi, &yi) in x.iter().zip(&y) {
                let want = act_f64(act, xi as f64);
                prop_assert!((yi as f64 - want).abs() <= act_tol(act, 0.0, want),
                    "{:?} {:?}({}) = {}, want {}", arch, act, xi, yi, want);
            }
            let mut dx = vec![f32::NAN; x.len()];
            activation_backward_with(arch, act, &y, &dy, &mut dx);
            for ((&yi, &g), &d) in y.iter().zip(&dy).zip(&dx) {
                let (yv, gv) = (yi as f64, g as f64);
                let want = match act {
                    EpilogueAct::None => gv,
                    EpilogueAct::Relu => if yv > 0.0 { gv } else { 0.0 },
                    EpilogueAct::Tanh => gv * (1.0 - yv * yv),
                    EpilogueAct::Sigmoid => gv * yv * (1.0 - yv),
                };
                prop_assert!((d as f64 - want).abs() <= 8.0 * U * gv.abs() + 1e-30,
                    "{:?} {:?} backward at y={}: {} vs {}", arch, act, yi, d, want);
            }
        }
    }

    /// e^x on the range the SIMD paths promise (reduce.rs): relative error ≤ 3e-7.
    #[test]
    fn exp_matches_f64(x in prop::collection::vec(-87.0f32..88.0, 0..100)) {
        for arch in arches() {
            let mut y = vec![f32::NAN; x.len()];
            exp_with(arch, &x, &mut y);
            for (&xi, &yi) in x.iter().zip(&y) {
                let want = (xi as f64).exp();
                prop_assert!(((yi as f64 - want) / want).abs() <= 3e-7,
                    "{:?} exp({}) = {}, want {}", arch, xi, yi, want);
            }
        }
    }

    /// Softmax within the stated 4e-6 relative error (reduce.rs: the f32 rounding of
    /// x − max, up to 2e-6 relative in e^(x − max) for |x − max| ≤ 60 here, dominates), and
    /// log-sum-exp within 1e-6 relative; the backward pass against f64 on the same y, dy:
    /// ⟨dy, y⟩ is a sum of `cols` products (γ_cols·Σ|dy·y| ≤ γ_cols, as Σy = 1 and
    /// |dy| ≤ 1) and two more roundings on values ≤ 2.
    #[test]
    fn softmax_log_sum_exp_and_softmax_backward_match_f64(
        (rows, cols) in (1usize..4, 1usize..80),
        spread in prop_oneof![Just(1.0f32), Just(30.0f32)],
        seed in any::<u64>(),
    ) {
        let mut rng = Rng::seed(seed);
        let x: Vec<f32> = (0..rows * cols).map(|_| rng.uniform(-spread, spread)).collect();
        let dy = random(rows * cols, &mut rng);
        for arch in arches() {
            let mut y = vec![f32::NAN; x.len()];
            softmax_forward_with(arch, &x, &mut y, cols);
            for (xr, yr) in x.chunks(cols).zip(y.chunks(cols)) {
                let max = xr.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
                let sum: f64 = xr.iter().map(|&v| (v as f64 - max).exp()).sum();
                for (&xi, &yi) in xr.iter().zip(yr) {
                    let want = (xi as f64 - max).exp() / sum;
                    prop_assert!((yi as f64 - want).abs() <= 4e-6 * want + 1e-30,
                        "{:?} softmax: {} vs {}", arch, yi, want);
                }
                let lse = log_sum_exp_with(arch, xr) as f64;
                let want = max + sum.ln();
                prop_assert!((lse - want).abs() <= 1e-6 * want.abs().max(1.0),
                    "{:?} lse: {} vs {}", arch, lse, want);
            }
        }
        let mut dx = vec![f32::NAN; x.len()];
        let y = {
            let mut y = vec![0.0; x.len()];
            softmax_forward_with(Arch::scalar(), &x, &mut y, cols);
            y
        };
        softmax_backward(&y, &dy, &mut dx, cols);
        for ((yr, gr), dr) in y.chunks(cols).zip(dy.chunks(cols)).zip(dx.chunks(cols)) {
            let inner: f64 = yr.iter().zip(gr).map(|(&a, &b)| a as f64 * b as f64).sum();
            for ((&yi, &g), &d) in yr.iter().zip(gr).zip(dr) {
                let want = yi as f64 * (g as f64 - inner);
                let tol = yi as f64 * (gamma(cols) + 4.0 * U * 2.0) + 1e-30;
                prop_assert!((d as f64 - want).abs() <= tol, "softmax backward: {} vs {}", d, want);
            }
        }
    }

    /// Adam against f64 arithmetic on the same f32 inputs. g = ∇ + l2·p is within
    /// 2u·(|∇| + l2·|p|) =: 2u·G; m = β₁m + (1−β₁)g within 5u·(β₁|m| + (1−β₁)G) (g's error
    /// and three roundings); v = β₂v + (1−β₂)g² within 8u·(β₂v + (1−β₂)G²). √ moves by at
    /// most min(√δ, δ/(2√v)) under an error δ, so the denominator √v·c + ε is known to
    /// within c·that plus three roundings; the step s·m/denominator carries m's error and
    /// the denominator's relative error, and p = p·decay − step adds three roundings.
    #[test]
    fn adam_matches_f64_on_random_hyperparameters(
        n in 0usize..100,
        (beta1, beta2, eps) in (0.5f32..0.99, 0.9f32..0.9999, prop_oneof![Just(1e-8f32), 1e-7f32..1e-3]),
        (l2, decay, step_size, correction) in (0.0f32..0.1, 0.9f32..=1.0, 1e-4f32..1e-1, 1.0f32..30.0),
        seed in any::<u64>(),
    ) {
        let c = AdamStep { beta1, beta2, eps, l2, decay, step_size, inv_sqrt_correction2: correction };
        let mut rng = Rng::seed(seed);
        let (p0, g) = (random(n, &mut rng), random(n, &mut rng));
        let m0: Vec<f32> = random(n, &mut rng).iter().map(|v| v * 0.1).collect();
        let v0: Vec<f32> = random(n, &mut rng).iter().map(|v| v * v * 0.01).collect();
        for arch in arches() {
            let (mut p, mut m, mut v) = (p0.clone(), m0.clone(), v0.clone());
            adam_update_with(arch, &c, &mut p, &g, &mut m, &mut v);
            for i in 0..n {
                let f = |x: f32| x as f64;
                let gi = f(g[i]) + f(l2) * f(p0[i]);
                let g_mag = f(g[i]).abs() + f(l2) * f(p0[i]).abs();
                let mi = f(beta1) * f(m0[i]) + f(1.0 - beta1) * gi;
                let m_err = 5.0 * U * (f(beta1) * f(m0[i]).abs() + f(1.0 - beta1) * g_mag);
                let vi = f(beta2) * f(v0[i]) + f(1.0 - beta2) * gi * gi;
                let v_err = 8.0 * U * (f(beta2) * f(v0[i]) + f(1.0 - beta2) * g_mag * g_mag);
                let denom = vi.sqrt() * f(correction) + f(eps);
                let sqrt_err = v_err.sqrt().min(v_err / (2.0 * vi.sqrt()));
                let denom_err = f(correction) * (sqrt_err + U * vi.sqrt()) + 2.0 * U * denom;
                let step = f(step_size) * mi / denom;
                let pi = f(p0[i]) * f(decay) - step;
                let step_err = f(step_size) * (m_err + mi.abs() * denom_err / denom) / denom
                    + 2.0 * U * step.abs();
                let p_err = step_err + 3.0 * U * (f(p0[i]).abs() * f(decay) + step.abs());
                prop_assert!((f(m[i]) - mi).abs() <= m_err, "{:?} m[{}]: {} vs {}", arch, i, m[i], mi);
                prop_assert!((f(v[i]) - vi).abs() <= v_err, "{:?} v[{}]: {} vs {}", arch, i, v[i], vi);
                prop_assert!((f(p[i]) - pi).abs() <= p_err, "{:?} p[{}]: {} vs {}", arch, i, p[i], pi);
            }
        }
    }

    /// The recurrence with W's entries in ±1/h, so each column's Σ|w| ≤ 1 and each step
    /// (1-Lipschitz activations) passes on at most the error it receives; each step adds
    /// a dot product of h + 1 terms of size ≤ 1 + max|h| ≤ 2 (γ_{h+1}·2) and the
    /// activation's own error. After t steps: t times that.
    #[test]
    fn rnn_sequence_matches_f64(
        (h, t) in (1usize..70, 1usize..6),
        pad in 0usize..4,
        act in prop::sample::select(vec![EpilogueAct::Tanh, EpilogueAct::Relu, EpilogueAct::Sigmoid]),
        seed in any::<u64>(),
    ) {
        let mut rng = Rng::seed(seed);
        let rsw = h + pad;
        let w: Vec<f32> = random(h * rsw, &mut rng).iter().map(|v| v / h as f32).collect();
        let x = random(t * h, &mut rng);
        let want = rnn_reference(act, &x, &w, rsw, t, h);
        // Relu's outputs may grow to 2 per step: values ≤ t + 1.
        let size = if act == EpilogueAct::Relu { 1.0 + t as f64 } else { 2.0 };
        for arch in arches() {
            let (mut gates, mut hs) = (x.clone(), vec![f32::NAN; t * h]);
            rnn_sequence_with(arch, t, h, &w, rsw, act, &mut gates, &mut hs);
            prop_assert_eq!(&gates, &hs, "{:?}: gates and states differ", arch);
            for (k, (&got, &want)) in hs.iter().zip(&want).enumerate() {
                let step = k / h + 1;
                let tol = step as f64 * (gamma(h + 1) * size + ACT_ABS_ERR + U * size);
                prop_assert!((got as f64 - want).abs() <= tol,
                    "{:?} at {}: {} vs {}", arch, k, got, want);
            }
        }
    }

    /// Exact kernels: transpose moves values, column sums add rows in order (compared with
    /// the same f32 order), argmax picks the first largest.
    #[test]
    fn transpose_column_sums_and_argmax_are_exact(
        (rows, cols) in (0usize..40, 0usize..40),
        seed in any::<u64>(),
    ) {
        let x = random(rows * cols, &mut Rng::seed(seed));
        let mut out = vec![f32::NAN; rows * cols];
        transpose(&x, rows, cols, &mut out);
        for r in 0..rows {
            for c in 0..cols {
                prop_assert_eq!(out[c * rows + r].to_bits(), x[r * cols + c].to_bits());
            }
        }
        let mut sums = vec![f32::NAN; cols];
        column_sums(&x, cols, &mut sums);
        for (c, &s) in sums.iter().enumerate() {
            let want = (0..rows).fold(0.0f32, |acc, r| acc + x[r * cols + c]);
            prop_assert_eq!(s.to_bits(), want.to_bits());
        }
        let best = argmax(&x);
        if let Some(&top) = x.get(best) {
            prop_assert!(x.iter().all(|&v| v <= top));
            prop_assert!(x[..best].iter().all(|&v| v < top));
        } else {
            prop_assert_eq!(best, 0);
        }
    }
}

/// A pooling PyTorch allows: window ≤ padded input, padding ≤ half the window.
/// A third of them have the stride equal to the window (the backward pass's write-once
/// path) and a third 2×2 windows of stride 2 without padding (the AVX-512 kernels), which
/// uniform draws would rarely reach.
fn pool_geom() -> impl Strategy<Value = conv::PoolGeom> {
    let window = || (1usize..5, 1usize..5);
    let sizes = prop_oneof![
        (window(), 1usize..4, 1usize..4).prop_map(|((kh, kw), sh, sw)| (kh, kw, sh, sw)),
        window().prop_map(|(kh, kw)| (kh, kw, kh, kw)),
        Just((2, 2, 2, 2)),
    ];
    (1usize..4, 1usize..9, 1usize..40, sizes, any::<bool>())
        .prop_map(|(c, h, w, (kh, kw, sh, sw), pad)| {
            // The 2×2 kernels are for unpadded windows only.
            let pad = pad && (kh, kw, sh, sw) != (2, 2, 2, 2);
            (c, h, w, kh, kw, sh, sw, pad)
        })
        .prop_flat_map(|(c, h, w, kh, kw, sh, sw, pad)| {
            let (mt, ml) = if pad { (kh / 2, kw / 2) } else { (0, 0) };
            (Just((c, h, w, kh, kw, sh, sw)), 0..=mt, 0..=ml)
        })
        .prop_filter_map("window larger than the padded input", |(dims, pt, pl)| {
            let (c, h, w, kh, kw, sh, sw) = dims;
            (kh <= h + 2 * pt && kw <= w + 2 * pl)
                .then(|| torch_pool([c, h, w], (kh, kw), (sh, sw), (pt, pl)))
        })
}

/// A convolution PyTorch allows, small enough for the direct f64 reference.
fn conv_geom() -> impl Strategy<Value = conv::ConvGeom> {
    (
        (1usize..4, 1usize..4, 1usize..4),
        (1usize..8, 1usize..20),
        (1usize..4, 1usize..4, 1usize..3, 1usize..3),
        (1usize..3, 1usize..3, 0usize..3, 0usize..3),
    )
        .prop_filter_map(
            "kernel larger than the padded input",
            |((groups, cig, cog), (h, w), (kh, kw, sh, sw), (dh, dw, pt, pl))| {
                let fits = (kh - 1) * dh < h + 2 * pt && (kw - 1) * dw < w + 2 * pl;
                fits.then(|| {
                    torch_conv(
                        [groups * cig, h, w],
                        groups * cog,
                        (kh, kw),
                        (sh, sw),
                        (dh, dw),
                        (pt, pl),
                        groups,
                    )
                })
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(150), ..ProptestConfig::default() })]

    /// Max pooling is exact: every path (with and without arg-max) against the definition,
    /// on coarse values (ties) and sometimes a NaN. The backward pass, exact too, against
    /// the gradients scattered to the arg-max in output order (the order the kernel adds
    /// overlapping windows' gradients in).
    #[test]
    fn max_pool_matches_the_definition(
        g in pool_geom(),
        rows in 1usize..3,
        nan in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let mut rng = Rng::seed(seed);
        let (in_len, out_len) = (g.c * g.h * g.w, g.c * g.oh * g.ow);
        let mut x: Vec<f32> = (0..rows * in_len).map(|_| -rng.uniform(0.0, 4.0).floor()).collect();
        if nan {
            let at = rng.below(x.len());
            x[at] = f32::NAN;
        }
        check_max_pool("random", &g, &x, rows);
        let dy = random(rows * out_len, &mut rng);
        let mut at = vec![0u32; rows * out_len];
        let mut y = vec![0.0; rows * out_len];
        conv::max_pool_forward_with(Arch::scalar(), &g, &x, &mut y, Some(&mut at), rows);
        let mut want = vec![0.0f32; rows * in_len];
        for r in 0..rows {
            for o in 0..out_len {
                want[r * in_len + at[r * out_len + o] as usize] += dy[r * out_len + o];
            }
        }
        for arch in arches() {
            let mut dx = vec![f32::NAN; rows * in_len];
            conv::max_pool_backward_with(arch, &g, &dy, &at, &mut dx, rows);
            prop_assert_eq!(&dx, &want, "{:?} {:?}", arch, g);
        }
    }

    /// Average pooling against the definition: each value is a sum of ≤ kh·kw inputs of
    /// size ≤ 1 (γ_{kh·kw+1} with the scaling), well inside assert_all_close's 1e-5 bound.
    #[test]
    fn avg_pool_matches_the_definition(g in pool_geom(), rows in 1usize..3, seed in any::<u64>()) {
        let mut rng = Rng::seed(seed);
        let (in_len, out_len) = (g.c * g.h * g.w, g.c * g.oh * g.ow);
        let x = random(rows * in_len, &mut rng);
        let dy = random(rows * out_len, &mut rng);
        let mut y = vec![f32::NAN; rows * out_len];
        conv::avg_pool_forward(&g, &x, &mut y, rows);
        let mut dx = vec![f32::NAN; rows * in_len];
        conv::avg_pool_backward(&g, &dy, &mut dx, rows);
        for r in 0..rows {
            assert_all_close("avg y", &y[r * out_len..][..out_len],
                &direct_avg_pool(&g, &x[r * in_len..][..in_len]), 1.0);
            assert_all_close("avg dx", &dx[r * in_len..][..in_len],
                &direct_avg_pool_grad(&g, &dy[r * out_len..][..out_len]), 1.0);
        }
    }

    /// im2col and col2im_add are adjoint: ⟨im2col(x), c⟩ = ⟨x, col2im(c)⟩, both sums of
    /// the same products (each cols entry that reads an input pairs with it once), so equal
    /// in f64 up to γ over the number of terms.
    #[test]
    fn im2col_and_col2im_are_adjoint(g in conv_geom(), seed in any::<u64>()) {
        let mut rng = Rng::seed(seed);
        let x = random(g.c_in * g.h * g.w, &mut rng);
        let c = random(g.ckk() * g.positions(), &mut rng);
        let mut cols = vec![f32::NAN; c.len()];
        conv::im2col(&g, &x, &mut cols);
        let mut back = vec![0.0f32; x.len()];
        conv::col2im_add(&g, &c, &mut back);
        let lhs: f64 = cols.iter().zip(&c).map(|(&a, &b)| a as f64 * b as f64).sum();
        let rhs: f64 = x.iter().zip(&back).map(|(&a, &b)| a as f64 * b as f64).sum();
        // col2im_add sums at most kh·kw f32 values into each input position.
        let tol = gamma(g.kh * g.kw) * c.len() as f64 + 1e-9;
        prop_assert!((lhs - rhs).abs() <= tol, "{:?}: {} vs {}", g, lhs, rhs);
        // Every unfolded value is an input value or a padding zero.
        prop_assert!(cols.iter().all(|v| *v == 0.0 || x.contains(v)));
    }

    /// Convolution forward (every path, bias or not, every activation) and backward (every
    /// path) against the direct f64 definition; assert_all_close's 1e-5·√n relative bound
    /// is about 80 times the random-walk error of an n-term f32 sum of terms ≤ 1, and far
    /// below what a misplaced tap or a lost tail would cost.
    #[test]
    fn conv2d_matches_the_definition(
        g in conv_geom(),
        rows in 1usize..3,
        act in act(),
        with_bias in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let mut rng = Rng::seed(seed);
        let (in_len, out_len) = (g.c_in * g.h * g.w, g.c_out * g.oh * g.ow);
        let x = random(rows * in_len, &mut rng);
        let wt = random(g.weight_len(), &mut rng);
        let b = random(g.c_out, &mut rng);
        let dy = random(rows * out_len, &mut rng);
        let bias = with_bias.then_some(&b[..]);
        let (mut want_dw, mut want_db, mut want_dx) =
            (vec![0.0; wt.len()], vec![0.0; g.c_out], Vec::new());
        for r in 0..rows {
            let (dw, db, dx) = direct_conv_grads(
                &g, &x[r * in_len..][..in_len], &wt, &dy[r * out_len..][..out_len]);
            want_dw.iter_mut().zip(dw).for_each(|(a, b)| *a += b);
            want_db.iter_mut().zip(db).for_each(|(a, b)| *a += b);
            want_dx.extend(dx);
        }
        for arch in arches() {
            let mut y = vec![f32::NAN; rows * out_len];
            conv::conv2d_forward_with(arch, &g, &wt, bias, act, &x, &mut y, rows,
                &mut conv::ConvWorkspace::default());
            for r in 0..rows {
                let want: Vec<f64> = direct_conv(&g, &x[r * in_len..][..in_len], &wt, bias)
                    .into_iter().map(|v| act_f64(act, v)).collect();
                assert_all_close(&format!("{arch:?} {g:?} y"), &y[r * out_len..][..out_len],
                    &want, g.group_ckk() as f64);
            }
            let (mut dw, mut db, mut dx) =
                (vec![f32::NAN; wt.len()], vec![f32::NAN; g.c_out], vec![f32::NAN; rows * in_len]);
            let no_act_y = vec![0.0; rows * out_len];
            conv::conv2d_backward_with(arch, &g, &wt, EpilogueAct::None, &x, &no_act_y, &dy,
                rows, &mut dw, Some(&mut db), Some(&mut dx), &mut conv::ConvWorkspace::default());
            let positions = (rows * g.oh * g.ow) as f64;
            assert_all_close(&format!("{arch:?} {g:?} dw"), &dw, &want_dw, positions);
            assert_all_close(&format!("{arch:?} {g:?} db"), &db, &want_db, positions);
            assert_all_close(&format!("{arch:?} {g:?} dx"), &dx, &want_dx, g.c_out as f64);
        }
    }
}

/// Sizes of a normalisation: rows, channels, values per channel and row (short rows run
/// value by value, longer ones on the vector paths, the longest over more than one block).
fn norm_sizes() -> impl Strategy<Value = (usize, usize, usize)> {
    (
        1usize..6,
        1usize..5,
        prop_oneof![1usize..40, 1000usize..1100],
    )
}

/// Groups of a group normalisation: channels per group and values per channel (layer
/// normalisation's long rows of one value per channel among them).
fn group_sizes() -> impl Strategy<Value = (usize, usize)> {
    prop_oneof![
        (1usize..5, 1usize..7),
        (1usize..5, 200usize..300),
        (1000usize..1100, Just(1usize)),
    ]
}

/// The bounds of statistics summed in f32 over blocks of at most `block` values (vector
/// lanes, then f64 across blocks): the mean within γ(block + 2)·mean|x|, the variance within
/// 2γ(block + 4)·mean(x²) (squared deviations from a block mean that is itself rounded).
fn stats_bounds(values: &[f32], block: usize) -> (f64, f64) {
    let n = values.len() as f64;
    let mean_abs = values.iter().map(|&v| (v as f64).abs()).sum::<f64>() / n;
    let mean_sq = values.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / n;
    (
        gamma(block + 2) * mean_abs,
        2.0 * gamma(block + 4) * mean_sq,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(150), ..ProptestConfig::default() })]

    /// Batch normalisation against f64, on every path. The statistics are within
    /// [`stats_bounds`] of f64's. Forward (given the statistics): h = (x − m)·σ⁻¹ with σ⁻¹
    /// rounded takes ≤ 4 roundings on |x| + |m| scaled by σ⁻¹, then γ·h + β two more.
    /// Backward (given x̂): the sums are f32 over blocks of at most `min(inner, 1024)`
    /// values, each term an f32 product, so γ(block + 2) times the sum of the terms'
    /// magnitudes; dx = a·dy − b − c·x̂ rounds its three coefficients and its two fused
    /// steps.
    #[test]
    fn batch_norm_matches_f64((rows, channels, inner) in norm_sizes(), seed in any::<u64>()) {
        let mut rng = Rng::seed(seed);
        let len = rows * channels * inner;
        let x = random(len, &mut rng);
        let dy = random(len, &mut rng);
        let gamma_p = random(channels, &mut rng);
        let beta = random(channels, &mut rng);
        let eps = 1e-5f32;
        let block = inner.min(1024);
        let at = |r: usize, c: usize, i: usize| (r * channels + c) * inner + i;
        let n = (rows * inner) as f64;
        for arch in arches() {
            let (mut mean, mut var) = (vec![0.0; channels], vec![0.0; channels]);
            norm::batch_stats_with(arch, &x, rows, channels, inner, &mut mean, &mut var);
            let (mut y, mut xhat) = (vec![f32::NAN; len], vec![f32::NAN; len]);
            norm::batch_norm_forward_with(arch, &x, rows, channels, inner, &mean, &var, eps,
                &gamma_p, &beta, &mut y, Some(&mut xhat), EpilogueAct::None);
            let (mut dgamma, mut dbeta, mut dx) =
                (vec![f32::NAN; channels], vec![f32::NAN; channels], vec![f32::NAN; len]);
            norm::batch_norm_backward_with(arch, &xhat, &dy, rows, channels, inner, &var, eps,
                &gamma_p, &mut dgamma, &mut dbeta, Some(&mut dx), norm::Statistics::Batch);
            for c in 0..channels {
                let values: Vec<f32> = (0..rows)
                    .flat_map(|r| (0..inner).map(move |i| (r, i)))
                    .map(|(r, i)| x[at(r, c, i)])
                    .collect();
                let m = values.iter().map(|&v| v as f64).sum::<f64>() / n;
                let v = values.iter().map(|&x| (x as f64 - m).powi(2)).sum::<f64>() / n;
                let (mean_tol, var_tol) = stats_bounds(&values, block);
                prop_assert!((mean[c] as f64 - m).abs() <= mean_tol + U * m.abs(), "{:?} mean", arch);
                prop_assert!((var[c] as f64 - v).abs() <= var_tol + U * v + 1e-12, "{:?} var", arch);
                // The forward pass against f64 from the statistics it was given.
                let (mc, vc) = (mean[c] as f64, var[c] as f64);
                let inv_std = 1.0 / (vc + eps as f64).sqrt();
                let (g, b) = (gamma_p[c] as f64, beta[c] as f64);
                let (mut sum_dy, mut sum_dyh, mut mag, mut mag_dy) = (0.0, 0.0, 0.0, 0.0);
                for r in 0..rows {
                    for i in 0..inner {
                        let k = at(r, c, i);
                        let h = (x[k] as f64 - mc) * inv_std;
                        let h_err = 8.0 * U * (x[k].abs() as f64 + mc.abs()) * inv_std;
                        let want = g * h + b;
                        let tol = g.abs() * h_err + 3.0 * U * (g.abs() * h.abs() + b.abs());
                        prop_assert!((y[k] as f64 - want).abs() <= tol,
                            "{:?} y at {}: {} vs {}", arch, k, y[k], want);
                        prop_assert!((xhat[k] as f64 - h).abs() <= h_err, "{:?} x̂ at {}", arch, k);
                        let (d, hk) = (dy[k] as f64, xhat[k] as f64);
                        sum_dy += d;
                        sum_dyh += d * hk;
                        mag += (d * hk).abs();
                        mag_dy += d.abs();
                    }
                }
                let (err_dy, err_dyh) = (gamma(block + 1) * mag_dy, gamma(block + 2) * mag);
                prop_assert!((dbeta[c] as f64 - sum_dy).abs() <= U * sum_dy.abs() + err_dy,
                    "{:?} dβ", arch);
                prop_assert!((dgamma[c] as f64 - sum_dyh).abs() <= U * sum_dyh.abs() + err_dyh,
                    "{:?} dγ", arch);
                let scale = g / ((var[c] + eps).sqrt() as f64 * n);
                for r in 0..rows {
                    for i in 0..inner {
                        let k = at(r, c, i);
                        let (d, hk) = (dy[k] as f64, xhat[k] as f64);
                        let want = scale * (n * d - sum_dy - hk * sum_dyh);
                        let terms = n * d.abs() + sum_dy.abs() + hk.abs() * sum_dyh.abs();
                        let tol = scale.abs() * (4.0 * U * terms + err_dy + hk.abs() * err_dyh)
                            + 2.0 * U * want.abs() + 1e-12;
                        prop_assert!((dx[k] as f64 - want).abs() <= tol,
                            "{:?} dx at {}: {} vs {}", arch, k, dx[k], want);
                    }
                }
            }
        }
    }

    /// Group normalisation (layer normalisation is its case of one group and `inner = 1`)
    /// against f64 on every path, with the same error accounting as batch normalisation: the
    /// statistics within [`stats_bounds`], which enter x̂ through the mean and σ⁻¹; dγ and dβ
    /// of a channel sum one f32 product per value of that channel in every sample (γ_n).
    #[test]
    fn group_norm_matches_f64(
        rows in 1usize..4,
        groups in 1usize..4,
        (per_group, inner) in group_sizes(),
        seed in any::<u64>(),
    ) {
        let mut rng = Rng::seed(seed);
        let channels = groups * per_group;
        let (sample, len) = (channels * inner, per_group * inner);
        let x = random(rows * sample, &mut rng);
        let dy = random(rows * sample, &mut rng);
        let gamma_p = random(channels, &mut rng);
        let beta = random(channels, &mut rng);
        let eps = 1e-5f32;
        let blocks = rows * groups;
        let block = len.min(1024);
        for arch in arches() {
            let (mut y, mut xhat, mut inv) = (
                vec![f32::NAN; rows * sample],
                vec![f32::NAN; rows * sample],
                vec![f32::NAN; blocks],
            );
            norm::group_norm_forward_with(arch, &x, channels, inner, groups, eps, &gamma_p, &beta,
                &mut y, Some((&mut xhat, &mut inv)));
            let (mut dgamma, mut dbeta, mut dx) = (
                vec![f32::NAN; channels],
                vec![f32::NAN; channels],
                vec![f32::NAN; rows * sample],
            );
            norm::group_norm_backward_with(arch, &xhat, &inv, &dy, channels, inner, groups,
                &gamma_p, &mut dgamma, &mut dbeta, Some(&mut dx));
            let n = len as f64;
            // The parameter of value i of block k.
            let channel = |k: usize, i: usize| (k % groups) * per_group + i / inner;
            for k in 0..blocks {
                let xs = &x[k * len..][..len];
                let m = xs.iter().map(|&v| v as f64).sum::<f64>() / n;
                let v = xs.iter().map(|&v| (v as f64 - m).powi(2)).sum::<f64>() / n;
                let (mean_err, var_err) = stats_bounds(xs, block);
                let inv_std = 1.0 / (v + eps as f64).sqrt();
                // √ halves the variance's relative error.
                let inv_err = 2.0 * U * inv_std + 0.5 * inv_std * var_err / (v + eps as f64);
                prop_assert!((inv[k] as f64 - inv_std).abs() <= inv_err, "{:?} 1/σ", arch);
                let (mut sum, mut sum_h, mut mag) = (0.0, 0.0, 0.0);
                for i in 0..len {
                    let at = k * len + i;
                    let h = (x[at] as f64 - m) * inv_std;
                    let h_err = 8.0 * U * (x[at].abs() as f64 + m.abs()) * inv_std
                        + mean_err * inv_std
                        + (x[at] as f64 - m).abs() * inv_err;
                    let (g, b) = (gamma_p[channel(k, i)] as f64, beta[channel(k, i)] as f64);
                    let want = g * h + b;
                    let tol = g.abs() * h_err + 3.0 * U * (g.abs() * h.abs() + b.abs());
                    prop_assert!((y[at] as f64 - want).abs() <= tol,
                        "{:?} y at {}: {} vs {}", arch, at, y[at], want);
                    prop_assert!((xhat[at] as f64 - h).abs() <= h_err, "{:?} x̂ at {}", arch, at);
                    let d = dy[at] as f64 * g;
                    sum += d;
                    sum_h += d * xhat[at] as f64;
                    mag += d.abs() * (1.0 + (xhat[at] as f64).abs());
                }
                let scale = inv[k] as f64 / n;
                for i in 0..len {
                    let at = k * len + i;
                    let d = dy[at] as f64 * gamma_p[channel(k, i)] as f64;
                    let hk = xhat[at] as f64;
                    let want = scale * (n * d - sum - hk * sum_h);
                    let tol = scale
                        * (4.0 * n * U * d.abs() + gamma(block + 3) * mag * (1.0 + hk.abs()))
                        + 2.0 * U * want.abs()
                        + 1e-12;
                    prop_assert!((dx[at] as f64 - want).abs() <= tol,
                        "{:?} dx at {}: {} vs {}", arch, at, dx[at], want);
                }
            }
            for c in 0..channels {
                // Every value of channel c: in each sample, its `inner` positions.
                let at: Vec<usize> = (0..rows)
                    .flat_map(|r| (0..inner).map(move |i| r * sample + c * inner + i))
                    .collect();
                let terms: Vec<f64> = at.iter().map(|&i| dy[i] as f64 * xhat[i] as f64).collect();
                let want: f64 = terms.iter().sum();
                let mag: f64 = terms.iter().map(|t| t.abs()).sum();
                prop_assert!((dgamma[c] as f64 - want).abs() <= gamma(at.len() + 1) * mag + 1e-30,
                    "{:?} dγ[{}]", arch, c);
                let want: f64 = at.iter().map(|&i| dy[i] as f64).sum();
                let mag: f64 = at.iter().map(|&i| (dy[i] as f64).abs()).sum();
                prop_assert!((dbeta[c] as f64 - want).abs() <= gamma(at.len()) * mag + 1e-30,
                    "{:?} dβ[{}]", arch, c);
            }
        }
    }
}
