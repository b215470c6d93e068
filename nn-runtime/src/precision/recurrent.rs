//! Recurrent layers (SimpleRNN, LSTM, GRU) in bf16 and int8: the same recurrence as the
//! f32 layer (`RecurrentLayer::forward_with`), its two products (the input projection of
//! every step at once, the hidden projection at each step) on the low-precision kernels,
//! the gates' arithmetic and the state in f32.
//!
//! Int8 recurrences quantise each product's input per call (dynamic) in both int8 modes:
//! the hidden state changes range from step to step, and PyTorch's int8 LSTM is dynamic
//! too. A simple RNN over one sequence keeps its fused f32 recurrence, on the weights'
//! low-precision values.

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::dense::quantize_rows;
use super::{act_quant, Bf16, Infer, Int8Mode, Lower, TensorMap};
use crate::error::Result;
use crate::kernels::lowp::{self, Bf16Arch, Int8Arch, PackedBf16, PackedI8, MAX_INT8_DEPTH};
use crate::kernels::{self, MatMul};
use crate::layers::{Path, RecurrentLayer, RnnCache, RnnParams};
use crate::tensor::Batch;
use core::cell::RefCell;

/// `[K, N]` (a transposed PyTorch weight) to `[N, K]`.
fn rows_of(w_t: &[f32], k: usize, n: usize) -> Vec<f32> {
    let mut out = vec![0.0; w_t.len()];
    kernels::transpose(w_t, k, n, &mut out);
    out
}

/// `[N, K]` to `[K, N]`.
fn transposed_back(w: &[f32], k: usize, n: usize) -> Vec<f32> {
    let mut out = vec![0.0; w.len()];
    kernels::transpose(w, n, k, &mut out);
    out
}

/// Whether a product of the recurrence is one the low-precision kernels take: A's rows
/// dense along k, B the whole weight, the bias per column.
fn plain(m: &MatMul) -> bool {
    m.csa == 1 && m.rsb == m.n && !m.row_bias
}

/// Writes (or adds) `c` (`m` rows of `n`) plus `bias` into `out`, rows `rsc` apart.
fn write_out(m: &MatMul, c: &[f32], bias: Option<&[f32]>, out: &mut [f32]) {
    for i in 0..m.m {
        let row = &mut out[i * m.rsc..][..m.n];
        for (j, (o, &v)) in row.iter_mut().zip(&c[i * m.n..(i + 1) * m.n]).enumerate() {
            let v = v + bias.map_or(0.0, |b| b[j]);
            *o = if m.accumulate { *o + v } else { v };
        }
    }
}

/// The parameters an f32 recurrence runs with: `weights` (`[ih, hh]`, `[N, K]`, their
/// low-precision values) transposed back, the biases as they were.
fn params_of<L: RecurrentLayer>(
    weights: [&[f32]; 2],
    bias_ih: &[f32],
    bias_hh: &[f32],
) -> RnnParams {
    let g = L::RNN;
    RnnParams {
        weight_ih_t: transposed_back(weights[0], g.f, g.gh()),
        weight_hh_t: transposed_back(weights[1], g.h, g.gh()),
        bias_ih: bias_ih.to_vec(),
        bias_hh: bias_hh.to_vec(),
        weight_ih_t_grad: Vec::new(),
        weight_hh_t_grad: Vec::new(),
        bias_ih_grad: Vec::new(),
        bias_hh_grad: Vec::new(),
    }
}

fn store_biases<L: RecurrentLayer>(p: &RnnParams, path: &Path<'_>, out: &mut TensorMap) {
    let gh = L::RNN.gh();
    out.insert_f32(path.child(L::NAMES[2]).to_string(), &[gh], &p.bias_ih);
    if !p.bias_hh.is_empty() {
        out.insert_f32(path.child(L::NAMES[3]).to_string(), &[gh], &p.bias_hh);
    }
}

fn restore_biases<L: RecurrentLayer>(path: &Path<'_>, src: &TensorMap) -> Result<[Vec<f32>; 2]> {
    let g = L::RNN;
    let gh = g.gh();
    let ih = src.f32(&path.child(L::NAMES[2]).to_string(), &[gh])?;
    let hh = if g.kind.has_hidden_bias() {
        src.f32(&path.child(L::NAMES[3]).to_string(), &[gh])?
    } else {
        Vec::new()
    };
    Ok([ih, hh])
}

/// A recurrent layer `L` in bf16.
pub struct Bf16Recurrent<L: RecurrentLayer> {
    /// `[weight_ih, weight_hh]`, `[G·H, F]` and `[G·H, H]`, bf16 bit patterns.
    pub weights: [Vec<u16>; 2],
    params: RnnParams,
    packed: [PackedBf16; 2],
    _l: super::Marker<L>,
}

/// The scratch of a low-precision recurrence: the f32 recurrence's, and the products'.
#[derive(Default)]
pub struct RecurrentWorkspace {
    cache: RnnCache,
    scratch: RefCell<super::dense::LowpWorkspace>,
}

impl<L: RecurrentLayer> Bf16Recurrent<L> {
    fn new(weights: [Vec<u16>; 2], bias_ih: Vec<f32>, bias_hh: Vec<f32>) -> Self {
        let g = L::RNN;
        let values = weights
            .each_ref()
            .map(|w| w.iter().map(|&v| lowp::from_bf16(v)).collect::<Vec<f32>>());
        let params = params_of::<L>([&values[0], &values[1]], &bias_ih, &bias_hh);
        let packed = [
            PackedBf16::pack(&weights[0], g.gh(), g.f),
            PackedBf16::pack(&weights[1], g.gh(), g.h),
        ];
        Bf16Recurrent {
            weights,
            params,
            packed,
            _l: core::marker::PhantomData,
        }
    }
}

impl<L: RecurrentLayer + Send + Sync> Infer for Bf16Recurrent<L> {
    type In = L::In;
    type Out = L::Out;
    type Workspace = RecurrentWorkspace;

    fn infer_batch(&self, x: &Batch<L::In>, y: &mut Batch<L::Out>, ws: &mut RecurrentWorkspace) {
        let scratch = &ws.scratch;
        let product = |m: &MatMul, a: &[f32], b: &[f32], bias: Option<&[f32]>, out: &mut [f32]| {
            let which = usize::from(!core::ptr::eq(b.as_ptr(), self.params.weight_ih_t.as_ptr()));
            let packed = &self.packed[which];
            if !plain(m) || packed.k() != m.k || packed.n() != m.n {
                return kernels::gemm(m, a, b, bias, out);
            }
            let s = &mut *scratch.borrow_mut();
            let kp = packed.k_padded();
            s.h.clear();
            s.h.resize(m.m * kp, 0);
            for i in 0..m.m {
                lowp::to_bf16_slice(&a[i * m.rsa..][..m.k], &mut s.h[i * kp..]);
            }
            s.sums.resize(m.m * m.n, 0.0);
            lowp::gemm_bf16(Bf16Arch::current(), m.m, &s.h, packed, &mut s.sums);
            write_out(m, &s.sums, bias, out);
        };
        L::forward_with(&self.params, x, y, &mut ws.cache, &product);
        crate::layers::carry_lengths::<L>(x, y);
    }

    fn store(&self, path: &Path<'_>, out: &mut TensorMap) -> Result<()> {
        let g = L::RNN;
        out.insert_bf16(
            path.child(L::NAMES[0]).to_string(),
            &[g.gh(), g.f],
            &self.weights[0],
        );
        out.insert_bf16(
            path.child(L::NAMES[1]).to_string(),
            &[g.gh(), g.h],
            &self.weights[1],
        );
        store_biases::<L>(&self.params, path, out);
        Ok(())
    }

    fn restore(path: &Path<'_>, src: &TensorMap) -> Result<Self> {
        let g = L::RNN;
        let ih = src.bf16(&path.child(L::NAMES[0]).to_string(), &[g.gh(), g.f])?;
        let hh = src.bf16(&path.child(L::NAMES[1]).to_string(), &[g.gh(), g.h])?;
        let [bias_ih, bias_hh] = restore_biases::<L>(path, src)?;
        Ok(Self::new([ih, hh], bias_ih, bias_hh))
    }
}

/// A recurrent layer `L` in int8 (per-channel weights; inputs quantised per product).
pub struct Int8Recurrent<L: RecurrentLayer, M: Int8Mode> {
    /// `[weight_ih, weight_hh]`, `[G·H, F]` and `[G·H, H]`.
    pub weights: [Vec<i8>; 2],
    /// Each weight's per-row scales, `[G·H]`.
    pub scales: [Vec<f32>; 2],
    params: RnnParams,
    packed: [PackedI8; 2],
    _l: super::Marker<(L, M)>,
}

impl<L: RecurrentLayer, M: Int8Mode> Int8Recurrent<L, M> {
    const DEPTH_FITS: () = assert!(
        L::RNN.f <= MAX_INT8_DEPTH && L::RNN.h <= MAX_INT8_DEPTH,
        "int8 recurrent layer too wide: its i32 sums could overflow"
    );

    fn new(
        weights: [Vec<i8>; 2],
        scales: [Vec<f32>; 2],
        bias_ih: Vec<f32>,
        bias_hh: Vec<f32>,
    ) -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::DEPTH_FITS;
        let g = L::RNN;
        let depth = [g.f, g.h];
        let values: [Vec<f32>; 2] = core::array::from_fn(|w| {
            weights[w]
                .iter()
                .enumerate()
                .map(|(i, &q)| q as f32 * scales[w][i / depth[w]])
                .collect()
        });
        let params = params_of::<L>([&values[0], &values[1]], &bias_ih, &bias_hh);
        let packed = [
            PackedI8::pack(&weights[0], g.gh(), g.f),
            PackedI8::pack(&weights[1], g.gh(), g.h),
        ];
        Int8Recurrent {
            weights,
            scales,
            params,
            packed,
            _l: core::marker::PhantomData,
        }
    }
}

impl<L: RecurrentLayer + Send + Sync, M: Int8Mode> Infer for Int8Recurrent<L, M> {
    type In = L::In;
    type Out = L::Out;
    type Workspace = RecurrentWorkspace;

    fn infer_batch(&self, x: &Batch<L::In>, y: &mut Batch<L::Out>, ws: &mut RecurrentWorkspace) {
        let scratch = &ws.scratch;
        let product = |m: &MatMul, a: &[f32], b: &[f32], bias: Option<&[f32]>, out: &mut [f32]| {
            let which = usize::from(!core::ptr::eq(b.as_ptr(), self.params.weight_ih_t.as_ptr()));
            let packed = &self.packed[which];
            if !plain(m) || packed.k() != m.k || packed.n() != m.n {
                return kernels::gemm(m, a, b, bias, out);
            }
            let s = &mut *scratch.borrow_mut();
            let (lo, hi) = (0..m.m)
                .map(|i| super::finite_range(&a[i * m.rsa..][..m.k]))
                .fold((0.0f32, 0.0f32), |(l, h), (a, b)| (l.min(a), h.max(b)));
            let q = act_quant(lo, hi);
            let kp = packed.k_padded();
            s.q.clear();
            s.q.resize(m.m * kp, 0);
            for i in 0..m.m {
                lowp::quantize_u8(
                    &a[i * m.rsa..][..m.k],
                    1.0 / q.scale,
                    q.zero,
                    &mut s.q[i * kp..],
                );
            }
            s.acc.resize(m.m * m.n, 0);
            lowp::gemm_u8i8(Int8Arch::current(), m.m, &s.q, packed, &mut s.acc);
            s.sums.resize(m.m * m.n, 0.0);
            let (zero, col, scales) = (q.zero as i32, packed.col_sums(), &self.scales[which]);
            for (sum, (&acc, j)) in s.sums.iter_mut().zip(s.acc.iter().zip((0..m.n).cycle())) {
                *sum = (acc - zero * col[j]) as f32 * (q.scale * scales[j]);
            }
            write_out(m, &s.sums, bias, out);
        };
        L::forward_with(&self.params, x, y, &mut ws.cache, &product);
        crate::layers::carry_lengths::<L>(x, y);
    }

    fn store(&self, path: &Path<'_>, out: &mut TensorMap) -> Result<()> {
        let g = L::RNN;
        for (w, k) in [(0, g.f), (1, g.h)] {
            let name = path.child(L::NAMES[w]).to_string();
            out.insert_i8(name.clone(), &[g.gh(), k], &self.weights[w]);
            out.insert_f32(format!("{name}_scale"), &[g.gh()], &self.scales[w]);
        }
        store_biases::<L>(&self.params, path, out);
        Ok(())
    }

    fn restore(path: &Path<'_>, src: &TensorMap) -> Result<Self> {
        let g = L::RNN;
        let mut weights: [Vec<i8>; 2] = Default::default();
        let mut scales: [Vec<f32>; 2] = Default::default();
        for (w, k) in [(0, g.f), (1, g.h)] {
            let name = path.child(L::NAMES[w]).to_string();
            weights[w] = src.i8(&name, &[g.gh(), k])?;
            scales[w] = src.f32(&format!("{name}_scale"), &[g.gh()])?;
        }
        let [bias_ih, bias_hh] = restore_biases::<L>(path, src)?;
        Ok(Self::new(weights, scales, bias_ih, bias_hh))
    }
}

/// The conversions of a recurrent layer, generic over the layer type; [`Lower`] for
/// `Recurrent` and `RecurrentSeq` forwards to it.
pub trait LowerRecurrent<P: super::Precision>: RecurrentLayer {
    type Lowered: Infer<In = Self::In, Out = Self::Out>;
    fn lower_recurrent(&self) -> Self::Lowered;
}

impl<L: RecurrentLayer + Send + Sync> LowerRecurrent<Bf16> for L {
    type Lowered = Bf16Recurrent<L>;
    fn lower_recurrent(&self) -> Bf16Recurrent<L> {
        let (g, p) = (L::RNN, self.rnn_params());
        let to = |w_t: &[f32], k| -> Vec<u16> {
            rows_of(w_t, k, g.gh())
                .iter()
                .map(|&v| lowp::to_bf16(v))
                .collect()
        };
        Bf16Recurrent::new(
            [to(&p.weight_ih_t, g.f), to(&p.weight_hh_t, g.h)],
            p.bias_ih.clone(),
            p.bias_hh.clone(),
        )
    }
}

impl<L: RecurrentLayer + Send + Sync, M: Int8Mode> LowerRecurrent<M> for L {
    type Lowered = Int8Recurrent<L, M>;
    fn lower_recurrent(&self) -> Int8Recurrent<L, M> {
        let (g, p) = (L::RNN, self.rnn_params());
        let (ih, ih_s) = quantize_rows(&rows_of(&p.weight_ih_t, g.f, g.gh()), g.gh(), g.f);
        let (hh, hh_s) = quantize_rows(&rows_of(&p.weight_hh_t, g.h, g.gh()), g.gh(), g.h);
        Int8Recurrent::new([ih, hh], [ih_s, hh_s], p.bias_ih.clone(), p.bias_hh.clone())
    }
}

macro_rules! lower_recurrent {
    ($($name:ident),*) => {$(
        impl<P, C, const T: usize, const F: usize, const H: usize, D> Lower<P>
            for crate::layers::$name<C, T, F, H, D>
        where
            P: super::Precision,
            C: crate::layers::Cell,
            D: crate::layers::Direction,
            Self: LowerRecurrent<P>,
        {
            type Lowered = <Self as LowerRecurrent<P>>::Lowered;
            fn lower(
                &self,
                _calibration: &Batch<<Self as crate::layers::Layer>::In>,
            ) -> Result<Self::Lowered> {
                Ok(self.lower_recurrent())
            }
        }
    )*};
}
lower_recurrent!(Recurrent, RecurrentSeq);
