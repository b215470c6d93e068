//! Activation layers: parameter-free, shape-preserving, generic over the sample shape.

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::{Layer, Path, Walk};
use crate::error::{Error, Result};
use crate::io::onnx::{attr, LayerState, OnnxGraph};
use crate::kernels::{self, EpilogueAct};
use crate::tensor::{Batch, Sample};
use crate::Rng;
use core::marker::PhantomData;

/// An activation function applied to rows of `len` values: the last dimension of a sample
/// (what a softmax normalises; element-wise functions ignore it).
pub trait ActivationFn: Clone + Default + Send + Sync + 'static {
    /// The name a user writes (`Relu`).
    const KIND: &'static str;
    /// y = f(x), row by row.
    fn forward(&self, x: &[f32], y: &mut [f32], len: usize);
    /// dx = J_f(x)ᵀ · dy, given the x and y of the forward pass.
    fn backward(&self, x: &[f32], y: &[f32], dy: &[f32], dx: &mut [f32], len: usize);

    /// Writes y = f(x) as ONNX nodes of the layer at `scope` (see [`Layer::to_onnx`]);
    /// returns the value holding y. An activation defined outside typed-nn has none.
    fn to_onnx(&self, g: &mut OnnxGraph, scope: &str, x: &str) -> Result<String> {
        let _ = (g, x);
        Err(Error::OnnxUnsupported {
            kind: Self::KIND.to_string(),
            path: scope.to_string(),
            reason: "this activation has no ONNX export".to_string(),
        })
    }
}

/// x · f(x) for an ONNX operator `f` (SiLU's sigmoid, Mish's tanh∘softplus).
fn times_x(g: &mut OnnxGraph, scope: &str, x: &str, fx: &str) -> String {
    g.op("Mul", scope, &[x, fx], vec![])
}

/// max(x, 0)
#[derive(Clone, Copy, Debug, Default)]
pub struct Relu;

/// x if x > 0 else alpha · x
#[derive(Clone, Copy, Debug)]
pub struct LeakyRelu {
    pub alpha: f32,
}

impl LeakyRelu {
    /// Slope `alpha` for negative inputs.
    pub const fn new(alpha: f32) -> Self {
        LeakyRelu { alpha }
    }
}

impl Default for LeakyRelu {
    /// PyTorch's default slope, 0.01.
    fn default() -> Self {
        LeakyRelu { alpha: 0.01 }
    }
}

/// tanh(x)
#[derive(Clone, Copy, Debug, Default)]
pub struct Tanh;

/// 1 / (1 + e^−x)
#[derive(Clone, Copy, Debug, Default)]
pub struct Sigmoid;

/// x·Φ(x), Φ the standard normal distribution function (PyTorch's exact `GELU`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Gelu;

/// e^x / Σ e^x over the last dimension: each row of a `[T, V]` output (one distribution
/// per step) sums to 1, as PyTorch's `softmax(dim=-1)` and Keras's default axis.
#[derive(Clone, Copy, Debug, Default)]
pub struct Softmax;

/// log(e^x / Σ e^x) over the last dimension (PyTorch's `LogSoftmax(dim=-1)`), computed as
/// (x − max) − log Σ e^(x − max).
#[derive(Clone, Copy, Debug, Default)]
pub struct LogSoftmax;

/// The identity: what a network without an output activation ends in.
#[derive(Clone, Copy, Debug, Default)]
pub struct Linear;

/// ln(1 + e^x), and x itself above 20 (PyTorch's threshold, where the two agree in f32).
fn softplus(x: f32) -> f32 {
    if x > 20.0 {
        x
    } else {
        x.exp().ln_1p()
    }
}

/// An element-wise activation computed value by value: its type, `f(x)`, and `f′(x)`, which
/// the backward pass reads off the input.
macro_rules! elementwise {
    (
        $(#[$doc:meta])* $name:ident, |$x:ident| $f:expr, |$dx:ident| $df:expr,
        onnx |$g:ident, $scope:ident, $xv:ident| $onnx:expr $(,)?
    ) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default)]
        pub struct $name;

        impl ActivationFn for $name {
            const KIND: &'static str = stringify!($name);
            fn forward(&self, x: &[f32], y: &mut [f32], _len: usize) {
                for (o, &$x) in y.iter_mut().zip(x) {
                    *o = $f;
                }
            }
            fn backward(&self, x: &[f32], _y: &[f32], dy: &[f32], dx: &mut [f32], _len: usize) {
                for ((d, &$dx), &g) in dx.iter_mut().zip(x).zip(dy) {
                    *d = g * $df;
                }
            }
            fn to_onnx(&self, $g: &mut OnnxGraph, $scope: &str, $xv: &str) -> Result<String> {
                Ok($onnx)
            }
        }
    };
}

elementwise!(
    /// min(max(0, x), 6) (PyTorch's `nn.ReLU6`); NaN stays NaN.
    Relu6,
    |x| x.clamp(0.0, 6.0),
    |x| if x > 0.0 && x < 6.0 { 1.0 } else { 0.0 },
    onnx |g, scope, x| {
        let (lo, hi) = (g.scalar(scope, "min", 0.0), g.scalar(scope, "max", 6.0));
        g.op("Clip", scope, &[x, &lo, &hi], vec![])
    },
);

elementwise!(
    /// min(max(0, x + 3), 6) / 6 (PyTorch's `nn.Hardsigmoid`): a piecewise-linear sigmoid.
    Hardsigmoid,
    |x| (x + 3.0).clamp(0.0, 6.0) / 6.0,
    |x| if x > -3.0 && x < 3.0 { 1.0 / 6.0 } else { 0.0 },
    onnx |g, scope, x| g.op(
        "HardSigmoid",
        scope,
        &[x],
        vec![attr::float("alpha", 1.0 / 6.0), attr::float("beta", 0.5)],
    ),
);

elementwise!(
    /// x·min(max(0, x + 3), 6) / 6 (PyTorch's `nn.Hardswish`); its derivative as PyTorch's, x/3 + 1/2 from −3 up to 3 included.
    Hardswish,
    |x| x * (x + 3.0).clamp(0.0, 6.0) / 6.0,
    |x| if x < -3.0 { 0.0 } else if x <= 3.0 { x / 3.0 + 0.5 } else { 1.0 },
    onnx |g, scope, x| g.op("HardSwish", scope, &[x], vec![]),
);

elementwise!(
    /// x·tanh(softplus(x)) (PyTorch's `nn.Mish`, its softplus x itself above 20).
    Mish,
    |x| x * softplus(x).tanh(),
    |x| { let t = softplus(x).tanh(); t + x * (1.0 - t * t) * kernels::sigmoid(x) },
    // ONNX's Mish is opset 18: x · tanh(softplus(x)).
    onnx |g, scope, x| {
        let sp = g.op("Softplus", scope, &[x], vec![]);
        let t = g.op("Tanh", scope, &[&sp], vec![]);
        times_x(g, scope, x, &t)
    },
);

elementwise!(
    /// x·σ(x) (PyTorch's `nn.SiLU`, also called Swish).
    Silu,
    |x| x * kernels::sigmoid(x),
    |x| {
        let s = kernels::sigmoid(x);
        s * (1.0 + x * (1.0 - s))
    },
    onnx |g, scope, x| {
        let s = g.op("Sigmoid", scope, &[x], vec![]);
        times_x(g, scope, x, &s)
    },
);

impl ActivationFn for Relu {
    const KIND: &'static str = "Relu";
    fn forward(&self, x: &[f32], y: &mut [f32], _len: usize) {
        kernels::activation_forward(EpilogueAct::Relu, x, y)
    }
    fn backward(&self, _x: &[f32], y: &[f32], dy: &[f32], dx: &mut [f32], _len: usize) {
        // y > 0 exactly where x > 0.
        kernels::activation_backward(EpilogueAct::Relu, y, dy, dx)
    }
    fn to_onnx(&self, g: &mut OnnxGraph, scope: &str, x: &str) -> Result<String> {
        Ok(g.op("Relu", scope, &[x], vec![]))
    }
}

impl ActivationFn for LeakyRelu {
    const KIND: &'static str = "LeakyRelu";
    fn forward(&self, x: &[f32], y: &mut [f32], _len: usize) {
        kernels::leaky_relu_forward(self.alpha, x, y)
    }
    fn backward(&self, x: &[f32], _y: &[f32], dy: &[f32], dx: &mut [f32], _len: usize) {
        kernels::leaky_relu_backward(self.alpha, x, dy, dx)
    }
    fn to_onnx(&self, g: &mut OnnxGraph, scope: &str, x: &str) -> Result<String> {
        let alpha = attr::float("alpha", self.alpha);
        Ok(g.op("LeakyRelu", scope, &[x], vec![alpha]))
    }
}

/// x for x > 0, α·(e^x − 1) below (PyTorch's `nn.ELU`).
#[derive(Clone, Copy, Debug)]
pub struct Elu {
    pub alpha: f32,
}

impl Elu {
    pub const fn new(alpha: f32) -> Self {
        Elu { alpha }
    }
}

impl Default for Elu {
    /// PyTorch's default α, 1.
    fn default() -> Self {
        Elu { alpha: 1.0 }
    }
}

impl ActivationFn for Elu {
    const KIND: &'static str = "Elu";
    fn forward(&self, x: &[f32], y: &mut [f32], _len: usize) {
        for (o, &v) in y.iter_mut().zip(x) {
            *o = if v > 0.0 { v } else { self.alpha * v.exp_m1() };
        }
    }
    fn backward(&self, x: &[f32], _y: &[f32], dy: &[f32], dx: &mut [f32], _len: usize) {
        for ((d, &v), &g) in dx.iter_mut().zip(x).zip(dy) {
            *d = if v > 0.0 { g } else { g * self.alpha * v.exp() };
        }
    }
    fn to_onnx(&self, g: &mut OnnxGraph, scope: &str, x: &str) -> Result<String> {
        let alpha = attr::float("alpha", self.alpha);
        Ok(g.op("Elu", scope, &[x], vec![alpha]))
    }
}

/// log(1 + e^(βx)) / β, and x itself where βx > threshold (PyTorch's `nn.Softplus`).
#[derive(Clone, Copy, Debug)]
pub struct Softplus {
    pub beta: f32,
    pub threshold: f32,
}

impl Softplus {
    pub const fn new(beta: f32, threshold: f32) -> Self {
        Softplus { beta, threshold }
    }
}

impl Default for Softplus {
    /// PyTorch's defaults, β = 1 and threshold 20.
    fn default() -> Self {
        Softplus::new(1.0, 20.0)
    }
}

impl ActivationFn for Softplus {
    const KIND: &'static str = "Softplus";
    fn forward(&self, x: &[f32], y: &mut [f32], _len: usize) {
        for (o, &v) in y.iter_mut().zip(x) {
            let bx = self.beta * v;
            *o = if bx > self.threshold {
                v
            } else {
                bx.exp().ln_1p() / self.beta
            };
        }
    }
    fn backward(&self, x: &[f32], _y: &[f32], dy: &[f32], dx: &mut [f32], _len: usize) {
        for ((d, &v), &g) in dx.iter_mut().zip(x).zip(dy) {
            let bx = self.beta * v;
            *d = if bx > self.threshold {
                g
            } else {
                g * kernels::sigmoid(bx)
            };
        }
    }
    /// ONNX's Softplus has neither β nor threshold: log(1 + e^(βx)) / β where βx is at
    /// most the threshold, x above.
    fn to_onnx(&self, g: &mut OnnxGraph, scope: &str, x: &str) -> Result<String> {
        let beta = g.scalar(scope, "beta", self.beta);
        let bx = g.op("Mul", scope, &[x, &beta], vec![]);
        let sp = g.op("Softplus", scope, &[&bx], vec![]);
        let smooth = g.op("Div", scope, &[&sp, &beta], vec![]);
        let threshold = g.scalar(scope, "threshold", self.threshold);
        let above = g.op("Greater", scope, &[&bx, &threshold], vec![]);
        Ok(g.op("Where", scope, &[&above, x, &smooth], vec![]))
    }
}

impl ActivationFn for Tanh {
    const KIND: &'static str = "Tanh";
    fn forward(&self, x: &[f32], y: &mut [f32], _len: usize) {
        kernels::activation_forward(EpilogueAct::Tanh, x, y)
    }
    fn backward(&self, _x: &[f32], y: &[f32], dy: &[f32], dx: &mut [f32], _len: usize) {
        kernels::activation_backward(EpilogueAct::Tanh, y, dy, dx)
    }
    fn to_onnx(&self, g: &mut OnnxGraph, scope: &str, x: &str) -> Result<String> {
        Ok(g.op("Tanh", scope, &[x], vec![]))
    }
}

impl ActivationFn for Sigmoid {
    const KIND: &'static str = "Sigmoid";
    fn forward(&self, x: &[f32], y: &mut [f32], _len: usize) {
        kernels::activation_forward(EpilogueAct::Sigmoid, x, y)
    }
    fn backward(&self, _x: &[f32], y: &[f32], dy: &[f32], dx: &mut [f32], _len: usize) {
        kernels::activation_backward(EpilogueAct::Sigmoid, y, dy, dx)
    }
    fn to_onnx(&self, g: &mut OnnxGraph, scope: &str, x: &str) -> Result<String> {
        Ok(g.op("Sigmoid", scope, &[x], vec![]))
    }
}

impl ActivationFn for Gelu {
    const KIND: &'static str = "Gelu";
    fn forward(&self, x: &[f32], y: &mut [f32], _len: usize) {
        kernels::gelu_forward(x, y)
    }
    fn backward(&self, x: &[f32], _y: &[f32], dy: &[f32], dx: &mut [f32], _len: usize) {
        kernels::gelu_backward(x, dy, dx)
    }
    /// ONNX's Gelu is opset 20: x · (1 + erf(x / √2)) / 2.
    fn to_onnx(&self, g: &mut OnnxGraph, scope: &str, x: &str) -> Result<String> {
        let sqrt2 = g.scalar(scope, "sqrt2", core::f32::consts::SQRT_2);
        let (one, half) = (g.scalar(scope, "one", 1.0), g.scalar(scope, "half", 0.5));
        let scaled = g.op("Div", scope, &[x, &sqrt2], vec![]);
        let erf = g.op("Erf", scope, &[&scaled], vec![]);
        let cdf = g.op("Add", scope, &[&erf, &one], vec![]);
        let half_x = g.op("Mul", scope, &[x, &half], vec![]);
        Ok(g.op("Mul", scope, &[&half_x, &cdf], vec![]))
    }
}

impl ActivationFn for Softmax {
    const KIND: &'static str = "Softmax";
    fn forward(&self, x: &[f32], y: &mut [f32], len: usize) {
        kernels::softmax_forward(x, y, len)
    }
    fn backward(&self, _x: &[f32], y: &[f32], dy: &[f32], dx: &mut [f32], len: usize) {
        kernels::softmax_backward(y, dy, dx, len)
    }
    fn to_onnx(&self, g: &mut OnnxGraph, scope: &str, x: &str) -> Result<String> {
        Ok(g.op("Softmax", scope, &[x], vec![attr::int("axis", -1)]))
    }
}

impl ActivationFn for LogSoftmax {
    const KIND: &'static str = "LogSoftmax";
    fn forward(&self, x: &[f32], y: &mut [f32], len: usize) {
        kernels::log_softmax_forward(x, y, len)
    }
    fn backward(&self, _x: &[f32], y: &[f32], dy: &[f32], dx: &mut [f32], len: usize) {
        kernels::log_softmax_backward(y, dy, dx, len)
    }
    fn to_onnx(&self, g: &mut OnnxGraph, scope: &str, x: &str) -> Result<String> {
        Ok(g.op("LogSoftmax", scope, &[x], vec![attr::int("axis", -1)]))
    }
}

impl ActivationFn for Linear {
    const KIND: &'static str = "Linear";
    fn forward(&self, x: &[f32], y: &mut [f32], _len: usize) {
        y.copy_from_slice(x)
    }
    fn backward(&self, _x: &[f32], _y: &[f32], dy: &[f32], dx: &mut [f32], _len: usize) {
        dx.copy_from_slice(dy)
    }
    fn to_onnx(&self, _g: &mut OnnxGraph, _scope: &str, x: &str) -> Result<String> {
        Ok(x.to_string())
    }
}

/// The activation `F` as a layer on samples of shape `S`.
pub struct Act<F: ActivationFn, S: Sample> {
    pub function: F,
    _shape: PhantomData<fn() -> S>,
}

impl<F: ActivationFn, S: Sample> Act<F, S> {
    /// The layer applying `function`.
    pub fn new(function: F) -> Self {
        Act {
            function,
            _shape: PhantomData,
        }
    }
}

impl<F: ActivationFn, S: Sample> Clone for Act<F, S> {
    fn clone(&self) -> Self {
        Act::new(self.function.clone())
    }
}

impl<F: ActivationFn + core::fmt::Debug, S: Sample> core::fmt::Debug for Act<F, S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:?} on {:?}", self.function, S::SHAPE)
    }
}

impl<F: ActivationFn, S: Sample> Default for Act<F, S> {
    fn default() -> Self {
        Act::new(F::default())
    }
}

impl<F: ActivationFn, S: Sample> Layer for Act<F, S> {
    type In = S;
    type Out = S;
    type Cache = ();
    type Workspace = ();
    const PARAMS: usize = 0;
    const KIND: &'static str = F::KIND;

    fn to_onnx(&self, g: &mut OnnxGraph, path: &Path<'_>, input: &str) -> Result<String> {
        self.function.to_onnx(g, &path.to_string(), input)
    }

    fn init(_rng: &mut Rng) -> Self {
        Self::default()
    }

    fn forward_into(&self, x: &S, y: &mut S, _ws: &mut ()) {
        self.function
            .forward(x.as_slice(), y.as_mut_slice(), S::ROW);
    }

    fn forward_batch_into(&self, x: &Batch<S>, y: &mut Batch<S>, _ws: &mut ()) {
        y.set_rows(x.rows());
        self.function
            .forward(x.as_slice(), y.as_mut_slice(), S::ROW);
    }

    fn forward_train(&self, x: &Batch<S>, y: &mut Batch<S>, _cache: &mut (), _rng: &mut Rng) {
        self.forward_batch_into(x, y, &mut ());
    }

    fn backward(
        &mut self,
        x: &Batch<S>,
        y: &Batch<S>,
        _cache: &mut (),
        dy: &Batch<S>,
        dx: Option<&mut Batch<S>>,
    ) {
        if let Some(dx) = dx {
            dx.set_rows(x.rows());
            self.function.backward(
                x.as_slice(),
                y.as_slice(),
                dy.as_slice(),
                dx.as_mut_slice(),
                S::ROW,
            );
        }
    }

    fn walk<W: Walk<Self>>(_: &mut W) {}
}

/// The gated linear unit over the last dimension (PyTorch's `nn.GLU(dim=-1)`): a row of
/// `2H` values, halves `a` and `b`, gives `a ⊙ σ(b)`, `H` values; from `X` samples to `Y`
/// samples whose last dimension is half `X`'s.
pub struct Glu<X: Sample, Y: Sample>(PhantomData<fn() -> (X, Y)>);

impl<X: Sample, Y: Sample> Glu<X, Y> {
    /// Fails to compile unless `Y`'s rows are half `X`'s, as many of them.
    const HALVES: () = assert!(
        X::ROW == 2 * Y::ROW && X::LEN == 2 * Y::LEN,
        "GLU: the output's last dimension is half the input's"
    );
}

impl<X: Sample, Y: Sample> Default for Glu<X, Y> {
    fn default() -> Self {
        let () = Self::HALVES;
        Glu(PhantomData)
    }
}

impl<X: Sample, Y: Sample> Glu<X, Y> {
    fn run(x: &[f32], y: &mut [f32]) {
        let h = Y::ROW;
        for (xr, yr) in x.chunks_exact(2 * h).zip(y.chunks_exact_mut(h)) {
            let (a, b) = xr.split_at(h);
            for ((o, &av), &bv) in yr.iter_mut().zip(a).zip(b) {
                *o = av * kernels::sigmoid(bv);
            }
        }
    }
}

impl<X: Sample, Y: Sample> Layer for Glu<X, Y> {
    type In = X;
    type Out = Y;
    type Cache = ();
    type Workspace = ();
    const PARAMS: usize = 0;
    const FLOPS: usize = 4 * Y::LEN;
    const KIND: &'static str = "Glu";

    /// The last axis split in halves a, b: a · σ(b).
    fn to_onnx(&self, g: &mut OnnxGraph, path: &Path<'_>, input: &str) -> Result<String> {
        let scope = path.to_string();
        let halves = g.op_outputs("Split", &scope, &[input], 2, vec![attr::int("axis", -1)]);
        let gate = g.op("Sigmoid", &scope, &[&halves[1]], vec![]);
        Ok(g.op("Mul", &scope, &[&halves[0], &gate], vec![]))
    }

    fn init(_rng: &mut Rng) -> Self {
        Self::default()
    }

    fn forward_into(&self, x: &X, y: &mut Y, _ws: &mut ()) {
        Self::run(x.as_slice(), y.as_mut_slice());
    }

    fn forward_batch_into(&self, x: &Batch<X>, y: &mut Batch<Y>, _ws: &mut ()) {
        y.set_rows(x.rows());
        Self::run(x.as_slice(), y.as_mut_slice());
    }

    fn forward_train(&self, x: &Batch<X>, y: &mut Batch<Y>, _cache: &mut (), _rng: &mut Rng) {
        self.forward_batch_into(x, y, &mut ());
    }

    /// da = dy ⊙ σ(b), db = dy ⊙ a ⊙ σ(b)(1 − σ(b)).
    fn backward(
        &mut self,
        x: &Batch<X>,
        _y: &Batch<Y>,
        _cache: &mut (),
        dy: &Batch<Y>,
        dx: Option<&mut Batch<X>>,
    ) {
        let Some(dx) = dx else { return };
        dx.set_rows(x.rows());
        let h = Y::ROW;
        let rows = x
            .as_slice()
            .chunks_exact(2 * h)
            .zip(dy.as_slice().chunks_exact(h));
        for (d, (xr, g)) in dx.as_mut_slice().chunks_exact_mut(2 * h).zip(rows) {
            let (a, b) = xr.split_at(h);
            let (da, db) = d.split_at_mut(h);
            for i in 0..h {
                let s = kernels::sigmoid(b[i]);
                da[i] = g[i] * s;
                db[i] = g[i] * a[i] * s * (1.0 - s);
            }
        }
    }

    fn walk<W: Walk<Self>>(_: &mut W) {}
}

/// A leaky ReLU whose negative slopes are learnt (PyTorch's `nn.PReLU`): one slope, or one
/// per channel (`P` = the first dimension of the sample), parameter `weight [P]`.
#[derive(Clone, Debug)]
pub struct PRelu<S: Sample, const P: usize> {
    pub weight: Vec<f32>,
    pub weight_grad: Vec<f32>,
    _shape: PhantomData<fn() -> S>,
}

impl<S: Sample, const P: usize> PRelu<S, P> {
    /// Fails to compile unless there is one slope, or one per channel.
    const CHANNELS: () = assert!(
        P == 1 || (P == S::SHAPE[0] && S::LEN.is_multiple_of(P)),
        "PReLU: one slope, or one per channel (the sample's first dimension)"
    );

    /// Every slope `init` (PyTorch's default 0.25).
    pub fn new(init: f32) -> Self {
        let () = Self::CHANNELS;
        PRelu {
            weight: vec![init; P],
            weight_grad: vec![0.0; P],
            _shape: PhantomData,
        }
    }

    /// Values of one sample that share a slope.
    const PER_SLOPE: usize = S::LEN / P;
}

impl<S: Sample, const P: usize> Layer for PRelu<S, P> {
    type In = S;
    type Out = S;
    type Cache = ();
    type Workspace = ();
    const PARAMS: usize = P;
    const FLOPS: usize = S::LEN;
    const KIND: &'static str = "PRelu";

    /// One slope broadcasts as it is; one per channel as `[P, 1, …]` against the sample.
    fn to_onnx(&self, g: &mut OnnxGraph, path: &Path<'_>, input: &str) -> Result<String> {
        let scope = path.to_string();
        let mut slope = LayerState::of(self, path).initializer(g, "weight")?;
        if P > 1 && S::SHAPE.len() > 1 {
            let axes: Vec<i64> = (1..S::SHAPE.len() as i64).collect();
            slope = g.unsqueeze(&scope, &slope, &axes);
        }
        Ok(g.op("PRelu", &scope, &[input, &slope], vec![]))
    }

    fn init(_rng: &mut Rng) -> Self {
        Self::new(0.25)
    }

    fn forward_into(&self, x: &S, y: &mut S, _ws: &mut ()) {
        self.run(x.as_slice(), y.as_mut_slice());
    }

    fn forward_batch_into(&self, x: &Batch<S>, y: &mut Batch<S>, _ws: &mut ()) {
        y.set_rows(x.rows());
        self.run(x.as_slice(), y.as_mut_slice());
    }

    fn forward_train(&self, x: &Batch<S>, y: &mut Batch<S>, _cache: &mut (), _rng: &mut Rng) {
        self.forward_batch_into(x, y, &mut ());
    }

    /// dx = dy where x > 0, slope · dy elsewhere; ∂slope = Σ dy · x where x ≤ 0.
    fn backward(
        &mut self,
        x: &Batch<S>,
        _y: &Batch<S>,
        _cache: &mut (),
        dy: &Batch<S>,
        dx: Option<&mut Batch<S>>,
    ) {
        self.weight_grad.fill(0.0);
        for (xs, gs) in x
            .as_slice()
            .chunks_exact(S::LEN)
            .zip(dy.as_slice().chunks_exact(S::LEN))
        {
            for ((xc, gc), grad) in xs
                .chunks_exact(Self::PER_SLOPE)
                .zip(gs.chunks_exact(Self::PER_SLOPE))
                .zip(self.weight_grad.iter_mut())
            {
                *grad += xc
                    .iter()
                    .zip(gc)
                    .filter(|(&v, _)| v <= 0.0)
                    .map(|(&v, &g)| v * g)
                    .sum::<f32>();
            }
        }
        let Some(dx) = dx else { return };
        dx.set_rows(x.rows());
        let values = x.as_slice().iter().zip(dy.as_slice());
        for (i, (d, (&v, &g))) in dx.as_mut_slice().iter_mut().zip(values).enumerate() {
            let slope = self.weight[(i % S::LEN) / Self::PER_SLOPE];
            *d = if v > 0.0 { g } else { slope * g };
        }
    }

    fn walk<W: Walk<Self>>(walk: &mut W) {
        walk.param(
            "weight",
            &[P],
            super::Layout::RowMajor,
            |l| (&l.weight, &l.weight_grad),
            |l| (&mut l.weight, &mut l.weight_grad),
        );
    }
}

impl<S: Sample, const P: usize> PRelu<S, P> {
    fn run(&self, x: &[f32], y: &mut [f32]) {
        for (i, (o, &v)) in y.iter_mut().zip(x).enumerate() {
            let slope = self.weight[(i % S::LEN) / Self::PER_SLOPE];
            *o = if v > 0.0 { v } else { slope * v };
        }
    }
}
