//! The seed's DNN (784 → 64 → 32 → 10) trained on MNIST by several processes over MPI: each
//! rank trains on its share of every batch and all of them update with the mean gradient.
//! Needs the `mpi` feature (Open MPI and libclang; README, "Training on several processes").
//!
//! ```text
//! cargo build --release --features mpi --example mnist_mpi
//! mpirun -np 2 target/release/examples/mnist_mpi --epochs 3
//! mpirun -np 4 --hostfile hosts target/release/examples/mnist_mpi --data /shared/mnist
//! ```
//!
//! `--check-equivalence STEPS` trains STEPS steps distributed and, on rank 0, the same steps
//! in one process on the whole batches, and compares the weights; `--exit-after-epoch`,
//! `--hang-after-epoch`, `--hang-at-start` and `--mismatch` make one rank fail, for the
//! fault tests (tests/distributed.rs).

use clap::Parser;
use std::path::PathBuf;
use std::time::Instant;
use typed_nn::distributed::MpiExchange;
use typed_nn::fit::{Callback, Checkpoint, Control, EpochEnd};
use typed_nn::prelude::*;
use typed_nn::train::{parameters, train_step, train_step_exchanging, GradientExchange};

network! {
    /// The seed's DNN: Dense(64, relu) -> Dense(32, relu) -> Dense(10, softmax).
    pub struct Mlp: [784] {
        fc1: Dense(64), Relu,
        fc2: Dense(32), Relu,
        out: Dense(10), Softmax,
    }
}

network! {
    /// A different network, for `--mismatch`.
    pub struct Wider: [784] {
        fc1: Dense(128), Relu,
        out: Dense(10), Softmax,
    }
}

/// Trains the seed's DNN on MNIST on every rank of an MPI job.
#[derive(Parser, Debug)]
struct Options {
    #[arg(long, default_value_t = 3)]
    epochs: usize,
    /// Rows of each global batch, shared among the ranks.
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    #[arg(long, default_value = "data/mnist")]
    data: PathBuf,
    /// Train on the first N training images only.
    #[arg(long)]
    limit: Option<usize>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Rank 0 keeps the last epoch's model and training state here.
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// Continue the run saved in the --checkpoint directory.
    #[arg(long, requires = "checkpoint")]
    resume: bool,
    /// Gradient values per all-reduce: each starts as soon as the backward pass has
    /// finished its values.
    #[arg(long, default_value_t = typed_nn::distributed::DEFAULT_BUCKET_LEN)]
    bucket_len: usize,
    /// Seconds a rank waits for the others in one exchange before stopping the job.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
    /// Train this many steps distributed and in one process, and compare the weights.
    #[arg(long)]
    check_equivalence: Option<usize>,
    /// The last rank exits (without a word to the others) after this many epochs.
    #[arg(long)]
    exit_after_epoch: Option<usize>,
    /// The last rank stops answering (sleeps) before training starts.
    #[arg(long)]
    hang_at_start: bool,
    /// The last rank stops answering (sleeps) after this many epochs.
    #[arg(long)]
    hang_after_epoch: Option<usize>,
    /// The last rank builds a different network.
    #[arg(long)]
    mismatch: bool,
    /// Time all-reduces of the gradient's size and of larger buffers instead of training.
    #[arg(long)]
    time_all_reduce: bool,
}

fn main() {
    let options = Options::parse();
    let mut exchange = match MpiExchange::init() {
        Ok(e) => e
            .timeout(std::time::Duration::from_secs(options.timeout))
            .bucket_len(options.bucket_len),
        Err(e) => fail(&e.to_string()),
    };
    if options.time_all_reduce {
        time_all_reduce(&mut exchange);
        return;
    }
    let last = exchange.rank() + 1 == exchange.size();
    let result = if options.mismatch && last {
        train::<Wider>(&options, &mut exchange)
    } else {
        train::<Mlp>(&options, &mut exchange)
    };
    if let Err(e) = result {
        fail(&format!("rank {}: {e}", exchange.rank()));
    }
}

/// Median all-reduce times from the gradient's size up, and the bandwidth they imply
/// (bytes of one copy of the buffer over the time).
fn time_all_reduce(exchange: &mut MpiExchange) {
    for values in [Mlp::PARAMS, 1 << 18, 1 << 20, 1 << 22] {
        let t = exchange.time_all_reduce(values, 50);
        if exchange.rank() == 0 {
            println!(
                "all-reduce of {values} f32 on {} ranks: {:.1} µs median, {:.2} GB/s",
                exchange.size(),
                t.as_secs_f64() * 1e6,
                (4 * values) as f64 / t.as_secs_f64() / 1e9
            );
        }
    }
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1)
}

fn train<N>(options: &Options, exchange: &mut MpiExchange) -> Result<(), Box<dyn std::error::Error>>
where
    N: Network<In = Tensor1<784>, Out = Tensor1<10>> + Send,
    CrossEntropy: typed_nn::loss::Loss<N::Head, N::Out, Labels<10>>
        + typed_nn::fit::TaskMetrics<N::Head, N::Out, Labels<10>>,
{
    let (rank, size) = (exchange.rank(), exchange.size());
    let mut model = N::init(&mut Rng::seed(options.seed));
    let (mut train, test) = mnist::load(&options.data)?;
    if let Some(n) = options.limit {
        train = train.take(n);
    }
    if options.hang_at_start && rank + 1 == size {
        hang("before training starts");
    }
    // The same network everywhere, starting from rank 0's weights.
    exchange.start(&mut model)?;
    if let Some(steps) = options.check_equivalence {
        return check_equivalence(options, exchange, model, &train, steps);
    }
    let mut trainer = Trainer::new(CrossEntropy, Adam::new(1e-3))
        .epochs(options.epochs)
        .batch_size(options.batch_size)
        .seed(options.seed)
        .verbosity(if rank == 0 {
            Verbosity::Lines
        } else {
            Verbosity::Silent
        });
    if let Some(dir) = &options.checkpoint {
        let checkpoint = Checkpoint::new(dir);
        if options.resume {
            trainer = trainer.resume_from(checkpoint.last_path());
        }
        if rank == 0 {
            trainer = trainer.callback(checkpoint);
        }
    }
    if rank + 1 == size {
        if let Some(epochs) = options.exit_after_epoch {
            trainer = trainer.callback(Fault {
                epochs,
                hang: false,
            });
        }
        if let Some(epochs) = options.hang_after_epoch {
            trainer = trainer.callback(Fault { epochs, hang: true });
        }
    }
    let start = Instant::now();
    let history = trainer.fit_distributed(&mut model, &train, exchange)?;
    let seconds = start.elapsed().as_secs_f64();
    let epochs = history.epochs();
    if rank == 0 {
        println!(
            "{size} rank(s): {epochs} epoch(s) of {} images in {seconds:.2} s: {:.0} samples/s",
            train.len(),
            (epochs * train.len()) as f64 / seconds
        );
        let accuracy = typed_nn::train::accuracy(&model, &test)?;
        println!("test accuracy {:.2} %", 100.0 * accuracy);
    }
    Ok(())
}

/// Trains `steps` global batches distributed; rank 0 also trains a copy of the starting
/// network on the same whole batches in one process, and compares.
fn check_equivalence<N>(
    options: &Options,
    exchange: &mut MpiExchange,
    mut model: N,
    train: &Dataset<Tensor1<784>, Class<10>>,
    steps: usize,
) -> Result<(), Box<dyn std::error::Error>>
where
    N: Network<In = Tensor1<784>, Out = Tensor1<10>> + Send,
    CrossEntropy: typed_nn::loss::Loss<N::Head, N::Out, Labels<10>>,
{
    let mut single = N::init(&mut Rng::seed(options.seed));
    let (worker, workers) = (exchange.worker(), exchange.workers());
    let (mut distributed_opt, mut single_opt) = (Adam::new(1e-3), Adam::new(1e-3));
    let mut batches = train.in_order().batches(options.batch_size)?;
    let (mut x, mut y) = (Batch::default(), Labels::default());
    let (mut xs, mut ys) = (Batch::default(), Labels::default());
    for _ in 0..steps {
        if !batches.next_into(&mut x, &mut y) {
            break;
        }
        let rows = x.rows();
        let share = rows * worker / workers..rows * (worker + 1) / workers;
        xs.copy_rows_from(&x, share.clone());
        typed_nn::data::TargetBatch::copy_rows_into(&y, share, &mut ys);
        train_step_exchanging(
            &mut model,
            &xs,
            &ys,
            &CrossEntropy,
            &mut distributed_opt,
            Some(exchange),
        )?;
        if worker == 0 {
            train_step(&mut single, &x, &y, &CrossEntropy, &mut single_opt)?;
        }
    }
    exchange.check_weights(&mut model)?;
    if worker == 0 {
        let (a, b) = (parameters(&mut model), parameters(&mut single));
        let max = a
            .iter()
            .zip(&b)
            .map(|(p, q)| (p - q).abs())
            .fold(0.0f32, f32::max);
        println!("{steps} steps on {workers} ranks against one process: max |Δw| = {max:.3e}");
    }
    Ok(())
}

/// After `epochs` epochs this process exits without telling the other ranks (a rank that
/// dies), or stops answering them (`hang`).
struct Fault {
    epochs: usize,
    hang: bool,
}

impl<N: Network> Callback<N> for Fault {
    fn end_epoch(&mut self, end: &mut EpochEnd<'_, N>) -> typed_nn::Result<Control> {
        if end.epoch >= self.epochs {
            if self.hang {
                hang(&format!("after epoch {}", end.epoch));
            }
            eprintln!("this rank exits after epoch {}", end.epoch);
            std::process::exit(3);
        }
        Ok(Control::Continue)
    }
}

/// Stops answering the other ranks (until mpirun ends this process).
fn hang(when: &str) -> ! {
    eprintln!("this rank stops answering {when}");
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}
