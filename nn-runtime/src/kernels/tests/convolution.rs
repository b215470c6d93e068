//! Convolutions against PyTorch's definition in f64, on every path and every option
//! (stride, dilation, padding, groups), forward and backward, by each algorithm.

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::*;

/// A convolution's sizes with PyTorch's output size, `(len + 2·pad − d·(k − 1) − 1) / s + 1`
/// in each dimension: `[c_in, h, w]`, `c_out`, kernel, stride, dilation, padding, groups.
pub(super) fn torch_conv(
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
pub(super) fn direct_conv(g: &conv::ConvGeom, x: &[f32], w: &[f32], b: Option<&[f32]>) -> Vec<f64> {
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
pub(super) fn direct_conv_grads(
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
        // Winograd for the input gradient (a 3×3 convolution of dz padded by 2 − p, with
        // 32 channels or more each way and an input of 16 or more on each side).
        (
            "Winograd forward and input gradient: 32 channels to 33, 18x17, valid",
            torch_conv([32, 18, 17], 33, (3, 3), (1, 1), (1, 1), (0, 0), 1),
        ),
        (
            "Winograd input gradient: 33 channels to 32, 17x16, padding 1",
            torch_conv([33, 17, 16], 32, (3, 3), (1, 1), (1, 1), (1, 1), 1),
        ),
        (
            "Winograd input gradient: 32 channels to 32, 16x19, padding 2",
            torch_conv([32, 16, 19], 32, (3, 3), (1, 1), (1, 1), (2, 2), 1),
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
fn fused_max_pool_backward_matches_the_pooling_then_the_convolution() {
    use super::pooling::torch_pool;
    // (what, convolution, pooling window, stride, padding, activation): the direct and
    // im2col paths, windows that leave rows and columns uncovered, overlap or are padded,
    // groups, and every activation a convolution fuses.
    let cases = [
        (
            "direct, last row and column uncovered",
            torch_conv([3, 14, 15], 8, (3, 3), (1, 1), (1, 1), (0, 0), 1),
            (2, 2),
            (2, 2),
            (0, 0),
            EpilogueAct::Relu,
        ),
        (
            "im2col, overlapping padded windows",
            torch_conv([5, 9, 8], 7, (3, 3), (1, 1), (1, 1), (1, 1), 1),
            (3, 3),
            (2, 2),
            (1, 1),
            EpilogueAct::Tanh,
        ),
        (
            "groups, strided convolution",
            torch_conv([4, 11, 10], 6, (2, 3), (2, 1), (1, 1), (0, 1), 2),
            (2, 2),
            (2, 2),
            (0, 0),
            EpilogueAct::Sigmoid,
        ),
        (
            "no activation, 3x2 windows",
            torch_conv([2, 10, 10], 4, (3, 3), (1, 1), (1, 1), (1, 1), 1),
            (3, 2),
            (3, 2),
            (0, 0),
            EpilogueAct::None,
        ),
    ];
    let mut rng = Rng::seed(31);
    for (what, g, window, stride, pad, act) in cases {
        let pool = conv::PoolAfter {
            geom: torch_pool([g.c_out, g.oh, g.ow], window, stride, pad),
            max: true,
        };
        let rows = 3;
        let (in_len, out_len) = (g.c_in * g.h * g.w, g.c_out * g.oh * g.ow);
        let pool_len = g.c_out * pool.geom.oh * pool.geom.ow;
        let x = random(rows * in_len, &mut rng);
        let wt = random(g.weight_len(), &mut rng);
        let bias = random(g.c_out, &mut rng);
        let dy = random(rows * pool_len, &mut rng);
        // What the unfused layer keeps: the convolution's output, then the pooling's.
        let (mut pre, mut y, mut argmax) = (
            vec![0.0; rows * out_len],
            vec![0.0; rows * pool_len],
            vec![0; rows * pool_len],
        );
        let mut ws = conv::ConvWorkspace::default();
        conv::conv2d_pool_forward(
            &g,
            &pool,
            &wt,
            Some(&bias),
            act,
            &x,
            Some(&mut pre),
            &mut y,
            Some(&mut argmax),
            rows,
            &mut ws,
        );
        // The fused forward pass keeps no `pre` and chooses the same positions.
        let (mut y_fused, mut argmax_fused) =
            (vec![0.0; rows * pool_len], vec![0; rows * pool_len]);
        conv::conv2d_pool_forward(
            &g,
            &pool,
            &wt,
            Some(&bias),
            act,
            &x,
            None,
            &mut y_fused,
            Some(&mut argmax_fused),
            rows,
            &mut ws,
        );
        assert_eq!(y_fused, y, "{what}: pooled output");
        assert_eq!(argmax_fused, argmax, "{what}: choices");
        let mut dpre = vec![0.0; rows * out_len];
        conv::max_pool_backward(&pool.geom, &dy, &argmax, &mut dpre, rows);
        for arch in Arch::available() {
            let (mut want_dw, mut want_db, mut want_dx) = (
                vec![0.0; wt.len()],
                vec![0.0; g.c_out],
                vec![0.0; rows * in_len],
            );
            conv::conv2d_backward_with(
                arch,
                &g,
                &wt,
                act,
                &x,
                &pre,
                &dpre,
                rows,
                &mut want_dw,
                Some(&mut want_db),
                Some(&mut want_dx),
                &mut conv::ConvWorkspace::default(),
            );
            let (mut dw, mut db, mut dx) = (
                vec![f32::NAN; wt.len()],
                vec![f32::NAN; g.c_out],
                vec![f32::NAN; rows * in_len],
            );
            conv::conv2d_max_pool_backward_with(
                arch,
                &g,
                &pool.geom,
                &wt,
                act,
                &x,
                (&y, &dy, &argmax),
                rows,
                &mut dw,
                Some(&mut db),
                Some(&mut dx),
                &mut conv::ConvWorkspace::default(),
            );
            let what = format!("{arch:?} {what}");
            let widen = |v: &[f32]| v.iter().map(|&v| v as f64).collect::<Vec<_>>();
            let positions = (rows * g.oh * g.ow) as f64;
            assert_all_close(&format!("{what} dw"), &dw, &widen(&want_dw), positions);
            assert_all_close(&format!("{what} db"), &db, &widen(&want_db), positions);
            assert_all_close(&format!("{what} dx"), &dx, &widen(&want_dx), g.c_out as f64);
        }
    }
}
