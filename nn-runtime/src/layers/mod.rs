//! Layers: one file per kind. Each is an ordinary Rust type usable by hand; the `network!`
//! macro only chains them.

#[allow(unused_imports)]
use crate::core_prelude::*;

/// The forward and backward passes of a layer without parameters, cache or workspace that
/// maps each row of its input to a row of its output with `Self::forward(x, y)` and back with
/// `Self::backward(dy, dx)`: `ZeroPad2d`, `Permute`, `Upsample`, `PixelShuffle`.
macro_rules! rearranging_passes {
    () => {
        type In = X;
        type Out = Y;
        type Cache = ();
        type Workspace = ();
        const PARAMS: usize = 0;

        fn init(_rng: &mut $crate::Rng) -> Self {
            Self::default()
        }

        fn forward_into(&self, x: &X, y: &mut Y, _ws: &mut ()) {
            Self::forward(x.as_slice(), y.as_mut_slice());
        }

        fn forward_batch_into(
            &self,
            x: &$crate::tensor::Batch<X>,
            y: &mut $crate::tensor::Batch<Y>,
            _ws: &mut (),
        ) {
            y.set_rows(x.rows());
            Self::forward(x.as_slice(), y.as_mut_slice());
        }

        fn forward_train(
            &self,
            x: &$crate::tensor::Batch<X>,
            y: &mut $crate::tensor::Batch<Y>,
            _cache: &mut (),
            _rng: &mut $crate::Rng,
        ) {
            self.forward_batch_into(x, y, &mut ());
        }

        fn backward(
            &mut self,
            x: &$crate::tensor::Batch<X>,
            _y: &$crate::tensor::Batch<Y>,
            _cache: &mut (),
            dy: &$crate::tensor::Batch<Y>,
            dx: Option<&mut $crate::tensor::Batch<X>>,
        ) {
            let Some(dx) = dx else { return };
            dx.set_rows(x.rows());
            Self::backward(dy.as_slice(), dx.as_mut_slice());
        }

        fn walk<W: $crate::layers::Walk<Self>>(_: &mut W) {}
    };
}

mod activation;
mod attention;
mod bidirectional;
mod conv;
mod conv_pool;
mod conv_transpose;
mod cross_attention;
mod decoder;
mod dense;
mod dropout;
mod embedding;
mod flatten;
mod join;
mod layer;
mod llama;
mod norm;
mod pad;
mod permute;
mod pool;
mod rnn;
mod squeeze_excitation;
mod stepped;
mod summary;
mod time_pool;
mod upsample;

pub use activation::*;
pub use attention::{
    CausalMask, Masking, MultiHeadAttention, NoRotation, PositionalEmbedding, Positions, Rotary,
    Unmasked,
};
pub use bidirectional::{
    Bidirectional, BidirectionalCache, BidirectionalWorkspace, MergeConcat, MergeMode, MergeSum,
};
pub use conv::{
    Conv1d, Conv2d, ConvCache, ConvLayer, ConvOn, ConvPadding, ConvParams, Pad, PaddingRule, Same,
};
pub use conv_pool::{ConvPool, ConvPoolCache};
pub use conv_transpose::{ConvTranspose1d, ConvTranspose2d, ConvTransposeOn};
pub use cross_attention::{CrossAttention, CrossCache};
pub use decoder::{DecoderCache, DecoderLayer};
pub use dense::{Dense, DenseOn, DenseSeq, FusedActivation};
pub use dropout::Dropout;
pub use embedding::Embedding;
pub use flatten::{Flatten, FlattenOn, Reshape};
pub use join::{Concat, Identity, JoinCache, JoinWorkspace, Residual, Sum, Zip};
pub use llama::{RmsNorm, RmsNormCache, SwiGlu, SwiGluScratch};
pub use norm::{
    BatchNorm, BatchNormCache, ChannelGroups, EachChannel, GroupNorm, Grouping, GroupingRule,
    InstanceNorm, LastDimension, LayerNorm, Norm, NormCache,
};
pub use pad::ZeroPad2d;
pub use permute::Permute;
pub use pool::{
    AvgPool2d, GlobalAvgPool2d, GlobalMaxPool2d, MaxPool1d, MaxPool2d, PoolAvg, PoolExtent,
    PoolGlobal, PoolLayer, PoolMax, PoolOn, PoolOp, PoolWindow,
};
pub use rnn::{
    rnn_backward, rnn_forward, Cell, CellKind, Direction, Forward, Gru, Lstm, Recurrent,
    RecurrentLayer, RecurrentSeq, Reverse, RnnCache, RnnGeom, RnnParams, SimpleRnnRelu,
    SimpleRnnTanh,
};

/// The layer types a network is made of, re-exported at the crate root and in the prelude:
/// the one list to extend when a layer kind is added.
pub mod all {
    pub use super::{
        Act, AvgPool2d, BatchNorm, Bidirectional, Concat, Conv1d, Conv2d, ConvTranspose1d,
        ConvTranspose2d, CrossAttention, DecoderLayer, Dense, DenseSeq, Dropout, Elu, Embedding,
        Flatten, Gelu, GlobalAvgPool1d, GlobalAvgPool2d, GlobalMaxPool1d, GlobalMaxPool2d, Glu,
        GroupNorm, Hardsigmoid, Hardswish, Identity, InstanceNorm, LayerNorm, LeakyRelu, Linear,
        LogSoftmax, MaxPool1d, MaxPool2d, Mish, MultiHeadAttention, PRelu, Permute, PixelShuffle,
        PositionalEmbedding, Recurrent, RecurrentSeq, Relu, Relu6, Reshape, Residual, RmsNorm,
        Sigmoid, Silu, Softmax, Softplus, SqueezeExcitation, Sum, SwiGlu, Tanh, Upsample,
        ZeroPad2d,
    };
}

pub use layer::{
    carry_lengths, under, Buffer, BufferReader, BufferRef, BufferVisitor, Get, GetMut, Layer,
    Layout, ParamReader, ParamVisitor, Path, Tensor, TensorMut, Walk,
};
pub use squeeze_excitation::{SqueezeCache, SqueezeExcitation};
pub use stepped::{RecurrentState, Stepped, SwiGluState};
pub use summary::{child_name, format_summary, group_thousands, join_row, SummaryRow};
pub use time_pool::{GlobalAvgPool1d, GlobalMaxPool1d, TimePool, TimePoolCache};
pub use upsample::{Bilinear, Interpolation, Nearest, PixelShuffle, Upsample};

/// Channels, rows and columns of a `[C]`, `[C, L]` (one row) or `[C, H, W]` sample: how
/// convolutions and poolings read their samples' shapes.
const fn planes(shape: &[usize]) -> (usize, usize, usize) {
    match shape.len() {
        1 => (shape[0], 1, 1),
        2 => (shape[0], 1, shape[1]),
        3 => (shape[0], shape[1], shape[2]),
        _ => panic!("convolutions and poolings take [C], [C, L] or [C, H, W] samples"),
    }
}

/// What a layer between `X` and `Y` samples with the activation `F` holds of those types:
/// nothing (and it stays `Send + Sync` whatever they are).
type Marker<X, Y, F> = core::marker::PhantomData<fn() -> (X, Y, F)>;
/// Windows of `k` taps `d` apart, moved by `s`, whose last tap lies inside `padded`
/// positions, counted one position at a time: the brute force that the convolution and
/// pooling geometry checks are tested against.
#[cfg(test)]
pub(crate) fn fitting_windows(padded: usize, k: usize, s: usize, d: usize) -> usize {
    (0..=padded)
        .take_while(|o| o * s + (k - 1) * d < padded)
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_thousands() {
        let root = Path::ROOT;
        let a = root.child("fc1");
        let b = a.child("weight");
        assert_eq!(b.to_string(), "fc1.weight");
        assert_eq!(root.child("0").child("bias").to_string(), "0.bias");
        assert_eq!(group_thousands(52650), "52,650");
        assert_eq!(group_thousands(330), "330");
        assert_eq!(group_thousands(1_626_442), "1,626,442");
    }
}
