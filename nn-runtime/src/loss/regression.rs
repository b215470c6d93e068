//! Element-wise losses of a network's output against dense targets of its own shape.

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::{counted_values, Head, Loss};
use crate::error::{Error, Result};
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

/// A loss that is the mean of a term of each residual e = y − t over the counted values:
/// implementing its term makes a type a [`Loss`] against dense targets of the output's
/// shape, for any head ([`L1`], [`Huber`], [`SmoothL1`]).
pub trait ElementwiseTerm {
    /// The term at residual `e`, and its derivative with respect to `e`.
    fn term(&self, e: f32) -> (f32, f32);
}

impl<H: Head, S: Sample, E: ElementwiseTerm> Loss<H, S, Batch<S>> for E {
    fn loss_and_grad(
        &self,
        _logits: &Batch<S>,
        output: &Batch<S>,
        targets: &Batch<S>,
        dlogits: &mut Batch<S>,
    ) -> f32 {
        elementwise::<H, S>(output, targets, Some(dlogits), |e| self.term(e))
    }

    fn loss(&self, _logits: &Batch<S>, output: &Batch<S>, targets: &Batch<S>) -> f32 {
        elementwise::<H, S>(output, targets, None, |e| self.term(e))
    }
}

impl ElementwiseTerm for L1 {
    fn term(&self, e: f32) -> (f32, f32) {
        (e.abs(), sign(e))
    }
}

/// Huber loss (PyTorch `HuberLoss(delta)`), mean over every element: ½e² where |e| < δ,
/// δ(|e| − ½δ) beyond, for e = y − t; its gradient is e clipped to [−δ, δ]. `δ` is 1 by
/// default, as PyTorch's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Huber {
    delta: f32,
}

impl Huber {
    /// Huber loss with threshold `delta`, which must be finite and above 0 (as PyTorch
    /// requires).
    pub fn new(delta: f32) -> Result<Self> {
        if !(delta.is_finite() && delta > 0.0) {
            return Err(Error::InvalidHyperparameter {
                name: "delta",
                value: delta as f64,
                expected: "a finite value above 0",
            });
        }
        Ok(Huber { delta })
    }

    /// Its threshold δ.
    pub fn delta(&self) -> f32 {
        self.delta
    }
}

impl ElementwiseTerm for Huber {
    fn term(&self, e: f32) -> (f32, f32) {
        let delta = self.delta;
        if e.abs() < delta {
            (0.5 * e * e, e)
        } else {
            (delta * (e.abs() - 0.5 * delta), delta * sign(e))
        }
    }
}

impl Default for Huber {
    fn default() -> Self {
        Huber { delta: 1.0 }
    }
}

/// Smooth L1 loss (PyTorch `SmoothL1Loss(beta)`), mean over every element: ½e²/β where
/// |e| < β, |e| − ½β beyond, for e = y − t; its gradient is e/β clipped to [−1, 1]. It is
/// Huber's loss divided by β; β = 0 is the L1 loss, as in PyTorch. `β` is 1 by default, as
/// PyTorch's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SmoothL1 {
    beta: f32,
}

impl SmoothL1 {
    /// Smooth L1 loss with threshold `beta`, which must be finite and at least 0 (as
    /// PyTorch requires).
    pub fn new(beta: f32) -> Result<Self> {
        if !(beta.is_finite() && beta >= 0.0) {
            return Err(Error::InvalidHyperparameter {
                name: "beta",
                value: beta as f64,
                expected: "a finite value of at least 0",
            });
        }
        Ok(SmoothL1 { beta })
    }

    /// Its threshold β.
    pub fn beta(&self) -> f32 {
        self.beta
    }
}

impl ElementwiseTerm for SmoothL1 {
    fn term(&self, e: f32) -> (f32, f32) {
        let beta = self.beta;
        // With β = 0 no residual is below β: the L1 branch, with its gradient 0 at e = 0.
        if e.abs() < beta {
            (0.5 * e * e / beta, e / beta)
        } else {
            (e.abs() - 0.5 * beta, sign(e))
        }
    }
}

impl Default for SmoothL1 {
    fn default() -> Self {
        SmoothL1 { beta: 1.0 }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_outside_pytorchs_range_are_errors() {
        for delta in [0.0, -1.0, f32::NAN, f32::INFINITY] {
            assert!(
                matches!(
                    Huber::new(delta),
                    Err(Error::InvalidHyperparameter { name: "delta", .. })
                ),
                "Huber delta {delta}"
            );
        }
        for beta in [-0.5, f32::NAN, f32::NEG_INFINITY] {
            assert!(
                matches!(
                    SmoothL1::new(beta),
                    Err(Error::InvalidHyperparameter { name: "beta", .. })
                ),
                "SmoothL1 beta {beta}"
            );
        }
        assert_eq!(Huber::new(0.5).unwrap().delta(), 0.5);
        assert_eq!(SmoothL1::new(0.0).unwrap().beta(), 0.0);
        // PyTorch's defaults.
        assert_eq!(Huber::default().delta(), 1.0);
        assert_eq!(SmoothL1::default().beta(), 1.0);
    }

    #[test]
    fn smooth_l1_is_huber_over_beta_and_l1_at_beta_zero() {
        let huber = Huber::new(0.5).unwrap();
        let smooth = SmoothL1::new(0.5).unwrap();
        for e in [-2.0f32, -0.5, -0.3, 0.0, 0.1, 0.49, 0.5, 3.0] {
            let (h, dh) = huber.term(e);
            let (s, ds) = smooth.term(e);
            assert!((s - h / 0.5).abs() < 1e-6, "loss at {e}: {s} vs {h} / 0.5");
            assert!(
                (ds - dh / 0.5).abs() < 1e-6,
                "slope at {e}: {ds} vs {dh} / 0.5"
            );
        }
        let l1 = SmoothL1::new(0.0).unwrap();
        assert_eq!(l1.term(-2.0), (2.0, -1.0));
        assert_eq!(l1.term(0.0), (0.0, 0.0));
        assert!(l1.term(f32::NAN).1.is_nan(), "NaN stays in the gradient");
    }
}
