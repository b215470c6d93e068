//! Normalisation layers, PyTorch's semantics and names: `BatchNorm1d`/`BatchNorm2d`
//! (`weight`, `bias`; buffers `running_mean`, `running_var`, `num_batches_tracked`) over
//! the batch, and the normalisations of each sample on its own, [`Norm`]: `LayerNorm` over
//! the last dimension, `GroupNorm` over groups of channels and `InstanceNorm1d/2d` over each
//! channel (`weight`, `bias` unless the affine step is off), one layer and one kernel whose
//! grouping is a type.

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::{under, FusedActivation, Layer, Layout, Linear, Path, Walk};
use crate::io::onnx::{attr, LayerState, OnnxGraph};
use crate::kernels::norm::{
    batch_norm_backward, batch_norm_forward, batch_stats, group_norm_backward, group_norm_forward,
    Statistics,
};
use crate::kernels::{self, EpilogueAct};
use crate::tensor::{Batch, Sample};
use crate::Rng;
use core::marker::PhantomData;

/// Batch normalisation of samples `S` whose first dimension holds the channels (`[C]`,
/// `[C, L]` or `[C, H, W]`): in training, each channel is normalised with the statistics of
/// the batch and the running statistics move towards them by `momentum`; in inference, the
/// running statistics are used. `F` is an activation applied to the output (`Linear`,
/// none, by default): the macro fuses an unnamed `Relu`, `Tanh` or `Sigmoid` written right
/// after the normalisation, which then activates each channel's values while they are in
/// cache instead of in a pass of its own over the batch.
#[derive(Clone, Debug)]
pub struct BatchNorm<S: Sample, F: FusedActivation = Linear> {
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
    /// Normalise with the running statistics in training too and leave them as they are
    /// (PyTorch's `bn.eval()` while the rest trains; what freezing sets): the gradients are
    /// then those of a fixed affine map per channel.
    pub eval_mode: bool,
    _shape: PhantomData<fn() -> (S, F)>,
}

/// What a batch-normalisation training pass keeps: the batch statistics and x̂, and the
/// gradient before a fused activation.
#[derive(Default, Debug)]
pub struct BatchNormCache {
    mean: Vec<f32>,
    var: Vec<f32>,
    xhat: Vec<f32>,
    dz: Vec<f32>,
    rows: usize,
}

impl<S: Sample, F: FusedActivation> BatchNorm<S, F> {
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
            eval_mode: false,
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
            F::EPILOGUE,
        );
    }
}

impl<S: Sample, F: FusedActivation> Layer for BatchNorm<S, F> {
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

    /// `BatchNormalization` with the running statistics (inference, PyTorch's `eval()`).
    fn to_onnx(&self, g: &mut OnnxGraph, path: &Path<'_>, input: &str) -> crate::Result<String> {
        let state = LayerState::of(self, path);
        let names = ["weight", "bias", "running_mean", "running_var"]
            .map(|last| state.initializer(g, last))
            .into_iter()
            .collect::<crate::Result<Vec<String>>>()?;
        let mut inputs = vec![input];
        inputs.extend(names.iter().map(String::as_str));
        let eps = attr::float("epsilon", self.eps);
        let scope = path.to_string();
        let z = g.op("BatchNormalization", &scope, &inputs, vec![eps]);
        if F::EPILOGUE == EpilogueAct::None {
            return Ok(z);
        }
        F::default().to_onnx(g, &scope, &z)
    }

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
        if self.eval_mode {
            cache.xhat.resize(x.as_slice().len(), 0.0);
            batch_norm_forward(
                x.as_slice(),
                rows,
                Self::CHANNELS,
                Self::INNER,
                &self.running_mean,
                &self.running_var,
                self.eps,
                &self.weight,
                &self.bias,
                y.as_mut_slice(),
                Some(&mut cache.xhat),
                F::EPILOGUE,
            );
            return;
        }
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
            F::EPILOGUE,
        );
    }

    /// Gradients through the batch statistics; then the running statistics take the
    /// batch's (PyTorch's update: r ← (1 − momentum)·r + momentum·batch, with the unbiased
    /// variance).
    fn backward(
        &mut self,
        x: &Batch<S>,
        y: &Batch<S>,
        cache: &mut BatchNormCache,
        dy: &Batch<S>,
        dx: Option<&mut Batch<S>>,
    ) {
        let rows = x.rows();
        let dx = dx.map(|dx| {
            dx.set_rows(rows);
            dx.as_mut_slice()
        });
        // dz = dy · F′(y): the gradient before the fused activation.
        let dz: &[f32] = if F::EPILOGUE == EpilogueAct::None {
            dy.as_slice()
        } else {
            cache.dz.resize(dy.as_slice().len(), 0.0);
            kernels::activation_backward(F::EPILOGUE, y.as_slice(), dy.as_slice(), &mut cache.dz);
            &cache.dz
        };
        // In eval mode the running statistics are constants: a per-channel affine map.
        let (statistics, var) = if self.eval_mode {
            (Statistics::Fixed, &self.running_var)
        } else {
            (Statistics::Batch, &cache.var)
        };
        batch_norm_backward(
            &cache.xhat,
            dz,
            rows,
            Self::CHANNELS,
            Self::INNER,
            var,
            self.eps,
            &self.weight,
            &mut self.weight_grad,
            &mut self.bias_grad,
            dx,
            statistics,
        );
        if self.eval_mode {
            return;
        }
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

    fn set_batch_norm_eval(&mut self, path: &Path<'_>, prefix: &str, eval: bool) -> usize {
        if under(&path.to_string(), prefix) {
            self.eval_mode = eval;
            1
        } else {
            0
        }
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

/// Which values of a sample a [`Norm`] normalises together, and which of its affine
/// parameters each value gets: a type, [`LastDimension`] or [`ChannelGroups`].
pub trait Grouping {
    const RULE: GroupingRule;
}

/// How a [`Norm`] groups a sample's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupingRule {
    /// Each row of the last dimension, with a parameter per feature (LayerNorm).
    LastDimension,
    /// The channels (the first dimension) in this many groups of consecutive channels, with a
    /// parameter per channel (GroupNorm).
    ChannelGroups(usize),
    /// Each channel on its own, with a parameter per channel (InstanceNorm).
    Channels,
}

/// Normalise each row of the last dimension: [`LayerNorm`].
#[derive(Clone, Copy, Debug, Default)]
pub struct LastDimension;

impl Grouping for LastDimension {
    const RULE: GroupingRule = GroupingRule::LastDimension;
}

/// Normalise `G` groups of consecutive channels: [`GroupNorm`].
#[derive(Clone, Copy, Debug, Default)]
pub struct ChannelGroups<const G: usize>;

impl<const G: usize> Grouping for ChannelGroups<G> {
    const RULE: GroupingRule = GroupingRule::ChannelGroups(G);
}

/// Normalise each channel on its own: [`InstanceNorm`].
#[derive(Clone, Copy, Debug, Default)]
pub struct EachChannel;

impl Grouping for EachChannel {
    const RULE: GroupingRule = GroupingRule::Channels;
}

/// Instance normalisation (PyTorch's `nn.InstanceNorm1d` on `[C, L]`, `nn.InstanceNorm2d`
/// on `[C, H, W]`, without running statistics as PyTorch's default): each channel of each
/// sample normalised with its own mean and variance, then, when `AFFINE`, scaled and shifted
/// per channel (PyTorch's `affine=True`; its default is `False`).
pub type InstanceNorm<S, const AFFINE: bool> = Norm<S, EachChannel, AFFINE>;

/// Layer normalisation over the last dimension of `S` (PyTorch's `nn.LayerNorm` of that
/// dimension): each row of it normalised with its own mean and variance, then scaled and
/// shifted per feature.
pub type LayerNorm<S> = Norm<S, LastDimension>;

/// Group normalisation (PyTorch's `nn.GroupNorm(G, C)`): the channels of each sample (its
/// first dimension, `[C]`, `[C, L]` or `[C, H, W]`) in `G` groups of consecutive channels,
/// each group normalised with its own mean and variance, then scaled and shifted per
/// channel.
pub type GroupNorm<S, const G: usize> = Norm<S, ChannelGroups<G>>;

/// A normalisation of each sample on its own, the same in training and inference whatever
/// the batch: its values grouped as `R` says ([`LayerNorm`], [`GroupNorm`],
/// [`InstanceNorm`]), each group normalised with its own mean and variance, then y = γ·x̂ + β
/// with a γ and β per feature or channel (`weight`, `bias`). Without `AFFINE` γ stays 1 and
/// β 0: they are no parameters (none to train, save or load).
#[derive(Debug)]
pub struct Norm<S: Sample, R: Grouping, const AFFINE: bool = true> {
    /// γ, one per feature or channel.
    pub weight: Vec<f32>,
    /// β, one per feature or channel.
    pub bias: Vec<f32>,
    pub weight_grad: Vec<f32>,
    pub bias_grad: Vec<f32>,
    pub eps: f32,
    _shape: PhantomData<fn() -> (S, R)>,
}

// By hand: the grouping is a marker, which need not be `Clone` itself.
impl<S: Sample, R: Grouping, const AFFINE: bool> Clone for Norm<S, R, AFFINE> {
    fn clone(&self) -> Self {
        Norm {
            weight: self.weight.clone(),
            bias: self.bias.clone(),
            weight_grad: self.weight_grad.clone(),
            bias_grad: self.bias_grad.clone(),
            eps: self.eps,
            _shape: PhantomData,
        }
    }
}

/// What a training pass of a [`Norm`] keeps: x̂, and 1/σ of every group.
#[derive(Default, Debug)]
pub struct NormCache {
    xhat: Vec<f32>,
    inv_std: Vec<f32>,
}

/// `(parameters, inner, groups)` of a sample of `shape` grouped by `rule`: the kernels
/// normalise blocks of `parameters / groups · inner` consecutive values, value i of block k
/// taking parameter `(k mod groups)·parameters/groups + i / inner`.
const fn norm_geometry(shape: &[usize], len: usize, rule: GroupingRule) -> (usize, usize, usize) {
    match rule {
        // Rows of the last dimension, a parameter per position in the row.
        GroupingRule::LastDimension => {
            let features = shape[shape.len() - 1];
            assert!(
                features > 0 && len.is_multiple_of(features),
                "LayerNorm's length must divide its sample"
            );
            (features, 1, 1)
        }
        GroupingRule::ChannelGroups(groups) => {
            let channels = shape[0];
            assert!(
                groups > 0 && channels > 0 && channels.is_multiple_of(groups),
                "GroupNorm's groups must divide its channels"
            );
            (channels, len / channels, groups)
        }
        GroupingRule::Channels => {
            let channels = shape[0];
            assert!(
                shape.len() >= 2 && channels > 0,
                "InstanceNorm takes [C, L] or [C, H, W] samples"
            );
            (channels, len / channels, channels)
        }
    }
}

impl<S: Sample, R: Grouping, const AFFINE: bool> Norm<S, R, AFFINE> {
    const GEOMETRY: (usize, usize, usize) = norm_geometry(S::SHAPE, S::LEN, R::RULE);

    /// γ and β: one per feature (LayerNorm) or channel (GroupNorm, InstanceNorm).
    pub const PARAMETERS: usize = Self::GEOMETRY.0;

    /// γ = 1, β = 0, as PyTorch initialises them.
    pub fn new(eps: f32) -> Self {
        let n = Self::PARAMETERS;
        Norm {
            weight: vec![1.0; n],
            bias: vec![0.0; n],
            weight_grad: vec![0.0; n],
            bias_grad: vec![0.0; n],
            eps,
            _shape: PhantomData,
        }
    }

    pub(super) fn run(&self, x: &[f32], y: &mut [f32], saved: Option<(&mut [f32], &mut [f32])>) {
        let (n, inner, groups) = Self::GEOMETRY;
        group_norm_forward(
            x,
            n,
            inner,
            groups,
            self.eps,
            &self.weight,
            &self.bias,
            y,
            saved,
        );
    }
}

impl<S: Sample, R: Grouping, const AFFINE: bool> Layer for Norm<S, R, AFFINE> {
    type In = S;
    type Out = S;
    type Cache = NormCache;
    type Workspace = ();
    const PARAMS: usize = if AFFINE { 2 * Self::PARAMETERS } else { 0 };
    const KIND: &'static str = match R::RULE {
        GroupingRule::LastDimension => "LayerNorm",
        GroupingRule::ChannelGroups(_) => "GroupNorm",
        GroupingRule::Channels if S::SHAPE.len() == 2 => "InstanceNorm1d",
        GroupingRule::Channels => "InstanceNorm2d",
    };

    /// `LayerNormalization` over the last axis; a group or instance normalisation as a
    /// layer normalisation of each group (the sample reshaped to `[groups, rest]`), then
    /// γ and β per channel (`GroupNormalization` is opset 18).
    fn to_onnx(&self, g: &mut OnnxGraph, path: &Path<'_>, input: &str) -> crate::Result<String> {
        let scope = path.to_string();
        let state = LayerState::of(self, path);
        let (n, _, groups) = Self::GEOMETRY;
        let eps = attr::float("epsilon", self.eps);
        let (weight, bias) = if AFFINE {
            (
                state.initializer(g, "weight")?,
                state.initializer(g, "bias")?,
            )
        } else {
            (
                g.const_f32(&scope, "weight", &[n], &vec![1.0; n]),
                g.const_f32(&scope, "bias", &[n], &vec![0.0; n]),
            )
        };
        if R::RULE == GroupingRule::LastDimension {
            let axis = attr::int("axis", -1);
            return Ok(g.op(
                "LayerNormalization",
                &scope,
                &[input, &weight, &bias],
                vec![axis, eps],
            ));
        }
        let per_group = S::LEN / groups;
        let grouped = g.reshape(&scope, input, &[groups, per_group]);
        let ones = g.const_f32(&scope, "ones", &[per_group], &vec![1.0; per_group]);
        let zeros = g.const_f32(&scope, "zeros", &[per_group], &vec![0.0; per_group]);
        let axis = attr::int("axis", -1);
        let normed = g.op(
            "LayerNormalization",
            &scope,
            &[&grouped, &ones, &zeros],
            vec![axis, eps],
        );
        let normed = g.reshape(&scope, &normed, S::SHAPE);
        // γ and β `[C]` as `[C, 1, …]` against the channels of a `[C, …]` sample.
        let axes: Vec<i64> = (1..S::SHAPE.len() as i64).collect();
        let weight = g.unsqueeze(&scope, &weight, &axes);
        let bias = g.unsqueeze(&scope, &bias, &axes);
        let scaled = g.op("Mul", &scope, &[&normed, &weight], vec![]);
        Ok(g.op("Add", &scope, &[&scaled, &bias], vec![]))
    }

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

    fn forward_train(&self, x: &Batch<S>, y: &mut Batch<S>, cache: &mut NormCache, _rng: &mut Rng) {
        let (n, inner, groups) = Self::GEOMETRY;
        y.set_rows(x.rows());
        cache.xhat.resize(x.as_slice().len(), 0.0);
        cache
            .inv_std
            .resize(x.as_slice().len() / (n / groups * inner), 0.0);
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
        cache: &mut NormCache,
        dy: &Batch<S>,
        dx: Option<&mut Batch<S>>,
    ) {
        let (n, inner, groups) = Self::GEOMETRY;
        let dx = dx.map(|dx| {
            dx.set_rows(x.rows());
            dx.as_mut_slice()
        });
        group_norm_backward(
            &cache.xhat,
            &cache.inv_std,
            dy.as_slice(),
            n,
            inner,
            groups,
            &self.weight,
            &mut self.weight_grad,
            &mut self.bias_grad,
            dx,
        );
    }

    fn walk<W: Walk<Self>>(walk: &mut W) {
        if !AFFINE {
            return;
        }
        walk.param(
            "weight",
            &[Self::PARAMETERS],
            Layout::RowMajor,
            |l| (&l.weight, &l.weight_grad),
            |l| (&mut l.weight, &mut l.weight_grad),
        );
        walk.param(
            "bias",
            &[Self::PARAMETERS],
            Layout::RowMajor,
            |l| (&l.bias, &l.bias_grad),
            |l| (&mut l.bias, &mut l.bias_grad),
        );
    }
}
