//! Fully connected layer, PyTorch `nn.Linear` layout: `weight [OUT, IN]`, `bias [OUT]`.

use super::{Layer, ParamVisitor, Path};
use crate::kernels;
use crate::tensor::{Batch, Tensor1};
use crate::Rng;

/// `y = x · Wᵀ + b`, from `IN` features to `OUT`.
#[derive(Clone, Debug)]
pub struct Dense<const IN: usize, const OUT: usize> {
    /// `[OUT, IN]`, row-major.
    pub weight: Vec<f32>,
    /// `[OUT]`.
    pub bias: Vec<f32>,
    /// ∂loss/∂weight of the last backward pass.
    pub weight_grad: Vec<f32>,
    /// ∂loss/∂bias of the last backward pass.
    pub bias_grad: Vec<f32>,
}

impl<const IN: usize, const OUT: usize> Dense<IN, OUT> {
    /// Glorot-uniform weights (Keras's default): U(−l, l), l = √(6 / (IN + OUT)); zero bias.
    pub fn glorot_uniform(rng: &mut Rng) -> Self {
        let mut layer = Self::zeros();
        let limit = (6.0 / (IN + OUT) as f32).sqrt();
        rng.fill_uniform(&mut layer.weight, limit);
        layer
    }

    /// He-uniform weights: U(−l, l), l = √(6 / IN); zero bias.
    pub fn he_uniform(rng: &mut Rng) -> Self {
        let mut layer = Self::zeros();
        let limit = (6.0 / IN as f32).sqrt();
        rng.fill_uniform(&mut layer.weight, limit);
        layer
    }

    /// All parameters zero.
    pub fn zeros() -> Self {
        Dense {
            weight: vec![0.0; OUT * IN],
            bias: vec![0.0; OUT],
            weight_grad: vec![0.0; OUT * IN],
            bias_grad: vec![0.0; OUT],
        }
    }
}

impl<const IN: usize, const OUT: usize> Layer for Dense<IN, OUT> {
    type In = Tensor1<IN>;
    type Out = Tensor1<OUT>;
    type Cache = ();
    const PARAMS: usize = OUT * IN + OUT;
    const KIND: &'static str = "Dense";

    fn init(rng: &mut Rng) -> Self {
        Self::glorot_uniform(rng)
    }

    fn forward_into(&self, x: &Tensor1<IN>, y: &mut Tensor1<OUT>) {
        kernels::dense_forward(&x.data, &self.weight, &self.bias, &mut y.data, 1, IN, OUT);
    }

    fn forward_batch_into(&self, x: &Batch<Tensor1<IN>>, y: &mut Batch<Tensor1<OUT>>) {
        y.set_rows(x.rows());
        kernels::dense_forward(
            x.as_slice(),
            &self.weight,
            &self.bias,
            y.as_mut_slice(),
            x.rows(),
            IN,
            OUT,
        );
    }

    fn backward(
        &mut self,
        x: &Batch<Tensor1<IN>>,
        _y: &Batch<Tensor1<OUT>>,
        _cache: &mut (),
        dy: &Batch<Tensor1<OUT>>,
        dx: Option<&mut Batch<Tensor1<IN>>>,
    ) {
        let dx = dx.map(|dx| {
            dx.set_rows(x.rows());
            dx.as_mut_slice()
        });
        kernels::dense_backward(
            x.as_slice(),
            &self.weight,
            dy.as_slice(),
            &mut self.weight_grad,
            &mut self.bias_grad,
            dx,
            x.rows(),
            IN,
            OUT,
        );
    }

    fn visit_params<V: ParamVisitor>(&mut self, path: &Path<'_>, visitor: &mut V) {
        visitor.visit(
            &path.child("weight"),
            &[OUT, IN],
            &mut self.weight,
            &mut self.weight_grad,
        );
        visitor.visit(
            &path.child("bias"),
            &[OUT],
            &mut self.bias,
            &mut self.bias_grad,
        );
    }
}

impl<const IN: usize, const OUT: usize> Default for Dense<IN, OUT> {
    fn default() -> Self {
        Self::zeros()
    }
}
