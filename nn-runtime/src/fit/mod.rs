//! Training as Keras users expect it: [`Trainer::fit`] runs the epochs with a progress bar,
//! validation, metrics chosen by the task, callbacks (early stopping, checkpoints) and a
//! learning-rate schedule, and returns a [`History`]; a run stopped at any epoch resumes from
//! its checkpoint to the same weights, bit for bit.
//!
//! The typed-nn crate's documentation shows a whole run (its section "Training with `fit`").

#[allow(unused_imports)]
use crate::core_prelude::*;

mod callbacks;
pub mod checkpoint;
mod history;
mod metrics;
mod progress;
mod schedule;

pub use callbacks::{Callback, Checkpoint, Control, EarlyStopping, EpochEnd, Monitor};
pub use checkpoint::TrainingState;
pub use history::History;
pub use metrics::{
    BinaryMetrics, BinaryThreshold, ClassMetrics, ClassTargets, ConfusionMatrix, Metrics,
    RegressionMetrics, TaskMetrics,
};
pub use progress::Verbosity;
pub use schedule::{CosineDecay, ExponentialDecay, ReduceOnPlateau, Schedule, StepDecay};

use crate::data::{Class, Dataset, Target, TargetBatch};
use crate::error::{Error, Result};
use crate::kernels;
use crate::loss::Loss;
use crate::optim::Optimizer;
use crate::tensor::Batch;
use crate::train::{
    train_step, train_step_exchanging, weights_digest, Accumulation, GradientExchange, Network,
};
use crate::Rng;
use progress::Progress;
use std::path::PathBuf;

/// Rows per inference pass when validating.
const VALIDATION_BATCH: usize = 256;

/// A training run's settings and state: the loss, the optimizer, epochs, batch size, the
/// shuffles' seed, validation, schedule, callbacks.
pub struct Trainer<N: Network, L, O> {
    loss: L,
    optimizer: O,
    epochs: usize,
    batch_size: usize,
    seed: u64,
    validation_split: Option<f32>,
    verbosity: Verbosity,
    schedule: Option<Box<dyn Schedule>>,
    callbacks: Vec<Box<dyn Callback<N>>>,
    resume: Option<PathBuf>,
    accumulate: usize,
}

impl<N, L, O> Trainer<N, L, O>
where
    N: Network + Send,
    L: Send + Sync,
    O: Optimizer + Send,
{
    /// Training with `loss` and `optimizer`: one epoch, batches of 32, seed 0, no
    /// validation, a bar on a terminal (Keras's defaults).
    pub fn new(loss: L, optimizer: O) -> Self {
        Trainer {
            loss,
            optimizer,
            epochs: 1,
            batch_size: 32,
            seed: 0,
            validation_split: None,
            verbosity: Verbosity::Auto,
            schedule: None,
            callbacks: Vec::new(),
            resume: None,
            accumulate: 1,
        }
    }

    pub fn epochs(mut self, epochs: usize) -> Self {
        self.epochs = epochs;
        self
    }

    /// One optimizer update from the mean gradient of every `k` batches (gradient
    /// accumulation: an effective batch of `k · batch_size` rows), and one from the batches
    /// left at the end of an epoch; the metrics and the learning-rate schedule still count
    /// batches. `k = 1` (the default) updates after every batch; 0 is an error when fitting.
    pub fn accumulate_gradients(mut self, k: usize) -> Self {
        self.accumulate = k;
        self
    }

    pub fn batch_size(mut self, rows: usize) -> Self {
        self.batch_size = rows;
        self
    }

    /// The seed of the epochs' shuffles.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Holds out the last `fraction` of the data for validation (as Keras does; shuffle the
    /// data first if it is ordered).
    pub fn validation_split(mut self, fraction: f32) -> Self {
        self.validation_split = Some(fraction);
        self
    }

    pub fn verbosity(mut self, verbosity: Verbosity) -> Self {
        self.verbosity = verbosity;
        self
    }

    /// Sets the learning rate before every step.
    pub fn schedule(mut self, schedule: impl Schedule + 'static) -> Self {
        self.schedule = Some(Box::new(schedule));
        self
    }

    pub fn callback(mut self, callback: impl Callback<N> + 'static) -> Self {
        self.callbacks.push(Box::new(callback));
        self
    }

    /// Continues the run saved at the checkpoint `base` (see [`Checkpoint::last_path`]):
    /// weights, optimizer, generators, epoch, history, schedule and callbacks as they were.
    pub fn resume_from(mut self, base: impl Into<PathBuf>) -> Self {
        self.resume = Some(base.into());
        self
    }

    /// The optimizer (its learning rate after a schedule, its state).
    pub fn optimizer(&self) -> &O {
        &self.optimizer
    }

    /// Trains `net` on `data` (holding out the validation split, if set).
    pub fn fit<Y>(&mut self, net: &mut N, data: &Dataset<N::In, Y>) -> Result<History>
    where
        Y: Target + 'static,
        L: Loss<N::Head, N::Out, Y::Batch> + TaskMetrics<N::Head, N::Out, Y::Batch>,
    {
        self.fit_maybe_distributed(net, data, None)
    }

    /// [`fit`](Self::fit) as one worker of a data-parallel run (over MPI:
    /// `distributed::MpiExchange`, after its `start`): every worker loads the same batches
    /// (the same data and seed everywhere), trains on its share of each — rows `[k·B/W,
    /// (k+1)·B/W)` of a batch of B rows for worker k of W — and updates with the mean
    /// gradient of the whole batch, and the workers' weights are compared at each epoch's
    /// end. A last batch with fewer rows than workers is skipped by all. The loss in the
    /// history is the global batch's; accuracy and other metrics count this worker's rows
    /// (validation: all of them, on every worker). Callbacks run on every worker: give a
    /// `Checkpoint` to one of them only.
    pub fn fit_distributed<Y>(
        &mut self,
        net: &mut N,
        data: &Dataset<N::In, Y>,
        exchange: &mut dyn GradientExchange,
    ) -> Result<History>
    where
        Y: Target + 'static,
        L: Loss<N::Head, N::Out, Y::Batch> + TaskMetrics<N::Head, N::Out, Y::Batch>,
    {
        self.fit_maybe_distributed(net, data, Some(exchange))
    }

    fn fit_maybe_distributed<Y>(
        &mut self,
        net: &mut N,
        data: &Dataset<N::In, Y>,
        exchange: Option<&mut dyn GradientExchange>,
    ) -> Result<History>
    where
        Y: Target + 'static,
        L: Loss<N::Head, N::Out, Y::Batch> + TaskMetrics<N::Head, N::Out, Y::Batch>,
    {
        let split = self.split(data)?;
        let (train, validation) = match &split {
            Some((train, validation)) => (train, Some(validation)),
            None => (data, None),
        };
        match exchange {
            None => self.fit_validated(net, train, validation),
            // MPI is called from the thread that initialised it, never from the pool's.
            Some(exchange) => self.run(net, train, validation, Some(exchange)),
        }
    }

    /// The training set and the held-out validation set, if a split is set.
    #[allow(clippy::type_complexity)]
    fn split<Y: Target>(
        &self,
        data: &Dataset<N::In, Y>,
    ) -> Result<Option<(Dataset<N::In, Y>, Dataset<N::In, Y>)>> {
        let Some(fraction) = self.validation_split else {
            return Ok(None);
        };
        if !(fraction > 0.0 && fraction < 1.0) {
            return Err(Error::InvalidHyperparameter {
                name: "validation_split",
                value: fraction as f64,
                expected: "a fraction in (0, 1)",
            });
        }
        let held_out = ((data.len() as f64 * fraction as f64).round() as usize).max(1);
        Ok(Some(data.split_at(data.len().saturating_sub(held_out))))
    }

    /// Trains `net` on `train`, measuring `validation` after every epoch.
    pub fn fit_validated<Y>(
        &mut self,
        net: &mut N,
        train: &Dataset<N::In, Y>,
        validation: Option<&Dataset<N::In, Y>>,
    ) -> Result<History>
    where
        Y: Target + 'static,
        L: Loss<N::Head, N::Out, Y::Batch> + TaskMetrics<N::Head, N::Out, Y::Batch>,
    {
        // On the library's pool, so that each step hands its shares to the other workers
        // directly instead of through rayon's injector (which allocates now and then).
        kernels::on_pool(|| self.run(net, train, validation, None))
    }

    fn run<Y>(
        &mut self,
        net: &mut N,
        train: &Dataset<N::In, Y>,
        validation: Option<&Dataset<N::In, Y>>,
        exchange: Option<&mut dyn GradientExchange>,
    ) -> Result<History>
    where
        Y: Target + 'static,
        L: Loss<N::Head, N::Out, Y::Batch> + TaskMetrics<N::Head, N::Out, Y::Batch>,
    {
        if train.is_empty() || validation.is_some_and(|v| v.is_empty()) {
            return Err(Error::EmptyDataset);
        }
        if self.batch_size == 0 {
            return Err(Error::ZeroBatchSize);
        }
        let mut rng = Rng::seed(self.seed);
        let mut history = History::default();
        let (mut first_epoch, mut step) = (0, 0);
        if let Some(base) = &self.resume {
            let state = checkpoint::load(base, net)?;
            self.optimizer.set_state(&state.optimizer)?;
            rng = Rng::from_state(state.shuffle_rng);
            history = state.history;
            (first_epoch, step) = (state.epoch, state.step);
            if let Some(s) = &mut self.schedule {
                s.restore(&state.schedule);
            }
            for (c, saved) in self.callbacks.iter_mut().zip(&state.callbacks) {
                c.restore(saved);
            }
        }
        let result = self.epochs_from(
            net,
            train,
            validation,
            first_epoch,
            step,
            rng,
            &mut history,
            exchange,
        );
        for c in &mut self.callbacks {
            c.end_training(net)?;
        }
        result.map(|()| history)
    }

    #[allow(clippy::too_many_arguments)]
    fn epochs_from<Y>(
        &mut self,
        net: &mut N,
        train: &Dataset<N::In, Y>,
        validation: Option<&Dataset<N::In, Y>>,
        first_epoch: usize,
        mut step: usize,
        mut rng: Rng,
        history: &mut History,
        mut exchange: Option<&mut dyn GradientExchange>,
    ) -> Result<()>
    where
        Y: Target + 'static,
        L: Loss<N::Head, N::Out, Y::Batch> + TaskMetrics<N::Head, N::Out, Y::Batch>,
    {
        let steps = train.len().div_ceil(self.batch_size);
        let (mut x, mut y) = (Batch::with_capacity(self.batch_size), Y::Batch::default());
        // This worker's share of each batch, in a distributed run.
        let (mut x_share, mut y_share) = (Batch::default(), Y::Batch::default());
        let workers = exchange.as_ref().map_or(1, |e| e.workers());
        if self.batch_size < workers {
            return Err(Error::Distributed(format!(
                "a batch of {} rows cannot be shared by {workers} workers",
                self.batch_size
            )));
        }
        let mut accumulation = match self.accumulate {
            1 => None,
            k if workers > 1 => {
                return Err(Error::Distributed(format!(
                    "gradient accumulation ({k} batches) is not taken in a distributed run"
                )))
            }
            k => Some(Accumulation::new(k)?),
        };
        for epoch in first_epoch..self.epochs {
            let mut progress = Progress::new(self.verbosity, epoch + 1, self.epochs, steps);
            let mut metrics = <L as TaskMetrics<N::Head, N::Out, Y::Batch>>::Metrics::default();
            // The mean loss of the epoch so far: each step's mean weighted by its targets
            // (rows, or steps not ignored).
            let (mut loss_sum, mut targets, mut samples) = (0.0f64, 0usize, 0usize);
            let mut batches = train.shuffled(&mut rng).batches(self.batch_size)?;
            let mut k = 0;
            while batches.next_into(&mut x, &mut y) {
                let rows = x.rows();
                if rows < workers {
                    continue;
                }
                if let Some(s) = &mut self.schedule {
                    self.optimizer.set_learning_rate(s.rate(step));
                }
                let result = match (exchange.as_mut(), accumulation.as_mut()) {
                    (None, Some(acc)) => acc.step(net, &x, &y, &self.loss, &mut self.optimizer),
                    (None, None) => train_step(net, &x, &y, &self.loss, &mut self.optimizer),
                    (Some(ex), _) => {
                        let k = ex.worker();
                        let share = rows * k / workers..rows * (k + 1) / workers;
                        x_share.copy_rows_from(&x, share.clone());
                        y.copy_rows_into(share, &mut y_share);
                        train_step_exchanging(
                            net,
                            &x_share,
                            &y_share,
                            &self.loss,
                            &mut self.optimizer,
                            Some(&mut **ex),
                        )
                    }
                };
                let value = match result {
                    Ok(value) => value,
                    Err(
                        cause @ (Error::NonFiniteLoss { .. } | Error::NonFiniteGradient { .. }),
                    ) => {
                        return Err(Error::Diverged {
                            epoch: epoch + 1,
                            step: k + 1,
                            cause: Box::new(cause),
                        })
                    }
                    Err(e) => return Err(e),
                };
                metrics.add(
                    net.buffers().last_outputs(),
                    if workers > 1 { &y_share } else { &y },
                );
                // A distributed step's loss is the global batch's mean; its outputs here
                // are this worker's share, so the global batch's rows weigh it.
                let weight = match workers {
                    1 => y.count(net.buffers().last_outputs()),
                    _ => rows,
                };
                loss_sum += value as f64 * weight as f64;
                targets += weight;
                samples += rows;
                step += 1;
                k += 1;
                progress.step(k, steps, samples, || {
                    named(&metrics, loss_sum / targets.max(1) as f64, "")
                });
            }
            if let Some(acc) = accumulation.as_mut() {
                acc.flush(net, &mut self.optimizer)
                    .map_err(|cause| match cause {
                        Error::NonFiniteGradient { .. } => Error::Diverged {
                            epoch: epoch + 1,
                            step: k,
                            cause: Box::new(cause),
                        },
                        e => e,
                    })?;
            }
            let mut figures = named(&metrics, loss_sum / targets.max(1) as f64, "");
            if let Some(val) = validation {
                figures.extend(self.validate(net, val)?);
            }
            history.push(&figures);
            if let Some(ex) = exchange.as_mut() {
                ex.check_in_sync(weights_digest(net))?;
            }
            let monitored = Monitor::default().read(&figures).unwrap_or(f64::NAN);
            if let Some(s) = &mut self.schedule {
                s.end_epoch(monitored);
            }
            let mut stop = false;
            for c in &mut self.callbacks {
                let mut end = EpochEnd {
                    epoch: epoch + 1,
                    figures: &figures,
                    net,
                };
                stop |= c.end_epoch(&mut end)? == Control::Stop;
            }
            let state = TrainingState {
                epoch: epoch + 1,
                step,
                optimizer: self.optimizer.state(),
                shuffle_rng: rng.state(),
                network_rng: net.buffers().rng().state(),
                history: history.clone(),
                schedule: self.schedule.as_ref().map_or_else(Vec::new, |s| s.state()),
                callbacks: self.callbacks.iter().map(|c| c.state()).collect(),
            };
            for c in &mut self.callbacks {
                c.after_epoch(net, &state)?;
            }
            progress.finish(k, samples, &figures);
            if stop {
                break;
            }
        }
        Ok(())
    }

    /// The loss and metrics over `data`, inference passes only.
    fn validate<Y>(&self, net: &N, data: &Dataset<N::In, Y>) -> Result<Vec<(String, f64)>>
    where
        Y: Target,
        L: Loss<N::Head, N::Out, Y::Batch> + TaskMetrics<N::Head, N::Out, Y::Batch>,
    {
        let _flush = crate::kernels::FlushDenormals::new();
        let mut metrics = <L as TaskMetrics<N::Head, N::Out, Y::Batch>>::Metrics::default();
        let mut batches = data.in_order().batches(VALIDATION_BATCH)?;
        let (mut x, mut y) = (Batch::with_capacity(VALIDATION_BATCH), Y::Batch::default());
        let (mut ws, mut out) = (N::Workspace::default(), Batch::default());
        // Each batch's mean loss weighted by its targets (rows, or steps not ignored).
        let (mut total, mut count) = (0.0f64, 0usize);
        while batches.next_into(&mut x, &mut y) {
            net.forward_batch_into(&x, &mut out, &mut ws);
            let n = y.count(&out);
            total += self.loss.loss(N::infer_logits(&ws, &out), &out, &y) as f64 * n as f64;
            count += n;
            metrics.add(&out, &y);
        }
        Ok(named(&metrics, total / count.max(1) as f64, "val_"))
    }
}

/// `loss` and the metrics, named with `prefix`.
fn named<Out: crate::tensor::Sample, T>(
    metrics: &impl Metrics<Out, T>,
    loss: f64,
    prefix: &str,
) -> Vec<(String, f64)> {
    core::iter::once((format!("{prefix}loss"), loss))
        .chain(
            metrics
                .names()
                .into_iter()
                .zip(metrics.values())
                .map(|(n, v)| (format!("{prefix}{n}"), v)),
        )
        .collect()
}

/// The confusion matrix of a classifier over `data` (inference passes).
pub fn confusion_matrix<N, const C: usize>(
    net: &N,
    data: &Dataset<N::In, Class<C>>,
) -> Result<ConfusionMatrix<C>>
where
    N: Network<Out = crate::tensor::Tensor1<C>>,
{
    if data.is_empty() {
        return Err(Error::EmptyDataset);
    }
    let _flush = crate::kernels::FlushDenormals::new();
    let mut matrix = ConfusionMatrix::default();
    let mut batches = data.in_order().batches(VALIDATION_BATCH)?;
    let (mut x, mut y) = (Batch::with_capacity(VALIDATION_BATCH), Default::default());
    let (mut ws, mut out) = (N::Workspace::default(), Batch::default());
    while batches.next_into(&mut x, &mut y) {
        net.forward_batch_into(&x, &mut out, &mut ws);
        matrix.add(&out, &y);
    }
    Ok(matrix)
}
