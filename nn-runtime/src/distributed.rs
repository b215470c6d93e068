//! Data-parallel training over MPI (the `mpi` feature): one process per core or machine,
//! started by `mpirun`, each training on its share of every global batch.
//!
//! Every process holds the whole network. [`MpiExchange::start`] checks that all of them
//! built the same network type and gives them rank 0's weights; then each step runs the
//! forward and backward passes on this rank's rows of the global batch, and the gradients
//! (with the running statistics and the loss) are averaged with MPI all-reduce before one
//! optimizer update, the same on every rank. `Trainer::distributed` does this for `fit`
//! (each rank reads its shard of every epoch's batches, shuffled with the same seed
//! everywhere, and compares a hash of the weights across ranks at each epoch's end);
//! `train_step_exchanging` does it for a hand-written loop.
//!
//! The gradients go out in buckets of [`MpiExchange::bucket_len`] values as non-blocking
//! all-reduces: the backward pass hands over each top-level layer's gradients as soon as
//! they are final (the last layer's first), and a bucket's all-reduce starts as soon as it
//! is full, while the backward pass goes on with the earlier layers; the rest, with the
//! running statistics and the loss, follows the backward pass. (A step whose batch share is
//! split across this rank's threads merges the threads' gradients first, so it exchanges
//! after its backward pass.) A rank that does not take part in a
//! collective operation (an exchange, the start, the epoch-end comparison) within the
//! timeout (it died, or hangs) stops the whole job with a message naming what it waited on:
//! `MPI_Abort`, since MPI cannot cancel a collective operation others have entered. A
//! checkpoint written at the last epoch's end (`Checkpoint` on rank 0) resumes the run.

#[allow(unused_imports)]
use crate::core_prelude::*;

use crate::error::{Error, Result};
use crate::train::{
    gather_buffers, parameters, scatter_buffers, set_parameters, weights_digest, BackwardPass, Fnv,
    GradientExchange, Network,
};
use mpi::collective::SystemOperation;
use mpi::environment::Universe;
use mpi::request::{Request, Scope};
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use std::time::{Duration, Instant};

/// Exit code of a job stopped because a rank did not answer in time.
pub const TIMEOUT_EXIT_CODE: i32 = 75;

/// Gradient values per all-reduce (4 MiB of f32).
pub const DEFAULT_BUCKET_LEN: usize = 1 << 20;

/// How long a rank waits for the others in one collective operation by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The MPI side of a distributed run: the world communicator and the buffers its
/// all-reduces reuse. Create one per process, at the start of `main`.
pub struct MpiExchange {
    world: SimpleCommunicator,
    bucket_len: usize,
    timeout: Duration,
    send: Vec<f32>,
    recv: Vec<f32>,
    steps: u64,
    /// The running statistics and loss summed over the ranks (`exchange_during`).
    tail_sum: Vec<f32>,
    /// Kept last: dropping it finalises MPI, after the communicator is gone.
    _universe: Universe,
}

impl MpiExchange {
    /// Initialises MPI (once per process). An error if it was initialised already.
    pub fn init() -> Result<MpiExchange> {
        let universe = mpi::initialize()
            .ok_or_else(|| Error::Distributed("MPI was initialised already".into()))?;
        Ok(MpiExchange {
            world: universe.world(),
            bucket_len: DEFAULT_BUCKET_LEN,
            timeout: DEFAULT_TIMEOUT,
            send: Vec::new(),
            recv: Vec::new(),
            steps: 0,
            tail_sum: Vec::new(),
            _universe: universe,
        })
    }

    /// Values per all-reduce (at least 1).
    pub fn bucket_len(mut self, values: usize) -> Self {
        self.bucket_len = values.max(1);
        self
    }

    /// How long to wait for the other ranks in one collective operation before stopping
    /// the job.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn rank(&self) -> usize {
        self.world.rank() as usize
    }

    pub fn size(&self) -> usize {
        self.world.size() as usize
    }

    /// Checks that every rank built the same network (its type's name, parameter and
    /// FLOP counts), an error on every rank if not, then gives every rank rank 0's
    /// parameters and running statistics. Call it on every rank before training.
    pub fn start<N: Network>(&mut self, net: &mut N) -> Result<()> {
        let mine = network_signature::<N>();
        let all = self.all_gather(mine, "comparing the network types");
        if let Some(other) = all.iter().position(|&s| s != mine) {
            return Err(Error::Distributed(format!(
                "rank {} built a different network than rank {} ({}, {} parameters here)",
                other,
                self.rank(),
                core::any::type_name::<N>(),
                N::PARAMS
            )));
        }
        let mut flat = parameters(net);
        self.broadcast_from_0(&mut flat, "receiving rank 0's weights");
        set_parameters(net, &flat);
        let mut buffers = gather_buffers(net);
        self.broadcast_from_0(&mut buffers, "receiving rank 0's running statistics");
        scatter_buffers(net, &buffers);
        Ok(())
    }

    /// Compares a hash of `net`'s parameters across ranks: an error on every rank if any
    /// differs (the runs drifted apart, which identical updates should never let happen).
    pub fn check_weights<N: Network>(&mut self, net: &mut N) -> Result<()> {
        let mine = weights_digest(net);
        self.compare(mine)
    }

    /// The median time of `repeats` all-reduces of `values` f32 values (in buckets, as a
    /// training step's), for a model of the communication's cost.
    pub fn time_all_reduce(&mut self, values: usize, repeats: usize) -> Duration {
        self.send.clear();
        self.send.resize(values, 1.0);
        self.recv.clear();
        self.recv.resize(values, 0.0);
        self.world.barrier();
        let mut times: Vec<Duration> = (0..repeats.max(1))
            .map(|_| {
                let start = Instant::now();
                self.all_reduce_buckets();
                start.elapsed()
            })
            .collect();
        times.sort();
        times[times.len() / 2]
    }

    /// Sums `self.send` into `self.recv` over every rank, `bucket_len` values per
    /// non-blocking all-reduce, all started before any is waited for.
    fn all_reduce_buckets(&mut self) {
        let (send, recv, world) = (&self.send[..], &mut self.recv[..], &self.world);
        let step = self.steps + 1;
        let (bucket, timeout) = (self.bucket_len, self.timeout);
        mpi::request::scope(|scope| {
            let pending = send
                .chunks(bucket)
                .zip(recv.chunks_mut(bucket))
                .map(|(s, r)| world.immediate_all_reduce_into(scope, s, r, SystemOperation::sum()))
                .collect();
            let what = format_args!("exchanging the gradients of step {step}");
            wait_or_stop(world, pending, timeout, &what);
        });
    }

    /// Every rank's `mine`, by rank.
    fn all_gather(&mut self, mine: u64, what: &str) -> Vec<u64> {
        let mut all = vec![0u64; self.size()];
        let (world, timeout) = (&self.world, self.timeout);
        mpi::request::scope(|scope| {
            let request = world.immediate_all_gather_into(scope, &mine, &mut all[..]);
            wait_or_stop(world, vec![request], timeout, &what);
        });
        all
    }

    /// Rank 0's `values` into `values` on every rank.
    fn broadcast_from_0(&mut self, values: &mut [f32], what: &str) {
        let (world, timeout) = (&self.world, self.timeout);
        let root = world.process_at_rank(0);
        mpi::request::scope(|scope| {
            let request = root.immediate_broadcast_into(scope, values);
            wait_or_stop(world, vec![request], timeout, &what);
        });
    }

    fn compare(&mut self, mine: u64) -> Result<()> {
        let all = self.all_gather(mine, "comparing the weights");
        match all.iter().position(|&h| h != mine) {
            Some(other) => Err(Error::Distributed(format!(
                "the weights of rank {} and rank {} differ (hash {:016x} here, {:016x} there)",
                self.rank(),
                other,
                mine,
                all[other]
            ))),
            None => Ok(()),
        }
    }
}

impl GradientExchange for MpiExchange {
    fn worker(&self) -> usize {
        self.rank()
    }

    fn workers(&self) -> usize {
        self.size()
    }

    fn exchange(&mut self, grads: &mut [f32], buffers: &mut [f32], loss: &mut f32) -> Result<()> {
        self.send.clear();
        self.send.extend_from_slice(grads);
        self.send.extend_from_slice(buffers);
        self.send.push(*loss);
        self.recv.clear();
        self.recv.resize(self.send.len(), 0.0);
        self.all_reduce_buckets();
        self.steps += 1;
        let scale = 1.0 / self.size() as f32;
        let (g, rest) = self.recv.split_at(grads.len());
        let (b, l) = rest.split_at(buffers.len());
        for (d, &s) in grads.iter_mut().zip(g) {
            *d = s * scale;
        }
        for (d, &s) in buffers.iter_mut().zip(b) {
            *d = s * scale;
        }
        *loss = l[0] * scale;
        Ok(())
    }

    fn check_in_sync(&mut self, digest: u64) -> Result<()> {
        self.compare(digest)
    }

    /// Starts an all-reduce for every `bucket_len` gradient values as the backward pass
    /// finishes them (the last layers' first), then one for the rest with the running
    /// statistics and the loss, and waits for all.
    fn exchange_during(
        &mut self,
        grads: usize,
        backward: &mut BackwardPass<'_>,
        means: &mut Vec<f32>,
    ) -> Result<()> {
        self.send.clear();
        self.send.resize(grads, 0.0);
        means.clear();
        means.resize(grads, 0.0);
        let mut tail = core::mem::take(&mut self.recv);
        let step = self.steps + 1;
        let (world, bucket, timeout) = (&self.world, self.bucket_len, self.timeout);
        let (send, recv) = (&mut self.send[..], &mut means[..]);
        let mut tail_sum = core::mem::take(&mut self.tail_sum);
        mpi::request::scope(|scope| {
            let mut pending = Vec::new();
            // Gradients `[filled, unsent.len())` are written and not yet sent; everything
            // from `unsent.len()` on is in flight.
            let (mut unsent, mut unsent_sums) = (send, recv);
            let mut filled = grads;
            backward(
                &mut |end, values| {
                    let start = end - values.len();
                    unsent[start..end].copy_from_slice(values);
                    filled = start;
                    // Whole buckets from the end of what is ready; the rest waits for more.
                    while unsent.len() - filled >= bucket {
                        let at = unsent.len() - bucket;
                        let (head, ready) = core::mem::take(&mut unsent).split_at_mut(at);
                        let (sums_head, sums) = core::mem::take(&mut unsent_sums).split_at_mut(at);
                        (unsent, unsent_sums) = (head, sums_head);
                        let ready: &[f32] = ready;
                        pending.push(world.immediate_all_reduce_into(
                            scope,
                            ready,
                            sums,
                            SystemOperation::sum(),
                        ));
                    }
                },
                &mut tail,
            );
            if !unsent.is_empty() {
                let rest: &[f32] = unsent;
                pending.push(world.immediate_all_reduce_into(
                    scope,
                    rest,
                    unsent_sums,
                    SystemOperation::sum(),
                ));
            }
            tail_sum.resize(tail.len(), 0.0);
            pending.push(world.immediate_all_reduce_into(
                scope,
                &tail[..],
                &mut tail_sum[..],
                SystemOperation::sum(),
            ));
            let what = format_args!("exchanging the gradients of step {step}");
            wait_or_stop(world, pending, timeout, &what);
        });
        self.recv = tail;
        self.steps += 1;
        let scale = 1.0 / self.size() as f32;
        means.extend_from_slice(&tail_sum);
        self.tail_sum = tail_sum;
        means.iter_mut().for_each(|v| *v *= scale);
        Ok(())
    }
}

/// Waits for `pending` to complete; past `timeout`, prints what this rank was doing and stops
/// the whole job with `MPI_Abort` (a collective operation others have entered cannot be
/// cancelled, and MPI has no other way out of it).
fn wait_or_stop<'a, D: ?Sized, S: Scope<'a>>(
    world: &SimpleCommunicator,
    pending: Vec<Request<'a, D, S>>,
    timeout: Duration,
    what: &dyn core::fmt::Display,
) {
    let start = Instant::now();
    let mut pending: Vec<_> = pending.into_iter().map(Some).collect();
    loop {
        for slot in &mut pending {
            if let Some(request) = slot.take() {
                *slot = request.test().err();
            }
        }
        if pending.iter().all(Option::is_none) {
            return;
        }
        if start.elapsed() > timeout {
            eprintln!(
                "typed-nn: rank {} of {}: the other ranks did not finish {what} within \
                 {timeout:?} (a rank died or hangs); stopping the job. Resume from the last \
                 checkpoint.",
                world.rank(),
                world.size()
            );
            // Never returns: the pending requests are never dropped.
            world.abort(TIMEOUT_EXIT_CODE);
        }
        std::thread::yield_now();
    }
}

/// FNV-1a over the bytes of a type's name, parameter count and FLOPs per sample.
fn network_signature<N: Network>() -> u64 {
    let mut h = Fnv::default();
    h.write(core::any::type_name::<N>().as_bytes());
    h.write(&(N::PARAMS as u64).to_le_bytes());
    h.write(&(N::FLOPS as u64).to_le_bytes());
    h.finish()
}
