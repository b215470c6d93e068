//! Products for dense layers, PyTorch layout: weight `[out, in]`, activations `[rows, features]`.

const LANES: usize = 8;

/// Σ a[i]·b[i], accumulated in `LANES` independent partial sums so it vectorises.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let mut acc = [0.0f32; LANES];
    let (a_chunks, b_chunks) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (a_tail, b_tail) = (a_chunks.remainder(), b_chunks.remainder());
    for (ac, bc) in a_chunks.zip(b_chunks) {
        for k in 0..LANES {
            acc[k] += ac[k] * bc[k];
        }
    }
    let mut sum = acc.iter().sum::<f32>();
    for (x, y) in a_tail.iter().zip(b_tail) {
        sum += x * y;
    }
    sum
}

/// y += alpha · x
#[inline]
pub fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
    debug_assert_eq!(x.len(), y.len());
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += alpha * xi;
    }
}

/// Four dot products of one row `x` against four weight rows, sharing the loads of `x`.
#[inline]
fn dot4(x: &[f32], w0: &[f32], w1: &[f32], w2: &[f32], w3: &[f32]) -> [f32; 4] {
    let n = x.len();
    let mut acc = [[0.0f32; LANES]; 4];
    let full = n - n % LANES;
    let mut i = 0;
    while i < full {
        let xc = &x[i..i + LANES];
        let ws = [
            &w0[i..i + LANES],
            &w1[i..i + LANES],
            &w2[i..i + LANES],
            &w3[i..i + LANES],
        ];
        for (a, w) in acc.iter_mut().zip(ws) {
            for k in 0..LANES {
                a[k] += xc[k] * w[k];
            }
        }
        i += LANES;
    }
    let mut out = [0.0f32; 4];
    for (j, w) in [w0, w1, w2, w3].into_iter().enumerate() {
        let mut s = acc[j].iter().sum::<f32>();
        for t in full..n {
            s += x[t] * w[t];
        }
        out[j] = s;
    }
    out
}

/// Dense forward: `y[r, o] = bias[o] + Σ_i x[r, i] · weight[o, i]`.
///
/// `x` is `[rows, n_in]`, `weight` `[n_out, n_in]`, `bias` `[n_out]`, `y` `[rows, n_out]`.
pub fn dense_forward(
    x: &[f32],
    weight: &[f32],
    bias: &[f32],
    y: &mut [f32],
    rows: usize,
    n_in: usize,
    n_out: usize,
) {
    assert!(x.len() >= rows * n_in && y.len() >= rows * n_out);
    assert!(weight.len() == n_out * n_in && bias.len() == n_out);
    for r in 0..rows {
        let xr = &x[r * n_in..(r + 1) * n_in];
        let yr = &mut y[r * n_out..(r + 1) * n_out];
        let mut o = 0;
        while o + 4 <= n_out {
            let w = |k: usize| &weight[(o + k) * n_in..(o + k + 1) * n_in];
            let d = dot4(xr, w(0), w(1), w(2), w(3));
            for k in 0..4 {
                yr[o + k] = bias[o + k] + d[k];
            }
            o += 4;
        }
        while o < n_out {
            yr[o] = bias[o] + dot(xr, &weight[o * n_in..(o + 1) * n_in]);
            o += 1;
        }
    }
}

/// Dense backward. Overwrites the parameter gradients:
/// `dweight[o, i] = Σ_r dy[r, o] · x[r, i]`, `dbias[o] = Σ_r dy[r, o]`,
/// and, when asked, `dx[r, i] = Σ_o dy[r, o] · weight[o, i]`.
#[allow(clippy::too_many_arguments)]
pub fn dense_backward(
    x: &[f32],
    weight: &[f32],
    dy: &[f32],
    dweight: &mut [f32],
    dbias: &mut [f32],
    dx: Option<&mut [f32]>,
    rows: usize,
    n_in: usize,
    n_out: usize,
) {
    assert!(x.len() >= rows * n_in && dy.len() >= rows * n_out);
    assert!(weight.len() == n_out * n_in && dweight.len() == n_out * n_in && dbias.len() == n_out);
    dweight.fill(0.0);
    dbias.fill(0.0);
    for o in 0..n_out {
        let dw = &mut dweight[o * n_in..(o + 1) * n_in];
        let mut db = 0.0;
        for r in 0..rows {
            let g = dy[r * n_out + o];
            db += g;
            if g != 0.0 {
                axpy(g, &x[r * n_in..(r + 1) * n_in], dw);
            }
        }
        dbias[o] = db;
    }
    if let Some(dx) = dx {
        assert!(dx.len() >= rows * n_in);
        for r in 0..rows {
            let dxr = &mut dx[r * n_in..(r + 1) * n_in];
            dxr.fill(0.0);
            for o in 0..n_out {
                let g = dy[r * n_out + o];
                if g != 0.0 {
                    axpy(g, &weight[o * n_in..(o + 1) * n_in], dxr);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Rng;

    fn random(n: usize, rng: &mut Rng) -> Vec<f32> {
        (0..n).map(|_| rng.uniform(-1.0, 1.0)).collect()
    }

    /// Scalar f64 reference of the dense forward.
    fn reference_forward(
        x: &[f32],
        w: &[f32],
        b: &[f32],
        rows: usize,
        n_in: usize,
        n_out: usize,
    ) -> Vec<f64> {
        let mut y = vec![0.0; rows * n_out];
        for r in 0..rows {
            for o in 0..n_out {
                let mut s = b[o] as f64;
                for i in 0..n_in {
                    s += x[r * n_in + i] as f64 * w[o * n_in + i] as f64;
                }
                y[r * n_out + o] = s;
            }
        }
        y
    }

    #[test]
    fn dense_kernels_match_scalar_reference_on_awkward_sizes() {
        let mut rng = Rng::seed(5);
        for &(rows, n_in, n_out) in &[
            (1, 1, 1),
            (3, 17, 5),
            (2, 63, 65),
            (5, 257, 3),
            (1, 3, 17),
            (4, 8, 4),
        ] {
            let x = random(rows * n_in, &mut rng);
            let w = random(n_out * n_in, &mut rng);
            let b = random(n_out, &mut rng);
            let dy = random(rows * n_out, &mut rng);
            let mut y = vec![f32::NAN; rows * n_out];
            dense_forward(&x, &w, &b, &mut y, rows, n_in, n_out);
            let want = reference_forward(&x, &w, &b, rows, n_in, n_out);
            for (g, w) in y.iter().zip(&want) {
                assert!(
                    (*g as f64 - w).abs() <= 1e-5 * (1.0 + n_in as f64).sqrt(),
                    "{rows}x{n_in}x{n_out}: {g} vs {w}"
                );
            }

            let (mut dw, mut db, mut dx) = (
                vec![f32::NAN; n_out * n_in],
                vec![f32::NAN; n_out],
                vec![f32::NAN; rows * n_in],
            );
            dense_backward(
                &x,
                &w,
                &dy,
                &mut dw,
                &mut db,
                Some(&mut dx),
                rows,
                n_in,
                n_out,
            );
            for o in 0..n_out {
                let want_db: f64 = (0..rows).map(|r| dy[r * n_out + o] as f64).sum();
                assert!((db[o] as f64 - want_db).abs() < 1e-5);
                for i in 0..n_in {
                    let want_dw: f64 = (0..rows)
                        .map(|r| dy[r * n_out + o] as f64 * x[r * n_in + i] as f64)
                        .sum();
                    assert!((dw[o * n_in + i] as f64 - want_dw).abs() < 1e-5);
                }
            }
            for r in 0..rows {
                for i in 0..n_in {
                    let want_dx: f64 = (0..n_out)
                        .map(|o| dy[r * n_out + o] as f64 * w[o * n_in + i] as f64)
                        .sum();
                    assert!((dx[r * n_in + i] as f64 - want_dx).abs() < 1e-5);
                }
            }
        }
    }
}
