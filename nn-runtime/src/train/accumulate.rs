//! Gradient accumulation: the optimizer's update from the mean gradient of `k` batches, for
//! an effective batch `k` times larger than memory (or a step's latency) allows — PyTorch's
//! `loss / k; loss.backward()` over k batches, then `optimizer.step()`.

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::flat::{Gather, Scatter};
use super::network::Network;
use super::serial::update;
use super::step::train_step;
use crate::data::TargetBatch;
use crate::error::{Error, Result};
use crate::layers::Path;
use crate::loss::Loss;
use crate::optim::{Optimizer, OptimizerState};
use crate::tensor::Batch;

/// Sums the gradients of batches and updates the network from their mean every `k` batches.
///
/// ```
/// use nn_runtime::prelude::*;
/// use nn_runtime::train::Accumulation;
/// # use nn_runtime::layers::DenseOn;
/// # fn run<N: Network + Send>(net: &mut N, batches: &[(Batch<N::In>, Batch<N::Out>)]) -> nn_runtime::Result<()>
/// # where Mse: nn_runtime::loss::Loss<N::Head, N::Out, Batch<N::Out>> {
/// let (mut opt, mut acc) = (Adam::new(1e-3), Accumulation::new(4)?);
/// for (x, y) in batches {
///     acc.step(net, x, y, &Mse, &mut opt)?; // an update after every 4th batch
/// }
/// acc.flush(net, &mut opt)?; // and one from the batches left over
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Accumulation {
    every: usize,
    seen: usize,
    sum: Vec<f32>,
    scratch: Vec<f32>,
}

impl Accumulation {
    /// An update every `k` batches; `k = 0` is
    /// [`Error::InvalidHyperparameter`].
    pub fn new(k: usize) -> Result<Self> {
        if k == 0 {
            return Err(Error::InvalidHyperparameter {
                name: "accumulation steps",
                value: 0.0,
                expected: "at least 1 batch per update",
            });
        }
        Ok(Accumulation {
            every: k,
            seen: 0,
            sum: Vec::new(),
            scratch: Vec::new(),
        })
    }

    /// Batches per update.
    pub fn every(&self) -> usize {
        self.every
    }

    /// Batches whose gradients wait for an update.
    pub fn pending(&self) -> usize {
        self.seen
    }

    /// One batch's forward and backward passes, its gradients added to the sum (running
    /// statistics move as in any step); on the `k`-th, the optimizer's update from the mean
    /// gradient (checked, clipped and with frozen parameters left out as in a step). Returns
    /// the batch's mean loss. On an error the batch adds nothing.
    pub fn step<N, T, L, O>(
        &mut self,
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
        let value = train_step(net, x, targets, loss, &mut GradientsOnly)?;
        self.scratch.clear();
        net.visit_params(&Path::ROOT, &mut Gather::Grads(&mut self.scratch));
        if self.seen == 0 {
            self.sum.clone_from(&self.scratch);
        } else {
            self.sum
                .iter_mut()
                .zip(&self.scratch)
                .for_each(|(s, &g)| *s += g);
        }
        self.seen += 1;
        if self.seen == self.every {
            self.flush(net, opt)?;
        }
        Ok(value)
    }

    /// The optimizer's update from the mean gradient of the batches since the last one, if
    /// there are any (at the end of an epoch whose batches do not divide by `k`); whether
    /// it updated.
    pub fn flush<N: Network, O: Optimizer + ?Sized>(
        &mut self,
        net: &mut N,
        opt: &mut O,
    ) -> Result<bool> {
        if self.seen == 0 {
            return Ok(false);
        }
        let scale = 1.0 / self.seen as f32;
        self.sum.iter_mut().for_each(|s| *s *= scale);
        let mut offset = 0;
        net.visit_params(&Path::ROOT, &mut Scatter::set_grads(&self.sum, &mut offset));
        self.seen = 0;
        update(net, opt)?;
        Ok(true)
    }
}

/// An optimizer that moves nothing: a training step with it computes the gradients (and
/// checks them) and leaves the parameters.
struct GradientsOnly;

impl Optimizer for GradientsOnly {
    fn begin_step(&mut self, _params: usize) -> Result<()> {
        Ok(())
    }
    fn update(&mut self, _offset: usize, _value: &mut [f32], _grad: &[f32]) {}
    fn learning_rate(&self) -> f32 {
        0.0
    }
    fn set_learning_rate(&mut self, _lr: f32) {}
    fn state(&self) -> OptimizerState {
        OptimizerState::default()
    }
    fn set_state(&mut self, _state: &OptimizerState) -> Result<()> {
        Ok(())
    }
}
