//! Recurrent layers (SimpleRNN, LSTM, GRU) in bf16 and int8: the same recurrence as the
//! f32 layer (`RecurrentLayer::forward_with`), its two products (the input projection of
//! every step at once, the hidden projection at each step) on the low-precision kernels
//! (`products.rs`), the gates' arithmetic and the state in f32.
//!
//! Int8 recurrences quantise each product's input per call (dynamic) in both int8 modes:
//! the hidden state changes range from step to step, and PyTorch's int8 LSTM is dynamic
//! too. A simple RNN over one sequence keeps its fused f32 recurrence, on the weights'
//! low-precision values.

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::dense::LowpWorkspace;
use super::products::{Bf16Weights, Int8Weights, LowWeights};
use super::{Bf16, Infer, Int8Mode, Lower, TensorMap};
use crate::error::Result;
use crate::kernels::lowp::MAX_INT8_DEPTH;
use crate::kernels::MatMul;
use crate::layers::{Path, RecurrentLayer, RnnCache, RnnParams};
use crate::tensor::Batch;
use core::cell::RefCell;

/// A recurrent layer `L` with weights `W` (int8 or bf16); `Mark` tells int8's static and
/// dynamic networks apart (their recurrences compute the same).
pub struct LowRecurrent<L: RecurrentLayer, W: LowWeights, Mark> {
    /// The weights, `weight_ih` `[G·H, F]` and `weight_hh` `[G·H, H]`.
    pub weights: W,
    params: RnnParams,
    _l: super::Marker<(L, Mark)>,
}

/// A recurrent layer in bf16.
pub type Bf16Recurrent<L> = LowRecurrent<L, Bf16Weights, Bf16>;
/// A recurrent layer in int8 (`M`: static or dynamic, the same recurrence).
pub type Int8Recurrent<L, M> = LowRecurrent<L, Int8Weights, M>;

/// The scratch of a low-precision recurrence: the f32 recurrence's, and the products'.
#[derive(Default)]
pub struct RecurrentWorkspace {
    cache: RnnCache,
    scratch: RefCell<LowpWorkspace>,
}

impl<L: RecurrentLayer, W: LowWeights, Mark> LowRecurrent<L, W, Mark> {
    /// Deeper products could overflow the int8 kernels' i32 sums.
    const DEPTH_FITS: () = assert!(
        L::RNN.f <= MAX_INT8_DEPTH && L::RNN.h <= MAX_INT8_DEPTH,
        "recurrent layer too wide for int8: its i32 sums could overflow"
    );

    /// The weights' `(name, k, n)`.
    fn shapes(path: &Path<'_>) -> [(String, usize, usize); 2] {
        let g = L::RNN;
        [
            (path.child(L::NAMES[0]).to_string(), g.f, g.gh()),
            (path.child(L::NAMES[1]).to_string(), g.h, g.gh()),
        ]
    }

    /// `values`: the weights' low-precision values as the recurrence reads them (`[ih, hh]`),
    /// which become its parameters.
    fn new(weights: W, values: Vec<Vec<f32>>, bias_ih: Vec<f32>, bias_hh: Vec<f32>) -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::DEPTH_FITS;
        let [ih, hh]: [Vec<f32>; 2] = values.try_into().expect("two weights");
        let params = RnnParams {
            weight_ih_t: ih,
            weight_hh_t: hh,
            bias_ih,
            bias_hh,
            weight_ih_t_grad: Vec::new(),
            weight_hh_t_grad: Vec::new(),
            bias_ih_grad: Vec::new(),
            bias_hh_grad: Vec::new(),
        };
        LowRecurrent {
            weights,
            params,
            _l: core::marker::PhantomData,
        }
    }
}

impl<L: RecurrentLayer + Send + Sync, W: LowWeights, Mark> Infer for LowRecurrent<L, W, Mark> {
    type In = L::In;
    type Out = L::Out;
    type Workspace = RecurrentWorkspace;

    fn infer_batch(&self, x: &Batch<L::In>, y: &mut Batch<L::Out>, ws: &mut RecurrentWorkspace) {
        let scratch = &ws.scratch;
        let values = [&self.params.weight_ih_t[..], &self.params.weight_hh_t[..]];
        let product = |m: &MatMul, a: &[f32], b: &[f32], bias: Option<&[f32]>, out: &mut [f32]| {
            (self.weights).product(&values, &mut scratch.borrow_mut(), m, a, b, bias, out)
        };
        L::forward_with(&self.params, x, y, &mut ws.cache, &product);
        crate::layers::carry_lengths::<L>(x, y);
    }

    fn store(&self, path: &Path<'_>, out: &mut TensorMap) -> Result<()> {
        for (i, (name, k, n)) in Self::shapes(path).iter().enumerate() {
            self.weights.store(i, name, *n, *k, out);
        }
        let gh = L::RNN.gh();
        out.insert_f32(
            path.child(L::NAMES[2]).to_string(),
            &[gh],
            &self.params.bias_ih,
        );
        if !self.params.bias_hh.is_empty() {
            out.insert_f32(
                path.child(L::NAMES[3]).to_string(),
                &[gh],
                &self.params.bias_hh,
            );
        }
        Ok(())
    }

    fn restore(path: &Path<'_>, src: &TensorMap) -> Result<Self> {
        let (weights, values) = W::restore(src, &Self::shapes(path))?;
        let g = L::RNN;
        let bias_ih = src.f32(&path.child(L::NAMES[2]).to_string(), &[g.gh()])?;
        let bias_hh = if g.kind.has_hidden_bias() {
            src.f32(&path.child(L::NAMES[3]).to_string(), &[g.gh()])?
        } else {
            Vec::new()
        };
        Ok(Self::new(weights, values, bias_ih, bias_hh))
    }
}

/// The conversion of a recurrent layer, generic over the layer type; [`Lower`] for
/// `Recurrent` and `RecurrentSeq` forwards to it.
pub trait LowerRecurrent<P: super::Precision>: RecurrentLayer {
    type Lowered: Infer<In = Self::In, Out = Self::Out>;
    fn lower_recurrent(&self) -> Self::Lowered;
}

fn convert<L: RecurrentLayer, W: LowWeights, Mark>(layer: &L) -> LowRecurrent<L, W, Mark> {
    let (g, p) = (L::RNN, layer.rnn_params());
    let (weights, values) =
        W::convert(&[(&p.weight_ih_t, g.f, g.gh()), (&p.weight_hh_t, g.h, g.gh())]);
    LowRecurrent::new(weights, values, p.bias_ih.clone(), p.bias_hh.clone())
}

impl<L: RecurrentLayer + Send + Sync> LowerRecurrent<Bf16> for L {
    type Lowered = Bf16Recurrent<L>;
    fn lower_recurrent(&self) -> Bf16Recurrent<L> {
        convert(self)
    }
}

impl<L: RecurrentLayer + Send + Sync, M: Int8Mode> LowerRecurrent<M> for L {
    type Lowered = Int8Recurrent<L, M>;
    fn lower_recurrent(&self) -> Int8Recurrent<L, M> {
        convert(self)
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
