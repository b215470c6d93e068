//! Element-wise losses of a network's output against dense targets of its own shape.

use super::{counted_values, Head, Loss};
use crate::tensor::{Batch, Sample};

/// Mean squared error, mean over every element (PyTorch `MSELoss`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Mse;

impl<H: Head, S: Sample> Loss<H, S, Batch<S>> for Mse {
    fn loss_and_grad(
        &self,
        _logits: &Batch<S>,
        output: &Batch<S>,
        targets: &Batch<S>,
        dlogits: &mut Batch<S>,
    ) -> f32 {
        dlogits.set_rows(output.rows());
        // Over the values of the steps within each sequence's length (every value of
        // samples without lengths): L = Σ (y − t)² / n ; ∂L/∂y = 2 (y − t) / n, 0 elsewhere.
        let n = counted_values(output) as f32;
        let mut sum = 0.0f64;
        for (((d, y), t), within) in dlogits
            .as_mut_slice()
            .chunks_exact_mut(S::ROW.max(1))
            .zip(output.as_slice().chunks_exact(S::ROW.max(1)))
            .zip(targets.as_slice().chunks_exact(S::ROW.max(1)))
            .zip(output.step_mask())
        {
            for ((d, &y), &t) in d.iter_mut().zip(y).zip(t) {
                let e = if within { y - t } else { 0.0 };
                sum += (e * e) as f64;
                *d = 2.0 * e / n;
            }
        }
        H::backward_in_place(output.as_slice(), dlogits.as_mut_slice(), S::ROW);
        (sum / n as f64) as f32
    }

    fn loss(&self, _logits: &Batch<S>, output: &Batch<S>, targets: &Batch<S>) -> f32 {
        let n = counted_values(output) as f64;
        let sum: f64 = output
            .as_slice()
            .chunks_exact(S::ROW.max(1))
            .zip(targets.as_slice().chunks_exact(S::ROW.max(1)))
            .zip(output.step_mask())
            .filter(|(_, within)| *within)
            .flat_map(|((y, t), _)| y.iter().zip(t))
            .map(|(&y, &t)| ((y - t) as f64).powi(2))
            .sum();
        (sum / n) as f32
    }
}

/// Mean absolute error, mean over every element (PyTorch `L1Loss`). Its gradient is
/// sign(y − t) / n, and 0 where the output equals the target (PyTorch's choice at the kink).
#[derive(Clone, Copy, Debug, Default)]
pub struct L1;

impl<H: Head, S: Sample> Loss<H, S, Batch<S>> for L1 {
    fn loss_and_grad(
        &self,
        _logits: &Batch<S>,
        output: &Batch<S>,
        targets: &Batch<S>,
        dlogits: &mut Batch<S>,
    ) -> f32 {
        elementwise::<H, S>(output, targets, Some(dlogits), |e| (e.abs(), sign(e)))
    }

    fn loss(&self, _logits: &Batch<S>, output: &Batch<S>, targets: &Batch<S>) -> f32 {
        elementwise::<H, S>(output, targets, None, |e| (e.abs(), sign(e)))
    }
}

/// −1, 0 or 1 as `e` is negative, zero or positive, NaN for NaN. Unlike `f32::signum`,
/// which is 1 at 0: PyTorch's `sgn`, the gradient its L1 loss takes at the kink.
fn sign(e: f32) -> f32 {
    if e > 0.0 {
        1.0
    } else if e < 0.0 {
        -1.0
    } else {
        // 0 for ±0; NaN stays NaN so that a NaN output still shows in the gradient.
        e * 0.0
    }
}

/// Mean of `f(y − t).0` over the counted values (those of the steps within each sequence's
/// length; every value of samples without lengths); writes ∂/∂logits of that mean, from
/// `f(y − t).1` = the derivative of the term with respect to y − t, 0 at values not counted,
/// through the head.
fn elementwise<H: Head, S: Sample>(
    output: &Batch<S>,
    targets: &Batch<S>,
    dlogits: Option<&mut Batch<S>>,
    f: impl Fn(f32) -> (f32, f32),
) -> f32 {
    let n = counted_values(output);
    let row = S::ROW.max(1);
    let values = output.as_slice().chunks_exact(row);
    let rows = values
        .zip(targets.as_slice().chunks_exact(row))
        .zip(output.step_mask());
    let mut sum = 0.0f64;
    match dlogits {
        Some(dlogits) => {
            dlogits.set_rows(output.rows());
            let inv_n = 1.0 / n as f32;
            for (d, ((y, t), within)) in dlogits.as_mut_slice().chunks_exact_mut(row).zip(rows) {
                for ((d, &y), &t) in d.iter_mut().zip(y).zip(t) {
                    *d = if within {
                        let (value, slope) = f(y - t);
                        sum += value as f64;
                        slope * inv_n
                    } else {
                        0.0
                    };
                }
            }
            H::backward_in_place(output.as_slice(), dlogits.as_mut_slice(), S::ROW);
        }
        None => {
            for ((y, t), within) in rows {
                if within {
                    sum += y
                        .iter()
                        .zip(t)
                        .map(|(&y, &t)| f(y - t).0 as f64)
                        .sum::<f64>();
                }
            }
        }
    }
    (sum / n as f64) as f32
}
