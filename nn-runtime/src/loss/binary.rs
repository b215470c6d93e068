//! Binary cross-entropy, one independent yes/no per output value.

use super::{counted_values, BinaryLogitsHead, Loss};
use crate::kernels;
use crate::tensor::{Batch, Sample};

/// Binary cross-entropy from logits (PyTorch `BCEWithLogitsLoss`), mean over every element.
#[derive(Clone, Copy, Debug, Default)]
pub struct BinaryCrossEntropy;

impl<H: BinaryLogitsHead, S: Sample> Loss<H, S, Batch<S>> for BinaryCrossEntropy {
    fn loss_and_grad(
        &self,
        logits: &Batch<S>,
        output: &Batch<S>,
        targets: &Batch<S>,
        dlogits: &mut Batch<S>,
    ) -> f32 {
        dlogits.set_rows(logits.rows());
        binary_cross_entropy_logits(
            logits.as_slice(),
            targets.as_slice(),
            (output.step_mask(), S::ROW, counted_values(output)),
            Some(dlogits.as_mut_slice()),
        )
    }

    fn loss(&self, logits: &Batch<S>, output: &Batch<S>, targets: &Batch<S>) -> f32 {
        let counted = (output.step_mask(), S::ROW, counted_values(output));
        binary_cross_entropy_logits(logits.as_slice(), targets.as_slice(), counted, None)
    }
}

/// Mean of `max(z, 0) − z·t + log(1 + e^−|z|)` over the `n` counted values (rows of `row`
/// values, each counted or not as `mask` says); gradient `(σ(z) − t) / n`, 0 elsewhere.
fn binary_cross_entropy_logits(
    z: &[f32],
    t: &[f32],
    (mask, row, n): (impl Iterator<Item = bool>, usize, usize),
    mut dz: Option<&mut [f32]>,
) -> f32 {
    let inv_n = 1.0 / n.max(1) as f32;
    let mut total = 0.0f64;
    for (k, within) in mask.enumerate() {
        for i in k * row..(k + 1) * row {
            let (zi, ti) = (z[i], t[i]);
            if within {
                total += (zi.max(0.0) - zi * ti + (-zi.abs()).exp().ln_1p()) as f64;
            }
            if let Some(dz) = dz.as_deref_mut() {
                dz[i] = if within {
                    (kernels::sigmoid(zi) - ti) * inv_n
                } else {
                    0.0
                };
            }
        }
    }
    (total / n.max(1) as f64) as f32
}
