//! The data-parallel step over threads: when a batch is large enough to split, how it is
//! shared out between the network and copies of it (one thread each), and how the shares'
//! losses, gradients and running statistics are merged back into the network, in a fixed
//! order, before one update. Apart from the step on one thread (`serial`), whose passes
//! and update it reuses, because none of this exists when a step runs on one thread.

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::buffers::{Buffers, Shard, Share, StepBuffers};
use super::exchange::{exchanged, GradientExchange};
use super::flat::{set_buffers, Gather, GatherBuffers, MergeBuffers, Scatter};
use super::network::Network;
use super::serial::{forward_backward, update, ScaleGrads};
use crate::data::TargetBatch;
use crate::error::{Error, Result};
use crate::kernels;
use crate::layers::{Layer, Path};
use crate::loss::Loss;
use crate::optim::Optimizer;
use crate::tensor::Batch;
use crate::Rng;

/// Rows each thread must get before a step is split over threads.
const MIN_SHARD_ROWS: usize = 4;

/// A step is split only when its arithmetic (rows × FLOPs per sample) is at least this many
/// times the parameters, which a split copies to every other thread and whose gradients it
/// copies back: below, the copies cost more memory bandwidth than the threads save (a
/// 784-128-64-10 MLP at batch 64 does 128 FLOPs per parameter, and was slower split: 164 µs
/// against 149 on one thread; the seed CNN at batch 32 does about 800).
const SPLIT_MIN_FLOPS_PER_PARAM: usize = 256;

/// How many shares a step on `rows` rows of `N` is split into, one thread each: 1 (no
/// split) unless its arithmetic is large enough for the copies to pay (see
/// [`SPLIT_MIN_FLOPS_PER_PARAM`]) and every thread gets at least [`MIN_SHARD_ROWS`] rows.
pub(super) fn share_count<N: Layer>(rows: usize) -> usize {
    let work = rows.saturating_mul(N::FLOPS);
    if work >= SPLIT_MIN_FLOPS_PER_PARAM.saturating_mul(N::PARAMS) {
        kernels::threads().min(rows / MIN_SHARD_ROWS)
    } else {
        1
    }
}

impl<N: Layer> Share<N> {
    /// Takes `rows` of the step's batch and targets, and a seed from `rng`.
    fn take<T: TargetBatch + 'static>(
        &mut self,
        x: &Batch<N::In>,
        targets: &T,
        rows: core::ops::Range<usize>,
        rng: &mut Rng,
    ) {
        self.x.copy_rows_from(x, rows.clone());
        match self.targets.as_mut().and_then(|t| t.downcast_mut::<T>()) {
            Some(t) => targets.copy_rows_into(rows, t),
            None => {
                let mut t = T::default();
                targets.copy_rows_into(rows, &mut t);
                self.targets = Some(Box::new(t));
            }
        }
        self.seed = rng.next_u64();
    }

    /// Forward and backward passes of `net` on this share (see [`forward_backward`]).
    fn run<T, L>(&mut self, net: &mut N, step: &mut StepBuffers<N>, loss: &L)
    where
        N: Network,
        T: TargetBatch + 'static,
        L: Loss<N::Head, N::Out, T>,
    {
        if let Some(targets) = self.targets.as_ref().and_then(|t| t.downcast_ref::<T>()) {
            let mut rng = Rng::seed(self.seed);
            self.loss =
                kernels::as_shard(|| forward_backward(net, step, &mut rng, &self.x, targets, loss));
        }
    }
}

/// [`train_step`](super::train_step) with the batch split into `count` shares: the network
/// takes the first, a copy of it each other one.
#[allow(clippy::too_many_arguments)]
pub(super) fn parallel_step<N, T, L, O>(
    net: &mut N,
    st: &mut Buffers<N>,
    count: usize,
    x: &Batch<N::In>,
    targets: &T,
    loss: &L,
    opt: &mut O,
    exchange: Option<&mut dyn GradientExchange>,
) -> Result<f32>
where
    N: Network + Send,
    T: TargetBatch + 'static,
    L: Loss<N::Head, N::Out, T> + Sync,
    O: Optimizer + ?Sized,
{
    while st.shards.len() < count - 1 {
        st.shards.push(Shard {
            net: N::init(&mut Rng::seed(0)),
            share: Share::default(),
        });
    }
    let rows = x.rows();
    let range = |k: usize| rows * k / count..rows * (k + 1) / count;
    // Every copy starts the step as the network: parameters and buffers.
    st.flat.clear();
    net.visit_params(&Path::ROOT, &mut Gather::Values(&mut st.flat));
    st.saved_buffers.clear();
    net.visit_buffers(&Path::ROOT, &mut GatherBuffers(&mut st.saved_buffers));
    st.share.take(x, targets, range(0), &mut st.rng);
    let shards = &mut st.shards[..count - 1];
    for (k, shard) in shards.iter_mut().enumerate() {
        let mut offset = 0;
        shard
            .net
            .visit_params(&Path::ROOT, &mut Scatter::values(&st.flat, &mut offset));
        set_buffers(&mut shard.net, &st.saved_buffers);
        // And in the network's modes: frozen parts, batch normalisations on running statistics.
        st.frozen.apply_norm_modes(&mut shard.net);
        shard.net.buffers().frozen.clone_from(&st.frozen);
        shard.share.take(x, targets, range(k + 1), &mut st.rng);
    }
    let (share, step) = (&mut st.share, &mut st.step);
    kernels::join(|| share.run(net, step, loss), || run_shards(shards, loss));
    // Each share's loss and gradients are means over its rows: weigh them by its size.
    let weight = |share: &Share<N>| share.x.rows() as f32 / rows as f32;
    let mut value = st.share.loss as f64 * weight(&st.share) as f64;
    let losses = core::iter::once(st.share.loss).chain(shards.iter().map(|s| s.share.loss));
    // With an exchange every worker must take part in it, whatever its own loss: a
    // non-finite one is reported through the exchanged mean.
    if let (Some(bad), None) = (losses.clone().find(|l| !l.is_finite()), &exchange) {
        // The network's own backward pass may have moved its running statistics.
        set_buffers(net, &st.saved_buffers);
        return Err(Error::NonFiniteLoss { loss: bad });
    }
    st.outputs
        .copy_rows_from(&st.step.output, 0..st.step.output.rows());
    for shard in shards.iter_mut() {
        st.outputs.append(&shard.net.buffers().step.output);
    }
    net.visit_params(&Path::ROOT, &mut ScaleGrads(weight(&st.share)));
    let own = weight(&st.share);
    net.visit_buffers(
        &Path::ROOT,
        &mut MergeBuffers {
            flat: &[],
            offset: &mut 0,
            weight: own,
            own: true,
        },
    );
    for shard in shards.iter_mut() {
        let w = weight(&shard.share);
        value += shard.share.loss as f64 * w as f64;
        st.flat.clear();
        shard
            .net
            .visit_params(&Path::ROOT, &mut Gather::Grads(&mut st.flat));
        let mut offset = 0;
        net.visit_params(&Path::ROOT, &mut Scatter::grads(&st.flat, &mut offset, w));
        // Running statistics: the weighted mean of the copies' (for BatchNorm's mean,
        // exactly what the whole batch would have given).
        st.flat.clear();
        shard
            .net
            .visit_buffers(&Path::ROOT, &mut GatherBuffers(&mut st.flat));
        let mut offset = 0;
        net.visit_buffers(
            &Path::ROOT,
            &mut MergeBuffers {
                flat: &st.flat,
                offset: &mut offset,
                weight: w,
                own: false,
            },
        );
    }
    let value = match exchange {
        Some(ex) => match exchanged(net, &mut st.flat, &mut st.means, ex, value as f32) {
            Ok(v) => v as f64,
            Err(e) => {
                set_buffers(net, &st.saved_buffers);
                return Err(e);
            }
        },
        None => value,
    };
    if let Err(e) = update(net, opt) {
        set_buffers(net, &st.saved_buffers);
        return Err(e);
    }
    Ok(value as f32)
}

/// Runs the shards' forward and backward passes, one thread each.
fn run_shards<N, T, L>(shards: &mut [Shard<N>], loss: &L)
where
    N: Network + Send,
    T: TargetBatch + 'static,
    L: Loss<N::Head, N::Out, T> + Sync,
{
    match shards {
        [] => {}
        [shard] => {
            let mut step = core::mem::take(&mut shard.net.buffers().step);
            shard.share.run(&mut shard.net, &mut step, loss);
            shard.net.buffers().step = step;
        }
        _ => {
            let (a, b) = shards.split_at_mut(shards.len() / 2);
            kernels::join(|| run_shards(a, loss), || run_shards(b, loss));
        }
    }
}
