//! The [`Network`] trait: what a whole network adds to a [`Layer`] so that the generic
//! training, evaluation and inference of `train` can drive it: its output activation, its
//! buffers, and a backward pass from the logits that can report each top-level layer as
//! soon as its gradients are final. `network!` implements it for every network it
//! generates. [`NetworkExt`](super::NetworkExt) gives every network its API for generic
//! code.

use super::buffers::Buffers;
use crate::layers::{Layer, ParamVisitor};
use crate::loss::Head;
use crate::tensor::Batch;

/// A layer that can be trained on its own: it knows its output activation (so losses can
/// fuse with it) and owns the buffers that training steps and `predict` reuse.
pub trait Network: Layer {
    /// The output activation (`Linear` when the network ends in none).
    type Head: Head;

    /// The buffers kept between training steps and between inference calls.
    fn buffers(&mut self) -> &mut Buffers<Self>;

    /// The same buffers, shared: inference on `&self` uses their workspace.
    fn buffers_ref(&self) -> &Buffers<Self>;

    /// The head's input in the last `forward_train` (the output itself for a `Linear` head).
    fn logits<'a>(cache: &'a Self::Cache, output: &'a Batch<Self::Out>) -> &'a Batch<Self::Out>;

    /// The head's input in the last `forward_batch_into` through `ws`.
    fn infer_logits<'a>(
        ws: &'a Self::Workspace,
        output: &'a Batch<Self::Out>,
    ) -> &'a Batch<Self::Out>;

    /// Backward pass from ∂loss/∂logits, skipping the head, for the `x` and `output` of the
    /// last `forward_train`; input gradients are not computed.
    fn backward_from_logits(
        &mut self,
        x: &Batch<Self::In>,
        output: &Batch<Self::Out>,
        cache: &mut Self::Cache,
        dlogits: &Batch<Self::Out>,
    ) {
        self.backward_from_logits_reporting(x, output, cache, dlogits, &mut |_, _| {});
    }

    /// Parameters of each top-level layer, in order (they sum to `PARAMS`, and
    /// `visit_params` visits the layers' parameters in this order).
    const LAYER_PARAMS: &'static [usize];

    /// Visits top-level layer `k`'s parameters only.
    fn visit_layer_params<V: ParamVisitor>(&mut self, k: usize, visitor: &mut V);

    /// [`backward_from_logits`](Self::backward_from_logits), calling `done(self, k)` for
    /// every top-level layer k, from the last to the first, as soon as its gradients are
    /// final.
    fn backward_from_logits_reporting(
        &mut self,
        x: &Batch<Self::In>,
        output: &Batch<Self::Out>,
        cache: &mut Self::Cache,
        dlogits: &Batch<Self::Out>,
        done: &mut dyn FnMut(&mut Self, usize),
    );
}
