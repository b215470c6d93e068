//! The [`Buffers`] a network keeps between calls (a field of every network): the training
//! step's, inference's, and the shares and copies of a data-parallel step. Only what they
//! hold and how they start is here; the training steps and inference fill them, which is
//! why the fields are visible to the rest of `train`.

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::freeze::Frozen;
use crate::layers::Layer;
use crate::tensor::Batch;
use crate::Rng;
use core::any::Any;
#[cfg(not(feature = "std"))]
use spin::Mutex;
#[cfg(feature = "std")]
use std::sync::Mutex;

/// Buffers a network reuses: the training step's (cache, output, gradient of the logits)
/// and inference's (its workspace), each allocated on first use and again only when a
/// larger batch arrives.
pub struct Buffers<N: Layer> {
    /// The generator of the training pass's randomness (dropout masks), seeded from the
    /// generator the network was initialised with.
    pub(super) rng: Rng,
    pub(super) step: StepBuffers<N>,
    /// Inference's workspace (intermediate outputs, each layer's scratch), which `forward`,
    /// `predict` and `forward_batch` use through `&self`: one caller at a time; a caller
    /// that finds it in use computes in a fresh one.
    pub(super) inference: Mutex<N::Workspace>,
    /// Data-parallel training: the network's own share of the batch, and one copy of the
    /// network with its share for every other thread, made on the first parallel step.
    pub(super) share: Share<N>,
    pub(super) shards: Vec<Shard<N>>,
    /// Parameters, gradients or buffers as one flat vector, copied between the network and
    /// its copies; and the buffers as the step found them, restored if it fails.
    pub(super) flat: Vec<f32>,
    pub(super) saved_buffers: Vec<f32>,
    /// A distributed step's means over the workers: gradients, buffers, loss.
    pub(super) means: Vec<f32>,
    /// The outputs of the last split step, gathered from its shares (a step on one thread
    /// leaves them in `step.output`).
    pub(super) outputs: Batch<N::Out>,
    pub(super) last_split: bool,
    /// The parts of the network frozen for fine-tuning.
    pub(super) frozen: Frozen,
}

/// What one training pass writes: the cache, the output and the gradient of the logits.
pub(super) struct StepBuffers<N: Layer> {
    pub(super) cache: N::Cache,
    pub(super) output: Batch<N::Out>,
    pub(super) dlogits: Batch<N::Out>,
}

impl<N: Layer> Default for StepBuffers<N> {
    fn default() -> Self {
        StepBuffers {
            cache: N::Cache::default(),
            output: Batch::default(),
            dlogits: Batch::default(),
        }
    }
}

/// One thread's share of a data-parallel step: its rows of the batch and of the targets
/// (of the step's target type, which the network's type does not name), the seed of its
/// dropout masks, and its loss.
pub(super) struct Share<N: Layer> {
    pub(super) x: Batch<N::In>,
    pub(super) targets: Option<Box<dyn Any + Send + Sync>>,
    pub(super) seed: u64,
    pub(super) loss: f32,
}

impl<N: Layer> Default for Share<N> {
    fn default() -> Self {
        Share {
            x: Batch::default(),
            targets: None,
            seed: 0,
            loss: 0.0,
        }
    }
}

/// Another thread's copy of the network, and its share.
pub(super) struct Shard<N: Layer> {
    pub(super) net: N,
    pub(super) share: Share<N>,
}

impl<N: Layer> Buffers<N> {
    /// Buffers whose training generator is seeded from `rng`.
    pub fn seeded(rng: &mut Rng) -> Self {
        Buffers {
            rng: Rng::seed(rng.next_u64()),
            ..Self::default()
        }
    }

    /// Restarts the training generator from `seed`.
    pub fn reseed(&mut self, seed: u64) {
        self.rng = Rng::seed(seed);
    }

    /// The training generator (dropout masks), whose state a resumable checkpoint saves.
    pub fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }

    /// The parts of the network frozen for fine-tuning (`NetworkExt::freeze`).
    pub fn frozen(&self) -> &Frozen {
        &self.frozen
    }

    /// The network's outputs in the last training step, for every row of its batch.
    pub fn last_outputs(&self) -> &Batch<N::Out> {
        if self.last_split {
            &self.outputs
        } else {
            &self.step.output
        }
    }
}

impl<N: Layer> Default for Buffers<N> {
    fn default() -> Self {
        Buffers {
            rng: Rng::seed(0),
            step: StepBuffers::default(),
            inference: Mutex::default(),
            share: Share::default(),
            shards: Vec::new(),
            flat: Vec::new(),
            saved_buffers: Vec::new(),
            means: Vec::new(),
            outputs: Batch::default(),
            last_split: false,
            frozen: Frozen::default(),
        }
    }
}

impl<N: Layer> core::fmt::Debug for Buffers<N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Buffers")
    }
}
