//! The blocks small modern decoders (Llama, Mistral) use instead of LayerNorm and a GELU
//! MLP: RMS normalisation (PyTorch's `nn.RMSNorm`) and the SwiGLU feed-forward block
//! (Shazeer's GLU variants; Llama's `gate_proj`, `up_proj`, `down_proj`). Both act on each
//! row of a sample's last dimension, so on every step of a `[T, F]` sequence.

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::{Layer, Layout, Path, Walk};
use crate::io::onnx::{attr, LayerState, OnnxGraph};
use crate::kernels::{gemm, gemm_nt, sigmoid, MatMul, MatMulNt};
use crate::tensor::{Batch, Sample};
use crate::Rng;
use core::marker::PhantomData;

/// The last dimension of a sample: the features each row of it normalises or projects.
const fn last_dimension(shape: &[usize]) -> usize {
    let features = shape[shape.len() - 1];
    assert!(features > 0, "the last dimension must not be empty");
    features
}

/// RMS normalisation over the last dimension of `S` (PyTorch's `nn.RMSNorm` of that
/// dimension): each row divided by its root mean square, `y = x / √(mean(x²) + ε) · γ`, a γ
/// per feature (`weight`); no mean is subtracted and there is no bias.
#[derive(Clone, Debug)]
pub struct RmsNorm<S: Sample> {
    /// γ, one per feature.
    pub weight: Vec<f32>,
    pub weight_grad: Vec<f32>,
    pub eps: f32,
    _shape: PhantomData<fn() -> S>,
}

/// What a training pass of an [`RmsNorm`] keeps: x̂ = x / rms, and 1 / rms of every row.
#[derive(Default, Debug)]
pub struct RmsNormCache {
    xhat: Vec<f32>,
    inv_rms: Vec<f32>,
}

impl<S: Sample> RmsNorm<S> {
    /// Features per row.
    pub const FEATURES: usize = last_dimension(S::SHAPE);

    /// γ = 1, as PyTorch initialises it.
    pub fn new(eps: f32) -> Self {
        RmsNorm {
            weight: vec![1.0; Self::FEATURES],
            weight_grad: vec![0.0; Self::FEATURES],
            eps,
            _shape: PhantomData,
        }
    }

    pub(super) fn run(&self, x: &[f32], y: &mut [f32], mut saved: Option<&mut RmsNormCache>) {
        let n = Self::FEATURES;
        for (row, (xs, ys)) in x.chunks_exact(n).zip(y.chunks_exact_mut(n)).enumerate() {
            let mean_square = xs.iter().map(|v| v * v).sum::<f32>() / n as f32;
            let inv = 1.0 / (mean_square + self.eps).sqrt();
            for ((o, &v), &g) in ys.iter_mut().zip(xs).zip(&self.weight) {
                *o = v * inv * g;
            }
            if let Some(c) = saved.as_deref_mut() {
                c.inv_rms[row] = inv;
                for (h, &v) in c.xhat[row * n..(row + 1) * n].iter_mut().zip(xs) {
                    *h = v * inv;
                }
            }
        }
    }
}

impl<S: Sample> Layer for RmsNorm<S> {
    type In = S;
    type Out = S;
    type Cache = RmsNormCache;
    type Workspace = ();
    const PARAMS: usize = Self::FEATURES;
    const FLOPS: usize = 4 * S::LEN;
    const KIND: &'static str = "RMSNorm";

    /// ε = f32's machine epsilon, PyTorch's default (`eps=None`).
    fn init(_rng: &mut Rng) -> Self {
        Self::new(f32::EPSILON)
    }

    /// Decomposed (`RMSNormalization` is opset 23): `x / √(mean(x·x) + ε) · γ`, the mean
    /// over the last axis.
    fn to_onnx(&self, g: &mut OnnxGraph, path: &Path<'_>, input: &str) -> crate::Result<String> {
        let scope = path.to_string();
        let weight = LayerState::of(self, path).initializer(g, "weight")?;
        // x·x rather than Pow(x, 2): the product the inference pass computes.
        let square = g.op("Mul", &scope, &[input, input], vec![]);
        let reduce = vec![attr::ints("axes", &[-1]), attr::int("keepdims", 1)];
        let mean_square = g.op("ReduceMean", &scope, &[&square], reduce);
        let eps = g.scalar(&scope, "eps", self.eps);
        let shifted = g.op("Add", &scope, &[&mean_square, &eps], vec![]);
        let rms = g.op("Sqrt", &scope, &[&shifted], vec![]);
        let normed = g.op("Div", &scope, &[input, &rms], vec![]);
        Ok(g.op("Mul", &scope, &[&normed, &weight], vec![]))
    }

    fn forward_into(&self, x: &S, y: &mut S, _ws: &mut ()) {
        self.run(x.as_slice(), y.as_mut_slice(), None);
    }

    fn forward_batch_into(&self, x: &Batch<S>, y: &mut Batch<S>, _ws: &mut ()) {
        y.set_rows(x.rows());
        self.run(x.as_slice(), y.as_mut_slice(), None);
    }

    fn forward_train(
        &self,
        x: &Batch<S>,
        y: &mut Batch<S>,
        cache: &mut RmsNormCache,
        _rng: &mut Rng,
    ) {
        y.set_rows(x.rows());
        let len = x.as_slice().len();
        cache.xhat.resize(len, 0.0);
        cache.inv_rms.resize(len / Self::FEATURES, 0.0);
        self.run(x.as_slice(), y.as_mut_slice(), Some(cache));
    }

    /// ∂γ = Σ dy ⊙ x̂; with g = γ ⊙ dy, dx = (g − x̂ · mean(g ⊙ x̂)) / rms.
    fn backward(
        &mut self,
        x: &Batch<S>,
        _y: &Batch<S>,
        cache: &mut RmsNormCache,
        dy: &Batch<S>,
        dx: Option<&mut Batch<S>>,
    ) {
        let n = Self::FEATURES;
        self.weight_grad.fill(0.0);
        for (ds, hs) in dy
            .as_slice()
            .chunks_exact(n)
            .zip(cache.xhat.chunks_exact(n))
        {
            for ((w, &d), &h) in self.weight_grad.iter_mut().zip(ds).zip(hs) {
                *w += d * h;
            }
        }
        let Some(dx) = dx else { return };
        dx.set_rows(x.rows());
        let rows = dy
            .as_slice()
            .chunks_exact(n)
            .zip(cache.xhat.chunks_exact(n))
            .zip(&cache.inv_rms)
            .zip(dx.as_mut_slice().chunks_exact_mut(n));
        for (((ds, hs), &inv), out) in rows {
            let inner = ds
                .iter()
                .zip(hs)
                .zip(&self.weight)
                .map(|((&d, &h), &g)| d * g * h)
                .sum::<f32>()
                / n as f32;
            for (((o, &d), &h), &g) in out.iter_mut().zip(ds).zip(hs).zip(&self.weight) {
                *o = (d * g - h * inner) * inv;
            }
        }
    }

    fn walk<W: Walk<Self>>(walk: &mut W) {
        walk.param(
            "weight",
            &[Self::FEATURES],
            Layout::RowMajor,
            |l| (&l.weight, &l.weight_grad),
            |l| (&mut l.weight, &mut l.weight_grad),
        );
    }
}

/// SiLU, z·σ(z), and its derivative σ(z)·(1 + z·(1 − σ(z))).
fn silu(z: f32) -> (f32, f32) {
    let s = sigmoid(z);
    (z * s, s * (1.0 + z * (1.0 - s)))
}

/// The SwiGLU feed-forward block on each row of the last dimension `F` of `S`, with `H`
/// hidden units: `y = (silu(x·W_gateᵀ) ⊙ x·W_upᵀ)·W_downᵀ`, no biases (Llama's MLP:
/// `gate_proj.weight [H, F]`, `up_proj.weight [H, F]`, `down_proj.weight [F, H]`).
#[derive(Clone, Debug)]
pub struct SwiGlu<S: Sample, const H: usize> {
    /// `W_gateᵀ [F, H]`
    pub gate_t: Vec<f32>,
    /// `W_upᵀ [F, H]`
    pub up_t: Vec<f32>,
    /// `W_downᵀ [H, F]`
    pub down_t: Vec<f32>,
    pub gate_t_grad: Vec<f32>,
    pub up_t_grad: Vec<f32>,
    pub down_t_grad: Vec<f32>,
    _shape: PhantomData<fn() -> S>,
}

/// The hidden values of a pass of a [`SwiGlu`]: the gate's and up projection's outputs and
/// their product, `[rows, H]` each; and the gradients of the backward pass.
#[derive(Default, Debug)]
pub struct SwiGluScratch {
    gate: Vec<f32>,
    up: Vec<f32>,
    hidden: Vec<f32>,
    d_hidden: Vec<f32>,
    d_gate: Vec<f32>,
    d_up: Vec<f32>,
}

impl<S: Sample, const H: usize> SwiGlu<S, H> {
    /// Features per row.
    pub const FEATURES: usize = last_dimension(S::SHAPE);
    const ROWS: usize = S::LEN / Self::FEATURES;

    /// PyTorch's `nn.Linear` initialisation for each projection: uniform in ±1/√fan-in.
    pub fn kaiming_uniform(rng: &mut Rng) -> Self {
        let f = Self::FEATURES;
        let mut layer = SwiGlu {
            gate_t: vec![0.0; f * H],
            up_t: vec![0.0; f * H],
            down_t: vec![0.0; H * f],
            gate_t_grad: vec![0.0; f * H],
            up_t_grad: vec![0.0; f * H],
            down_t_grad: vec![0.0; H * f],
            _shape: PhantomData,
        };
        let (to_hidden, to_out) = (1.0 / (f as f32).sqrt(), 1.0 / (H as f32).sqrt());
        rng.fill_uniform(&mut layer.gate_t, to_hidden);
        rng.fill_uniform(&mut layer.up_t, to_hidden);
        rng.fill_uniform(&mut layer.down_t, to_out);
        layer
    }

    /// y for `rows` rows of `x`, the hidden values left in `s`.
    pub(super) fn run(&self, x: &[f32], y: &mut [f32], rows: usize, s: &mut SwiGluScratch) {
        let f = Self::FEATURES;
        for v in [&mut s.gate, &mut s.up, &mut s.hidden] {
            v.resize(rows * H, 0.0);
        }
        gemm(&MatMul::new(rows, H, f), x, &self.gate_t, None, &mut s.gate);
        gemm(&MatMul::new(rows, H, f), x, &self.up_t, None, &mut s.up);
        for ((h, &g), &u) in s.hidden.iter_mut().zip(&s.gate).zip(&s.up) {
            *h = silu(g).0 * u;
        }
        gemm(
            &MatMul::new(rows, f, H),
            &s.hidden,
            &self.down_t,
            None,
            &mut y[..rows * f],
        );
    }
}

impl<S: Sample, const H: usize> Layer for SwiGlu<S, H> {
    type In = S;
    type Out = S;
    type Cache = SwiGluScratch;
    type Workspace = SwiGluScratch;
    const SAMPLE_WORKSPACE: bool = true;
    const PARAMS: usize = 3 * Self::FEATURES * H;
    const FLOPS: usize = 2 * Self::ROWS * 3 * Self::FEATURES * H;
    const KIND: &'static str = "SwiGLU";

    fn init(rng: &mut Rng) -> Self {
        Self::kaiming_uniform(rng)
    }

    /// Decomposed: the gate and up projections (`MatMul` by the transposed weights, `Gemm`
    /// for a vector), `gate · Sigmoid(gate) · up`, and the down projection.
    fn to_onnx(&self, g: &mut OnnxGraph, path: &Path<'_>, input: &str) -> crate::Result<String> {
        let scope = path.to_string();
        let state = LayerState::of(self, path);
        let gate_w = state.initializer(g, "gate_proj.weight")?;
        let up_w = state.initializer(g, "up_proj.weight")?;
        let down_w = state.initializer(g, "down_proj.weight")?;
        let rank = S::SHAPE.len();
        let gate = g.linear(&scope, input, rank, &gate_w, None);
        let up = g.linear(&scope, input, rank, &up_w, None);
        let sigmoid = g.op("Sigmoid", &scope, &[&gate], vec![]);
        let silu = g.op("Mul", &scope, &[&gate, &sigmoid], vec![]);
        let hidden = g.op("Mul", &scope, &[&silu, &up], vec![]);
        Ok(g.linear(&scope, &hidden, rank, &down_w, None))
    }

    fn forward_into(&self, x: &S, y: &mut S, ws: &mut SwiGluScratch) {
        self.run(x.as_slice(), y.as_mut_slice(), Self::ROWS, ws);
    }

    fn forward_batch_into(&self, x: &Batch<S>, y: &mut Batch<S>, ws: &mut SwiGluScratch) {
        y.set_rows(x.rows());
        let rows = x.rows() * Self::ROWS;
        self.run(x.as_slice(), y.as_mut_slice(), rows, ws);
    }

    fn forward_train(
        &self,
        x: &Batch<S>,
        y: &mut Batch<S>,
        cache: &mut SwiGluScratch,
        _rng: &mut Rng,
    ) {
        self.forward_batch_into(x, y, cache);
    }

    fn backward(
        &mut self,
        x: &Batch<S>,
        _y: &Batch<S>,
        s: &mut SwiGluScratch,
        dy: &Batch<S>,
        dx: Option<&mut Batch<S>>,
    ) {
        let f = Self::FEATURES;
        let rows = x.rows() * Self::ROWS;
        for v in [&mut s.d_hidden, &mut s.d_gate, &mut s.d_up] {
            v.resize(rows * H, 0.0);
        }
        // ∂W_downᵀ = hiddenᵀ·dY, d hidden = dY·W_down.
        gemm(
            &MatMul {
                rsa: 1,
                csa: H,
                ..MatMul::new(H, f, rows)
            },
            &s.hidden,
            dy.as_slice(),
            None,
            &mut self.down_t_grad,
        );
        gemm_nt(
            &MatMulNt::new(rows, H, f),
            dy.as_slice(),
            &self.down_t,
            &mut s.d_hidden,
        );
        let values = s.d_hidden.iter().zip(&s.gate).zip(&s.up);
        for ((dg, du), ((&dh, &g), &u)) in s.d_gate.iter_mut().zip(&mut s.d_up).zip(values) {
            let (act, slope) = silu(g);
            *dg = dh * u * slope;
            *du = dh * act;
        }
        // ∂W_gateᵀ = Xᵀ·d gate, ∂W_upᵀ = Xᵀ·d up.
        let weight_grad = MatMul {
            rsa: 1,
            csa: f,
            ..MatMul::new(f, H, rows)
        };
        gemm(
            &weight_grad,
            x.as_slice(),
            &s.d_gate,
            None,
            &mut self.gate_t_grad,
        );
        gemm(
            &weight_grad,
            x.as_slice(),
            &s.d_up,
            None,
            &mut self.up_t_grad,
        );
        if let Some(dx) = dx {
            // dX = d gate·W_gate + d up·W_up
            dx.set_rows(x.rows());
            let out = &mut dx.as_mut_slice()[..rows * f];
            gemm_nt(&MatMulNt::new(rows, f, H), &s.d_gate, &self.gate_t, out);
            gemm_nt(
                &MatMulNt {
                    accumulate: true,
                    ..MatMulNt::new(rows, f, H)
                },
                &s.d_up,
                &self.up_t,
                out,
            );
        }
    }

    fn walk<W: Walk<Self>>(walk: &mut W) {
        let f = Self::FEATURES;
        walk.param(
            "gate_proj.weight",
            &[H, f],
            Layout::Transposed,
            |l| (&l.gate_t, &l.gate_t_grad),
            |l| (&mut l.gate_t, &mut l.gate_t_grad),
        );
        walk.param(
            "up_proj.weight",
            &[H, f],
            Layout::Transposed,
            |l| (&l.up_t, &l.up_t_grad),
            |l| (&mut l.up_t, &mut l.up_t_grad),
        );
        walk.param(
            "down_proj.weight",
            &[f, H],
            Layout::Transposed,
            |l| (&l.down_t, &l.down_t_grad),
            |l| (&mut l.down_t, &mut l.down_t_grad),
        );
    }
}
