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
