//! Normalisation layers, PyTorch's semantics and names: `BatchNorm1d`/`BatchNorm2d`
//! (`weight`, `bias`; buffers `running_mean`, `running_var`, `num_batches_tracked`),
//! `LayerNorm` over the last dimension and `GroupNorm` over groups of channels (`weight`,
//! `bias`).

use super::{Layer, Layout, Walk};
use crate::kernels::norm::{
    batch_norm_backward, batch_norm_forward, batch_stats, group_norm_backward, group_norm_forward,
    layer_norm_backward, layer_norm_forward,
};
use crate::tensor::{Batch, Sample};
use crate::Rng;
use std::marker::PhantomData;

/// Batch normalisation of samples `S` whose first dimension holds the channels (`[C]`,
/// `[C, L]` or `[C, H, W]`): in training, each channel is normalised with the statistics of
/// the batch and the running statistics move towards them by `momentum`; in inference, the
/// running statistics are used.
#[derive(Clone, Debug)]
pub struct BatchNorm<S: Sample> {
    /// γ, one per channel.
    pub weight: Vec<f32>,
    /// β, one per channel.
    pub bias: Vec<f32>,
    pub weight_grad: Vec<f32>,
    pub bias_grad: Vec<f32>,
    /// Buffers: the mean and unbiased variance tracked over training batches.
    pub running_mean: Vec<f32>,
    pub running_var: Vec<f32>,
    /// Training steps taken (PyTorch's `num_batches_tracked`).
    pub num_batches_tracked: u64,
    /// Weight of the newest batch in the running statistics (PyTorch's default 0.1).
    pub momentum: f32,
    /// Added to the variance before its square root (PyTorch's default 1e-5).
    pub eps: f32,
    _shape: PhantomData<fn() -> S>,
}

/// What a batch-normalisation training pass keeps: the batch statistics and x̂.
#[derive(Default, Debug)]
pub struct BatchNormCache {
    mean: Vec<f32>,
    var: Vec<f32>,
    xhat: Vec<f32>,
    rows: usize,
}

impl<S: Sample> BatchNorm<S> {
    /// The channels: the sample's first dimension.
    pub const CHANNELS: usize = S::SHAPE[0];

    /// Values per channel in one sample.
    const INNER: usize = {
        assert!(
            Self::CHANNELS > 0 && S::LEN.is_multiple_of(Self::CHANNELS),
            "BatchNorm's channels must divide its sample"
        );
        S::LEN / Self::CHANNELS
    };

    /// γ = 1, β = 0, running mean 0 and variance 1, as PyTorch initialises them.
    pub fn new(momentum: f32, eps: f32) -> Self {
        BatchNorm {
            weight: vec![1.0; Self::CHANNELS],
            bias: vec![0.0; Self::CHANNELS],
            weight_grad: vec![0.0; Self::CHANNELS],
            bias_grad: vec![0.0; Self::CHANNELS],
            running_mean: vec![0.0; Self::CHANNELS],
            running_var: vec![1.0; Self::CHANNELS],
            num_batches_tracked: 0,
            momentum,
            eps,
            _shape: PhantomData,
        }
    }

    fn infer(&self, x: &[f32], y: &mut [f32], rows: usize) {
        batch_norm_forward(
            x,
            rows,
            Self::CHANNELS,
            Self::INNER,
            &self.running_mean,
            &self.running_var,
            self.eps,
            &self.weight,
            &self.bias,
            y,
            None,
        );
    }
}

impl<S: Sample> Layer for BatchNorm<S> {
    type In = S;
    type Out = S;
    type Cache = BatchNormCache;
    type Workspace = ();
    const PARAMS: usize = 2 * Self::CHANNELS;
    const BUFFERS: usize = 2 * Self::CHANNELS;
    const KIND: &'static str = if S::SHAPE.len() == 3 {
        "BatchNorm2d"
    } else {
        "BatchNorm1d"
    };

    /// PyTorch's defaults: momentum 0.1, ε = 1e-5.
    fn init(_rng: &mut Rng) -> Self {
        Self::new(0.1, 1e-5)
    }

    fn forward_into(&self, x: &S, y: &mut S, _ws: &mut ()) {
        self.infer(x.as_slice(), y.as_mut_slice(), 1);
    }

    fn forward_batch_into(&self, x: &Batch<S>, y: &mut Batch<S>, _ws: &mut ()) {
        y.set_rows(x.rows());
        self.infer(x.as_slice(), y.as_mut_slice(), x.rows());
    }

    /// y = γ·(x − μ_B)/√(σ²_B + ε) + β with the batch's mean μ_B and biased variance σ²_B.
    fn forward_train(
        &self,
        x: &Batch<S>,
        y: &mut Batch<S>,
        cache: &mut BatchNormCache,
        _rng: &mut Rng,
    ) {
        let rows = x.rows();
        y.set_rows(rows);
        cache.rows = rows;
        cache.mean.resize(Self::CHANNELS, 0.0);
        cache.var.resize(Self::CHANNELS, 0.0);
        cache.xhat.resize(x.as_slice().len(), 0.0);
        batch_stats(
            x.as_slice(),
            rows,
            Self::CHANNELS,
            Self::INNER,
            &mut cache.mean,
            &mut cache.var,
        );
        batch_norm_forward(
            x.as_slice(),
            rows,
            Self::CHANNELS,
            Self::INNER,
            &cache.mean,
            &cache.var,
            self.eps,
            &self.weight,
            &self.bias,
            y.as_mut_slice(),
            Some(&mut cache.xhat),
        );
    }

    /// Gradients through the batch statistics; then the running statistics take the
    /// batch's (PyTorch's update: r ← (1 − momentum)·r + momentum·batch, with the unbiased
    /// variance).
    fn backward(
        &mut self,
        x: &Batch<S>,
        _y: &Batch<S>,
        cache: &mut BatchNormCache,
        dy: &Batch<S>,
        dx: Option<&mut Batch<S>>,
    ) {
        let rows = x.rows();
        let dx = dx.map(|dx| {
            dx.set_rows(rows);
            dx.as_mut_slice()
        });
        batch_norm_backward(
            &cache.xhat,
            dy.as_slice(),
            rows,
            Self::CHANNELS,
            Self::INNER,
            &cache.var,
            self.eps,
            &self.weight,
            &mut self.weight_grad,
            &mut self.bias_grad,
            dx,
        );
        let n = (cache.rows * Self::INNER) as f32;
        // One value per channel has no unbiased variance; PyTorch refuses such a batch,
        // here the biased one (0) is tracked instead.
        let unbias = if n > 1.0 { n / (n - 1.0) } else { 1.0 };
        let m = self.momentum;
        for c in 0..Self::CHANNELS {
            self.running_mean[c] = (1.0 - m) * self.running_mean[c] + m * cache.mean[c];
            self.running_var[c] = (1.0 - m) * self.running_var[c] + m * cache.var[c] * unbias;
        }
        self.num_batches_tracked += 1;
    }

    fn walk<W: Walk<Self>>(walk: &mut W) {
        walk.param(
            "weight",
            &[Self::CHANNELS],
            Layout::RowMajor,
            |l| (&l.weight, &l.weight_grad),
            |l| (&mut l.weight, &mut l.weight_grad),
        );
        walk.param(
            "bias",
            &[Self::CHANNELS],
            Layout::RowMajor,
            |l| (&l.bias, &l.bias_grad),
            |l| (&mut l.bias, &mut l.bias_grad),
        );
        walk.buffer(
            "running_mean",
            &[Self::CHANNELS],
            |l| &l.running_mean,
            |l| &mut l.running_mean,
        );
        walk.buffer(
            "running_var",
            &[Self::CHANNELS],
            |l| &l.running_var,
            |l| &mut l.running_var,
        );
        walk.count(
            "num_batches_tracked",
            |l| &l.num_batches_tracked,
            |l| &mut l.num_batches_tracked,
        );
    }
}

/// Layer normalisation over the last dimension of `S`: each row of that dimension's values
/// is normalised with its own mean and variance, the same in training and inference.
#[derive(Clone, Debug)]
pub struct LayerNorm<S: Sample> {
    /// γ, one per feature.
    pub weight: Vec<f32>,
    /// β, one per feature.
    pub bias: Vec<f32>,
    pub weight_grad: Vec<f32>,
    pub bias_grad: Vec<f32>,
    pub eps: f32,
    _shape: PhantomData<fn() -> S>,
}

/// What a layer-normalisation training pass keeps: x̂ and 1/σ of every row.
#[derive(Default, Debug)]
pub struct LayerNormCache {
    xhat: Vec<f32>,
    inv_std: Vec<f32>,
}

impl<S: Sample> LayerNorm<S> {
    /// The features: the sample's last dimension.
    pub const FEATURES: usize = S::SHAPE[S::SHAPE.len() - 1];

    const ROWS: usize = {
        assert!(
            Self::FEATURES > 0 && S::LEN.is_multiple_of(Self::FEATURES),
            "LayerNorm's length must divide its sample"
        );
        S::LEN / Self::FEATURES
    };

    /// γ = 1, β = 0, as PyTorch initialises them.
    pub fn new(eps: f32) -> Self {
        LayerNorm {
            weight: vec![1.0; Self::FEATURES],
            bias: vec![0.0; Self::FEATURES],
            weight_grad: vec![0.0; Self::FEATURES],
            bias_grad: vec![0.0; Self::FEATURES],
            eps,
            _shape: PhantomData,
        }
    }

    fn infer(&self, x: &[f32], y: &mut [f32]) {
        let _rows = Self::ROWS;
        layer_norm_forward(
            x,
            Self::FEATURES,
            self.eps,
            &self.weight,
            &self.bias,
            y,
            None,
        );
    }
}

impl<S: Sample> Layer for LayerNorm<S> {
    type In = S;
    type Out = S;
    type Cache = LayerNormCache;
    type Workspace = ();
    const PARAMS: usize = 2 * Self::FEATURES;
    const KIND: &'static str = "LayerNorm";

    /// PyTorch's default ε = 1e-5.
    fn init(_rng: &mut Rng) -> Self {
        Self::new(1e-5)
    }

    fn forward_into(&self, x: &S, y: &mut S, _ws: &mut ()) {
        self.infer(x.as_slice(), y.as_mut_slice());
    }

    fn forward_batch_into(&self, x: &Batch<S>, y: &mut Batch<S>, _ws: &mut ()) {
        y.set_rows(x.rows());
        self.infer(x.as_slice(), y.as_mut_slice());
    }

    fn forward_train(
        &self,
        x: &Batch<S>,
        y: &mut Batch<S>,
        cache: &mut LayerNormCache,
        _rng: &mut Rng,
    ) {
        y.set_rows(x.rows());
        cache.xhat.resize(x.as_slice().len(), 0.0);
        cache.inv_std.resize(x.rows() * Self::ROWS, 0.0);
        layer_norm_forward(
            x.as_slice(),
            Self::FEATURES,
            self.eps,
            &self.weight,
            &self.bias,
            y.as_mut_slice(),
            Some((&mut cache.xhat, &mut cache.inv_std)),
        );
    }

    fn backward(
        &mut self,
        x: &Batch<S>,
        _y: &Batch<S>,
        cache: &mut LayerNormCache,
        dy: &Batch<S>,
        dx: Option<&mut Batch<S>>,
    ) {
        let dx = dx.map(|dx| {
            dx.set_rows(x.rows());
            dx.as_mut_slice()
        });
        layer_norm_backward(
            &cache.xhat,
            &cache.inv_std,
            dy.as_slice(),
            Self::FEATURES,
            &self.weight,
            &mut self.weight_grad,
            &mut self.bias_grad,
            dx,
        );
    }

    fn walk<W: Walk<Self>>(walk: &mut W) {
        walk.param(
            "weight",
            &[Self::FEATURES],
            Layout::RowMajor,
            |l| (&l.weight, &l.weight_grad),
            |l| (&mut l.weight, &mut l.weight_grad),
        );
        walk.param(
            "bias",
            &[Self::FEATURES],
            Layout::RowMajor,
            |l| (&l.bias, &l.bias_grad),
            |l| (&mut l.bias, &mut l.bias_grad),
        );
    }
}

/// Group normalisation (PyTorch's `nn.GroupNorm(G, C)`): the channels of each sample (its
/// first dimension, `[C]`, `[C, L]` or `[C, H, W]`) in `G` groups of consecutive channels,
/// each group normalised with its own mean and variance, then scaled and shifted per
/// channel; the same in training and inference, whatever the batch.
#[derive(Clone, Debug)]
pub struct GroupNorm<S: Sample, const G: usize> {
    /// γ, one per channel.
    pub weight: Vec<f32>,
    /// β, one per channel.
    pub bias: Vec<f32>,
    pub weight_grad: Vec<f32>,
    pub bias_grad: Vec<f32>,
    pub eps: f32,
    _shape: PhantomData<fn() -> S>,
}

/// What a group-normalisation training pass keeps: x̂, and 1/σ of every group of every
/// sample.
#[derive(Default, Debug)]
pub struct GroupNormCache {
    xhat: Vec<f32>,
    inv_std: Vec<f32>,
}

impl<S: Sample, const G: usize> GroupNorm<S, G> {
    /// The channels: the sample's first dimension.
    pub const CHANNELS: usize = S::SHAPE[0];

    /// Values per channel in one sample.
    const INNER: usize = {
        assert!(
            G > 0 && Self::CHANNELS.is_multiple_of(G),
            "GroupNorm's groups must divide its channels"
        );
        S::LEN / Self::CHANNELS
    };

    /// γ = 1, β = 0, as PyTorch initialises them.
    pub fn new(eps: f32) -> Self {
        GroupNorm {
            weight: vec![1.0; Self::CHANNELS],
            bias: vec![0.0; Self::CHANNELS],
            weight_grad: vec![0.0; Self::CHANNELS],
            bias_grad: vec![0.0; Self::CHANNELS],
            eps,
            _shape: PhantomData,
        }
    }

    fn run(&self, x: &[f32], y: &mut [f32], saved: Option<(&mut [f32], &mut [f32])>) {
        group_norm_forward(
            x,
            Self::CHANNELS,
            Self::INNER,
            G,
            self.eps,
            &self.weight,
            &self.bias,
            y,
            saved,
        );
    }
}

impl<S: Sample, const G: usize> Layer for GroupNorm<S, G> {
    type In = S;
    type Out = S;
    type Cache = GroupNormCache;
    type Workspace = ();
    const PARAMS: usize = 2 * Self::CHANNELS;
    const KIND: &'static str = "GroupNorm";

    /// PyTorch's default ε = 1e-5.
    fn init(_rng: &mut Rng) -> Self {
        Self::new(1e-5)
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
        cache: &mut GroupNormCache,
        _rng: &mut Rng,
    ) {
        y.set_rows(x.rows());
        cache.xhat.resize(x.as_slice().len(), 0.0);
        cache.inv_std.resize(x.rows() * G, 0.0);
        self.run(
            x.as_slice(),
            y.as_mut_slice(),
            Some((&mut cache.xhat, &mut cache.inv_std)),
        );
    }

    fn backward(
        &mut self,
        x: &Batch<S>,
        _y: &Batch<S>,
        cache: &mut GroupNormCache,
        dy: &Batch<S>,
        dx: Option<&mut Batch<S>>,
    ) {
        let dx = dx.map(|dx| {
            dx.set_rows(x.rows());
            dx.as_mut_slice()
        });
        group_norm_backward(
            &cache.xhat,
            &cache.inv_std,
            dy.as_slice(),
            Self::CHANNELS,
            Self::INNER,
            G,
            &self.weight,
            &mut self.weight_grad,
            &mut self.bias_grad,
            dx,
        );
    }

    fn walk<W: Walk<Self>>(walk: &mut W) {
        walk.param(
            "weight",
            &[Self::CHANNELS],
            Layout::RowMajor,
            |l| (&l.weight, &l.weight_grad),
            |l| (&mut l.weight, &mut l.weight_grad),
        );
        walk.param(
            "bias",
            &[Self::CHANNELS],
            Layout::RowMajor,
            |l| (&l.bias, &l.bias_grad),
            |l| (&mut l.bias, &mut l.bias_grad),
        );
    }
}
