//! Binary cross-entropy, one independent yes/no per output value.

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::{counted_values, BinaryLogitsHead, Loss};
use crate::error::{Error, Result};
use crate::kernels;
use crate::tensor::{Batch, Sample, Tensor1, Tensor2, Tensor3};

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

/// Binary cross-entropy from logits with a weight on the positive term (PyTorch
/// `BCEWithLogitsLoss(pos_weight=…)`): −[p·t·log σ(z) + (1 − t)·log(1 − σ(z))], a weight p
/// per element of the last dimension (per class of a multi-label output, per feature of each
/// step of a sequence), broadcast over the other dimensions as PyTorch broadcasts a
/// `pos_weight` of shape `[K]`; mean over every counted element. Made from
/// `BinaryCrossEntropy.pos_weight([…])?`; an output whose last dimension is not `K` does not
/// compile with it.
#[derive(Clone, Debug, PartialEq)]
pub struct BinaryCrossEntropyWith<const K: usize> {
    /// `K` weights.
    pos_weight: Box<[f32]>,
}

impl BinaryCrossEntropy {
    /// Binary cross-entropy with a weight per element of the last dimension on the positive
    /// term: finite and at least 0 (above 1 favours recall, below 1 precision).
    pub fn pos_weight<const K: usize>(
        self,
        pos_weight: [f32; K],
    ) -> Result<BinaryCrossEntropyWith<K>> {
        BinaryCrossEntropyWith::from_slice(&pos_weight)
    }
}

impl<const K: usize> BinaryCrossEntropyWith<K> {
    /// [`BinaryCrossEntropy::pos_weight`] from weights computed at run time (the ratio of
    /// negatives to positives in a data set): a slice of another length than `K` is an error.
    pub fn from_slice(pos_weight: &[f32]) -> Result<Self> {
        if pos_weight.len() != K {
            return Err(Error::LengthMismatch {
                what: "pos_weight",
                expected: K,
                found: pos_weight.len(),
            });
        }
        if let Some(&bad) = pos_weight.iter().find(|w| !(w.is_finite() && **w >= 0.0)) {
            return Err(Error::InvalidHyperparameter {
                name: "pos_weight",
                value: bad as f64,
                expected: "finite weights of at least 0",
            });
        }
        Ok(BinaryCrossEntropyWith {
            pos_weight: pos_weight.into(),
        })
    }

    /// Its weights.
    pub fn weights(&self) -> &[f32] {
        &self.pos_weight
    }

    fn mean<S: Sample>(
        &self,
        z: &Batch<S>,
        t: &Batch<S>,
        mut dz: Option<&mut [f32]>,
        output: &Batch<S>,
    ) -> f32 {
        let n = counted_values(output);
        let inv_n = 1.0 / n as f32;
        let mut total = 0.0f64;
        let rows = z
            .as_slice()
            .chunks_exact(K)
            .zip(t.as_slice().chunks_exact(K));
        for (r, ((zr, tr), within)) in rows.zip(output.step_mask()).enumerate() {
            for (k, ((&z, &t), &p)) in zr.iter().zip(tr).zip(self.pos_weight.iter()).enumerate() {
                // PyTorch's stable form: (1 − t)·z + (1 + (p − 1)·t)·(log(1 + e^−|z|) + max(−z, 0)),
                // whose derivative is (1 + (p − 1)·t)·σ(z) − p·t.
                let log_weight = 1.0 + (p - 1.0) * t;
                if within {
                    let softplus = (-z.abs()).exp().ln_1p() + (-z).max(0.0);
                    total += ((1.0 - t) * z + log_weight * softplus) as f64;
                }
                if let Some(dz) = dz.as_deref_mut() {
                    dz[r * K + k] = if within {
                        (log_weight * kernels::sigmoid(z) - p * t) * inv_n
                    } else {
                        0.0
                    };
                }
            }
        }
        (total / n as f64) as f32
    }
}

macro_rules! pos_weight_shapes {
    ($(<$($dim:ident),*> $shape:ty;)*) => {$(
        impl<H: BinaryLogitsHead, $(const $dim: usize,)* const K: usize> Loss<H, $shape, Batch<$shape>>
            for BinaryCrossEntropyWith<K>
        {
            fn loss_and_grad(
                &self,
                logits: &Batch<$shape>,
                output: &Batch<$shape>,
                targets: &Batch<$shape>,
                dlogits: &mut Batch<$shape>,
            ) -> f32 {
                dlogits.set_rows(logits.rows());
                self.mean(logits, targets, Some(dlogits.as_mut_slice()), output)
            }

            fn loss(&self, logits: &Batch<$shape>, output: &Batch<$shape>, targets: &Batch<$shape>) -> f32 {
                self.mean(logits, targets, None, output)
            }
        }

        #[cfg(feature = "fit")]
        impl<H: crate::fit::BinaryThreshold + BinaryLogitsHead, $(const $dim: usize,)* const K: usize>
            crate::fit::TaskMetrics<H, $shape, Batch<$shape>> for BinaryCrossEntropyWith<K>
        {
            type Metrics = crate::fit::BinaryMetrics<H>;
        }
    )*};
}

// The output shapes whose last dimension is K: the weights' length is checked by the type.
pos_weight_shapes! {
    <> Tensor1<K>;
    <T> Tensor2<T, K>;
    <C, H2> Tensor3<C, H2, K>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::Linear;

    #[test]
    fn weights_of_the_wrong_length_or_negative_are_errors() {
        assert!(matches!(
            BinaryCrossEntropyWith::<3>::from_slice(&[1.0, 2.0]),
            Err(Error::LengthMismatch {
                what: "pos_weight",
                expected: 3,
                found: 2
            })
        ));
        for bad in [-1.0, f32::NAN, f32::INFINITY] {
            assert!(
                matches!(
                    BinaryCrossEntropy.pos_weight([1.0, bad]),
                    Err(Error::InvalidHyperparameter {
                        name: "pos_weight",
                        ..
                    })
                ),
                "pos_weight {bad}"
            );
        }
        assert_eq!(
            BinaryCrossEntropy.pos_weight([0.0, 3.0]).unwrap().weights(),
            [0.0, 3.0]
        );
    }

    #[test]
    fn weights_of_one_are_plain_binary_cross_entropy() {
        let z = Batch::<Tensor1<3>>::from_vec(vec![0.3, -1.0, 2.0, 0.1, 1.5, -0.2]).unwrap();
        let t = Batch::<Tensor1<3>>::from_vec(vec![1.0, 0.0, 0.3, 0.0, 1.0, 1.0]).unwrap();
        let ones = BinaryCrossEntropy.pos_weight([1.0; 3]).unwrap();
        let (mut d_plain, mut d_ones) = (Batch::default(), Batch::default());
        let plain = <BinaryCrossEntropy as Loss<Linear, _, _>>::loss_and_grad(
            &BinaryCrossEntropy,
            &z,
            &z,
            &t,
            &mut d_plain,
        );
        let with = <BinaryCrossEntropyWith<3> as Loss<Linear, _, _>>::loss_and_grad(
            &ones,
            &z,
            &z,
            &t,
            &mut d_ones,
        );
        assert!((plain - with).abs() < 1e-6, "{plain} vs {with}");
        for (a, b) in d_plain.as_slice().iter().zip(d_ones.as_slice()) {
            assert!((a - b).abs() < 1e-7, "{a} vs {b}");
        }
    }
}
