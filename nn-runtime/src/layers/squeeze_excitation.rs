//! Squeeze-and-excitation (Hu et al. 2018; torchvision's `ops.SqueezeExcitation`, which
//! MobileNetV3 and EfficientNet use): each channel of a sample scaled by a gate computed
//! from the means of all its channels.

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::{planes, ActivationFn, Layer, Layout, Path, Walk};
use crate::io::onnx::{attr, LayerState, OnnxGraph};
use crate::tensor::{Batch, Sample};
use crate::Rng;
use core::marker::PhantomData;

/// On `X` samples `[C, H, W]`: m = the mean of each plane, `[C]`;
/// s = scale(fc2(act(fc1(m)))) with fc1 a 1×1 convolution C → `S` and fc2 one S → C;
/// y = x ⊙ s, each plane scaled by its channel's gate. Parameters as torchvision's:
/// `fc1.weight [S, C, 1, 1]`, `fc1.bias [S]`, `fc2.weight [C, S, 1, 1]`, `fc2.bias [C]`.
#[derive(Clone, Debug)]
pub struct SqueezeExcitation<X: Sample, const S: usize, A: ActivationFn, G: ActivationFn> {
    /// `[S, C]` row-major, which is `[S, C, 1, 1]`.
    pub fc1_weight: Vec<f32>,
    pub fc1_bias: Vec<f32>,
    /// `[C, S]` row-major, which is `[C, S, 1, 1]`.
    pub fc2_weight: Vec<f32>,
    pub fc2_bias: Vec<f32>,
    pub fc1_weight_grad: Vec<f32>,
    pub fc1_bias_grad: Vec<f32>,
    pub fc2_weight_grad: Vec<f32>,
    pub fc2_bias_grad: Vec<f32>,
    /// Between the two projections (torchvision's `activation`, ReLU by default).
    pub activation: A,
    /// On the gates (torchvision's `scale_activation`, sigmoid by default).
    pub scale_activation: G,
    _shape: PhantomData<fn() -> X>,
}

/// The values of a pass of a [`SqueezeExcitation`], `[rows, C]` or `[rows, S]` each: what a
/// training pass keeps for the backward pass, and inference's scratch.
#[derive(Default, Debug)]
pub struct SqueezeCache {
    mean: Vec<f32>,
    hidden_in: Vec<f32>,
    hidden: Vec<f32>,
    gate_in: Vec<f32>,
    gate: Vec<f32>,
    d_gate: Vec<f32>,
    d_gate_in: Vec<f32>,
    d_hidden: Vec<f32>,
    d_hidden_in: Vec<f32>,
}

impl<X: Sample, const S: usize, A: ActivationFn, G: ActivationFn> SqueezeExcitation<X, S, A, G> {
    /// Channels of a sample.
    pub const CHANNELS: usize = planes(X::SHAPE).0;
    /// Values of one channel's plane.
    const PLANE: usize = X::LEN / Self::CHANNELS;

    const FITS: () = assert!(
        S > 0 && Self::CHANNELS > 0 && X::LEN == Self::CHANNELS * Self::PLANE,
        "SqueezeExcitation: at least one squeeze channel, and a non-empty [C, H, W] input"
    );

    /// Glorot-uniform weights and zero biases, as this crate's convolutions start.
    pub fn new(activation: A, scale_activation: G, rng: &mut Rng) -> Self {
        let () = Self::FITS;
        let c = Self::CHANNELS;
        // Both projections see C + S units (fan in + fan out): one limit for the two.
        let limit = (6.0 / (c + S) as f32).sqrt();
        let mut fc1_weight = vec![0.0; S * c];
        let mut fc2_weight = vec![0.0; c * S];
        rng.fill_uniform(&mut fc1_weight, limit);
        rng.fill_uniform(&mut fc2_weight, limit);
        SqueezeExcitation {
            fc1_weight,
            fc1_bias: vec![0.0; S],
            fc2_weight,
            fc2_bias: vec![0.0; c],
            fc1_weight_grad: vec![0.0; S * c],
            fc1_bias_grad: vec![0.0; S],
            fc2_weight_grad: vec![0.0; c * S],
            fc2_bias_grad: vec![0.0; c],
            activation,
            scale_activation,
            _shape: PhantomData,
        }
    }

    /// The gates of `rows` samples `x` into `s.gate`, keeping every value before them in `s`.
    fn gates(&self, x: &[f32], rows: usize, s: &mut SqueezeCache) {
        let c = Self::CHANNELS;
        for v in [&mut s.mean, &mut s.gate_in, &mut s.gate] {
            v.resize(rows * c, 0.0);
        }
        s.hidden_in.resize(rows * S, 0.0);
        s.hidden.resize(rows * S, 0.0);
        self.gates_into(
            x,
            [&mut s.mean, &mut s.hidden_in, &mut s.hidden, &mut s.gate_in],
            &mut s.gate,
        );
    }

    /// The gates of the samples `x` into `gate` (`C` a sample), the values before them into
    /// `mean`, `hidden_in`, `hidden` and `gate_in` (`C`, `S`, `S`, `C` a sample).
    fn gates_into(
        &self,
        x: &[f32],
        [mean, hidden_in, hidden, gate_in]: [&mut [f32]; 4],
        gate: &mut [f32],
    ) {
        let c = Self::CHANNELS;
        let inv = 1.0 / Self::PLANE as f32;
        for (m, plane) in mean.iter_mut().zip(x.chunks_exact(Self::PLANE)) {
            *m = plane.iter().sum::<f32>() * inv;
        }
        affine(&self.fc1_weight, &self.fc1_bias, mean, hidden_in, c);
        self.activation.forward(hidden_in, hidden, S);
        affine(&self.fc2_weight, &self.fc2_bias, hidden, gate_in, S);
        self.scale_activation.forward(gate_in, gate, c);
    }

    /// Floats of one sample's gates and the values before them: the arena pass's scratch.
    const SCRATCH: usize = 3 * Self::CHANNELS + 2 * S;

    /// y = x with each plane scaled by its gate.
    fn excite(x: &[f32], gate: &[f32], y: &mut [f32]) {
        let p = Self::PLANE;
        for ((xs, ys), &g) in x.chunks_exact(p).zip(y.chunks_exact_mut(p)).zip(gate) {
            for (o, &v) in ys.iter_mut().zip(xs) {
                *o = v * g;
            }
        }
    }
}

/// out[n, i] = b[i] + Σ_j w[i, j] · input[n, j], for rows of `k` inputs.
fn affine(w: &[f32], b: &[f32], input: &[f32], out: &mut [f32], k: usize) {
    let units = b.len();
    for (xs, os) in input.chunks_exact(k).zip(out.chunks_exact_mut(units)) {
        for ((o, ws), &bias) in os.iter_mut().zip(w.chunks_exact(k)).zip(b) {
            *o = bias + ws.iter().zip(xs).map(|(a, v)| a * v).sum::<f32>();
        }
    }
}

/// The gradients of [`affine`] given d_out: ∂w = Σ_n d_out ⊗ input, ∂b = Σ_n d_out, and,
/// when asked, d_input = d_out · w.
fn affine_backward(
    w: &[f32],
    input: &[f32],
    d_out: &[f32],
    (w_grad, b_grad): (&mut [f32], &mut [f32]),
    d_input: Option<&mut [f32]>,
    k: usize,
) {
    let units = b_grad.len();
    w_grad.fill(0.0);
    b_grad.fill(0.0);
    for (xs, ds) in input.chunks_exact(k).zip(d_out.chunks_exact(units)) {
        for ((wg, bg), &d) in w_grad.chunks_exact_mut(k).zip(b_grad.iter_mut()).zip(ds) {
            *bg += d;
            for (g, &v) in wg.iter_mut().zip(xs) {
                *g += d * v;
            }
        }
    }
    let Some(d_input) = d_input else { return };
    for (di, ds) in d_input.chunks_exact_mut(k).zip(d_out.chunks_exact(units)) {
        di.fill(0.0);
        for (ws, &d) in w.chunks_exact(k).zip(ds) {
            for (o, &a) in di.iter_mut().zip(ws) {
                *o += d * a;
            }
        }
    }
}

impl<X: Sample, const S: usize, A: ActivationFn, G: ActivationFn> Layer
    for SqueezeExcitation<X, S, A, G>
{
    type In = X;
    type Out = X;
    type Cache = SqueezeCache;
    type Workspace = SqueezeCache;
    const PARAMS: usize = 2 * S * Self::CHANNELS + S + Self::CHANNELS;
    // The mean and the scaling read every value; the projections are tiny beside them.
    const FLOPS: usize = 2 * X::LEN + 2 * Self::PARAMS;
    const SAMPLE_WORKSPACE: bool = true;
    const ARENA: usize = crate::kernels::arena::padded(Self::SCRATCH);
    const ARENA_READY: bool = true;
    const KIND: &'static str = "SqueezeExcitation";

    /// The planes' means (`ReduceMean`, kept `[N, C, 1, …]`), the two 1×1 projections as
    /// `Conv`, the activations, and the input scaled by the gates.
    fn to_onnx(&self, g: &mut OnnxGraph, path: &Path<'_>, input: &str) -> crate::Result<String> {
        let scope = path.to_string();
        let state = LayerState::of(self, path);
        let rank = X::SHAPE.len();
        // Opset 17's ReduceMean takes its axes as an attribute (an input from opset 18).
        let axes: Vec<i64> = (2..=rank as i64).collect();
        let mean = g.op(
            "ReduceMean",
            &scope,
            &[input],
            vec![attr::ints("axes", &axes)],
        );
        // The 1×1 weights `[S, C, 1, 1]` as a `[S, C, 1]` kernel for a 1-D sample.
        let project = |g: &mut OnnxGraph, x: &str, fc: &str| -> crate::Result<String> {
            let mut weight = state.initializer(g, &format!("{fc}.weight"))?;
            if rank == 2 {
                weight = g.squeeze(&scope, &weight, &[3]);
            }
            let bias = state.initializer(g, &format!("{fc}.bias"))?;
            Ok(g.op("Conv", &scope, &[x, &weight, &bias], vec![]))
        };
        let hidden = project(g, &mean, "fc1")?;
        let hidden = self.activation.to_onnx(g, &scope, &hidden)?;
        let gate = project(g, &hidden, "fc2")?;
        let gate = self.scale_activation.to_onnx(g, &scope, &gate)?;
        Ok(g.op("Mul", &scope, &[input, &gate], vec![]))
    }

    fn init(rng: &mut Rng) -> Self {
        Self::new(A::default(), G::default(), rng)
    }

    fn forward_into(&self, x: &X, y: &mut X, ws: &mut SqueezeCache) {
        self.gates(x.as_slice(), 1, ws);
        Self::excite(x.as_slice(), &ws.gate, y.as_mut_slice());
    }

    fn forward_arena(&self, x: &X, y: &mut X, arena: &mut [f32]) {
        let c = Self::CHANNELS;
        let (mean, rest) = arena[..Self::SCRATCH].split_at_mut(c);
        let (hidden_in, rest) = rest.split_at_mut(S);
        let (hidden, rest) = rest.split_at_mut(S);
        let (gate_in, gate) = rest.split_at_mut(c);
        self.gates_into(x.as_slice(), [mean, hidden_in, hidden, gate_in], gate);
        Self::excite(x.as_slice(), gate, y.as_mut_slice());
    }

    fn forward_batch_into(&self, x: &Batch<X>, y: &mut Batch<X>, ws: &mut SqueezeCache) {
        y.set_rows(x.rows());
        self.gates(x.as_slice(), x.rows(), ws);
        Self::excite(x.as_slice(), &ws.gate, y.as_mut_slice());
    }

    fn forward_train(
        &self,
        x: &Batch<X>,
        y: &mut Batch<X>,
        cache: &mut SqueezeCache,
        _rng: &mut Rng,
    ) {
        self.forward_batch_into(x, y, cache);
    }

    /// ∂gate = Σ over the plane of dy ⊙ x; back through the scale activation, fc2, the
    /// activation and fc1 to ∂mean; dx = dy ⊙ gate + ∂mean / (H·W).
    fn backward(
        &mut self,
        x: &Batch<X>,
        _y: &Batch<X>,
        cache: &mut SqueezeCache,
        dy: &Batch<X>,
        dx: Option<&mut Batch<X>>,
    ) {
        let (c, p, rows) = (Self::CHANNELS, Self::PLANE, x.rows());
        let s = cache;
        for v in [&mut s.d_gate, &mut s.d_gate_in] {
            v.resize(rows * c, 0.0);
        }
        s.d_hidden.resize(rows * S, 0.0);
        s.d_hidden_in.resize(rows * S, 0.0);
        let planes = x
            .as_slice()
            .chunks_exact(p)
            .zip(dy.as_slice().chunks_exact(p));
        for (d, (xs, gs)) in s.d_gate.iter_mut().zip(planes) {
            *d = xs.iter().zip(gs).map(|(v, g)| v * g).sum();
        }
        self.scale_activation
            .backward(&s.gate_in, &s.gate, &s.d_gate, &mut s.d_gate_in, c);
        affine_backward(
            &self.fc2_weight,
            &s.hidden,
            &s.d_gate_in,
            (&mut self.fc2_weight_grad, &mut self.fc2_bias_grad),
            Some(&mut s.d_hidden),
            S,
        );
        self.activation
            .backward(&s.hidden_in, &s.hidden, &s.d_hidden, &mut s.d_hidden_in, S);
        // ∂mean reuses d_gate, no longer needed.
        let d_mean = dx.is_some().then_some(&mut s.d_gate[..]);
        affine_backward(
            &self.fc1_weight,
            &s.mean,
            &s.d_hidden_in,
            (&mut self.fc1_weight_grad, &mut self.fc1_bias_grad),
            d_mean,
            c,
        );
        let Some(dx) = dx else { return };
        dx.set_rows(rows);
        let inv = 1.0 / p as f32;
        let per_plane = dx
            .as_mut_slice()
            .chunks_exact_mut(p)
            .zip(dy.as_slice().chunks_exact(p))
            .zip(s.gate.iter().zip(&s.d_gate));
        for ((ds, gs), (&gate, &d_mean)) in per_plane {
            let spread = d_mean * inv;
            for (o, &g) in ds.iter_mut().zip(gs) {
                *o = g * gate + spread;
            }
        }
    }

    fn walk<W: Walk<Self>>(walk: &mut W) {
        let (c, s) = (Self::CHANNELS, S);
        walk.param(
            "fc1.weight",
            &[s, c, 1, 1],
            Layout::RowMajor,
            |l| (&l.fc1_weight, &l.fc1_weight_grad),
            |l| (&mut l.fc1_weight, &mut l.fc1_weight_grad),
        );
        walk.param(
            "fc1.bias",
            &[s],
            Layout::RowMajor,
            |l| (&l.fc1_bias, &l.fc1_bias_grad),
            |l| (&mut l.fc1_bias, &mut l.fc1_bias_grad),
        );
        walk.param(
            "fc2.weight",
            &[c, s, 1, 1],
            Layout::RowMajor,
            |l| (&l.fc2_weight, &l.fc2_weight_grad),
            |l| (&mut l.fc2_weight, &mut l.fc2_weight_grad),
        );
        walk.param(
            "fc2.bias",
            &[c],
            Layout::RowMajor,
            |l| (&l.fc2_bias, &l.fc2_bias_grad),
            |l| (&mut l.fc2_bias, &mut l.fc2_bias_grad),
        );
    }
}
