//! Inference through `&self`: one sample, or a batch into the caller's output batch or a new
//! one, in the network's own workspace (see [`Buffers`](super::Buffers)).

use super::network::Network;
use crate::error::Result;
use crate::kernels::FlushDenormals;
use crate::tensor::{Batch, Sample};
#[cfg(feature = "std")]
use std::sync::TryLockError;

/// Runs `f` in the network's inference workspace, or in a fresh one when another thread is
/// using it (a workspace is scratch: nothing in it outlives a call, so one left behind by a
/// panic is as good as new).
#[cfg(feature = "std")]
fn in_workspace<N: Network, R>(net: &N, f: impl FnOnce(&mut N::Workspace) -> R) -> R {
    match net.buffers_ref().inference.try_lock() {
        Ok(mut ws) => f(&mut ws),
        Err(TryLockError::Poisoned(poisoned)) => f(&mut poisoned.into_inner()),
        Err(TryLockError::WouldBlock) => f(&mut N::Workspace::default()),
    }
}

/// [`in_workspace`] without `std`: a spin lock, never waited for either.
#[cfg(not(feature = "std"))]
fn in_workspace<N: Network, R>(net: &N, f: impl FnOnce(&mut N::Workspace) -> R) -> R {
    match net.buffers_ref().inference.try_lock() {
        Some(mut ws) => f(&mut ws),
        None => f(&mut N::Workspace::default()),
    }
}

/// The output for one sample, returned by value; allocates nothing once the network's
/// workspace has grown to what its layers need (at the first call).
pub fn forward<N: Network>(net: &N, x: &N::In) -> N::Out {
    let _flush = FlushDenormals::new();
    let mut y = <N::Out as Sample>::zeros();
    if N::SAMPLE_WORKSPACE {
        in_workspace(net, |ws| net.forward_into(x, &mut y, ws));
    } else {
        // Nothing grows in it: an empty one costs less than taking the shared one.
        net.forward_into(x, &mut y, &mut N::Workspace::default());
    }
    y
}

/// The outputs for a batch, into `y` (resized to the batch): allocates nothing once `y` and
/// the network's workspace have grown to the batch size.
pub fn predict_into<N: Network>(net: &N, x: &Batch<N::In>, y: &mut Batch<N::Out>) {
    let _flush = FlushDenormals::new();
    in_workspace(net, |ws| net.forward_batch_into(x, y, ws));
}

/// The outputs for a batch, as a new batch.
pub fn predict<N: Network>(net: &N, x: &Batch<N::In>) -> Batch<N::Out> {
    let mut y = Batch::default();
    predict_into(net, x, &mut y);
    y
}

/// [`predict`], under PyTorch's name for it.
pub fn forward_batch<N: Network>(net: &N, x: &Batch<N::In>) -> Batch<N::Out> {
    predict(net, x)
}

/// [`forward`], after checking the input (a token id out of the vocabulary is
/// [`Error::TokenOutOfVocabulary`](crate::Error::TokenOutOfVocabulary)).
pub fn try_forward<N: Network>(net: &N, x: &N::In) -> Result<N::Out> {
    net.check_input(x.as_slice())?;
    Ok(forward(net, x))
}

/// [`predict_into`], after checking the input; `y` is untouched on an error.
pub fn try_predict_into<N: Network>(
    net: &N,
    x: &Batch<N::In>,
    y: &mut Batch<N::Out>,
) -> Result<()> {
    net.check_input(x.as_slice())?;
    predict_into(net, x, y);
    Ok(())
}

/// [`predict`], after checking the input.
pub fn try_predict<N: Network>(net: &N, x: &Batch<N::In>) -> Result<Batch<N::Out>> {
    net.check_input(x.as_slice())?;
    Ok(predict(net, x))
}
