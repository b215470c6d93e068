//! The public training step, [`train_step`] and [`train_step_exchanging`]: it checks the
//! batch, takes the network's buffers, and runs the step either on one thread (`serial`)
//! or split over threads (`parallel`), handing the exchange, if any, to either.

use super::exchange::GradientExchange;
use super::network::Network;
use super::parallel::{parallel_step, share_count};
use super::serial::step_with;
use crate::data::TargetBatch;
use crate::error::{Error, Result};
use crate::kernels::FlushDenormals;
use crate::loss::Loss;
use crate::optim::Optimizer;
use crate::tensor::Batch;

/// One step: forward, loss, backward, optimizer update. Returns the batch's mean loss.
///
/// A batch large enough is split across the threads (`kernels::threads`): each runs the
/// forward and backward passes on its share with a copy of the network and buffers of its
/// own, the gradients are summed in a fixed order (so a run is reproducible for a given
/// thread count), and one optimizer update follows. Subnormals are flushed while it runs
/// (`kernels::FlushDenormals`).
///
/// On an error (empty batch, row mismatch, a token id out of the vocabulary, NaN or
/// infinite loss, invalid hyper-parameter)
/// the parameters, buffers and the optimizer state are left as they were.
pub fn train_step<N, T, L, O>(
    net: &mut N,
    x: &Batch<N::In>,
    targets: &T,
    loss: &L,
    opt: &mut O,
) -> Result<f32>
where
    N: Network + Send,
    T: TargetBatch + 'static,
    L: Loss<N::Head, N::Out, T> + Sync,
    O: Optimizer + ?Sized,
{
    train_step_exchanging(net, x, targets, loss, opt, None)
}

/// [`train_step`] on this worker's share `x` of a global batch, the gradients, running
/// statistics and loss averaged with the other workers' through `exchange` before the
/// update (so every worker's update is the same); returns the global batch's mean loss.
/// With `None`, exactly [`train_step`]. Shares should be equal in size: each worker's
/// mean counts alike.
pub fn train_step_exchanging<N, T, L, O>(
    net: &mut N,
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
    let _flush = FlushDenormals::new();
    check_rows(x.rows(), targets.rows())?;
    net.check_input(x.as_slice())?;
    let shards = share_count::<N>(x.rows());
    let mut state = core::mem::take(net.buffers());
    // The generated backward pass reads how far down it has to go from the network's own
    // buffers, which the step holds meanwhile.
    net.buffers().frozen = state.frozen.clone();
    state.last_split = shards >= 2;
    let result = if shards >= 2 {
        parallel_step(net, &mut state, shards, x, targets, loss, opt, exchange)
    } else {
        step_with(net, &mut state, x, targets, loss, opt, exchange)
    };
    *net.buffers() = state;
    result
}

fn check_rows(inputs: usize, targets: usize) -> Result<()> {
    if inputs == 0 {
        return Err(Error::EmptyBatch);
    }
    if inputs != targets {
        return Err(Error::RowMismatch { inputs, targets });
    }
    Ok(())
}
