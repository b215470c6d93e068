//! Training as Keras users expect it: [`Trainer::fit`] runs the epochs with a progress bar,
//! validation, metrics chosen by the task, callbacks (early stopping, checkpoints) and a
//! learning-rate schedule, and returns a [`History`]; a run stopped at any epoch resumes from
//! its checkpoint to the same weights, bit for bit.
//!
//! The typed-nn crate's documentation shows a whole run (its section "Training with `fit`").

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

use crate::data::{Class, Dataset, Target};
use crate::error::{Error, Result};
use crate::kernels;
use crate::loss::Loss;
use crate::optim::Optimizer;
use crate::tensor::Batch;
use crate::train::{train_step, Network};
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
        }
    }

    pub fn epochs(mut self, epochs: usize) -> Self {
        self.epochs = epochs;
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
        match self.validation_split {
            Some(fraction) => {
                if !(fraction > 0.0 && fraction < 1.0) {
                    return Err(Error::InvalidHyperparameter {
                        name: "validation_split",
                        value: fraction as f64,
                        expected: "a fraction in (0, 1)",
                    });
                }
                let held_out = ((data.len() as f64 * fraction as f64).round() as usize).max(1);
                let (train, validation) = data.split_at(data.len().saturating_sub(held_out));
                self.fit_validated(net, &train, Some(&validation))
            }
            None => self.fit_validated(net, data, None),
        }
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
        kernels::on_pool(|| self.run(net, train, validation))
    }

    fn run<Y>(
        &mut self,
        net: &mut N,
        train: &Dataset<N::In, Y>,
        validation: Option<&Dataset<N::In, Y>>,
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
        let result = self.epochs_from(net, train, validation, first_epoch, step, rng, &mut history);
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
    ) -> Result<()>
    where
        Y: Target + 'static,
        L: Loss<N::Head, N::Out, Y::Batch> + TaskMetrics<N::Head, N::Out, Y::Batch>,
    {
        let steps = train.len().div_ceil(self.batch_size);
        let (mut x, mut y) = (Batch::with_capacity(self.batch_size), Y::Batch::default());
        for epoch in first_epoch..self.epochs {
            let mut progress = Progress::new(self.verbosity, epoch + 1, self.epochs, steps);
            let mut metrics = <L as TaskMetrics<N::Head, N::Out, Y::Batch>>::Metrics::default();
            let (mut loss_sum, mut samples) = (0.0f64, 0usize);
            let mut batches = train.shuffled(&mut rng).batches(self.batch_size)?;
            let mut k = 0;
            while batches.next_into(&mut x, &mut y) {
                if let Some(s) = &mut self.schedule {
                    self.optimizer.set_learning_rate(s.rate(step));
                }
                let value = match train_step(net, &x, &y, &self.loss, &mut self.optimizer) {
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
                metrics.add(net.buffers().last_outputs(), &y);
                loss_sum += value as f64 * x.rows() as f64;
                samples += x.rows();
                step += 1;
                k += 1;
                progress.step(k, steps, samples, || {
                    named(&metrics, loss_sum / samples as f64, "")
                });
            }
            let mut figures = named(&metrics, loss_sum / samples as f64, "");
            if let Some(val) = validation {
                figures.extend(self.validate(net, val)?);
            }
            history.push(&figures);
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
        let mut total = 0.0f64;
        while batches.next_into(&mut x, &mut y) {
            net.forward_batch_into(&x, &mut out, &mut ws);
            total += self.loss.loss(N::infer_logits(&ws, &out), &out, &y) as f64 * x.rows() as f64;
            metrics.add(&out, &y);
        }
        Ok(named(&metrics, total / data.len() as f64, "val_"))
    }
}

/// `loss` and the metrics, named with `prefix`.
fn named<Out: crate::tensor::Sample, T>(
    metrics: &impl Metrics<Out, T>,
    loss: f64,
    prefix: &str,
) -> Vec<(String, f64)> {
    std::iter::once((format!("{prefix}loss"), loss))
        .chain(
            metrics
                .names()
                .iter()
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
