//! [`NetworkExt`]: every network's API for code generic over networks
//! (`fn f<N: Network>(net: &N)`, with the prelude in scope): inference, training,
//! evaluation and saving, and the gradients and outputs of the last step. The methods
//! `network!` generates on each network are the same calls with concrete types (so that type
//! errors name plain dimensions); these are for code that names no network type.

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::eval::{self, Evaluation};
use super::freeze;
use super::network::Network;
use super::{infer, step};
use crate::data::{Dataset, Target, TargetBatch};
use crate::error::Result;
use crate::io::named::{self, NamedBuffer, NamedTensor};
use crate::layers::Layer;
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

    #[cfg(feature = "std")]
    /// Writes the parameters and buffers to a safetensors file, with PyTorch's names and
    /// layouts.
    fn save(&self, path: impl AsRef<std::path::Path>) -> Result<()> {
        crate::io::safetensors::save(self, path)
    }

    /// The parameters and buffers as the bytes of a safetensors file.
    fn to_safetensors_bytes(&self) -> Result<Vec<u8>> {
        crate::io::safetensors::to_bytes(self)
    }

    #[cfg(feature = "std")]
    /// Writes the network as an ONNX model (see [`crate::io::onnx`]): opset 17, input
    /// `input` and output `output` with a symbolic batch dimension, initializers named as
    /// the state dict. A network of several inputs (or outputs) has one input (or output)
    /// of their values side by side, as its `Pair` samples hold them. A layer kind without an
    /// export is `Error::OnnxUnsupported`.
    fn save_onnx(&self, path: impl AsRef<std::path::Path>) -> Result<()> {
        crate::io::onnx::save(self, path)
    }

    /// The network as the bytes of an ONNX model (see [`Self::save_onnx`]).
    fn to_onnx_bytes(&self) -> Result<Vec<u8>> {
        crate::io::onnx::to_bytes(self)
    }

    /// The network as an ONNX model (see [`Self::save_onnx`]).
    fn to_onnx_model(&self) -> Result<nn_onnx::ModelProto> {
        crate::io::onnx::to_model(self)
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

    /// Freezes the parameters at or under the path `prefix` (a top-level layer `"0"`, a
    /// named block `"body"`, one tensor `"3.weight"`; `""` for all) for fine-tuning, as
    /// Keras's `layer.trainable = False`: training steps leave them as they are (no update,
    /// the optimizer's state for them kept), the backward pass stops above the first
    /// top-level layer with anything left to train, and the batch normalisations under
    /// `prefix` normalise with their running statistics and stop updating them. Returns the
    /// number of scalars frozen; [`Error::UnknownPrefix`](crate::Error::UnknownPrefix) when
    /// nothing lies under `prefix`.
    fn freeze(&mut self, prefix: &str) -> Result<usize> {
        freeze::freeze(self, prefix)
    }

    /// Makes what lies at or under `prefix` trainable again (`""`: everything), its batch
    /// normalisations back on batch statistics; returns the number of scalars thawed. A part
    /// of a frozen block cannot be thawed alone
    /// ([`Error::FrozenBlock`](crate::Error::FrozenBlock)).
    fn unfreeze(&mut self, prefix: &str) -> Result<usize> {
        freeze::unfreeze(self, prefix)
    }

    /// The number of scalars training updates: all of them but the frozen.
    fn trainable_params(&self) -> usize {
        freeze::trainable_params(self)
    }

    /// Makes the batch normalisations at or under `prefix` normalise with their running
    /// statistics in training and stop updating them (`eval` true: PyTorch's `bn.eval()`
    /// while the rest trains), or go back to batch statistics (`eval` false), without
    /// freezing their parameters. Returns how many were set;
    /// [`Error::UnknownPrefix`](crate::Error::UnknownPrefix) when there are none.
    fn batch_norm_eval(&mut self, prefix: &str, eval: bool) -> Result<usize> {
        freeze::batch_norm_eval(self, prefix, eval)
    }

    #[cfg(feature = "std")]
    /// Loads a safetensors file whose names differ from the network's (a prefix to strip
    /// or add, renames), or that holds only part of it (`non_strict`): see
    /// [`LoadOptions`](crate::io::safetensors::LoadOptions). The report lists what was
    /// loaded, what the file lacked and what it held beyond the network.
    fn load_with(
        &mut self,
        path: impl AsRef<std::path::Path>,
        options: &crate::io::safetensors::LoadOptions,
    ) -> Result<crate::io::safetensors::LoadReport> {
        crate::io::safetensors::load_with(self, path, options)
    }

    /// Takes the tensors of another network `from` (of any type) as `options` map their names,
    /// as if `from` had been saved and loaded with them.
    fn transfer_from<M: Layer>(
        &mut self,
        from: &M,
        options: &crate::io::safetensors::LoadOptions,
    ) -> Result<crate::io::safetensors::LoadReport> {
        let bytes = crate::io::safetensors::to_bytes(from)?;
        crate::io::safetensors::load_bytes_with(self, &bytes, options)
    }

    /// Transfer learning in one line: takes every tensor at or under `body` (a path:
    /// `"0"`, `"features"`) from the trained network `from`, under the same names and
    /// shapes, and keeps this network's own initialisation everywhere else (its new
    /// classifier head). The report lists what was taken;
    /// [`Error::UnknownPrefix`](crate::Error::UnknownPrefix) when nothing was.
    fn take_body_from<M: Layer>(
        &mut self,
        from: &M,
        body: &str,
    ) -> Result<crate::io::safetensors::LoadReport> {
        let options = crate::io::safetensors::LoadOptions::new()
            .only(body)
            .non_strict();
        let report = self.transfer_from(from, &options)?;
        if report.loaded.is_empty() {
            return Err(freeze::unknown_prefix(
                self,
                body,
                "tensor shared with the other network",
            ));
        }
        Ok(report)
    }

    /// Every tensor of the network's state by PyTorch name, with its shape, and whether it
    /// is a trainable parameter, a frozen one or a buffer: what PyTorch's
    /// `{k: v.shape for k, v in model.state_dict().items()}` lists.
    fn state_dict(&self) -> Vec<named::StateEntry> {
        let frozen = self.buffers_ref().frozen();
        let params = self
            .named_parameters()
            .into_iter()
            .map(|t| named::StateEntry {
                kind: if frozen.covers(&t.name) {
                    named::StateKind::Frozen
                } else {
                    named::StateKind::Parameter
                },
                name: t.name,
                shape: t.shape,
            });
        let buffers = self.named_buffers().into_iter().map(|b| match b {
            NamedBuffer::Values(t) => named::StateEntry {
                name: t.name,
                shape: t.shape,
                kind: named::StateKind::Buffer,
            },
            NamedBuffer::Count { name, .. } => named::StateEntry {
                name,
                shape: Vec::new(),
                kind: named::StateKind::Buffer,
            },
        });
        params.chain(buffers).collect()
    }

    /// The network's outputs in the last training step, one row per row of its batch
    /// (after the output activation, as inference gives them).
    fn last_outputs(&self) -> &Batch<Self::Out> {
        self.buffers_ref().last_outputs()
    }
}

impl<N: Network> NetworkExt for N {}
