//! Multi-head self-attention in bf16 and int8: the f32 pass
//! ([`attention_forward_with`](crate::kernels::attention::attention_forward_with)) with its
//! input and output projections on the low-precision kernels (`products.rs`; int8 inputs
//! quantised per product, as PyTorch's dynamic quantisation of `nn.MultiheadAttention`'s
//! projections does); the heads' scores, softmax and weighted sums in f32.

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::dense::LowpWorkspace;
use super::products::{Bf16Weights, Int8Weights, LowWeights};
use super::{Bf16, Infer, Int8Mode, Lower, TensorMap};
use crate::error::Result;
use crate::kernels::attention::{attention_forward_with, AttentionParams, AttentionScratch};
use crate::kernels::lowp::MAX_INT8_DEPTH;
use crate::kernels::MatMul;
use crate::layers::{Masking, MultiHeadAttention, Path, Positions};
use crate::tensor::{Batch, Tensor2};
use core::cell::RefCell;

/// `MultiHeadAttention<T, F, H, M, P>` with projection weights `W`; `Mark` tells int8's
/// static and dynamic networks apart.
pub struct LowAttention<
    const T: usize,
    const F: usize,
    const H: usize,
    M: Masking,
    P: Positions,
    W: LowWeights,
    Mark,
> {
    /// `in_proj_weight` `[3F, F]` and `out_proj.weight` `[F, F]`.
    pub weights: W,
    /// Their low-precision values as the f32 pass reads them (`[F, 3F]`, `[F, F]`).
    values: Vec<Vec<f32>>,
    /// `[3F]`
    pub in_bias: Vec<f32>,
    /// `[F]`
    pub out_bias: Vec<f32>,
    _m: super::Marker<(M, P, Mark)>,
}

/// Self-attention with bf16 projections.
pub type Bf16Attention<const T: usize, const F: usize, const H: usize, M, P> =
    LowAttention<T, F, H, M, P, Bf16Weights, Bf16>;
/// Self-attention with int8 projections.
pub type Int8Attention<const T: usize, const F: usize, const H: usize, M, P, Mode> =
    LowAttention<T, F, H, M, P, Int8Weights, Mode>;

/// The f32 pass's scratch and the projections'.
#[derive(Default)]
pub struct AttentionWorkspace {
    pass: AttentionScratch,
    scratch: RefCell<LowpWorkspace>,
}

impl<
        const T: usize,
        const F: usize,
        const H: usize,
        M: Masking,
        P: Positions,
        W: LowWeights,
        Mark,
    > LowAttention<T, F, H, M, P, W, Mark>
{
    const DEPTH_FITS: () = assert!(
        F <= MAX_INT8_DEPTH,
        "attention too wide for int8: its i32 sums could overflow"
    );

    fn shapes(path: &Path<'_>) -> [(String, usize, usize); 2] {
        [
            (path.child("in_proj_weight").to_string(), F, 3 * F),
            (path.child("out_proj.weight").to_string(), F, F),
        ]
    }

    fn new(weights: W, values: Vec<Vec<f32>>, in_bias: Vec<f32>, out_bias: Vec<f32>) -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::DEPTH_FITS;
        LowAttention {
            weights,
            values,
            in_bias,
            out_bias,
            _m: core::marker::PhantomData,
        }
    }
}

impl<
        const T: usize,
        const F: usize,
        const H: usize,
        M: Masking,
        P: Positions,
        W: LowWeights,
        Mark,
    > Infer for LowAttention<T, F, H, M, P, W, Mark>
{
    type In = Tensor2<T, F>;
    type Out = Tensor2<T, F>;
    type Workspace = AttentionWorkspace;

    fn infer_batch(
        &self,
        x: &Batch<Tensor2<T, F>>,
        y: &mut Batch<Tensor2<T, F>>,
        ws: &mut AttentionWorkspace,
    ) {
        let values = [&self.values[0][..], &self.values[1][..]];
        let params = AttentionParams {
            in_weight_t: values[0],
            in_bias: &self.in_bias,
            out_weight_t: values[1],
            out_bias: &self.out_bias,
        };
        let scratch = &ws.scratch;
        let project = |m: &MatMul, a: &[f32], b: &[f32], bias: Option<&[f32]>, out: &mut [f32]| {
            (self.weights).product(&values, &mut scratch.borrow_mut(), m, a, b, bias, out)
        };
        y.set_rows(x.rows());
        let g = MultiHeadAttention::<T, F, H, M, P>::GEOMETRY;
        attention_forward_with(
            &g,
            &params,
            x.as_slice(),
            y.as_mut_slice(),
            x.rows(),
            x.lengths(),
            &mut ws.pass,
            &project,
        );
        crate::layers::carry_lengths::<MultiHeadAttention<T, F, H, M, P>>(x, y);
    }

    fn store(&self, path: &Path<'_>, out: &mut TensorMap) -> Result<()> {
        for (i, (name, k, n)) in Self::shapes(path).iter().enumerate() {
            self.weights.store(i, name, *n, *k, out);
        }
        out.insert_f32(
            path.child("in_proj_bias").to_string(),
            &[3 * F],
            &self.in_bias,
        );
        out.insert_f32(
            path.child("out_proj.bias").to_string(),
            &[F],
            &self.out_bias,
        );
        Ok(())
    }

    fn restore(path: &Path<'_>, src: &TensorMap) -> Result<Self> {
        let (weights, values) = W::restore(src, &Self::shapes(path))?;
        let in_bias = src.f32(&path.child("in_proj_bias").to_string(), &[3 * F])?;
        let out_bias = src.f32(&path.child("out_proj.bias").to_string(), &[F])?;
        Ok(Self::new(weights, values, in_bias, out_bias))
    }
}

fn convert<
    const T: usize,
    const F: usize,
    const H: usize,
    M: Masking,
    P: Positions,
    W: LowWeights,
    Mark,
>(
    layer: &MultiHeadAttention<T, F, H, M, P>,
) -> LowAttention<T, F, H, M, P, W, Mark> {
    let (weights, values) =
        W::convert(&[(&layer.in_weight_t, F, 3 * F), (&layer.out_weight_t, F, F)]);
    LowAttention::new(
        weights,
        values,
        layer.in_bias.clone(),
        layer.out_bias.clone(),
    )
}

impl<const T: usize, const F: usize, const H: usize, M: Masking, P: Positions> Lower<Bf16>
    for MultiHeadAttention<T, F, H, M, P>
{
    type Lowered = Bf16Attention<T, F, H, M, P>;
    fn lower(&self, _calibration: &Batch<Tensor2<T, F>>) -> Result<Self::Lowered> {
        Ok(convert(self))
    }
}

impl<const T: usize, const F: usize, const H: usize, M: Masking, P: Positions, Mode: Int8Mode>
    Lower<Mode> for MultiHeadAttention<T, F, H, M, P>
{
    type Lowered = Int8Attention<T, F, H, M, P, Mode>;
    fn lower(&self, _calibration: &Batch<Tensor2<T, F>>) -> Result<Self::Lowered> {
        Ok(convert(self))
    }
}
