//! Every kernel on every path this machine has, against f64 references, on awkward sizes:
//! products, activations, reductions and Adam here, convolution, pooling and the RNN
//! recurrence in the files of `tests/`, random shapes in `tests/props.rs`.

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::*;
use crate::Rng;

mod convolution;
mod pooling;
mod props;
mod rnn;

// The properties check against the same references.
use convolution::{direct_conv, direct_conv_grads, torch_conv};
use pooling::{check_max_pool, direct_avg_pool, direct_avg_pool_grad, torch_pool};
use rnn::rnn_reference;

const SIZES: [usize; 6] = [1, 3, 17, 63, 65, 257];
const ACTS: [EpilogueAct; 4] = [
    EpilogueAct::None,
    EpilogueAct::Relu,
    EpilogueAct::Tanh,
    EpilogueAct::Sigmoid,
];

fn random(n: usize, rng: &mut Rng) -> Vec<f32> {
    (0..n).map(|_| rng.uniform(-1.0, 1.0)).collect()
}

fn act_f64(act: EpilogueAct, v: f64) -> f64 {
    match act {
        EpilogueAct::None => v,
        EpilogueAct::Relu => v.max(0.0),
        EpilogueAct::Tanh => v.tanh(),
        EpilogueAct::Sigmoid => 1.0 / (1.0 + (-v).exp()),
    }
}

fn assert_all_close(what: &str, got: &[f32], want: &[f64], scale: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (k, (&got, &want)) in got.iter().zip(want).enumerate() {
        assert!(
            (got as f64 - want).abs() <= 1e-5 * scale.sqrt() * (1.0 + want.abs()),
            "{what} at {k}: {got} vs {want}"
        );
    }
}

/// Checks one product against an f64 reference; `transposed_a` stores A column-major.
#[allow(clippy::too_many_arguments)]
fn check_gemm(
    arch: Arch,
    backend: Backend,
    threads: usize,
    m: usize,
    n: usize,
    k: usize,
    transposed_a: bool,
    accumulate: bool,
    with_bias: bool,
    act: EpilogueAct,
    rng: &mut Rng,
) {
    let a = random(m * k, rng);
    let b_stride = n + 3; // rows of B and C padded, to test strides
    let b = random(k * b_stride, rng);
    let c_stride = n + 5;
    let c0 = random(m * c_stride, rng);
    let bias = random(m.max(n), rng);
    // Half the biased products take one bias per row (a convolution's channels).
    let row_bias = with_bias && (m + 2 * n + k).is_multiple_of(2);
    let (rsa, csa) = if transposed_a { (1, m) } else { (k, 1) };
    let p = MatMul {
        m,
        n,
        k,
        rsa,
        csa,
        rsb: b_stride,
        rsc: c_stride,
        accumulate,
        row_bias,
        act,
    };
    let mut c = c0.clone();
    gemm_with(
        arch,
        backend,
        threads,
        &p,
        &a,
        &b,
        with_bias.then_some(&bias[..]),
        &mut c,
    );
    for i in 0..m {
        for j in 0..n {
            let mut want = if accumulate {
                c0[i * c_stride + j] as f64
            } else {
                0.0
            };
            for q in 0..k {
                want += a[i * rsa + q * csa] as f64 * b[q * b_stride + j] as f64;
            }
            if with_bias {
                want += bias[if row_bias { i } else { j }] as f64;
            }
            let want = act_f64(act, want);
            let got = c[i * c_stride + j] as f64;
            let tol = 2e-6 * (k as f64).sqrt() * (1.0 + want.abs()) + 1e-6;
            assert!((got - want).abs() <= tol, "{arch:?} {backend:?} t{threads} {m}x{k}x{n} tA={transposed_a} acc={accumulate} bias={with_bias} row_bias={row_bias} {act:?} at ({i},{j}): {got} vs {want}");
        }
        // Padding between rows is never written.
        for j in n..c_stride {
            assert_eq!(
                c[i * c_stride + j],
                c0[i * c_stride + j],
                "{arch:?}: padding written"
            );
        }
    }
}

#[test]
fn gemm_matches_f64_reference_on_every_path_and_awkward_size() {
    let mut rng = Rng::seed(1);
    for arch in Arch::available() {
        for &m in &SIZES {
            for &n in &SIZES {
                // k sweeps the sizes too, without running all 216 triples on each path.
                let k = SIZES[(m + n) % SIZES.len()];
                let act = ACTS[(m * 7 + n) % ACTS.len()];
                check_gemm(
                    arch,
                    Backend::Own,
                    1,
                    m,
                    n,
                    k,
                    (m + n) % 2 == 0,
                    n % 3 == 0,
                    m % 2 == 1,
                    act,
                    &mut rng,
                );
            }
        }
        // Wide products with long k, which the SIMD paths split into k blocks: the bias
        // and activation must come once, after the last block, and accumulation must keep
        // C's values. And vector-matrix products (batch-1 inference, a recurrence's step)
        // wide enough for the widest one-row panels, with remainders.
        for (m, n, k) in [
            (9, 300, 161),
            (6, 841, 288),
            (5, 1024, 700),
            (4, 257, 641),
            (1, 1024, 320),
            (1, 513, 64),
            (1, 300, 7),
        ] {
            for (accumulate, act) in [(false, EpilogueAct::Relu), (true, EpilogueAct::Tanh)] {
                check_gemm(
                    arch,
                    Backend::Own,
                    1,
                    m,
                    n,
                    k,
                    m % 2 == 0,
                    accumulate,
                    true,
                    act,
                    &mut rng,
                );
            }
        }
        for &k in &SIZES {
            check_gemm(
                arch,
                Backend::Own,
                1,
                5,
                33,
                k,
                false,
                false,
                true,
                EpilogueAct::Relu,
                &mut rng,
            );
        }
    }
}

#[test]
fn gemm_nt_split_over_threads_gives_the_whole_products_values() {
    // Each row of C is one row's dot products, whichever half of the rows runs it: the
    // split product must equal the whole one to the bit.
    let mut rng = Rng::seed(22);
    for threads in [1, 2, 3, 4] {
        for &m in &[1, 4, 7, 8, 9, 13, 16, 37] {
            for &(n, k) in &[(1, 1), (17, 0), (33, 130), (130, 128)] {
                let (rsa, rsb, rsc) = (k + 2, k + 1, n + 3);
                let a = random(m * rsa, &mut rng);
                let b = random(n * rsb, &mut rng);
                let c0 = random(m * rsc, &mut rng);
                let p = MatMulNt {
                    m,
                    n,
                    k,
                    rsa,
                    rsb,
                    rsc,
                    accumulate: m % 2 == 1,
                };
                let mut whole = c0.clone();
                gemm_nt(&p, &a, &b, &mut whole);
                let mut split = c0.clone();
                super::gemm::split_rows_nt(threads, &p, &a, &b, &mut split);
                assert_eq!(split, whole, "threads {threads}, {m}×{n}×{k}");
            }
        }
    }
}

#[test]
fn gemm_nt_matches_f64_reference_on_every_path_and_awkward_size() {
    let mut rng = Rng::seed(21);
    for arch in Arch::available() {
        for &m in &SIZES {
            for &n in &[1, 2, 3, 4, 5, 9, 27, 33] {
                for &k in &[0, 1, 7, 16, 17, 63, 841] {
                    let accumulate = (m + n + k) % 2 == 1;
                    // Rows padded beyond k and n, to test the strides.
                    let (rsa, rsb, rsc) = (k + 3, k + 1, n + 2);
                    let a = random(m * rsa, &mut rng);
                    let b = random(n * rsb, &mut rng);
                    let c0 = random(m * rsc, &mut rng);
                    let mut c = c0.clone();
                    let p = MatMulNt {
                        m,
                        n,
                        k,
                        rsa,
                        rsb,
                        rsc,
                        accumulate,
                    };
                    gemm_nt_with(arch, &p, &a, &b, &mut c);
                    for i in 0..m {
                        for j in 0..rsc {
                            let got = c[i * rsc + j] as f64;
                            if j >= n {
                                assert_eq!(c[i * rsc + j], c0[i * rsc + j], "{arch:?}: padding");
                                continue;
                            }
                            let mut want = if accumulate {
                                c0[i * rsc + j] as f64
                            } else {
                                0.0
                            };
                            for q in 0..k {
                                want += a[i * rsa + q] as f64 * b[j * rsb + q] as f64;
                            }
                            let tol = 2e-6 * (k as f64).sqrt() * (1.0 + want.abs()) + 1e-6;
                            assert!(
                                (got - want).abs() <= tol,
                                "{arch:?} {m}x{k}x{n} acc={accumulate} at ({i},{j}): {got} vs {want}"
                            );
                        }
                    }
                }
            }
        }
        for n in [0, 1, 15, 16, 17, 64, 65, 1000] {
            let x = random(n, &mut rng);
            let want: f64 = x.iter().map(|&v| v as f64).sum();
            let got = sum_with(arch, &x) as f64;
            assert!(
                (got - want).abs() <= 1e-5 * (1.0 + n as f64).sqrt(),
                "{arch:?} sum of {n}"
            );
        }
    }
}

#[test]
fn gemm_library_backend_and_threads_agree() {
    let mut rng = Rng::seed(2);
    for arch in Arch::available()
        .into_iter()
        .filter(|a| a.isa() != Isa::Scalar)
    {
        check_gemm(
            arch,
            Backend::Library,
            1,
            65,
            257,
            63,
            false,
            true,
            true,
            EpilogueAct::Tanh,
            &mut rng,
        );
        check_gemm(
            arch,
            Backend::Library,
            2,
            129,
            130,
            257,
            true,
            false,
            true,
            EpilogueAct::Sigmoid,
            &mut rng,
        );
    }
    for arch in Arch::available() {
        // Large enough to be split across threads: 257·257·65·2 FLOPs.
        check_gemm(
            arch,
            Backend::Own,
            2,
            257,
            257,
            65,
            true,
            true,
            true,
            EpilogueAct::Relu,
            &mut rng,
        );
        check_gemm(
            arch,
            Backend::Own,
            3,
            257,
            65,
            257,
            false,
            false,
            false,
            EpilogueAct::None,
            &mut rng,
        );
    }
}

/// Found by the GEMM property: a product with k = 0 split over threads sliced its (empty)
/// A at the bottom half's first row and panicked.
#[test]
fn empty_inner_dimension_split_over_threads_writes_the_epilogue() {
    for arch in Arch::available() {
        for threads in [1, 2, 4] {
            let p = MatMul {
                act: EpilogueAct::Relu,
                ..MatMul::new(5, 3, 0)
            };
            let bias = [1.0, -2.0, 3.0];
            let mut c = [f32::NAN; 15];
            gemm_with(
                arch,
                Backend::Own,
                threads,
                &p,
                &[],
                &[],
                Some(&bias),
                &mut c,
            );
            assert_eq!(c, [1.0, 0.0, 3.0].repeat(5)[..], "{arch:?} t{threads}");
        }
    }
}

#[test]
fn activations_match_f64_reference_on_every_path() {
    let mut rng = Rng::seed(3);
    for arch in Arch::available() {
        for &n in &SIZES {
            let x: Vec<f32> = (0..n).map(|_| rng.uniform(-6.0, 6.0)).collect();
            let dy = random(n, &mut rng);
            for act in ACTS {
                let mut y = x.clone();
                activation_forward_with(arch, act, &mut y);
                for (&xi, &yi) in x.iter().zip(&y) {
                    let want = act_f64(act, xi as f64);
                    assert!(
                        (yi as f64 - want).abs() <= 3e-7 * (1.0 + want.abs()),
                        "{arch:?} {act:?}({xi}) = {yi}, want {want}"
                    );
                }
                let mut dx = vec![f32::NAN; n];
                activation_backward_with(arch, act, &y, &dy, &mut dx);
                let mut dx_ref = vec![f32::NAN; n];
                activation_backward_with(Arch::scalar(), act, &y, &dy, &mut dx_ref);
                for (a, b) in dx.iter().zip(&dx_ref) {
                    assert!(
                        (a - b).abs() <= 1e-6,
                        "{arch:?} {act:?} backward: {a} vs {b}"
                    );
                }
            }
        }
    }
}

#[test]
fn vector_exp_tanh_sigmoid_stay_within_their_stated_error() {
    // A dense grid, plus the edges of each approximation's branches.
    let mut x: Vec<f32> = (-8700..=8800).map(|i| i as f32 * 0.01).collect();
    x.extend([0.625, -0.625, 0.6249, 1e-6, -1e-6, 1e-30, 0.0, -0.0]);
    for arch in Arch::available() {
        let mut e = vec![0.0; x.len()];
        exp_with(arch, &x, &mut e);
        for (&xi, &ei) in x.iter().zip(&e) {
            let want = (xi as f64).exp();
            assert!(
                ((ei as f64 - want) / want).abs() <= 3e-7,
                "{arch:?} exp({xi}) = {ei}, want {want}"
            );
        }
        let small: Vec<f32> = x.iter().map(|v| v / 10.0).collect();
        let mut t = small.clone();
        activation_forward_with(arch, EpilogueAct::Tanh, &mut t);
        let mut s = small.clone();
        activation_forward_with(arch, EpilogueAct::Sigmoid, &mut s);
        for ((&xi, &ti), &si) in small.iter().zip(&t).zip(&s) {
            let want_t = (xi as f64).tanh();
            let err = (ti as f64 - want_t).abs();
            assert!(
                err <= 3e-7 && err <= 2e-6 * want_t.abs().max(1e-30) + 1e-37,
                "{arch:?} tanh({xi}) = {ti}, want {want_t}"
            );
            let want_s = 1.0 / (1.0 + (-(xi as f64)).exp());
            assert!(
                (si as f64 - want_s).abs() <= 3e-7,
                "{arch:?} sigmoid({xi}) = {si}, want {want_s}"
            );
        }
    }
}

#[test]
fn vector_gelu_and_its_derivative_match_the_f64_reference() {
    // Both branches of Φ, the tails, and every tail length of the vector loop.
    let grid: Vec<f32> = (-1500..=1500).map(|i| i as f32 * 0.01).collect();
    for arch in Arch::available() {
        for n in SIZES.iter().copied().chain([grid.len()]) {
            let x = &grid[grid.len() / 2 - n / 2..][..n];
            let dy: Vec<f32> = x.iter().map(|v| 1.0 - v / 20.0).collect();
            let (mut y, mut want_y) = (vec![0.0; n], vec![0.0; n]);
            gelu_forward_with(arch, x, &mut y);
            gelu_forward_scalar(x, &mut want_y);
            let (mut dx, mut want_dx) = (vec![0.0; n], vec![0.0; n]);
            gelu_backward_with(arch, x, &dy, &mut dx);
            gelu_backward_scalar(x, &dy, &mut want_dx);
            for i in 0..n {
                assert!(
                    (y[i] - want_y[i]).abs() <= 1e-6 * want_y[i].abs() + 1e-7,
                    "{arch:?} gelu({}) = {}, want {}",
                    x[i],
                    y[i],
                    want_y[i]
                );
                assert!(
                    (dx[i] - want_dx[i]).abs() <= 1e-6,
                    "{arch:?} gelu'({}) = {}, want {}",
                    x[i],
                    dx[i],
                    want_dx[i]
                );
            }
        }
    }
}

#[test]
fn softmax_and_log_sum_exp_on_every_path() {
    let mut rng = Rng::seed(4);
    for arch in Arch::available() {
        for &cols in &SIZES {
            let x: Vec<f32> = (0..2 * cols).map(|_| rng.uniform(-30.0, 30.0)).collect();
            let mut y = vec![0.0; x.len()];
            softmax_forward_with(arch, &x, &mut y, cols);
            for (xr, yr) in x.chunks(cols).zip(y.chunks(cols)) {
                let max = xr.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
                let sum: f64 = xr.iter().map(|&v| (v as f64 - max).exp()).sum();
                for (&xi, &yi) in xr.iter().zip(yr) {
                    let want = (xi as f64 - max).exp() / sum;
                    assert!(
                        (yi as f64 - want).abs() <= 4e-6 * want + 1e-12,
                        "{arch:?} softmax: {yi} vs {want}"
                    );
                }
                let lse = log_sum_exp_with(arch, xr) as f64;
                let want = max + sum.ln();
                assert!(
                    (lse - want).abs() <= 1e-6 * want.abs().max(1.0),
                    "{arch:?} lse: {lse} vs {want}"
                );
            }
        }
        // Huge logits do not overflow.
        let mut y = [0.0; 3];
        softmax_forward_with(arch, &[1000.0, 1001.0, -1000.0], &mut y, 3);
        assert!((y.iter().sum::<f32>() - 1.0).abs() < 1e-6 && y[2] == 0.0 || y[2] < 1e-30);
    }
}

#[test]
fn relu_propagates_nan_on_every_path() {
    for arch in Arch::available() {
        let mut y = [f32::NAN, -1.0, 2.0];
        activation_forward_with(arch, EpilogueAct::Relu, &mut y);
        assert!(y[0].is_nan(), "{arch:?} hides NaN");
        assert_eq!(&y[1..], &[0.0, 2.0]);
    }
}

#[test]
fn column_sums_and_argmax() {
    let mut out = [0.0; 3];
    column_sums(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 3, &mut out);
    assert_eq!(out, [5.0, 7.0, 9.0]);
    assert_eq!(argmax(&[0.1, f32::NAN, 0.3, 0.3]), 2);
}

#[test]
fn adam_update_on_every_path_matches_scalar() {
    let mut rng = Rng::seed(5);
    let step = AdamStep {
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        l2: 0.01,
        decay: 0.999,
        step_size: 1e-3 / 0.19,
        inv_sqrt_correction2: 1.0 / 0.001_999f32.sqrt(),
    };
    for &n in &SIZES {
        let (p0, g) = (random(n, &mut rng), random(n, &mut rng));
        let m0: Vec<f32> = random(n, &mut rng).iter().map(|v| v * 0.1).collect();
        let v0: Vec<f32> = random(n, &mut rng).iter().map(|v| v * v * 0.01).collect();
        let (mut p_ref, mut m_ref, mut v_ref) = (p0.clone(), m0.clone(), v0.clone());
        adam_update_with(
            Arch::scalar(),
            &step,
            &mut p_ref,
            &g,
            &mut m_ref,
            &mut v_ref,
        );
        for arch in Arch::available() {
            let (mut p, mut m, mut v) = (p0.clone(), m0.clone(), v0.clone());
            adam_update_with(arch, &step, &mut p, &g, &mut m, &mut v);
            for k in 0..n {
                assert!(
                    (p[k] - p_ref[k]).abs() <= 1e-6 * (1.0 + p_ref[k].abs()),
                    "{arch:?} p[{k}]"
                );
                assert!((m[k] - m_ref[k]).abs() <= 1e-7, "{arch:?} m[{k}]");
                assert!(
                    (v[k] - v_ref[k]).abs() <= 1e-7 * (1.0 + v_ref[k]),
                    "{arch:?} v[{k}]"
                );
            }
        }
    }
}
