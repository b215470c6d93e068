//! Element-wise and row-wise activations, forward and backward side by side.

/// Numerically stable logistic function: never evaluates `exp` of a large positive number.
#[inline]
pub fn sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// y = max(x, 0); NaN stays NaN (`f32::max` would turn it into 0 and hide a diverged run).
pub fn relu_forward(x: &[f32], y: &mut [f32]) {
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi = if xi < 0.0 { 0.0 } else { xi };
    }
}

/// dx = dy · [x > 0]
pub fn relu_backward(x: &[f32], dy: &[f32], dx: &mut [f32]) {
    for ((d, &xi), &g) in dx.iter_mut().zip(x).zip(dy) {
        *d = if xi > 0.0 { g } else { 0.0 };
    }
}

/// y = x if x > 0 else alpha · x
pub fn leaky_relu_forward(alpha: f32, x: &[f32], y: &mut [f32]) {
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi = if xi > 0.0 { xi } else { alpha * xi };
    }
}

/// dx = dy if x > 0 else alpha · dy
pub fn leaky_relu_backward(alpha: f32, x: &[f32], dy: &[f32], dx: &mut [f32]) {
    for ((d, &xi), &g) in dx.iter_mut().zip(x).zip(dy) {
        *d = if xi > 0.0 { g } else { alpha * g };
    }
}

/// y = tanh(x)
pub fn tanh_forward(x: &[f32], y: &mut [f32]) {
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi = xi.tanh();
    }
}

/// dx = dy · (1 − y²)
pub fn tanh_backward(y: &[f32], dy: &[f32], dx: &mut [f32]) {
    for ((d, &yi), &g) in dx.iter_mut().zip(y).zip(dy) {
        *d = g * (1.0 - yi * yi);
    }
}

/// y = 1 / (1 + e^−x)
pub fn sigmoid_forward(x: &[f32], y: &mut [f32]) {
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi = sigmoid(xi);
    }
}

/// dx = dy · y · (1 − y)
pub fn sigmoid_backward(y: &[f32], dy: &[f32], dx: &mut [f32]) {
    for ((d, &yi), &g) in dx.iter_mut().zip(y).zip(dy) {
        *d = g * yi * (1.0 - yi);
    }
}

/// Row-wise y = e^(x − max x) / Σ e^(x − max x), over rows of `cols` values.
pub fn softmax_forward(x: &[f32], y: &mut [f32], cols: usize) {
    if cols == 0 {
        return;
    }
    for (xr, yr) in x.chunks_exact(cols).zip(y.chunks_exact_mut(cols)) {
        let max = xr.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0;
        for (yi, &xi) in yr.iter_mut().zip(xr) {
            *yi = (xi - max).exp();
            sum += *yi;
        }
        let inv = 1.0 / sum;
        for yi in yr {
            *yi *= inv;
        }
    }
}

/// Row-wise dx = y ⊙ (dy − ⟨dy, y⟩): the softmax Jacobian applied to dy.
pub fn softmax_backward(y: &[f32], dy: &[f32], dx: &mut [f32], cols: usize) {
    if cols == 0 {
        return;
    }
    for ((yr, gr), dr) in y
        .chunks_exact(cols)
        .zip(dy.chunks_exact(cols))
        .zip(dx.chunks_exact_mut(cols))
    {
        let inner: f32 = yr.iter().zip(gr).map(|(a, b)| a * b).sum();
        for ((d, &yi), &g) in dr.iter_mut().zip(yr).zip(gr) {
            *d = yi * (g - inner);
        }
    }
}

/// log Σ e^x of one row, computed around its maximum so it neither overflows nor underflows.
pub fn log_sum_exp(row: &[f32]) -> f32 {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if !max.is_finite() {
        return max;
    }
    let sum: f32 = row.iter().map(|&v| (v - max).exp()).sum();
    max + sum.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relu_propagates_nan() {
        let mut y = [0.0; 3];
        relu_forward(&[f32::NAN, -1.0, 2.0], &mut y);
        assert!(y[0].is_nan());
        assert_eq!(&y[1..], &[0.0, 2.0]);
    }

    #[test]
    fn sigmoid_is_stable_at_extremes() {
        assert_eq!(sigmoid(-1000.0), 0.0);
        assert_eq!(sigmoid(1000.0), 1.0);
        assert!((sigmoid(0.3) as f64 - 1.0 / (1.0 + (-0.3f64).exp())).abs() < 1e-7);
    }

    #[test]
    fn softmax_rows_sum_to_one_even_for_huge_logits() {
        let x = [1000.0, 1001.0, 999.0, -5.0, 0.0, 5.0];
        let mut y = [0.0; 6];
        softmax_forward(&x, &mut y, 3);
        for row in y.chunks(3) {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        }
        assert!(
            (log_sum_exp(&x[..3]) - (1001.0 + (1.0f32 + (-1.0f32).exp() + (-2.0f32).exp()).ln()))
                .abs()
                < 1e-3
        );
    }
}
