//! Fully connected layer, optionally with its activation fused into the product's epilogue.
//!
//! The weight is stored as `[IN, OUT]`, the transpose of PyTorch's `nn.Linear.weight`
//! `[OUT, IN]`: the forward product Y = X·Wᵀ then streams it row by row with the output
//! vectorised (the layout the register-tiled kernels want), at no cost to inference. The
//! parameter visitor reports PyTorch's shape with [`Layout::Transposed`], so weight files
//! keep PyTorch's layout.

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::{ActivationFn, Layer, Layout, Linear, Marker, Path, Relu, Sigmoid, Tanh, Walk};
use crate::io::onnx::{LayerState, OnnxGraph};
use crate::kernels::{self, EpilogueAct, MatMul, MatMulNt};
use crate::tensor::{Batch, Sample, Tensor1, Tensor2};
use crate::Rng;
use core::marker::PhantomData;

/// Outputs from which the input gradient is computed as dot products along OUT against the
/// weight as stored, rather than by a product with a transposed copy of the weight: each dot
/// product then spans enough vectors to repay its final reduction.
const NT_MIN_OUT: usize = 128;

/// A product of at least `kernels::PARALLEL_MIN_FLOPS` takes the transposed copy of the
/// weight instead from this many rows, with a weight of at most [`TRANSPOSE_MAX_WEIGHT`]
/// values: the library's packed kernels then repay the transpose (one thread, 256×784×128:
/// 527 µs against 730 as dot products). With fewer rows or a larger weight the dot products
/// win (32×12544×128, W6's Dense: 1.6 ms against 3.1, the transpose alone 1.2 ms;
/// 128×12544×128: 6.3 against 7.3 ms).
const TRANSPOSE_MIN_ROWS: usize = 128;
/// See [`TRANSPOSE_MIN_ROWS`]: 1 MiB of weights, which transpose within L2.
const TRANSPOSE_MAX_WEIGHT: usize = 1 << 18;

/// An activation the dense kernels can apply while the output tile is in registers, and
/// differentiate from the output alone.
pub trait FusedActivation: ActivationFn {
    const EPILOGUE: EpilogueAct;
}

impl FusedActivation for Linear {
    const EPILOGUE: EpilogueAct = EpilogueAct::None;
}
impl FusedActivation for Relu {
    const EPILOGUE: EpilogueAct = EpilogueAct::Relu;
}
impl FusedActivation for Tanh {
    const EPILOGUE: EpilogueAct = EpilogueAct::Tanh;
}
impl FusedActivation for Sigmoid {
    const EPILOGUE: EpilogueAct = EpilogueAct::Sigmoid;
}

/// The nodes of a dense layer `layer` (its `weight` and optional `bias` under `path`) on
/// `input`, a batch of samples of rank `rank`, then its activation `F`.
fn dense_onnx<L: Layer, F: FusedActivation>(
    layer: &L,
    g: &mut OnnxGraph,
    path: &Path<'_>,
    input: &str,
    rank: usize,
) -> crate::Result<String> {
    let (scope, state) = (path.to_string(), LayerState::of(layer, path));
    let weight = state.initializer(g, "weight")?;
    let bias = state.optional_initializer(g, "bias");
    let z = g.linear(&scope, input, rank, &weight, bias.as_deref());
    F::default().to_onnx(g, &scope, &z)
}

/// `y = F(x · Wᵀ + b)`, from `IN` features to `OUT`; `F` is `Linear` (none) by default, and
/// without `b` when `BIAS` is false (PyTorch's `bias=False`). `Dense<IN, OUT>` is the layer
/// between vectors of const sizes; [`DenseOn`] the same between any samples (a generic
/// network's shapes, see `Shaped`).
pub type Dense<const IN: usize, const OUT: usize, F = Linear, const BIAS: bool = true> =
    DenseOn<Tensor1<IN>, Tensor1<OUT>, F, BIAS>;

/// A dense layer from the values of an `X` sample to those of a `Y` sample: `IN = X::LEN`
/// features to `OUT = Y::LEN` ([`Dense`] for vectors).
#[derive(Clone, Debug)]
pub struct DenseOn<X: Sample, Y: Sample, F: FusedActivation = Linear, const BIAS: bool = true> {
    /// `[IN, OUT]`, row-major: PyTorch's `weight` transposed.
    pub weight_t: Vec<f32>,
    /// `[OUT]`; empty when `BIAS` is false.
    pub bias: Vec<f32>,
    /// ∂loss/∂weight_t of the last backward pass, `[IN, OUT]`.
    pub weight_t_grad: Vec<f32>,
    /// ∂loss/∂bias of the last backward pass.
    pub bias_grad: Vec<f32>,
    /// `[OUT, IN]` copy of the weight for the input gradient, refreshed in each backward.
    weight_scratch: Vec<f32>,
    _act: Marker<X, Y, F>,
}

impl<X: Sample, Y: Sample, F: FusedActivation, const BIAS: bool> DenseOn<X, Y, F, BIAS> {
    /// Input features.
    const IN: usize = X::LEN;
    /// Output features.
    const OUT: usize = Y::LEN;

    /// Values of the bias: `OUT`, or none without one.
    const BIAS_LEN: usize = if BIAS { Self::OUT } else { 0 };

    /// Trainable scalars (what `Layer::PARAMS` reports).
    pub const PARAMS_OF: usize = Self::OUT * Self::IN + Self::BIAS_LEN;

    /// Glorot-uniform weights (Keras's default): U(−l, l), l = √(6 / (IN + OUT)); zero bias.
    pub fn glorot_uniform(rng: &mut Rng) -> Self {
        let mut layer = Self::zeros();
        rng.fill_uniform(
            &mut layer.weight_t,
            (6.0 / (Self::IN + Self::OUT) as f32).sqrt(),
        );
        layer
    }

    /// He-uniform weights: U(−l, l), l = √(6 / IN); zero bias.
    pub fn he_uniform(rng: &mut Rng) -> Self {
        let mut layer = Self::zeros();
        rng.fill_uniform(&mut layer.weight_t, (6.0 / Self::IN as f32).sqrt());
        layer
    }

    /// All parameters zero.
    pub fn zeros() -> Self {
        DenseOn {
            weight_t: vec![0.0; Self::IN * Self::OUT],
            bias: vec![0.0; Self::BIAS_LEN],
            weight_t_grad: vec![0.0; Self::IN * Self::OUT],
            bias_grad: vec![0.0; Self::BIAS_LEN],
            weight_scratch: Vec::new(),
            _act: PhantomData,
        }
    }

    /// The weight in PyTorch's `[OUT, IN]` layout.
    pub fn weight(&self) -> Vec<f32> {
        let mut w = vec![0.0; Self::OUT * Self::IN];
        kernels::transpose(&self.weight_t, Self::IN, Self::OUT, &mut w);
        w
    }

    /// Sets the weight from PyTorch's `[OUT, IN]` layout.
    pub fn set_weight(&mut self, weight: &[f32]) -> crate::Result<()> {
        if weight.len() != Self::OUT * Self::IN {
            return Err(crate::Error::LengthMismatch {
                what: "Dense weight [out, in]",
                expected: Self::OUT * Self::IN,
                found: weight.len(),
            });
        }
        kernels::transpose(weight, Self::OUT, Self::IN, &mut self.weight_t);
        Ok(())
    }

    /// y = act(x·W_t + b) over `rows` rows; an inference pass splits its product over
    /// threads from a smaller size than a training pass does (`kernels::gemm_inference`).
    pub(super) fn forward_rows(&self, x: &[f32], y: &mut [f32], rows: usize, inference: bool) {
        let p = MatMul {
            act: F::EPILOGUE,
            ..MatMul::new(rows, Self::OUT, Self::IN)
        };
        let bias = BIAS.then_some(&self.bias[..]);
        if inference {
            kernels::gemm_inference(&p, x, &self.weight_t, bias, y);
        } else {
            kernels::gemm(&p, x, &self.weight_t, bias, y);
        }
    }

    /// The backward pass over `rows` rows of `IN` values (a batch of vectors, or every step
    /// of a batch of sequences): overwrites the gradients, writes `dx` when given; `dz`
    /// holds ∂loss/∂(pre-activation) when an activation is fused.
    fn backward_rows(
        &mut self,
        x: &[f32],
        y: &[f32],
        dz: &mut Batch<Y>,
        dy: &[f32],
        dx: Option<&mut [f32]>,
        rows: usize,
    ) {
        // dz = dy · F′(y): the gradient before the fused activation.
        let dz: &[f32] = if F::EPILOGUE == EpilogueAct::None {
            dy
        } else {
            dz.set_rows(rows);
            kernels::activation_backward(F::EPILOGUE, y, dy, dz.as_mut_slice());
            dz.as_slice()
        };
        // ∂W_t[IN, OUT] = Xᵀ · dZ (A = X read transposed through its strides).
        let p = MatMul {
            rsa: 1,
            csa: Self::IN,
            ..MatMul::new(Self::IN, Self::OUT, rows)
        };
        kernels::gemm(&p, x, dz, None, &mut self.weight_t_grad);
        // ∂b = Σ over rows of dZ.
        if BIAS {
            kernels::column_sums(&dz[..rows * Self::OUT], Self::OUT, &mut self.bias_grad);
        }
        let Some(dx) = dx else { return };
        let dots = MatMulNt::new(rows, Self::IN, Self::OUT);
        let small = dots.flops() < kernels::PARALLEL_MIN_FLOPS;
        let transpose_pays =
            rows >= TRANSPOSE_MIN_ROWS && Self::IN * Self::OUT <= TRANSPOSE_MAX_WEIGHT;
        if Self::OUT >= NT_MIN_OUT && (small || !transpose_pays) {
            // dX[rows, IN] = dZ[rows, OUT] · W_tᵀ: W_t's rows run along OUT as dZ's do, so
            // dot products need no transposed copy of the weight.
            kernels::gemm_nt_split(&dots, dz, &self.weight_t, dx);
            return;
        }
        {
            // dX[rows, IN] = dZ · W, with W = W_tᵀ laid out [OUT, IN] for the kernel.
            self.weight_scratch.resize(Self::OUT * Self::IN, 0.0);
            kernels::transpose(
                &self.weight_t,
                Self::IN,
                Self::OUT,
                &mut self.weight_scratch,
            );
            kernels::gemm(
                &MatMul::new(rows, Self::IN, Self::OUT),
                dz,
                &self.weight_scratch,
                None,
                dx,
            );
        }
    }
}

impl<X: Sample, Y: Sample, F: FusedActivation, const BIAS: bool> Layer for DenseOn<X, Y, F, BIAS> {
    type In = X;
    type Out = Y;
    /// ∂loss/∂(pre-activation), when an activation is fused.
    type Cache = Batch<Y>;
    type Workspace = ();
    const PARAMS: usize = Self::PARAMS_OF;
    const KIND: &'static str = "Dense";

    fn init(rng: &mut Rng) -> Self {
        Self::glorot_uniform(rng)
    }

    /// `Gemm` on the sample's values as one vector, and the fused activation.
    fn to_onnx(&self, g: &mut OnnxGraph, path: &Path<'_>, input: &str) -> crate::Result<String> {
        let scope = path.to_string();
        let flat = if X::SHAPE.len() == 1 {
            input.to_string()
        } else {
            g.reshape(&scope, input, &[X::LEN])
        };
        let y = dense_onnx::<_, F>(self, g, path, &flat, 1)?;
        if Y::SHAPE.len() == 1 {
            Ok(y)
        } else {
            Ok(g.reshape(&scope, &y, Y::SHAPE))
        }
    }

    fn forward_into(&self, x: &X, y: &mut Y, _ws: &mut ()) {
        self.forward_rows(x.as_slice(), y.as_mut_slice(), 1, true);
    }

    fn forward_batch_into(&self, x: &Batch<X>, y: &mut Batch<Y>, _ws: &mut ()) {
        y.set_rows(x.rows());
        self.forward_rows(x.as_slice(), y.as_mut_slice(), x.rows(), true);
    }

    /// The product is the same; the cache is only written by `backward` (as ∂loss/∂z).
    fn forward_train(&self, x: &Batch<X>, y: &mut Batch<Y>, _dz: &mut Batch<Y>, _rng: &mut Rng) {
        y.set_rows(x.rows());
        self.forward_rows(x.as_slice(), y.as_mut_slice(), x.rows(), false);
    }

    fn backward(
        &mut self,
        x: &Batch<X>,
        y: &Batch<Y>,
        dz: &mut Batch<Y>,
        dy: &Batch<Y>,
        dx: Option<&mut Batch<X>>,
    ) {
        let rows = x.rows();
        let dx = dx.map(|dx| {
            dx.set_rows(rows);
            dx.as_mut_slice()
        });
        self.backward_rows(x.as_slice(), y.as_slice(), dz, dy.as_slice(), dx, rows);
    }

    fn walk<W: Walk<Self>>(walk: &mut W) {
        walk.param(
            "weight",
            &[Self::OUT, Self::IN],
            Layout::Transposed,
            |l| (&l.weight_t, &l.weight_t_grad),
            |l| (&mut l.weight_t, &mut l.weight_t_grad),
        );
        // No `bias` tensor without a bias, as in PyTorch's `state_dict`.
        if !BIAS {
            return;
        }
        walk.param(
            "bias",
            &[Self::OUT],
            Layout::RowMajor,
            |l| (&l.bias, &l.bias_grad),
            |l| (&mut l.bias, &mut l.bias_grad),
        );
    }
}

impl<X: Sample, Y: Sample, F: FusedActivation, const BIAS: bool> Default
    for DenseOn<X, Y, F, BIAS>
{
    fn default() -> Self {
        Self::zeros()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::Sample;

    #[test]
    fn pytorch_layout_round_trips() {
        let mut d = Dense::<3, 2>::zeros();
        let w = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]; // [[1, 2, 3], [4, 5, 6]]
        d.set_weight(&w).unwrap();
        assert_eq!(d.weight_t, [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
        assert_eq!(d.weight(), w);
        assert!(d.set_weight(&w[..5]).is_err());
        let mut y = Tensor1::zeros();
        d.forward_into(&Tensor1::new([1.0, 0.0, -1.0]), &mut y, &mut ());
        assert_eq!(y.data, [-2.0, -2.0]);
    }
}

/// `Dense` applied to every step of a `[T, IN]` sequence with the same weights (Keras's
/// `Dense` on a sequence, PyTorch's `Linear` on the last dimension): `[T, IN]` to
/// `[T, OUT]`. Written `Dense(units, per_step = true)` in `network!`.
#[derive(Clone, Debug, Default)]
pub struct DenseSeq<
    const T: usize,
    const IN: usize,
    const OUT: usize,
    F: FusedActivation = Linear,
    const BIAS: bool = true,
> {
    pub dense: Dense<IN, OUT, F, BIAS>,
}

impl<const T: usize, const IN: usize, const OUT: usize, F: FusedActivation, const BIAS: bool>
    DenseSeq<T, IN, OUT, F, BIAS>
{
    /// Glorot-uniform weights, zero bias (see [`Dense::glorot_uniform`]).
    pub fn glorot_uniform(rng: &mut Rng) -> Self {
        DenseSeq {
            dense: Dense::glorot_uniform(rng),
        }
    }
}

impl<const T: usize, const IN: usize, const OUT: usize, F: FusedActivation, const BIAS: bool> Layer
    for DenseSeq<T, IN, OUT, F, BIAS>
{
    type In = Tensor2<T, IN>;
    type Out = Tensor2<T, OUT>;
    /// ∂loss/∂(pre-activation) of every step, when an activation is fused.
    type Cache = Batch<Tensor1<OUT>>;
    type Workspace = ();
    const PARAMS: usize = Dense::<IN, OUT, F, BIAS>::PARAMS_OF;
    const FLOPS: usize = 2 * T * IN * OUT;
    const KIND: &'static str = "Dense";

    /// The same product at every step (`MatMul` by the transposed weight).
    fn to_onnx(&self, g: &mut OnnxGraph, path: &Path<'_>, input: &str) -> crate::Result<String> {
        dense_onnx::<_, F>(self, g, path, input, 2)
    }

    fn init(rng: &mut Rng) -> Self {
        Self::glorot_uniform(rng)
    }

    fn forward_into(&self, x: &Tensor2<T, IN>, y: &mut Tensor2<T, OUT>, _ws: &mut ()) {
        self.dense
            .forward_rows(x.as_slice(), y.as_mut_slice(), T, true);
    }

    fn forward_batch_into(&self, x: &Batch<Self::In>, y: &mut Batch<Self::Out>, _ws: &mut ()) {
        y.set_rows(x.rows());
        self.dense
            .forward_rows(x.as_slice(), y.as_mut_slice(), x.rows() * T, true);
    }

    fn forward_train(
        &self,
        x: &Batch<Self::In>,
        y: &mut Batch<Self::Out>,
        _dz: &mut Batch<Tensor1<OUT>>,
        _rng: &mut Rng,
    ) {
        y.set_rows(x.rows());
        self.dense
            .forward_rows(x.as_slice(), y.as_mut_slice(), x.rows() * T, false);
    }

    fn backward(
        &mut self,
        x: &Batch<Self::In>,
        y: &Batch<Self::Out>,
        dz: &mut Batch<Tensor1<OUT>>,
        dy: &Batch<Self::Out>,
        dx: Option<&mut Batch<Self::In>>,
    ) {
        let rows = x.rows();
        let dx = dx.map(|dx| {
            dx.set_rows(rows);
            dx.as_mut_slice()
        });
        self.dense
            .backward_rows(x.as_slice(), y.as_slice(), dz, dy.as_slice(), dx, rows * T);
    }

    /// The per-step Dense's tensors, under this layer's own name.
    fn walk<W: Walk<Self>>(walk: &mut W) {
        walk.sublayer("", |l| &l.dense, |l| &mut l.dense);
    }
}
