//! Gradient exchange across processes: the [`GradientExchange`] a data-parallel run over
//! several processes implements (the `mpi` feature's `distributed::MpiExchange`), and the
//! steps' side of it: handing over gradients as the backward pass finishes them (a step on
//! one thread) or all at once (a step merged from its thread shares), then writing the
//! workers' means back before the update. Kept apart from the steps themselves, which only
//! call into it when they are given an exchange.

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::buffers::Buffers;
use super::flat::{Gather, GatherBuffers, Scatter, ScatterBuffers};
use super::network::Network;
use crate::data::TargetBatch;
use crate::error::{Error, Result};
use crate::layers::Path;
use crate::loss::Loss;
use crate::tensor::Batch;

/// Hands over gradients the backward pass has finished: `(end, values)` are the values
/// `[end − values.len(), end)` of the flat gradient vector (see
/// [`GradientExchange::exchange_during`]).
pub type Ready<'a> = dyn FnMut(usize, &[f32]) + 'a;

/// Runs a backward pass that reports finished gradients through a [`Ready`], then writes
/// the running statistics and the loss into the vector.
pub type BackwardPass<'a> = dyn FnMut(&mut Ready<'_>, &mut Vec<f32>) + 'a;

/// Combines a training step's gradients with those of the other workers of a data-parallel
/// run before the optimizer's update (the `mpi` feature's `distributed::MpiExchange` over
/// MPI): every worker computes gradients on its share of the global batch, and all of them
/// then update with the same mean.
pub trait GradientExchange {
    /// This worker's index among [`workers`](Self::workers).
    fn worker(&self) -> usize;
    /// How many workers share each global batch.
    fn workers(&self) -> usize;
    /// Replaces `grads` (every gradient, in `visit_params` order), `buffers` (running
    /// statistics, in `visit_buffers` order) and `loss` (this worker's mean loss, NaN when
    /// it was not finite) by their means over the workers. Called once per step by every
    /// worker, in the same order; an error (a lost worker, a timeout) fails the step.
    fn exchange(&mut self, grads: &mut [f32], buffers: &mut [f32], loss: &mut f32) -> Result<()>;
    /// Compares `digest` (see [`weights_digest`](super::weights_digest)) with every other
    /// worker's: an error on every worker when any differs. Called by `fit` at each epoch's end.
    fn check_in_sync(&mut self, digest: u64) -> Result<()>;

    /// The exchange overlapped with the backward pass: `backward(ready, tail)` runs it,
    /// calling `ready(end, values)` as each top-level layer's gradients become final — the
    /// values `[end − values.len(), end)` of the `grads` gradients in `visit_params` order,
    /// from the last layer to the first — and then writes the running statistics and the
    /// loss into `tail`. `means` becomes the mean over the workers of the gradients
    /// followed by the tail. An exchange may start sending gradients from within `ready`;
    /// this default gathers everything and calls [`exchange`](Self::exchange).
    fn exchange_during(
        &mut self,
        grads: usize,
        backward: &mut BackwardPass<'_>,
        means: &mut Vec<f32>,
    ) -> Result<()> {
        means.clear();
        means.resize(grads, 0.0);
        let mut tail = Vec::new();
        backward(
            &mut |end, values| means[end - values.len()..end].copy_from_slice(values),
            &mut tail,
        );
        let loss_at = tail.len().saturating_sub(1);
        let (buffers, loss) = tail.split_at_mut(loss_at);
        let mut loss_value = loss.first().copied().unwrap_or(f32::NAN);
        self.exchange(&mut means[..], buffers, &mut loss_value)?;
        means.extend_from_slice(buffers);
        means.push(loss_value);
        Ok(())
    }
}

/// Forward, loss, and the backward pass with each layer's gradients handed to the exchange
/// as soon as they are final; then the means written back. Returns the mean loss, an
/// error when it is not finite (on any worker). The backward pass runs whatever the loss,
/// so that every worker makes the same exchanges in the same order.
pub(super) fn overlapped_step<N, T, L>(
    net: &mut N,
    st: &mut Buffers<N>,
    ex: &mut dyn GradientExchange,
    x: &Batch<N::In>,
    targets: &T,
    loss: &L,
) -> Result<f32>
where
    N: Network,
    T: TargetBatch,
    L: Loss<N::Head, N::Out, T>,
{
    let step = &mut st.step;
    net.forward_train(x, &mut step.output, &mut step.cache, &mut st.rng);
    let local = loss.loss_and_grad(
        N::logits(&step.cache, &step.output),
        &step.output,
        targets,
        &mut step.dlogits,
    );
    let flat = &mut st.flat;
    let mut means = core::mem::take(&mut st.means);
    let result = ex.exchange_during(
        N::PARAMS,
        &mut |ready, tail| {
            let mut end = N::PARAMS;
            net.backward_from_logits_reporting(
                x,
                &step.output,
                &mut step.cache,
                &step.dlogits,
                &mut |net, k| {
                    let len = N::LAYER_PARAMS[k];
                    if len == 0 {
                        return;
                    }
                    flat.clear();
                    net.visit_layer_params(k, &mut Gather::Grads(flat));
                    ready(end, flat);
                    end -= len;
                },
            );
            buffers_and_loss(net, local, tail);
        },
        &mut means,
    );
    let value = result.and_then(|()| apply_means(net, &means));
    st.means = means;
    value
}

/// The tail of an exchange: the running statistics, then the loss (NaN when not finite).
fn buffers_and_loss<N: Network>(net: &mut N, local: f32, tail: &mut Vec<f32>) {
    tail.clear();
    net.visit_buffers(&Path::ROOT, &mut GatherBuffers(tail));
    tail.push(if local.is_finite() { local } else { f32::NAN });
}

/// Writes exchanged means (gradients, running statistics, loss) back into the network and
/// returns the mean loss; an error, changing nothing, when it is not finite.
fn apply_means<N: Network>(net: &mut N, means: &[f32]) -> Result<f32> {
    let loss = means.last().copied().unwrap_or(f32::NAN);
    if !loss.is_finite() {
        return Err(Error::NonFiniteLoss { loss });
    }
    net.visit_params(&Path::ROOT, &mut Scatter::set_grads(means, &mut 0));
    let buffers = &means[N::PARAMS..means.len() - 1];
    net.visit_buffers(&Path::ROOT, &mut ScatterBuffers(buffers, &mut 0));
    Ok(loss)
}

/// Exchanges gradients that are all final already (a step merged from its thread shares):
/// handed over at once, then the means written back.
pub(super) fn exchanged<N: Network>(
    net: &mut N,
    flat: &mut Vec<f32>,
    means: &mut Vec<f32>,
    ex: &mut dyn GradientExchange,
    local: f32,
) -> Result<f32> {
    ex.exchange_during(
        N::PARAMS,
        &mut |ready, tail| {
            flat.clear();
            net.visit_params(&Path::ROOT, &mut Gather::Grads(flat));
            ready(N::PARAMS, flat);
            buffers_and_loss(net, local, tail);
        },
        means,
    )?;
    apply_means(net, means)
}
