//! Inference: one sample, a batch into a new output batch, or a batch through the network's
//! own reusable buffers (`predict`).

use super::network::Network;
use crate::kernels::FlushDenormals;
use crate::layers::Layer;
use crate::tensor::{Batch, Sample};

/// Inference on a batch through the network's own reusable buffers: allocation-free once
/// they have grown to the batch size.
pub fn predict<'n, N: Network>(net: &'n mut N, x: &Batch<N::In>) -> &'n Batch<N::Out> {
    let _flush = FlushDenormals::new();
    let mut state = std::mem::take(net.buffers());
    net.forward_batch_into(x, &mut state.predicted, &mut state.workspace);
    *net.buffers() = state;
    &net.buffers().predicted
}

/// Inference on a batch into a new output batch.
pub fn forward_batch<N: Layer>(net: &N, x: &Batch<N::In>) -> Batch<N::Out> {
    let _flush = FlushDenormals::new();
    let mut y = Batch::default();
    net.forward_batch_into(x, &mut y, &mut N::Workspace::default());
    y
}

/// Forward of one sample, returned by value (on the stack: no heap allocation).
pub fn forward<N: Layer>(net: &N, x: &N::In) -> N::Out {
    let _flush = FlushDenormals::new();
    let mut y = <N::Out as Sample>::zeros();
    net.forward_into(x, &mut y);
    y
}
