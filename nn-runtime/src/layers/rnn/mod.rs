//! Recurrent layers — SimpleRNN, LSTM (gates i, f, g, o), GRU (gates r, z, n) — on `[T, F]`
//! sequences, returning the last hidden state `[H]` (`Recurrent`) or every one `[T, H]`
//! (`RecurrentSeq`), trained by backpropagation through time.
//!
//! PyTorch's layouts: `weight_ih_l0 [G·H, F]`, `weight_hh_l0 [G·H, H]`, stored transposed
//! (`[F, G·H]`, `[H, G·H]`) for the row-streaming GEMM and reported with
//! [`Layout::Transposed`]. SimpleRNN and LSTM keep one bias (PyTorch's `bias_ih + bias_hh`,
//! which it only ever adds), as Keras does; GRU keeps both, because its hidden bias sits
//! inside the reset-gate product. The input projection of all time steps is one GEMM; each
//! step is one GEMM with the recurrent weights plus vectorised gate functions.

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::{Layer, Layout, Path, Walk};
use crate::io::onnx::{attr, LayerState, OnnxGraph};
use crate::kernels::{self, EpilogueAct, MatMul};
use crate::tensor::{Batch, Sample, Tensor1, Tensor2};
use crate::Rng;
use core::marker::PhantomData;

mod passes;
pub use passes::*;

/// Which recurrent cell, as a run-time value for the shared (non-generic) code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CellKind {
    /// h = tanh(x·W_ih + h·W_hh + b)
    SimpleTanh,
    /// h = relu(x·W_ih + h·W_hh + b)
    SimpleRelu,
    /// PyTorch's LSTM, gates i, f, g, o.
    Lstm,
    /// PyTorch's GRU, gates r, z, n.
    Gru,
}

impl CellKind {
    /// Gate blocks in the weight matrices.
    pub const fn gates(self) -> usize {
        match self {
            CellKind::SimpleTanh | CellKind::SimpleRelu => 1,
            CellKind::Lstm => 4,
            CellKind::Gru => 3,
        }
    }

    /// Whether a second (hidden) bias is kept.
    pub const fn has_hidden_bias(self) -> bool {
        matches!(self, CellKind::Gru)
    }

    /// Trainable scalars of a layer with `f` inputs and `h` units.
    pub const fn params(self, f: usize, h: usize) -> usize {
        let g = self.gates();
        g * h * (f + h) + g * h * if self.has_hidden_bias() { 2 } else { 1 }
    }
}

/// A cell type: `SimpleRnnTanh`, `SimpleRnnRelu`, `Lstm`, `Gru`.
pub trait Cell: Send + Sync + 'static {
    const KIND: CellKind;
    const NAME: &'static str;
}

macro_rules! cell {
    ($(#[$doc:meta])* $name:ident, $kind:ident, $label:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default)]
        pub struct $name;
        impl Cell for $name {
            const KIND: CellKind = CellKind::$kind;
            const NAME: &'static str = $label;
        }
    };
}
cell!(/// Keras's `SimpleRNN(units, activation='tanh')`, PyTorch's `nn.RNN`.
    SimpleRnnTanh, SimpleTanh, "SimpleRNN");
cell!(/// `SimpleRNN` with a ReLU.
    SimpleRnnRelu, SimpleRelu, "SimpleRNN");
cell!(/// Long short-term memory.
    Lstm, Lstm, "LSTM");
cell!(/// Gated recurrent unit (PyTorch's, which is Keras's `reset_after=True`).
    Gru, Gru, "GRU");

/// The direction a recurrent layer reads its sequence in, as the names of its tensors say
/// it (PyTorch's `weight_ih_l0` and `weight_ih_l0_reverse`): [`Forward`], or [`Reverse`],
/// the second half of a bidirectional layer, which reads each sequence from its last step
/// (the layer itself is given the sequences reversed).
pub trait Direction: Send + Sync + 'static {
    /// `weight_ih_l0`, `weight_hh_l0`, `bias_ih_l0`, `bias_hh_l0`, with this direction's
    /// suffix.
    const NAMES: [&'static str; 4];
}

/// First step to last: a plain recurrent layer.
#[derive(Clone, Copy, Debug, Default)]
pub struct Forward;

/// Last step to first: the reverse half of a bidirectional layer.
#[derive(Clone, Copy, Debug, Default)]
pub struct Reverse;

impl Direction for Forward {
    const NAMES: [&'static str; 4] = ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"];
}

impl Direction for Reverse {
    const NAMES: [&'static str; 4] = [
        "weight_ih_l0_reverse",
        "weight_hh_l0_reverse",
        "bias_ih_l0_reverse",
        "bias_hh_l0_reverse",
    ];
}

/// Sizes of a recurrent layer.
#[derive(Clone, Copy, Debug)]
pub struct RnnGeom {
    pub kind: CellKind,
    pub t: usize,
    pub f: usize,
    pub h: usize,
}

impl RnnGeom {
    pub const fn gh(&self) -> usize {
        self.kind.gates() * self.h
    }
}

/// Parameters and gradients of a recurrent layer.
#[derive(Clone, Debug)]
pub struct RnnParams {
    /// `[F, G·H]`: PyTorch's `weight_ih_l0` transposed.
    pub weight_ih_t: Vec<f32>,
    /// `[H, G·H]`: PyTorch's `weight_hh_l0` transposed.
    pub weight_hh_t: Vec<f32>,
    /// `[G·H]`: the input bias (for SimpleRNN and LSTM, the only one).
    pub bias_ih: Vec<f32>,
    /// `[G·H]` for GRU, empty otherwise.
    pub bias_hh: Vec<f32>,
    pub weight_ih_t_grad: Vec<f32>,
    pub weight_hh_t_grad: Vec<f32>,
    pub bias_ih_grad: Vec<f32>,
    pub bias_hh_grad: Vec<f32>,
}

impl RnnParams {
    /// PyTorch's initialisation, U(−1/√H, 1/√H) for the weights; zero biases, but 1 for the
    /// LSTM forget gate (Keras's `unit_forget_bias`, which helps long sequences).
    pub fn init(g: &RnnGeom, rng: &mut Rng) -> Self {
        let gh = g.gh();
        let hidden_bias = if g.kind.has_hidden_bias() { gh } else { 0 };
        let mut p = RnnParams {
            weight_ih_t: vec![0.0; g.f * gh],
            weight_hh_t: vec![0.0; g.h * gh],
            bias_ih: vec![0.0; gh],
            bias_hh: vec![0.0; hidden_bias],
            weight_ih_t_grad: vec![0.0; g.f * gh],
            weight_hh_t_grad: vec![0.0; g.h * gh],
            bias_ih_grad: vec![0.0; gh],
            bias_hh_grad: vec![0.0; hidden_bias],
        };
        let limit = 1.0 / (g.h as f32).sqrt();
        rng.fill_uniform(&mut p.weight_ih_t, limit);
        rng.fill_uniform(&mut p.weight_hh_t, limit);
        if g.kind == CellKind::Lstm {
            p.bias_ih[g.h..2 * g.h].fill(1.0);
        }
        p
    }
}

/// What a forward pass keeps for backpropagation through time (all `[B, T, ·]`).
#[derive(Default, Debug)]
pub struct RnnCache {
    /// Gate values after their nonlinearities, `[B, T, G·H]`.
    gates: Vec<f32>,
    /// Hidden states, `[B, T, H]`.
    hs: Vec<f32>,
    /// LSTM: cell states; GRU: the hidden projection of the n gate (h·W_hn + b_hn).
    extra: Vec<f32>,
    /// LSTM: tanh of the cell states, kept for the backward pass.
    tanh_c: Vec<f32>,
    /// Scratch: per-step hidden projections (GRU), gradients, transposed weights (and, in
    /// an LSTM's forward pass, `weight_hh` holds its recurrent weights packed by unit block).
    step: Vec<f32>,
    dgates: Vec<f32>,
    dhidden: Vec<f32>,
    dh: Vec<f32>,
    dc: Vec<f32>,
    weight_hh: Vec<f32>,
    weight_ih: Vec<f32>,
    hprev: Vec<f32>,
}

/// One step of the recurrence for one sequence, its state `h` (and `c` for an LSTM) carried
/// in from the step before (empty or zero before the first) and out to the next; `scratch`
/// holds the step's gates. The cell's arithmetic is the sequence pass's.
pub fn rnn_step(
    g: &RnnGeom,
    p: &RnnParams,
    x: &[f32],
    h: &mut Vec<f32>,
    c: &mut Vec<f32>,
    scratch: &mut Vec<f32>,
) {
    let (hn, gh) = (g.h, g.gh());
    h.resize(hn, 0.0);
    c.resize(hn, 0.0);
    scratch.resize(2 * gh, 0.0);
    let (gates, hh) = scratch.split_at_mut(gh);
    // The input projection, then the recurrent one (kept apart for a GRU's n gate).
    kernels::gemm(
        &MatMul::new(1, gh, g.f),
        x,
        &p.weight_ih_t,
        Some(&p.bias_ih),
        gates,
    );
    let recurrent = MatMul {
        accumulate: g.kind != CellKind::Gru,
        ..MatMul::new(1, gh, hn)
    };
    if g.kind == CellKind::Gru {
        hh.copy_from_slice(&p.bias_hh);
        let accumulate = MatMul {
            accumulate: true,
            ..recurrent
        };
        kernels::gemm(&accumulate, h, &p.weight_hh_t, None, hh);
    } else {
        kernels::gemm(&recurrent, h, &p.weight_hh_t, None, gates);
    }
    match g.kind {
        CellKind::SimpleTanh | CellKind::SimpleRelu => {
            let act = if g.kind == CellKind::SimpleTanh {
                EpilogueAct::Tanh
            } else {
                EpilogueAct::Relu
            };
            kernels::activation_forward_in_place(act, gates);
            h.copy_from_slice(gates);
        }
        CellKind::Lstm => {
            kernels::activation_forward_in_place(EpilogueAct::Sigmoid, &mut gates[..2 * hn]);
            kernels::activation_forward_in_place(EpilogueAct::Tanh, &mut gates[2 * hn..3 * hn]);
            kernels::activation_forward_in_place(EpilogueAct::Sigmoid, &mut gates[3 * hn..]);
            for k in 0..hn {
                c[k] = gates[hn + k] * c[k] + gates[k] * gates[2 * hn + k];
            }
            // tanh(c) in the n-gate block of the scratch, then h = o ⊙ tanh(c).
            let tanh_c = &mut hh[..hn];
            tanh_c.copy_from_slice(c);
            kernels::activation_forward_in_place(EpilogueAct::Tanh, tanh_c);
            for k in 0..hn {
                h[k] = gates[3 * hn + k] * tanh_c[k];
            }
        }
        CellKind::Gru => {
            for (v, &u) in gates[..2 * hn].iter_mut().zip(&hh[..2 * hn]) {
                *v += u;
            }
            kernels::activation_forward_in_place(EpilogueAct::Sigmoid, &mut gates[..2 * hn]);
            for k in 0..hn {
                gates[2 * hn + k] += gates[k] * hh[2 * hn + k];
            }
            kernels::activation_forward_in_place(EpilogueAct::Tanh, &mut gates[2 * hn..]);
            for k in 0..hn {
                let z = gates[hn + k];
                h[k] = (1.0 - z) * gates[2 * hn + k] + z * h[k];
            }
        }
    }
}

/// PyTorch's gate blocks in the order ONNX's operator wants them: LSTM i,f,g,o as i,o,f,c;
/// GRU r,z,n as z,r,h.
fn onnx_gate_order(kind: CellKind) -> &'static [usize] {
    match kind {
        CellKind::SimpleTanh | CellKind::SimpleRelu => &[0],
        CellKind::Lstm => &[0, 3, 1, 2],
        CellKind::Gru => &[1, 0, 2],
    }
}

/// `values`, `[G·H, …]` in PyTorch's gate order, with its gate blocks in ONNX's.
fn reorder_gates(values: &[f32], kind: CellKind) -> Vec<f32> {
    let block = values.len() / kind.gates();
    onnx_gate_order(kind)
        .iter()
        .flat_map(|&k| &values[k * block..(k + 1) * block])
        .copied()
        .collect()
}

/// A recurrent layer as ONNX's `RNN`, `LSTM` or `GRU` (one direction, batch second, so the
/// batch-first input is transposed around it), with its tensors in ONNX's gate order
/// under the PyTorch names of `names` suffixed `.onnx_W`, `.onnx_R` and `.onnx_B` (both
/// biases). Every step of every sequence is read (lengths are not exported).
fn rnn_onnx(
    state: &LayerState,
    names: [&str; 4],
    geom: &RnnGeom,
    sequences: bool,
    g: &mut OnnxGraph,
    scope: &str,
    input: &str,
) -> crate::Result<String> {
    let [weight_ih, weight_hh, bias_ih, bias_hh] = names.map(|n| state.tensor(n));
    let (weight_ih, weight_hh, bias_ih, bias_hh) = (weight_ih?, weight_hh?, bias_ih?, bias_hh?);
    let (kind, gh, h, f) = (geom.kind, geom.gh(), geom.h, geom.f);
    let w = g.initializer(
        &format!("{}.onnx_W", weight_ih.name),
        &[1, gh, f],
        &reorder_gates(&weight_ih.values, kind),
    );
    let r = g.initializer(
        &format!("{}.onnx_R", weight_hh.name),
        &[1, gh, h],
        &reorder_gates(&weight_hh.values, kind),
    );
    let mut biases = reorder_gates(&bias_ih.values, kind);
    biases.extend(reorder_gates(&bias_hh.values, kind));
    let b = g.initializer(&format!("{}.onnx_B", bias_ih.name), &[1, 2 * gh], &biases);
    let mut attrs = vec![attr::int("hidden_size", h as i64)];
    let op = match kind {
        CellKind::SimpleTanh => {
            attrs.push(attr::strings("activations", &["Tanh"]));
            "RNN"
        }
        CellKind::SimpleRelu => {
            attrs.push(attr::strings("activations", &["Relu"]));
            "RNN"
        }
        CellKind::Lstm => "LSTM",
        CellKind::Gru => {
            // PyTorch's GRU applies the reset gate after the hidden product.
            attrs.push(attr::int("linear_before_reset", 1));
            "GRU"
        }
    };
    let x = g.transpose(scope, input, &[1, 0, 2]);
    let outputs = g.op_outputs(op, scope, &[&x, &w, &r, &b], 2, attrs);
    if sequences {
        // Y [T, 1, N, H] to [N, T, H].
        let y = g.squeeze(scope, &outputs[0], &[1]);
        Ok(g.transpose(scope, &y, &[1, 0, 2]))
    } else {
        // Y_h [1, N, H] to [N, H].
        Ok(g.squeeze(scope, &outputs[1], &[0]))
    }
}

/// What the recurrent layers share beyond [`Layer`]: their sizes and parameters, and their
/// inference pass with other parameters and another product (the low-precision
/// conversions run the same recurrence with bf16 or int8 products).
pub trait RecurrentLayer: Layer<Workspace = RnnCache> {
    /// Its sizes.
    const RNN: RnnGeom;
    /// Its tensors' names (the direction's).
    const NAMES: [&'static str; 4];
    /// Its parameters.
    fn rnn_params(&self) -> &RnnParams;
    /// The inference pass over a batch with `params`, every product by `product`.
    fn forward_with(
        params: &RnnParams,
        x: &Batch<Self::In>,
        y: &mut Batch<Self::Out>,
        cache: &mut RnnCache,
        product: &kernels::Product<'_>,
    );
}

macro_rules! recurrent_layer {
    ($(#[$doc:meta])* $name:ident, out $out:ty, sequences $seq:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug)]
        pub struct $name<C: Cell, const T: usize, const F: usize, const H: usize, D: Direction = Forward> {
            pub params: RnnParams,
            _cell: PhantomData<fn() -> (C, D)>,
        }

        impl<C: Cell, const T: usize, const F: usize, const H: usize, D: Direction> $name<C, T, F, H, D> {
            pub(super) const GEOMETRY: RnnGeom = RnnGeom { kind: C::KIND, t: T, f: F, h: H };

            /// A freshly initialised layer (see [`RnnParams::init`]).
            pub fn new(rng: &mut Rng) -> Self {
                $name { params: RnnParams::init(&Self::GEOMETRY, rng), _cell: PhantomData }
            }

            /// `lengths`: those of `x`'s rows, if any (see [`rnn_forward`]).
            fn run(&self, x: &[f32], y: &mut [f32], rows: usize, lengths: Option<&[u32]>, cache: &mut RnnCache) {
                Self::run_with(&self.params, x, y, rows, lengths, cache, &|m, a, b, bias, out| {
                    kernels::gemm(m, a, b, bias, out)
                });
            }

            /// [`run`](Self::run) with parameters `params` and products by `product`.
            fn run_with(
                params: &RnnParams,
                x: &[f32],
                y: &mut [f32],
                rows: usize,
                lengths: Option<&[u32]>,
                cache: &mut RnnCache,
                product: &kernels::Product<'_>,
            ) {
                rnn_forward(&Self::GEOMETRY, params, x, rows, lengths, cache, product);
                if $seq {
                    y.copy_from_slice(&cache.hs[..rows * T * H]);
                    // A padded step's output is zero, as PyTorch's `pad_packed_sequence` gives.
                    for b in 0..rows {
                        let length = lengths.map_or(T, |l| l[b] as usize);
                        y[(b * T + length) * H..(b + 1) * T * H].fill(0.0);
                    }
                } else {
                    for b in 0..rows {
                        y[b * H..(b + 1) * H].copy_from_slice(&cache.hs[(b * T + T - 1) * H..(b * T + T) * H]);
                    }
                }
            }
        }

        impl<C: Cell, const T: usize, const F: usize, const H: usize, D: Direction> RecurrentLayer for $name<C, T, F, H, D> {
            const RNN: RnnGeom = Self::GEOMETRY;
            const NAMES: [&'static str; 4] = D::NAMES;

            fn rnn_params(&self) -> &RnnParams {
                &self.params
            }

            fn forward_with(
                params: &RnnParams,
                x: &Batch<Self::In>,
                y: &mut Batch<Self::Out>,
                cache: &mut RnnCache,
                product: &kernels::Product<'_>,
            ) {
                y.set_rows(x.rows());
                Self::run_with(params, x.as_slice(), y.as_mut_slice(), x.rows(), x.lengths(), cache, product);
            }
        }

        impl<C: Cell, const T: usize, const F: usize, const H: usize, D: Direction> Layer for $name<C, T, F, H, D> {
            type In = Tensor2<T, F>;
            type Out = $out;
            type Cache = RnnCache;
            /// The recurrence's per-step state (the same kernel as training runs).
            type Workspace = RnnCache;
            const SAMPLE_WORKSPACE: bool = true;
            const ARENA: usize = crate::kernels::arena::padded(rnn_arena_floats(&Self::GEOMETRY));
            const ARENA_READY: bool = true;
            const PARAMS: usize = C::KIND.params(F, H);
            const FLOPS: usize = 2 * T * C::KIND.gates() * H * (F + H);
            const KIND: &'static str = C::NAME;

            fn init(rng: &mut Rng) -> Self {
                Self::new(rng)
            }

            fn forward_into(&self, x: &Self::In, y: &mut Self::Out, ws: &mut RnnCache) {
                self.run(x.as_slice(), y.as_mut_slice(), 1, None, ws);
            }

            // The recurrence's buffers in the arena, the products on this thread.
            fn forward_arena(&self, x: &Self::In, y: &mut Self::Out, arena: &mut [f32]) {
                let g = &Self::GEOMETRY;
                let mut buffers = rnn_buffers_in(g, arena);
                rnn_forward_in(g, &self.params, x.as_slice(), 1, None, &mut buffers, &|m, a, b, bias, out| {
                    kernels::gemm_with(kernels::Arch::current(), kernels::Backend::Own, 1, m, a, b, bias, out)
                });
                let hs = &buffers.hs[..T * H];
                let y = y.as_mut_slice();
                if $seq {
                    y.copy_from_slice(hs);
                } else {
                    y.copy_from_slice(&hs[(T - 1) * H..]);
                }
            }

            fn forward_batch_into(&self, x: &Batch<Self::In>, y: &mut Batch<Self::Out>, ws: &mut RnnCache) {
                y.set_rows(x.rows());
                self.run(x.as_slice(), y.as_mut_slice(), x.rows(), x.lengths(), ws);
            }

            fn forward_train(&self, x: &Batch<Self::In>, y: &mut Batch<Self::Out>, cache: &mut RnnCache, _rng: &mut Rng) {
                y.set_rows(x.rows());
                self.run(x.as_slice(), y.as_mut_slice(), x.rows(), x.lengths(), cache);
            }

            fn backward(&mut self, x: &Batch<Self::In>, _y: &Batch<Self::Out>, cache: &mut RnnCache, dy: &Batch<Self::Out>, dx: Option<&mut Batch<Self::In>>) {
                let dx = dx.map(|dx| {
                    dx.set_rows(x.rows());
                    dx.as_mut_slice()
                });
                rnn_backward(&Self::GEOMETRY, &mut self.params, x.as_slice(), x.rows(), x.lengths(), cache, dy.as_slice(), $seq, dx);
            }

            fn to_onnx(&self, g: &mut OnnxGraph, path: &Path<'_>, input: &str) -> crate::Result<String> {
                rnn_onnx(&LayerState::of(self, path), D::NAMES, &Self::GEOMETRY, $seq, g, &path.to_string(), input)
            }

            fn walk<W: Walk<Self>>(walk: &mut W) {
                let g = Self::GEOMETRY;
                let gh = g.gh();
                let [weight_ih, weight_hh, bias_ih, bias_hh] = D::NAMES;
                walk.param(
                    weight_ih,
                    &[gh, g.f],
                    Layout::Transposed,
                    |l| (&l.params.weight_ih_t, &l.params.weight_ih_t_grad),
                    |l| (&mut l.params.weight_ih_t, &mut l.params.weight_ih_t_grad),
                );
                walk.param(
                    weight_hh,
                    &[gh, g.h],
                    Layout::Transposed,
                    |l| (&l.params.weight_hh_t, &l.params.weight_hh_t_grad),
                    |l| (&mut l.params.weight_hh_t, &mut l.params.weight_hh_t_grad),
                );
                // SimpleRNN and LSTM keep PyTorch's bias_ih + bias_hh as one bias.
                let bias_layout = if g.kind.has_hidden_bias() {
                    Layout::RowMajor
                } else {
                    Layout::SumWith(bias_hh)
                };
                walk.param(
                    bias_ih,
                    &[gh],
                    bias_layout,
                    |l| (&l.params.bias_ih, &l.params.bias_ih_grad),
                    |l| (&mut l.params.bias_ih, &mut l.params.bias_ih_grad),
                );
                if g.kind.has_hidden_bias() {
                    walk.param(
                        bias_hh,
                        &[gh],
                        Layout::RowMajor,
                        |l| (&l.params.bias_hh, &l.params.bias_hh_grad),
                        |l| (&mut l.params.bias_hh, &mut l.params.bias_hh_grad),
                    );
                }
            }
        }
    };
}

recurrent_layer! {
    /// A recurrent layer returning its last hidden state: `[T, F]` to `[H]`.
    Recurrent, out Tensor1<H>, sequences false
}

recurrent_layer! {
    /// A recurrent layer returning every hidden state (`return_sequences`): `[T, F]` to `[T, H]`.
    RecurrentSeq, out Tensor2<T, H>, sequences true
}

/// Keeps `Sample` in use for the doc links above.
const _: usize = <Tensor1<1> as Sample>::LEN;
