//! A convolution and the pooling after it as one layer ([`ConvPool`]), which the network
//! macro writes for an unnamed pooling right after a convolution.

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::{ConvCache, ConvLayer, Layer, Path, PoolLayer, Walk};
use crate::io::onnx::OnnxGraph;
use crate::kernels::arena::{max, padded, with_sample_mut};
use crate::kernels::conv::{conv2d_pool_forward, fused_pooling, ConvWorkspace};
use crate::tensor::{Batch, Sample};
use crate::Rng;

/// A convolution and the pooling after it as one layer: each sample is pooled as soon as
/// its convolution is computed, while it is in cache (`conv2d_pool_forward`). The network
/// macro fuses an unnamed pooling into the convolution before it; parameters, their names
/// and the summary's rows are the convolution's and the pooling's as written.
#[derive(Clone, Debug)]
pub struct ConvPool<Conv: ConvLayer, Pool: PoolLayer<In = Conv::Out>> {
    pub conv: Conv,
    pub pool: Pool,
}

/// What a fused convolution and pooling keep for the backward pass, and the convolution's
/// scratch: a max pooling's choices (its output is the layer's), and the convolution's
/// whole output only where the backward pass needs it (average pooling, or pooling not
/// fused: `set_fused_pooling`).
pub struct ConvPoolCache<S: Sample> {
    conv: ConvCache,
    pre: Batch<S>,
    dpre: Batch<S>,
    argmax: Vec<u32>,
    /// Whether the forward pass kept `pre` (else its backward pass is the fused one).
    kept_pre: bool,
}

impl<S: Sample> Default for ConvPoolCache<S> {
    fn default() -> Self {
        ConvPoolCache {
            conv: ConvCache::default(),
            pre: Batch::default(),
            dpre: Batch::default(),
            argmax: Vec::new(),
            kept_pre: false,
        }
    }
}

impl<Conv: ConvLayer, Pool: PoolLayer<In = Conv::Out>> ConvPool<Conv, Pool> {
    #[allow(clippy::too_many_arguments)]
    fn run(
        &self,
        x: &[f32],
        pre: Option<&mut [f32]>,
        y: &mut [f32],
        argmax: Option<&mut [u32]>,
        rows: usize,
        ws: &mut ConvWorkspace,
    ) {
        let p = self.conv.conv_params();
        conv2d_pool_forward(
            &Conv::CONV,
            &Pool::POOL,
            &p.weight,
            p.bias(),
            Conv::ACT,
            x,
            pre,
            y,
            argmax,
            rows,
            ws,
        );
    }
}

impl<Conv: ConvLayer, Pool: PoolLayer<In = Conv::Out>> Layer for ConvPool<Conv, Pool> {
    type In = Conv::In;
    type Out = Pool::Out;
    type Cache = ConvPoolCache<Conv::Out>;
    type Workspace = ConvWorkspace;
    const SAMPLE_WORKSPACE: bool = true;
    /// The convolution's output, then the convolution's arena.
    const ARENA: usize = padded(<Conv::Out as Sample>::LEN) + max(Conv::ARENA, Pool::ARENA);
    const ARENA_READY: bool = Conv::ARENA_READY && Pool::ARENA_READY;
    const KEEPS_STEPS: bool = false;
    const PARAMS: usize = Conv::PARAMS;
    const FLOPS: usize = Conv::FLOPS + Pool::FLOPS;
    const KIND: &'static str = Conv::KIND;

    /// The convolution's nodes, then the pooling's, as written before they were fused.
    fn to_onnx(&self, g: &mut OnnxGraph, path: &Path<'_>, input: &str) -> crate::Result<String> {
        let y = self.conv.to_onnx(g, path, input)?;
        self.pool.to_onnx(g, path, &y)
    }

    fn init(rng: &mut Rng) -> Self {
        ConvPool {
            conv: Conv::init(rng),
            pool: Pool::default(),
        }
    }

    fn forward_into(&self, x: &Self::In, y: &mut Self::Out, ws: &mut ConvWorkspace) {
        self.run(x.as_slice(), None, y.as_mut_slice(), None, 1, ws);
    }

    // Unfused: the convolution into the arena, then the pooling.
    fn forward_arena(&self, x: &Self::In, y: &mut Self::Out, arena: &mut [f32]) {
        let (pre, scratch) = arena.split_at_mut(padded(<Conv::Out as Sample>::LEN));
        with_sample_mut(pre, |pre: &mut Conv::Out| {
            self.conv.forward_arena(x, pre, scratch);
            self.pool.forward_arena(pre, y, scratch);
        });
    }

    fn forward_batch_into(
        &self,
        x: &Batch<Self::In>,
        y: &mut Batch<Self::Out>,
        ws: &mut ConvWorkspace,
    ) {
        y.set_rows(x.rows());
        self.run(x.as_slice(), None, y.as_mut_slice(), None, x.rows(), ws);
    }

    fn forward_train(
        &self,
        x: &Batch<Self::In>,
        y: &mut Batch<Self::Out>,
        cache: &mut Self::Cache,
        _rng: &mut Rng,
    ) {
        let rows = x.rows();
        y.set_rows(rows);
        // A max pooling's backward pass needs only its output and choices when fused.
        cache.kept_pre = !(Pool::POOL.max && fused_pooling());
        let pre = if cache.kept_pre {
            cache.pre.set_rows(rows);
            Some(cache.pre.as_mut_slice())
        } else {
            cache.pre.set_rows(0);
            None
        };
        let argmax = if Pool::POOL.max {
            cache.argmax.resize(rows * <Pool::Out as Sample>::LEN, 0);
            Some(&mut cache.argmax[..])
        } else {
            None
        };
        self.run(
            x.as_slice(),
            pre,
            y.as_mut_slice(),
            argmax,
            rows,
            &mut cache.conv,
        );
    }

    // Fused max pooling: the convolution's gradients straight from the pooled ones. Else
    // ∂pre from the pooling's backward pass, then the convolution's.
    fn backward(
        &mut self,
        x: &Batch<Self::In>,
        y: &Batch<Self::Out>,
        cache: &mut Self::Cache,
        dy: &Batch<Self::Out>,
        dx: Option<&mut Batch<Self::In>>,
    ) {
        let ConvPoolCache {
            conv,
            pre,
            dpre,
            argmax,
            kept_pre,
        } = cache;
        if *kept_pre {
            self.pool.backward(pre, y, argmax, dy, Some(dpre));
            self.conv.backward(x, pre, conv, dpre, dx);
            return;
        }
        let rows = x.rows();
        let dx = dx.map(|dx| {
            dx.set_rows(rows);
            dx.as_mut_slice()
        });
        let pooled = (y.as_slice(), dy.as_slice(), &argmax[..]);
        self.conv.conv_params_mut().backward_max_pooled(
            &Conv::CONV,
            &Pool::POOL.geom,
            Conv::ACT,
            x.as_slice(),
            pooled,
            rows,
            dx,
            conv,
        );
    }

    /// The convolution's tensors, under this layer's own name (a pooling has none).
    fn walk<W: Walk<Self>>(walk: &mut W) {
        walk.sublayer("", |l| &l.conv, |l| &mut l.conv);
    }
}
