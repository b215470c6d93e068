//! Finite-difference checks of a layer's backward pass: for the layers of this crate (their
//! tests use it) and for your own (see the crate docs, "Custom layers").
//!
//! The objective is Σ w ⊙ layer(x) for random weights w, through the training forward pass
//! (the function `backward` differentiates), in f64. Central differences in f32 with step
//! h = 1e-2 on an objective of order one: the truncation error is O(h²·f‴) ≈ 1e-4 and the
//! rounding error ≈ ε_f32·|f|/h ≈ 1e-5, so a relative tolerance of 2e-3 with an absolute
//! floor of 2e-4 separates right gradients from wrong ones by orders of magnitude (a wrong
//! sign or a missing factor is off by 30 % or more). Inputs should keep away from kinks
//! (ReLU's 0, a max pooling's ties) by more than h.

#[allow(unused_imports)]
use crate::core_prelude::*;

use crate::layers::{Layer, Layout, ParamReader, ParamVisitor, Path};
use crate::tensor::Batch;
use crate::Rng;
use core::fmt;

/// The finite-difference step and how far the two gradients may differ.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerance {
    /// h of the central difference (f(x + h) − f(x − h)) / 2h.
    pub step: f32,
    /// |numeric − analytic| ≤ absolute + relative · max(|numeric|, |analytic|).
    pub absolute: f64,
    pub relative: f64,
}

impl Default for Tolerance {
    fn default() -> Self {
        Tolerance {
            step: 1e-2,
            absolute: 2e-4,
            relative: 2e-3,
        }
    }
}

/// What a passing check covered.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GradientCheck {
    /// Input values checked (every value of the batch).
    pub inputs: usize,
    /// Parameter scalars checked (all of them).
    pub params: usize,
    /// The largest |numeric − analytic| seen.
    pub largest_difference: f64,
}

/// Why a check failed: a gradient that differs from its finite difference, or a layer whose
/// description of its parameters disagrees with itself.
#[derive(Clone, Debug, PartialEq)]
pub enum GradientMismatch {
    /// `what` (`dx[3]`, or a parameter such as `weight[5]`) has this analytic gradient, but
    /// the finite difference says `numeric`.
    Value {
        what: String,
        numeric: f64,
        analytic: f64,
    },
    /// `PARAMS` says one count, `walk` describes another.
    ParamCount { declared: usize, walked: usize },
    /// Reading and writing the parameters visit different tensors.
    ReadWriteDiffer,
    /// `backward` gave an input gradient of the wrong number of rows.
    InputGradientRows { expected: usize, found: usize },
}

impl fmt::Display for GradientMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GradientMismatch::Value {
                what,
                numeric,
                analytic,
            } => write!(
                f,
                "{what}: the backward pass gives {analytic:.6}, the finite difference {numeric:.6}"
            ),
            GradientMismatch::ParamCount { declared, walked } => write!(
                f,
                "PARAMS is {declared}, but `walk` describes {walked} parameter scalars"
            ),
            GradientMismatch::ReadWriteDiffer => {
                f.write_str("reading and writing the parameters visit different tensors")
            }
            GradientMismatch::InputGradientRows { expected, found } => write!(
                f,
                "backward wrote {found} rows of input gradient for a batch of {expected}"
            ),
        }
    }
}

impl core::error::Error for GradientMismatch {}

/// Checks ∂/∂x and ∂/∂θ of Σ w ⊙ layer(x) for random `w` (drawn from `rng`) against
/// central differences, with the default [`Tolerance`]. The layer's parameters are nudged
/// and put back; its gradients are left as the backward pass wrote them.
pub fn check_gradients<L: Layer>(
    layer: &mut L,
    x: &Batch<L::In>,
    rng: &mut Rng,
) -> Result<GradientCheck, GradientMismatch> {
    check_gradients_with(layer, x, rng, Tolerance::default())
}

/// [`check_gradients`] with a tolerance of your own.
pub fn check_gradients_with<L: Layer>(
    layer: &mut L,
    x: &Batch<L::In>,
    rng: &mut Rng,
    tolerance: Tolerance,
) -> Result<GradientCheck, GradientMismatch> {
    let rows = x.rows();
    let mut w: Batch<L::Out> = Batch::zeros(rows);
    w.as_mut_slice()
        .iter_mut()
        .for_each(|v| *v = rng.uniform(-1.0, 1.0));
    let (mut y, mut cache, mut dx) = (Batch::default(), L::Cache::default(), Batch::default());
    layer.forward_train(x, &mut y, &mut cache, &mut mask_rng());
    layer.backward(x, &y, &mut cache, &w, Some(&mut dx));
    if dx.rows() != rows {
        return Err(GradientMismatch::InputGradientRows {
            expected: rows,
            found: dx.rows(),
        });
    }
    let mut check = Checker {
        tolerance,
        largest: 0.0,
    };
    let h = tolerance.step;
    for i in 0..x.as_slice().len() {
        let (mut plus, mut minus) = (x.clone(), x.clone());
        plus.as_mut_slice()[i] += h;
        minus.as_mut_slice()[i] -= h;
        let numeric =
            (objective(layer, &plus, &w) - objective(layer, &minus, &w)) / (2.0 * h as f64);
        check.compare(|| format!("dx[{i}]"), numeric, dx.as_slice()[i] as f64)?;
    }

    let mut written = Tensors::default();
    layer.visit_params(&Path::ROOT, &mut written);
    let mut read = Tensors::default();
    layer.read_params(&Path::ROOT, &mut read);
    if written.names != read.names || written.grads != read.grads {
        return Err(GradientMismatch::ReadWriteDiffer);
    }
    let walked = written.grads.len();
    if walked != L::PARAMS {
        return Err(GradientMismatch::ParamCount {
            declared: L::PARAMS,
            walked,
        });
    }
    for (k, &grad) in written.grads.iter().enumerate() {
        nudge(layer, k, h);
        let plus = objective(layer, x, &w);
        nudge(layer, k, -2.0 * h);
        let minus = objective(layer, x, &w);
        nudge(layer, k, h);
        check.compare(
            || written.scalar_name(k),
            (plus - minus) / (2.0 * h as f64),
            grad as f64,
        )?;
    }
    Ok(GradientCheck {
        inputs: x.as_slice().len(),
        params: walked,
        largest_difference: check.largest,
    })
}

/// The generator of every training pass of a check: each evaluation of the objective draws
/// the same random masks (dropout) as the pass whose gradients it checks.
fn mask_rng() -> Rng {
    Rng::seed(0x5eed)
}

/// Σ w ⊙ layer(x), in f64, through the training forward pass.
fn objective<L: Layer>(layer: &L, x: &Batch<L::In>, w: &Batch<L::Out>) -> f64 {
    let mut y = Batch::default();
    layer.forward_train(x, &mut y, &mut L::Cache::default(), &mut mask_rng());
    y.as_slice()
        .iter()
        .zip(w.as_slice())
        .map(|(&a, &b)| a as f64 * b as f64)
        .sum()
}

struct Checker {
    tolerance: Tolerance,
    largest: f64,
}

impl Checker {
    fn compare(
        &mut self,
        what: impl FnOnce() -> String,
        numeric: f64,
        analytic: f64,
    ) -> Result<(), GradientMismatch> {
        let t = self.tolerance;
        let difference = (numeric - analytic).abs();
        self.largest = self.largest.max(difference);
        if difference <= t.absolute + t.relative * numeric.abs().max(analytic.abs()) {
            return Ok(());
        }
        Err(GradientMismatch::Value {
            what: what(),
            numeric,
            analytic,
        })
    }
}

/// Every parameter's name and length, and every gradient scalar, in walking order.
#[derive(Default)]
struct Tensors {
    names: Vec<(String, usize)>,
    grads: Vec<f32>,
}

impl Tensors {
    /// `weight[5]`: the tensor and index of gradient scalar `k`.
    fn scalar_name(&self, mut k: usize) -> String {
        for (name, len) in &self.names {
            if k < *len {
                return format!("{name}[{k}]");
            }
            k -= len;
        }
        format!("parameter scalar {k}")
    }
}

impl ParamVisitor for Tensors {
    fn visit(
        &mut self,
        path: &Path<'_>,
        _: &[usize],
        _: Layout,
        value: &mut [f32],
        grad: &mut [f32],
    ) {
        self.read(path, &[], Layout::RowMajor, value, grad);
    }
}

impl ParamReader for Tensors {
    fn read(&mut self, path: &Path<'_>, _: &[usize], _: Layout, value: &[f32], grad: &[f32]) {
        self.names.push((path.to_string(), value.len()));
        self.grads.extend_from_slice(grad);
    }
}

/// Adds `delta` to parameter scalar `index` (in walking order).
fn nudge<L: Layer>(layer: &mut L, index: usize, delta: f32) {
    struct Nudge {
        index: usize,
        delta: f32,
        seen: usize,
    }
    impl ParamVisitor for Nudge {
        fn visit(
            &mut self,
            _: &Path<'_>,
            _: &[usize],
            _: Layout,
            value: &mut [f32],
            _: &mut [f32],
        ) {
            if self.index >= self.seen && self.index < self.seen + value.len() {
                value[self.index - self.seen] += self.delta;
            }
            self.seen += value.len();
        }
    }
    layer.visit_params(
        &Path::ROOT,
        &mut Nudge {
            index,
            delta,
            seen: 0,
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::{Dense, Walk};
    use crate::tensor::Tensor1;

    #[test]
    fn a_right_backward_pass_passes_and_a_wrong_one_is_named() {
        let mut rng = Rng::seed(1);
        let mut dense = Dense::<5, 3>::init(&mut rng);
        let x = Batch::<Tensor1<5>>::from_vec((0..10).map(|_| rng.uniform(-1.0, 1.0)).collect())
            .unwrap();
        let report = check_gradients(&mut dense, &x, &mut rng).unwrap();
        assert_eq!((report.inputs, report.params), (10, 18));

        /// y = 2x with a backward pass that forgets the factor.
        struct Doubling;
        impl Layer for Doubling {
            type In = Tensor1<2>;
            type Out = Tensor1<2>;
            type Cache = ();
            type Workspace = ();
            const PARAMS: usize = 0;
            const KIND: &'static str = "Doubling";
            fn init(_: &mut Rng) -> Self {
                Doubling
            }
            fn forward_into(&self, x: &Tensor1<2>, y: &mut Tensor1<2>, _: &mut ()) {
                y.data = x.data.map(|v| 2.0 * v);
            }
            fn forward_batch_into(
                &self,
                x: &Batch<Tensor1<2>>,
                y: &mut Batch<Tensor1<2>>,
                _: &mut (),
            ) {
                *y = Batch::from_vec(x.as_slice().iter().map(|v| 2.0 * v).collect()).unwrap();
            }
            fn forward_train(
                &self,
                x: &Batch<Tensor1<2>>,
                y: &mut Batch<Tensor1<2>>,
                _: &mut (),
                _: &mut Rng,
            ) {
                self.forward_batch_into(x, y, &mut ());
            }
            fn backward(
                &mut self,
                _: &Batch<Tensor1<2>>,
                _: &Batch<Tensor1<2>>,
                _: &mut (),
                dy: &Batch<Tensor1<2>>,
                dx: Option<&mut Batch<Tensor1<2>>>,
            ) {
                if let Some(dx) = dx {
                    *dx = dy.clone();
                }
            }
            fn walk<W: Walk<Self>>(_: &mut W) {}
        }
        let x = Batch::<Tensor1<2>>::from_vec(vec![0.3, -0.7]).unwrap();
        match check_gradients(&mut Doubling, &x, &mut rng) {
            Err(GradientMismatch::Value { what, .. }) => assert_eq!(what, "dx[0]"),
            other => panic!("{other:?}"),
        }
    }
}
