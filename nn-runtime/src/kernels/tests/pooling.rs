//! Max and average pooling against their definitions, on every path: padding, ties, NaN
//! and the arg-max each gradient is routed to.

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::*;

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
pub(super) fn torch_pool(
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
pub(super) fn direct_avg_pool(g: &conv::PoolGeom, x: &[f32]) -> Vec<f64> {
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
pub(super) fn direct_avg_pool_grad(g: &conv::PoolGeom, dy: &[f32]) -> Vec<f64> {
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
pub(super) fn check_max_pool(what: &str, g: &conv::PoolGeom, x: &[f32], rows: usize) {
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
