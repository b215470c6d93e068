//! Every kernel on every path this machine has, against f64 references, on awkward sizes.

use super::*;
use crate::Rng;

mod props;

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
        // C's values.
        for (m, n, k) in [(9, 300, 161), (6, 841, 288), (5, 1024, 700), (4, 257, 641)] {
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

/// A convolution's sizes with PyTorch's output size, `(len + 2·pad − d·(k − 1) − 1) / s + 1`
/// in each dimension: `[c_in, h, w]`, `c_out`, kernel, stride, dilation, padding, groups.
fn torch_conv(
    [c_in, h, w]: [usize; 3],
    c_out: usize,
    (kh, kw): (usize, usize),
    (sh, sw): (usize, usize),
    (dh, dw): (usize, usize),
    (pt, pl): (usize, usize),
    groups: usize,
) -> conv::ConvGeom {
    conv::ConvGeom {
        c_in,
        h,
        w,
        c_out,
        kh,
        kw,
        sh,
        sw,
        dh,
        dw,
        pt,
        pl,
        oh: (h + 2 * pt - dh * (kh - 1) - 1) / sh + 1,
        ow: (w + 2 * pl - dw * (kw - 1) - 1) / sw + 1,
        groups,
    }
}

/// Input value `x[c, yy, xx]` at a possibly padded position: zero outside the input.
fn padded(g: &conv::ConvGeom, x: &[f32], c: usize, yy: isize, xx: isize) -> f64 {
    if yy >= 0 && xx >= 0 && (yy as usize) < g.h && (xx as usize) < g.w {
        x[(c * g.h + yy as usize) * g.w + xx as usize] as f64
    } else {
        0.0
    }
}

/// The input position tap (i, j) of output (oy, ox) reads, in padded coordinates.
fn tap(g: &conv::ConvGeom, oy: usize, ox: usize, i: usize, j: usize) -> (isize, isize) {
    (
        (oy * g.sh + i * g.dh) as isize - g.pt as isize,
        (ox * g.sw + j * g.dw) as isize - g.pl as isize,
    )
}

/// PyTorch's convolution by its definition, in f64: y[co, oy, ox] = b[co] + Σ over the
/// `c_in / groups` input channels c of co's group and the taps (i, j) of
/// w[co, c − first channel of the group, i, j] · x[c, oy·sh + i·dh − pt, ox·sw + j·dw − pl].
fn direct_conv(g: &conv::ConvGeom, x: &[f32], w: &[f32], b: Option<&[f32]>) -> Vec<f64> {
    let (cig, cog) = (g.c_in / g.groups, g.c_out / g.groups);
    let mut y = vec![0.0; g.c_out * g.oh * g.ow];
    for co in 0..g.c_out {
        let c0 = co / cog * cig;
        for oy in 0..g.oh {
            for ox in 0..g.ow {
                let mut s = b.map_or(0.0, |b| b[co] as f64);
                for c in 0..cig {
                    for i in 0..g.kh {
                        for j in 0..g.kw {
                            let (yy, xx) = tap(g, oy, ox, i, j);
                            s += padded(g, x, c0 + c, yy, xx)
                                * w[((co * cig + c) * g.kh + i) * g.kw + j] as f64;
                        }
                    }
                }
                y[(co * g.oh + oy) * g.ow + ox] = s;
            }
        }
    }
    y
}

/// The gradients of Σ dy ⊙ conv(x) by the definition, in f64: (∂w, ∂b, ∂x).
fn direct_conv_grads(
    g: &conv::ConvGeom,
    x: &[f32],
    w: &[f32],
    dy: &[f32],
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let (cig, cog) = (g.c_in / g.groups, g.c_out / g.groups);
    let (mut dw, mut db, mut dx) = (
        vec![0.0; w.len()],
        vec![0.0; g.c_out],
        vec![0.0; g.c_in * g.h * g.w],
    );
    for co in 0..g.c_out {
        let c0 = co / cog * cig;
        for oy in 0..g.oh {
            for ox in 0..g.ow {
                let d = dy[(co * g.oh + oy) * g.ow + ox] as f64;
                db[co] += d;
                for c in 0..cig {
                    for i in 0..g.kh {
                        for j in 0..g.kw {
                            let (yy, xx) = tap(g, oy, ox, i, j);
                            let k = ((co * cig + c) * g.kh + i) * g.kw + j;
                            dw[k] += d * padded(g, x, c0 + c, yy, xx);
                            if yy >= 0 && xx >= 0 && (yy as usize) < g.h && (xx as usize) < g.w {
                                dx[((c0 + c) * g.h + yy as usize) * g.w + xx as usize] +=
                                    d * w[k] as f64;
                            }
                        }
                    }
                }
            }
        }
    }
    (dw, db, dx)
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

/// Convolutions of every option PyTorch has, as a caption and sizes.
fn conv_cases() -> Vec<(&'static str, conv::ConvGeom)> {
    let mut cases = vec![
        (
            "valid 3x3",
            torch_conv([1, 5, 5], 1, (3, 3), (1, 1), (1, 1), (0, 0), 1),
        ),
        (
            "stride 2, padding 1",
            torch_conv([3, 17, 9], 5, (3, 3), (2, 2), (1, 1), (1, 1), 1),
        ),
        (
            "rectangular kernel, stride and padding",
            torch_conv([2, 8, 7], 4, (4, 2), (2, 3), (1, 1), (1, 0), 1),
        ),
        (
            "dilation 2",
            torch_conv([2, 9, 11], 3, (3, 3), (1, 1), (2, 2), (0, 0), 1),
        ),
        (
            "dilation (2, 3), stride 2, padding 2",
            torch_conv([3, 17, 17], 2, (3, 2), (2, 1), (2, 3), (2, 2), 1),
        ),
        (
            "groups 2",
            torch_conv([4, 7, 6], 6, (3, 3), (1, 1), (1, 1), (1, 1), 2),
        ),
        (
            "groups 3, stride 2, dilation 2",
            torch_conv([6, 17, 13], 3, (3, 2), (2, 2), (2, 2), (1, 2), 3),
        ),
        (
            "depthwise, channel multiplier 2",
            torch_conv([3, 9, 8], 6, (3, 3), (1, 1), (1, 1), (1, 1), 3),
        ),
        (
            "depthwise, stride 2, dilation 2",
            torch_conv([5, 17, 3], 5, (3, 1), (2, 1), (2, 1), (2, 0), 5),
        ),
        (
            "padding larger than the kernel",
            torch_conv([2, 3, 4], 3, (1, 2), (1, 2), (1, 1), (2, 3), 1),
        ),
        (
            "padding larger than the dilated kernel, groups 2",
            torch_conv([2, 1, 5], 4, (2, 3), (3, 1), (2, 2), (5, 4), 2),
        ),
        (
            "1x1 input",
            torch_conv([1, 1, 1], 3, (1, 1), (1, 1), (1, 1), (0, 0), 1),
        ),
        (
            "1-D: stride 2, padding 2, dilation 3",
            torch_conv([4, 1, 65], 3, (1, 5), (1, 2), (1, 3), (0, 2), 1),
        ),
        (
            "stride leaves input rows uncovered",
            torch_conv([2, 17, 8], 2, (3, 3), (4, 3), (1, 1), (0, 1), 1),
        ),
        (
            "pointwise (the input is its own unfolding)",
            torch_conv([5, 7, 9], 6, (1, 1), (1, 1), (1, 1), (0, 0), 1),
        ),
        (
            "pointwise, groups 2",
            torch_conv([4, 3, 11], 6, (1, 1), (1, 1), (1, 1), (0, 0), 2),
        ),
        (
            "3 channels to 33, 21x19 (a first layer's shape)",
            torch_conv([3, 21, 19], 33, (3, 3), (1, 1), (1, 1), (0, 0), 1),
        ),
        (
            "18 channels to 37, padding 1",
            torch_conv([18, 9, 13], 37, (3, 3), (1, 1), (1, 1), (1, 1), 1),
        ),
        (
            "direct: 1 channel to 6, 28x28 (MNIST's first layer; tails in both tiles)",
            torch_conv([1, 28, 28], 6, (3, 3), (1, 1), (1, 1), (0, 0), 1),
        ),
        (
            "direct: 2 channels to 9, padding (2, 1), dilation (1, 2), 5x4 kernel",
            torch_conv([2, 13, 40], 9, (5, 4), (1, 1), (1, 2), (2, 1), 1),
        ),
        (
            "direct: 1-D, 3 channels to 5, kernel 7, padding 3, 100 long",
            torch_conv([3, 1, 100], 5, (1, 7), (1, 1), (1, 1), (0, 3), 1),
        ),
    ];
    // Keras's `same` with stride 1 (the direct path): one more zero after the input than
    // before it, on both sides.
    let mut same1 = torch_conv([1, 6, 7], 4, (4, 4), (1, 1), (1, 1), (1, 1), 1);
    same1.oh = 6;
    same1.ow = 7;
    cases.push(("asymmetric padding, stride 1 (Keras same)", same1));
    // Keras's `same` with stride 2: 5 rows padded by 1 above and 2 below, 6 columns by
    // none on the left and 1 on the right (one more zero after the input than before it).
    let mut same = torch_conv([2, 5, 6], 3, (4, 3), (2, 2), (1, 1), (1, 0), 1);
    same.oh = 3;
    same.ow = 3;
    cases.push(("asymmetric padding (Keras same)", same));
    cases
}

#[test]
fn conv2d_forward_matches_the_direct_definition() {
    let mut rng = Rng::seed(8);
    for (what, g) in conv_cases() {
        let rows = 3;
        let (in_len, out_len) = (g.c_in * g.h * g.w, g.c_out * g.oh * g.ow);
        let x = random(rows * in_len, &mut rng);
        let wt = random(g.weight_len(), &mut rng);
        let b = random(g.c_out, &mut rng);
        for (bias, arch) in [Some(&b[..]), None]
            .into_iter()
            .flat_map(|b| Arch::available().into_iter().map(move |a| (b, a)))
        {
            for act in ACTS {
                let mut y = vec![f32::NAN; rows * out_len];
                conv::conv2d_forward_with(
                    arch,
                    &g,
                    &wt,
                    bias,
                    act,
                    &x,
                    &mut y,
                    rows,
                    &mut conv::ConvWorkspace::default(),
                );
                for r in 0..rows {
                    let want: Vec<f64> = direct_conv(&g, &x[r * in_len..][..in_len], &wt, bias)
                        .into_iter()
                        .map(|v| act_f64(act, v))
                        .collect();
                    assert_all_close(
                        &format!(
                            "{arch:?} {what} {g:?} bias={} {act:?} row {r}",
                            bias.is_some()
                        ),
                        &y[r * out_len..][..out_len],
                        &want,
                        g.group_ckk() as f64,
                    );
                }
            }
        }
    }
}

#[test]
fn the_direct_path_is_taken_where_it_applies_and_matches_im2col() {
    let mut rng = Rng::seed(9);
    let direct: Vec<_> = conv_cases()
        .into_iter()
        .filter(|(_, g)| conv::direct_applies(g))
        .collect();
    assert!(
        direct.len() >= 6,
        "{} cases take the direct path",
        direct.len()
    );
    for (what, g) in direct {
        let (in_len, out_len) = (g.c_in * g.h * g.w, g.c_out * g.oh * g.ow);
        let x = random(2 * in_len, &mut rng);
        let wt = random(g.weight_len(), &mut rng);
        let b = random(g.c_out, &mut rng);
        for arch in Arch::available() {
            let run = |direct: bool| {
                let mut y = vec![f32::NAN; 2 * out_len];
                let mut ws = conv::ConvWorkspace::default();
                conv::set_direct(direct);
                conv::conv2d_forward_with(
                    arch,
                    &g,
                    &wt,
                    Some(&b),
                    EpilogueAct::Relu,
                    &x,
                    &mut y,
                    2,
                    &mut ws,
                );
                conv::set_direct(true);
                y
            };
            let (taps, gemm) = (run(true), run(false));
            // The weight gradient too (the input gradient is the same product either way).
            let dy = random(2 * out_len, &mut rng);
            let grads = |direct: bool| {
                let (mut dw, mut db) = (vec![f32::NAN; g.weight_len()], vec![f32::NAN; g.c_out]);
                let mut ws = conv::ConvWorkspace::default();
                conv::set_direct(direct);
                conv::conv2d_backward_with(
                    arch,
                    &g,
                    &wt,
                    EpilogueAct::Relu,
                    &x,
                    &taps,
                    &dy,
                    2,
                    &mut dw,
                    Some(&mut db),
                    None,
                    &mut ws,
                );
                conv::set_direct(true);
                dw
            };
            let (dw_taps, dw_gemm) = (grads(true), grads(false));
            for (k, (a, b)) in dw_taps.iter().zip(&dw_gemm).enumerate() {
                assert!(
                    (a - b).abs() <= 1e-4 * (1.0 + b.abs()),
                    "{arch:?} {what}: dw[{k}] {a} vs {b}"
                );
            }
            for (k, (a, b)) in taps.iter().zip(&gemm).enumerate() {
                assert!(
                    (a - b).abs() <= 1e-5 * (1.0 + b.abs()),
                    "{arch:?} {what}: [{k}] {a} vs {b}"
                );
            }
        }
    }
}

#[test]
fn conv2d_backward_matches_the_direct_definition() {
    let mut rng = Rng::seed(12);
    for (what, g) in conv_cases() {
        let rows = 2;
        let (in_len, out_len) = (g.c_in * g.h * g.w, g.c_out * g.oh * g.ow);
        let x = random(rows * in_len, &mut rng);
        let wt = random(g.weight_len(), &mut rng);
        let dy = random(rows * out_len, &mut rng);
        // With no activation y does not enter the gradients.
        let y = vec![0.0; rows * out_len];
        let (mut want_dw, mut want_db, mut want_dx) =
            (vec![0.0; wt.len()], vec![0.0; g.c_out], Vec::new());
        for r in 0..rows {
            let (dw, db, dx) = direct_conv_grads(
                &g,
                &x[r * in_len..][..in_len],
                &wt,
                &dy[r * out_len..][..out_len],
            );
            want_dw.iter_mut().zip(dw).for_each(|(a, b)| *a += b);
            want_db.iter_mut().zip(db).for_each(|(a, b)| *a += b);
            want_dx.extend(dx);
        }
        for (with_bias, arch) in [true, false]
            .into_iter()
            .flat_map(|b| Arch::available().into_iter().map(move |a| (b, a)))
        {
            let (mut dw, mut db, mut dx) = (
                vec![f32::NAN; wt.len()],
                vec![f32::NAN; g.c_out],
                vec![f32::NAN; rows * in_len],
            );
            conv::conv2d_backward_with(
                arch,
                &g,
                &wt,
                EpilogueAct::None,
                &x,
                &y,
                &dy,
                rows,
                &mut dw,
                with_bias.then_some(&mut db[..]),
                Some(&mut dx),
                &mut conv::ConvWorkspace::default(),
            );
            let what = format!("{arch:?} {what} {g:?} bias={with_bias}");
            let positions = (rows * g.oh * g.ow) as f64;
            assert_all_close(&format!("{what} dw"), &dw, &want_dw, positions);
            assert_all_close(&format!("{what} dx"), &dx, &want_dx, g.c_out as f64);
            if with_bias {
                assert_all_close(&format!("{what} db"), &db, &want_db, positions);
            } else {
                assert!(db.iter().all(|v| v.is_nan()), "{what}: db written");
            }
        }
    }
}

#[test]
fn grouped_conv2d_backward_sums_weight_gradients_over_thread_chunks() {
    // Large enough a batch to be split over threads (PARALLEL_MIN_FLOPS), when there are
    // several: each chunk's per-group weight gradient is summed into the weight's layout.
    let g = torch_conv([8, 24, 24], 8, (3, 3), (1, 1), (1, 1), (1, 1), 2);
    let rows = PARALLEL_MIN_FLOPS / (2 * g.flops()) + 3;
    let mut rng = Rng::seed(13);
    let (in_len, out_len) = (g.c_in * g.h * g.w, g.c_out * g.oh * g.ow);
    let x = random(rows * in_len, &mut rng);
    let wt = random(g.weight_len(), &mut rng);
    let dy = random(rows * out_len, &mut rng);
    let y = vec![0.0; rows * out_len];
    let (mut want_dw, mut want_db) = (vec![0.0; wt.len()], vec![0.0; g.c_out]);
    for r in 0..rows {
        let (dw, db, _) = direct_conv_grads(
            &g,
            &x[r * in_len..][..in_len],
            &wt,
            &dy[r * out_len..][..out_len],
        );
        want_dw.iter_mut().zip(dw).for_each(|(a, b)| *a += b);
        want_db.iter_mut().zip(db).for_each(|(a, b)| *a += b);
    }
    let (mut dw, mut db) = (vec![0.0; wt.len()], vec![0.0; g.c_out]);
    conv::conv2d_backward(
        &g,
        &wt,
        EpilogueAct::None,
        &x,
        &y,
        &dy,
        rows,
        &mut dw,
        Some(&mut db),
        None,
        &mut conv::ConvWorkspace::default(),
    );
    let positions = (rows * g.oh * g.ow) as f64;
    assert_all_close("chunked dw", &dw, &want_dw, positions);
    assert_all_close("chunked db", &db, &want_db, positions);
}

#[test]
fn pooling_matches_definitions() {
    let g = conv::PoolGeom {
        c: 1,
        h: 3,
        w: 4,
        kh: 2,
        kw: 2,
        sh: 1,
        sw: 2,
        pt: 0,
        pl: 0,
        oh: 2,
        ow: 2,
    };
    let x = [1.0, 5.0, 2.0, 0.0, 3.0, -1.0, 7.0, 4.0, 0.5, 6.0, -2.0, 8.0];
    let (mut y, mut arg) = ([0.0; 4], [0u32; 4]);
    conv::max_pool_forward(&g, &x, &mut y, Some(&mut arg), 1);
    assert_eq!(y, [5.0, 7.0, 6.0, 8.0]);
    assert_eq!(arg, [1, 6, 9, 11]);
    let mut dx = [f32::NAN; 12];
    conv::max_pool_backward(&g, &[1.0, 2.0, 3.0, 4.0], &arg, &mut dx, 1);
    assert_eq!(
        dx,
        [0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 3.0, 0.0, 4.0]
    );
    // A NaN in a window propagates.
    let mut with_nan = x;
    with_nan[4] = f32::NAN;
    conv::max_pool_forward(&g, &with_nan, &mut y, None, 1);
    assert!(y[0].is_nan() && y[2].is_nan() && y[1] == 7.0);
    // Ties go to the first position, as in PyTorch.
    let zeros = [0.0f32; 12];
    conv::max_pool_forward(&g, &zeros, &mut y, Some(&mut arg), 1);
    assert_eq!(arg, [0, 2, 4, 6]);
    conv::avg_pool_forward(&g, &x, &mut y, 1);
    assert_eq!(y, [2.0, 3.25, 2.125, 4.25]);
}

#[test]
fn max_pooling_paths_agree_on_awkward_sizes_ties_and_nan() {
    let mut rng = Rng::seed(9);
    for &w in &[2, 3, 17, 63, 65] {
        let (c, h) = (2, 5);
        let g = conv::PoolGeom {
            c,
            h,
            w,
            kh: 2,
            kw: 2,
            sh: 2,
            sw: 2,
            pt: 0,
            pl: 0,
            oh: (h - 2) / 2 + 1,
            ow: (w - 2) / 2 + 1,
        };
        // Coarse values: many ties; and a NaN.
        let mut x: Vec<f32> = (0..c * h * w)
            .map(|_| (rng.uniform(0.0, 4.0)).floor())
            .collect();
        x[w + 1] = f32::NAN;
        let n = c * g.oh * g.ow;
        let (mut want, mut want_at) = (vec![0.0; n], vec![0u32; n]);
        // The general loop (a 2×3 window never takes the 2×2 kernels) as reference, via a
        // window-by-window definition.
        for ch in 0..c {
            for oy in 0..g.oh {
                for ox in 0..g.ow {
                    let cells = [(0, 0), (0, 1), (1, 0), (1, 1)]
                        .map(|(i, j)| (ch * h + oy * 2 + i) * w + ox * 2 + j);
                    let mut best = cells[0];
                    for &k in &cells[1..] {
                        if x[k] > x[best] || (x[k].is_nan() && !x[best].is_nan()) {
                            best = k;
                        }
                    }
                    want[(ch * g.oh + oy) * g.ow + ox] = x[best];
                    want_at[(ch * g.oh + oy) * g.ow + ox] = best as u32;
                }
            }
        }
        for arch in Arch::available() {
            let (mut y, mut at) = (vec![0.0; n], vec![0u32; n]);
            conv::max_pool_forward_with(arch, &g, &x, &mut y, Some(&mut at), 1);
            for k in 0..n {
                assert!(
                    y[k] == want[k] || (y[k].is_nan() && want[k].is_nan()),
                    "{arch:?} w={w} y[{k}]"
                );
            }
            assert_eq!(at, want_at, "{arch:?} w={w}");
        }
    }
}

#[test]
fn max_pool_backward_paths_route_each_gradient_to_its_arg_max() {
    let mut rng = Rng::seed(19);
    // Windows that tile the input (2×2, 3×3, 2×3: the write-once paths, with rows and
    // columns left uncovered), and overlapping or padded ones (the scatter).
    let cases = [
        torch_pool([2, 5, 17], (2, 2), (2, 2), (0, 0)),
        torch_pool([3, 6, 65], (2, 2), (2, 2), (0, 0)),
        torch_pool([1, 4, 2], (2, 2), (2, 2), (0, 0)),
        torch_pool([2, 7, 35], (3, 3), (3, 3), (0, 0)),
        torch_pool([2, 7, 9], (2, 3), (2, 3), (0, 0)),
        torch_pool([2, 7, 9], (3, 3), (2, 2), (0, 0)),
        torch_pool([2, 7, 9], (3, 3), (2, 2), (1, 1)),
    ];
    for g in cases {
        let rows = 2;
        let (in_len, out_len) = (g.c * g.h * g.w, g.c * g.oh * g.ow);
        let x: Vec<f32> = (0..rows * in_len)
            .map(|_| rng.uniform(0.0, 4.0).floor())
            .collect();
        let dy = random(rows * out_len, &mut rng);
        let mut y = vec![0.0; rows * out_len];
        let mut at = vec![0u32; rows * out_len];
        conv::max_pool_forward(&g, &x, &mut y, Some(&mut at), rows);
        let mut want = vec![0.0f32; rows * in_len];
        for r in 0..rows {
            for o in 0..out_len {
                want[r * in_len + at[r * out_len + o] as usize] += dy[r * out_len + o];
            }
        }
        for arch in Arch::available() {
            let mut dx = vec![f32::NAN; rows * in_len];
            conv::max_pool_backward_with(arch, &g, &dy, &at, &mut dx, rows);
            assert_eq!(dx, want, "{arch:?} {g:?}");
        }
    }
}

/// A pooling's sizes with PyTorch's output size, `(len + 2·pad − k) / s + 1` in each
/// dimension: `[c, h, w]`, window, stride, padding.
fn torch_pool(
    [c, h, w]: [usize; 3],
    (kh, kw): (usize, usize),
    (sh, sw): (usize, usize),
    (pt, pl): (usize, usize),
) -> conv::PoolGeom {
    conv::PoolGeom {
        c,
        h,
        w,
        kh,
        kw,
        sh,
        sw,
        pt,
        pl,
        oh: (h + 2 * pt - kh) / sh + 1,
        ow: (w + 2 * pl - kw) / sw + 1,
    }
}

/// The input positions (index in the sample) of output (c, oy, ox)'s window in row-major
/// order, padded positions left out.
fn window_positions(g: &conv::PoolGeom, c: usize, oy: usize, ox: usize) -> Vec<usize> {
    let mut at = Vec::new();
    for i in 0..g.kh {
        for j in 0..g.kw {
            let yy = (oy * g.sh + i) as isize - g.pt as isize;
            let xx = (ox * g.sw + j) as isize - g.pl as isize;
            if yy >= 0 && xx >= 0 && (yy as usize) < g.h && (xx as usize) < g.w {
                at.push((c * g.h + yy as usize) * g.w + xx as usize);
            }
        }
    }
    at
}

/// PyTorch's max pooling by its definition: padding is −∞ and never wins; the first
/// largest value (or the first NaN) of each window, and where it is.
fn direct_max_pool(g: &conv::PoolGeom, x: &[f32]) -> (Vec<f32>, Vec<u32>) {
    let (mut y, mut at) = (Vec::new(), Vec::new());
    for c in 0..g.c {
        for oy in 0..g.oh {
            for ox in 0..g.ow {
                let cells = window_positions(g, c, oy, ox);
                let mut best = cells[0];
                for &k in &cells[1..] {
                    if x[k] > x[best] || (x[k].is_nan() && !x[best].is_nan()) {
                        best = k;
                    }
                }
                y.push(x[best]);
                at.push(best as u32);
            }
        }
    }
    (y, at)
}

/// PyTorch's average pooling by its definition (`count_include_pad=True`): padding is zero
/// and the divisor is always kh·kw.
fn direct_avg_pool(g: &conv::PoolGeom, x: &[f32]) -> Vec<f64> {
    let mut y = Vec::new();
    for c in 0..g.c {
        for oy in 0..g.oh {
            for ox in 0..g.ow {
                let sum: f64 = window_positions(g, c, oy, ox)
                    .iter()
                    .map(|&k| x[k] as f64)
                    .sum();
                y.push(sum / (g.kh * g.kw) as f64);
            }
        }
    }
    y
}

/// The gradient of Σ dy ⊙ avg_pool(x) by the definition.
fn direct_avg_pool_grad(g: &conv::PoolGeom, dy: &[f32]) -> Vec<f64> {
    let mut dx = vec![0.0; g.c * g.h * g.w];
    let mut o = 0;
    for c in 0..g.c {
        for oy in 0..g.oh {
            for ox in 0..g.ow {
                for k in window_positions(g, c, oy, ox) {
                    dx[k] += dy[o] as f64 / (g.kh * g.kw) as f64;
                }
                o += 1;
            }
        }
    }
    dx
}

/// Checks max pooling on every path, with and without arg-max, against the definition.
fn check_max_pool(what: &str, g: &conv::PoolGeom, x: &[f32], rows: usize) {
    let (in_len, out_len) = (g.c * g.h * g.w, g.c * g.oh * g.ow);
    let (mut want, mut want_at) = (Vec::new(), Vec::new());
    for r in 0..rows {
        let (y, at) = direct_max_pool(g, &x[r * in_len..][..in_len]);
        want.extend(y);
        want_at.extend(at);
    }
    let same = |a: f32, b: f32| a == b || (a.is_nan() && b.is_nan());
    for arch in Arch::available() {
        let (mut y, mut at) = (vec![0.0; rows * out_len], vec![u32::MAX; rows * out_len]);
        conv::max_pool_forward_with(arch, g, x, &mut y, Some(&mut at), rows);
        for k in 0..y.len() {
            assert!(
                same(y[k], want[k]),
                "{what} {arch:?} y[{k}]: {} vs {}",
                y[k],
                want[k]
            );
        }
        assert_eq!(at, want_at, "{what} {arch:?} arg-max");
        let mut y = vec![0.0; rows * out_len];
        conv::max_pool_forward_with(arch, g, x, &mut y, None, rows);
        for k in 0..y.len() {
            assert!(same(y[k], want[k]), "{what} {arch:?} (no arg-max) y[{k}]");
        }
    }
}

#[test]
fn padded_pooling_matches_the_direct_definition() {
    let cases = [
        (
            "3x3, stride 2, padding 1",
            torch_pool([2, 17, 9], (3, 3), (2, 2), (1, 1)),
        ),
        (
            "2x2, stride 2, padding 1 (not the unpadded 2x2 kernel)",
            torch_pool([2, 7, 6], (2, 2), (2, 2), (1, 1)),
        ),
        (
            "rectangular window, stride and padding",
            torch_pool([1, 5, 5], (3, 2), (1, 2), (1, 1)),
        ),
        (
            "padding in one dimension only",
            torch_pool([3, 3, 17], (5, 4), (3, 1), (2, 0)),
        ),
        (
            "every window the one input value",
            torch_pool([1, 1, 1], (2, 2), (1, 1), (1, 1)),
        ),
        ("1-D", torch_pool([2, 1, 17], (1, 3), (1, 2), (0, 1))),
        (
            "unpadded 3x2",
            torch_pool([2, 5, 7], (3, 2), (2, 1), (0, 0)),
        ),
    ];
    let mut rng = Rng::seed(14);
    for (what, g) in cases {
        let rows = 2;
        let (in_len, out_len) = (g.c * g.h * g.w, g.c * g.oh * g.ow);
        // Coarse values: many ties, and negative everywhere, so that a zero from padding
        // would show.
        let mut x: Vec<f32> = (0..rows * in_len)
            .map(|_| -1.0 - rng.uniform(0.0, 4.0).floor())
            .collect();
        check_max_pool(what, &g, &x, rows);
        x[in_len / 2] = f32::NAN;
        check_max_pool(&format!("{what} with NaN"), &g, &x, rows);

        let x = random(rows * in_len, &mut rng);
        let mut y = vec![f32::NAN; rows * out_len];
        conv::avg_pool_forward(&g, &x, &mut y, rows);
        let dy = random(rows * out_len, &mut rng);
        let mut dx = vec![f32::NAN; rows * in_len];
        conv::avg_pool_backward(&g, &dy, &mut dx, rows);
        for r in 0..rows {
            assert_all_close(
                &format!("{what} avg y row {r}"),
                &y[r * out_len..][..out_len],
                &direct_avg_pool(&g, &x[r * in_len..][..in_len]),
                1.0,
            );
            assert_all_close(
                &format!("{what} avg dx row {r}"),
                &dx[r * in_len..][..in_len],
                &direct_avg_pool_grad(&g, &dy[r * out_len..][..out_len]),
                1.0,
            );
        }
    }
}

#[test]
fn padded_max_pooling_of_minus_infinity_reports_the_first_input_position() {
    // Every window holds −∞ only: the output is −∞ and the arg-max each window's first
    // input position (never a padded one), as in PyTorch.
    let g = torch_pool([1, 3, 4], (3, 3), (2, 2), (1, 1));
    let x = [f32::NEG_INFINITY; 12];
    for arch in Arch::available() {
        let (mut y, mut at) = ([0.0; 4], [u32::MAX; 4]);
        conv::max_pool_forward_with(arch, &g, &x, &mut y, Some(&mut at), 1);
        assert_eq!(y, [f32::NEG_INFINITY; 4], "{arch:?}");
        assert_eq!(at, [0, 1, 4, 5], "{arch:?}");
    }
}

#[test]
fn global_max_pooling_matches_the_definition() {
    use crate::layers::{GlobalMaxPool2d, Layer};
    use crate::tensor::{Batch, Tensor1, Tensor3};

    fn check<const C: usize, const H: usize, const W: usize>(rng: &mut Rng) {
        let rows = 3;
        let (in_len, plane) = (C * H * W, H * W);
        // Coarse values: ties; a NaN in the last row's first channel.
        let mut data: Vec<f32> = (0..rows * in_len)
            .map(|_| rng.uniform(0.0, 3.0).floor())
            .collect();
        data[(rows - 1) * in_len + plane / 2] = f32::NAN;
        let g = torch_pool([C, H, W], (H, W), (H, W), (0, 0));
        check_max_pool(&format!("global {C}x{H}x{W}"), &g, &data, rows);

        let layer = GlobalMaxPool2d::<C, H, W>::default();
        let x = Batch::<Tensor3<C, H, W>>::from_vec(data.clone()).unwrap();
        let (mut y, mut argmax) = (Batch::<Tensor1<C>>::default(), Vec::new());
        layer.forward_train(&x, &mut y, &mut argmax, &mut Rng::seed(0));
        let dy = Batch::<Tensor1<C>>::from_vec(random(rows * C, rng)).unwrap();
        let mut dx = Batch::default();
        let mut layer = layer;
        layer.backward(&x, &y, &mut argmax, &dy, Some(&mut dx));
        for r in 0..rows {
            for c in 0..C {
                let channel = &data[r * in_len + c * plane..][..plane];
                // The first largest value, or the first NaN.
                let first = channel.iter().position(|v| v.is_nan()).unwrap_or_else(|| {
                    let max = channel.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
                    channel.iter().position(|&v| v == max).unwrap()
                });
                let got = y.as_slice()[r * C + c];
                assert!(
                    got == channel[first] || (got.is_nan() && channel[first].is_nan()),
                    "{C}x{H}x{W} row {r} channel {c}: {got}"
                );
                for (k, &d) in dx.as_slice()[r * in_len + c * plane..][..plane]
                    .iter()
                    .enumerate()
                {
                    let want = if k == first {
                        dy.as_slice()[r * C + c]
                    } else {
                        0.0
                    };
                    assert_eq!(d, want, "{C}x{H}x{W} row {r} channel {c} dx[{k}]");
                }
            }
        }
    }

    let mut rng = Rng::seed(15);
    check::<2, 2, 2>(&mut rng);
    check::<3, 1, 1>(&mut rng);
    check::<2, 3, 17>(&mut rng);
    check::<1, 17, 3>(&mut rng);
}

/// The recurrence h_t = act(x_t + h_{t−1}·W) in f64, step by step: `x` is `[t, h]`, `w`'s
/// rows are `rsw` apart.
fn rnn_reference(
    act: EpilogueAct,
    x: &[f32],
    w: &[f32],
    rsw: usize,
    t: usize,
    h: usize,
) -> Vec<f64> {
    let mut want = vec![0.0f64; t * h];
    for step in 0..t {
        for j in 0..h {
            let mut v = x[step * h + j] as f64;
            if step > 0 {
                for p in 0..h {
                    v += want[(step - 1) * h + p] * w[p * rsw + j] as f64;
                }
            }
            want[step * h + j] = act_f64(act, v);
        }
    }
    want
}

#[test]
fn rnn_sequence_matches_the_step_by_step_definition_on_every_path() {
    let mut rng = Rng::seed(31);
    for &h in &[1, 3, 16, 17, 50, 64, 65, 130] {
        for (t, act) in [
            (1, EpilogueAct::Tanh),
            (7, EpilogueAct::Tanh),
            (5, EpilogueAct::Relu),
        ] {
            // Rows of W padded on odd sizes, to test the stride.
            let rsw = if h % 2 == 0 { h } else { h + 3 };
            let w = random(h * rsw, &mut rng);
            let x = random(t * h, &mut rng);
            let want = rnn_reference(act, &x, &w, rsw, t, h);
            for arch in Arch::available() {
                let (mut gates, mut hs) = (x.clone(), vec![f32::NAN; t * h]);
                rnn_sequence_with(arch, t, h, &w, rsw, act, &mut gates, &mut hs);
                assert_eq!(gates, hs, "{arch:?} h={h}: gates and states differ");
                for (k, (&got, &want)) in hs.iter().zip(&want).enumerate() {
                    let tol = 1e-5 * (h as f64).sqrt() * (1.0 + want.abs());
                    assert!(
                        (got as f64 - want).abs() <= tol,
                        "{arch:?} h={h} t={t} {act:?} at {k}: {got} vs {want}"
                    );
                }
            }
        }
    }
}
