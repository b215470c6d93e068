//! The [`Network`] trait: what a whole network adds to a [`Layer`] so that the generic
//! training, evaluation and inference of `train` can drive it: its output activation, its
//! buffers, and a backward pass from the logits that can report each top-level layer as
//! soon as its gradients are final. `network!` implements it for every network it
//! generates. Its provided methods are the network's API for generic code
//! (`fn f<N: Network>(net: &N)`): inference, training, evaluation, saving, and the
//! gradients and outputs of the last step.

use super::buffers::Buffers;
use super::eval::Evaluation;
use crate::data::{Dataset, Target, TargetBatch};
use crate::error::Result;
use crate::io::named::{self, NamedBuffer, NamedTensor};
use crate::layers::{Layer, ParamVisitor};
use crate::loss::{Head, Loss};
use crate::optim::Optimizer;
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

    /// The output for one sample; allocates nothing once the network's workspace has grown
    /// (at the first call).
    fn forward(&self, x: &Self::In) -> Self::Out {
        super::forward(self, x)
    }

    /// The outputs for a batch of any size, as a new batch.
    fn predict(&self, x: &Batch<Self::In>) -> Batch<Self::Out> {
        super::predict(self, x)
    }

    /// The outputs for a batch into `y`: allocates nothing once `y` and the network's
    /// workspace have grown to the batch size.
    fn predict_into(&self, x: &Batch<Self::In>, y: &mut Batch<Self::Out>) {
        super::predict_into(self, x, y)
    }

    /// One training step (forward, loss, backward, update); the mean loss.
    fn train_step<T, L, O>(
        &mut self,
        x: &Batch<Self::In>,
        targets: &T,
        loss: &L,
        optimizer: &mut O,
    ) -> Result<f32>
    where
        Self: Send,
        T: TargetBatch + 'static,
        L: Loss<Self::Head, Self::Out, T> + Sync,
        O: Optimizer + ?Sized,
    {
        super::train_step(self, x, targets, loss, optimizer)
    }

    /// The fraction of `data` predicted right.
    fn accuracy<Y: Target>(&self, data: &Dataset<Self::In, Y>) -> Result<f32> {
        super::accuracy(self, data)
    }

    /// The mean loss and accuracy over `data`.
    fn evaluate<Y, L>(&self, data: &Dataset<Self::In, Y>, loss: &L) -> Result<Evaluation>
    where
        Y: Target,
        L: Loss<Self::Head, Self::Out, Y::Batch>,
    {
        super::evaluate(self, data, loss)
    }

    /// Writes the parameters and buffers to a safetensors file, with PyTorch's names and
    /// layouts.
    fn save(&self, path: impl AsRef<std::path::Path>) -> Result<()> {
        crate::io::safetensors::save(self, path)
    }

    /// The parameters and buffers as the bytes of a safetensors file.
    fn to_safetensors_bytes(&self) -> Result<Vec<u8>> {
        crate::io::safetensors::to_bytes(self)
    }

    /// Every parameter tensor by PyTorch name (`fc1.weight`), in PyTorch's layout: what
    /// PyTorch's `named_parameters()` gives.
    fn named_parameters(&self) -> Vec<NamedTensor> {
        named::named_parameters(self)
    }

    /// The gradient of every parameter from the last training step, by PyTorch name and in
    /// PyTorch's layout: what PyTorch's `param.grad` holds after `loss.backward()`. (After
    /// an update, the gradients are still the step's: an optimizer does not clear them.)
    fn named_gradients(&self) -> Vec<NamedTensor> {
        named::named_gradients(self)
    }

    /// Every buffer (running statistics) by PyTorch name.
    fn named_buffers(&self) -> Vec<NamedBuffer> {
        named::named_buffers(self)
    }

    /// The network's outputs in the last training step, one row per row of its batch
    /// (after the output activation, as inference gives them).
    fn last_outputs(&self) -> &Batch<Self::Out> {
        self.buffers_ref().last_outputs()
    }
}
