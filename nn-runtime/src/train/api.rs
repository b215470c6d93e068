//! [`NetworkExt`]: every network's API for code generic over networks
//! (`fn f<N: Network>(net: &N)`, with the prelude in scope): inference, training,
//! evaluation and saving, and the gradients and outputs of the last step. The methods
//! `network!` generates on each network are the same calls with concrete types (so that type
//! errors name plain dimensions); these are for code that names no network type.

use super::eval::{self, Evaluation};
use super::network::Network;
use super::{infer, step};
use crate::data::{Dataset, Target, TargetBatch};
use crate::error::Result;
use crate::io::named::{self, NamedBuffer, NamedTensor};
use crate::loss::Loss;
use crate::optim::Optimizer;
use crate::tensor::Batch;

/// What every [`Network`] can do, for code generic over networks.
pub trait NetworkExt: Network {
    /// The output for one sample; allocates nothing once the network's workspace has grown
    /// (at the first call).
    fn forward(&self, x: &Self::In) -> Self::Out {
        infer::forward(self, x)
    }

    /// The outputs for a batch of any size, as a new batch.
    fn predict(&self, x: &Batch<Self::In>) -> Batch<Self::Out> {
        infer::predict(self, x)
    }

    /// The outputs for a batch into `y`: allocates nothing once `y` and the network's
    /// workspace have grown to the batch size.
    fn predict_into(&self, x: &Batch<Self::In>, y: &mut Batch<Self::Out>) {
        infer::predict_into(self, x, y)
    }

    /// [`Self::forward`], after checking the input: a token id out of the vocabulary is
    /// [`Error::TokenOutOfVocabulary`](crate::Error::TokenOutOfVocabulary), where the
    /// unchecked pass gives NaN for it. (A network over floats has nothing to check.)
    fn try_forward(&self, x: &Self::In) -> Result<Self::Out> {
        infer::try_forward(self, x)
    }

    /// [`Self::predict`], after checking the input.
    fn try_predict(&self, x: &Batch<Self::In>) -> Result<Batch<Self::Out>> {
        infer::try_predict(self, x)
    }

    /// [`Self::predict_into`], after checking the input; `y` is untouched on an error.
    fn try_predict_into(&self, x: &Batch<Self::In>, y: &mut Batch<Self::Out>) -> Result<()> {
        infer::try_predict_into(self, x, y)
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
        step::train_step(self, x, targets, loss, optimizer)
    }

    /// The fraction of `data` predicted right.
    fn accuracy<Y: Target>(&self, data: &Dataset<Self::In, Y>) -> Result<f32> {
        eval::accuracy(self, data)
    }

    /// The mean loss and accuracy over `data`.
    fn evaluate<Y, L>(&self, data: &Dataset<Self::In, Y>, loss: &L) -> Result<Evaluation>
    where
        Y: Target,
        L: Loss<Self::Head, Self::Out, Y::Batch>,
    {
        eval::evaluate(self, data, loss)
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

impl<N: Network> NetworkExt for N {}
