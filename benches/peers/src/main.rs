//! typed-nn against PyTorch, candle and burn on the workloads of BENCHMARKS.md (W1–W13,
//! E1–E3), and against tract and onnxruntime on imported ONNX models (O1–O4, with the
//! `onnx-zoo` feature).
//!
//! ```text
//! cargo run --release -p peers -- table [--threads 1,2] [--torch PYTHON] [--ort PYTHON]
//!                                       [--seconds S] [--workloads W1,…]
//!                                       [--libs typed-nn,torch,candle,burn,tract,onnxruntime]
//! cargo run --release -p peers -- run --lib typed-nn|candle|burn|tract [--workloads W1,…] [--seconds S]
//! cargo run --release -p peers -- peak [--threads N]
//! ```
//!
//! `run` times one library in this process and prints one JSON line per workload; `table`
//! runs `run` (and torch_bench.py, ort_bench.py) in child processes for every library and
//! thread count and prints the markdown table of BENCHMARKS.md. See README.md beside this
//! file.

mod burn;
mod candle;
mod harness;
#[cfg(feature = "onnx-zoo")]
mod onnx_zoo;
mod table;
#[cfg(feature = "onnx-zoo")]
mod tract;
mod typed;

use harness::{Budget, Outcome};
use std::path::PathBuf;
use std::time::Duration;

/// Every workload, in table order.
pub const WORKLOADS: [(&str, &str); 20] = [
    ("W1", "mlp-infer-b1"),
    ("W2", "mlp-infer-b64"),
    ("W3", "mlp-train-b64"),
    ("W4", "tiny-infer-b1"),
    ("W5", "cnn-infer-b1"),
    ("W6", "cnn-train-b32"),
    ("W7", "rnn-infer-b1"),
    ("W8", "rnn-train-b32"),
    ("W9", "lstm-train-b32"),
    ("W10", "charlm-train-b32"),
    ("W11", "charlm-generate, per step"),
    ("W12", "gpt-train-b16"),
    ("W13", "gpt-generate, per token"),
    ("E1", "mnist-mlp epoch"),
    ("E2", "mnist-cnn epoch"),
    ("E3", "mnist-lstm epoch"),
    ("O1", "resnet18-infer-b1"),
    ("O2", "resnet18-infer-b32"),
    ("O3", "mobilenet_v2-infer-b1"),
    ("O4", "mobilenet_v2-infer-b32"),
];

/// The ONNX workloads: the model of `target/onnx_zoo` each runs and its batch.
pub const ONNX_WORKLOADS: [(&str, &str, usize); 4] = [
    ("O1", "resnet18", 1),
    ("O2", "resnet18", 32),
    ("O3", "mobilenet_v2", 1),
    ("O4", "mobilenet_v2", 32),
];

/// The model and batch of an ONNX workload; `None` for the others.
pub fn onnx_workload(workload: &str) -> Option<(&'static str, usize)> {
    ONNX_WORKLOADS
        .iter()
        .find(|w| w.0 == workload)
        .map(|w| (w.1, w.2))
}

/// Where `tools/onnx_models.py zoo` writes the models: the workspace's `target/onnx_zoo`.
/// typed-nn's `network!` imports them from here while compiling (its paths are relative to
/// this crate), and every library loads the weights from the same files at run time.
pub const ZOO_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/onnx_zoo");

/// Why typed-nn and tract have no O1–O4 in a build without the `onnx-zoo` feature.
pub const NEEDS_ONNX_ZOO: &str = "O1 to O4 need the zoo files (`tools/onnx_models.py zoo`) \
     and a build with `--features onnx-zoo`";

/// Why candle and burn have no O1–O4: they do not read ONNX files (candle-onnx and burn-onnx
/// are separate projects), and these rows compare ONNX runtimes.
pub const NO_ONNX: &str =
    "O1 to O4 run ONNX files: typed-nn's import against tract and onnxruntime";

/// Why tract and onnxruntime have only O1–O4.
pub const ONLY_ONNX: &str = "runs ONNX files: O1 to O4 only";

/// Why candle and burn have no E2 and E3: the two end-to-end epochs compare typed-nn with
/// PyTorch, the reference users port from.
pub const ONLY_TORCH_EPOCHS: &str =
    "E2 and E3 are written for typed-nn and PyTorch only (the epochs compare with PyTorch)";

/// Why candle and burn have no W10–W13: the sequence workloads' goals are set against
/// PyTorch.
pub const ONLY_TORCH_SEQUENCES: &str =
    "W10 to W13 are written for typed-nn and PyTorch only (their goals are set against PyTorch)";

/// The Rust libraries `run` knows.
pub const RUST_LIBS: [&str; 4] = ["typed-nn", "candle", "burn", "tract"];

/// MNIST as shipped in the repository.
pub fn default_data_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/mnist"))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => run(&args[1..]),
        Some("peak") => peak(&args[1..]),
        Some("table") => table::table(&args[1..]),
        _ => Err(USAGE.to_string()),
    };
    if let Err(e) = result {
        eprintln!("peers: {e}");
        std::process::exit(2);
    }
}

const USAGE: &str = "usage:
  peers table [--threads 1,2] [--torch PYTHON] [--ort PYTHON] [--seconds S] [--workloads W1,...] [--libs typed-nn,torch,candle,burn,tract,onnxruntime] [--data DIR]
  peers run --lib typed-nn|candle|burn|tract [--workloads W1,...] [--seconds S] [--data DIR]
  peers peak [--threads N]";

/// Flags of the form `--name value`, in any order.
pub struct Flags(Vec<(String, String)>);

impl Flags {
    pub fn parse(args: &[String], known: &[&str]) -> Result<Flags, String> {
        let mut flags = Vec::new();
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let name = flag
                .strip_prefix("--")
                .filter(|n| known.contains(n))
                .ok_or_else(|| format!("unknown argument {flag}\n{USAGE}"))?;
            let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
            flags.push((name.to_string(), value.clone()));
        }
        Ok(Flags(flags))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// A comma-separated list, or `default`.
    pub fn list(&self, name: &str, default: &[&str]) -> Vec<String> {
        match self.get(name) {
            Some(v) => v.split(',').map(|s| s.trim().to_string()).collect(),
            None => default.iter().map(|s| s.to_string()).collect(),
        }
    }

    pub fn seconds(&self) -> Result<f64, String> {
        self.get("seconds")
            .map_or(Ok(DEFAULT_SECONDS), str::parse)
            .map_err(|e| format!("--seconds: {e}"))
    }

    /// `--workloads`, or by default every workload this build can run: O1–O4 only with the
    /// `onnx-zoo` feature (asked for by name, they run in the libraries that can without it).
    pub fn workloads(&self) -> Result<Vec<String>, String> {
        let all: Vec<&str> = WORKLOADS.iter().map(|w| w.0).collect();
        let default: Vec<&str> = all
            .iter()
            .copied()
            .filter(|w| cfg!(feature = "onnx-zoo") || onnx_workload(w).is_none())
            .collect();
        let chosen = self.list("workloads", &default);
        match chosen.iter().find(|w| !all.contains(&w.as_str())) {
            Some(w) => Err(format!("unknown workload {w}; expected some of {all:?}")),
            None => Ok(chosen),
        }
    }
}

/// Seconds of samples per workload (after warm-up); slow workloads still take ten samples.
pub const DEFAULT_SECONDS: f64 = 1.5;

fn budget(seconds: f64) -> Budget {
    Budget {
        warm_up: Duration::from_secs_f64((seconds / 3.0).min(0.5)),
        measure: Duration::from_secs_f64(seconds),
        min_samples: 10,
    }
}

/// `peers run`: one library, in this process, one JSON line per workload on stdout.
fn run(args: &[String]) -> Result<(), String> {
    let flags = Flags::parse(args, &["lib", "workloads", "seconds", "data"])?;
    let lib = flags.get("lib").ok_or("run needs --lib")?;
    if !RUST_LIBS.contains(&lib) {
        return Err(format!(
            "unknown library {lib}; expected one of {RUST_LIBS:?} (PyTorch: torch_bench.py)"
        ));
    }
    let budget = budget(flags.seconds()?);
    let data = flags
        .get("data")
        .map_or_else(default_data_dir, PathBuf::from);
    // The thread count the parent asked for, for the record; the libraries read it from the
    // environment themselves.
    let threads = std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "default".into());
    for workload in flags.workloads()? {
        let outcome: Result<Outcome, String> = match (lib, onnx_workload(&workload)) {
            ("tract", None) => Ok(Outcome::Unsupported(ONLY_ONNX.into())),
            ("typed-nn" | "tract", Some((model, batch))) => run_onnx(lib, model, batch, &budget),
            ("candle" | "burn", Some(_)) => Ok(Outcome::Unsupported(NO_ONNX.into())),
            ("typed-nn", None) => typed::run(&workload, &budget, &data),
            ("candle", None) => candle::run(&workload, &budget, &data),
            _ => burn::run(&workload, &budget, &data),
        };
        println!("{}", harness::record(lib, &workload, &threads, &outcome));
    }
    Ok(())
}

/// O1–O4 in typed-nn (the networks imported while compiling) or tract (the same files read
/// at run time).
#[cfg(feature = "onnx-zoo")]
fn run_onnx(lib: &str, model: &str, batch: usize, budget: &Budget) -> Result<Outcome, String> {
    match lib {
        "tract" => tract::run(model, batch, budget),
        _ => onnx_zoo::run(model, batch, budget),
    }
}

#[cfg(not(feature = "onnx-zoo"))]
fn run_onnx(_: &str, _: &str, _: usize, _: &Budget) -> Result<Outcome, String> {
    Ok(Outcome::Unsupported(NEEDS_ONNX_ZOO.into()))
}

/// `peers peak`: the FMA peak of `--threads` cores running typed-nn's probe at once, in
/// GFLOP/s (best of many rounds: the peak is what the core can do, not what it usually does).
fn peak(args: &[String]) -> Result<(), String> {
    use std::sync::Barrier;
    use std::time::Instant;
    use typed_nn::kernels::{fma_peak_probe, Arch};

    let flags = Flags::parse(args, &["threads"])?;
    let threads: usize = flags
        .get("threads")
        .map_or(Ok(1), str::parse)
        .map_err(|e| format!("--threads: {e}"))?;
    let arch = Arch::detect();
    const ITERS: usize = 1_000_000;
    const ROUNDS: usize = 20;
    if fma_peak_probe(arch, 1).is_none() {
        println!("{{\"peak_gflops\":null,\"isa\":\"{:?}\"}}", arch.isa());
        return Ok(());
    }
    // Every round starts the threads together; its time runs from the first thread's start
    // to the last one's end (each thread reads the clock itself, so a thread that shares its
    // core with a waiting one still times only the probe).
    let barrier = Barrier::new(threads);
    let flops = threads as f64 * fma_peak_probe(arch, ITERS).unwrap_or(0) as f64;
    let rounds: Vec<Vec<(Instant, Instant)>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    (0..ROUNDS)
                        .map(|_| {
                            barrier.wait();
                            let start = Instant::now();
                            fma_peak_probe(arch, ITERS);
                            (start, Instant::now())
                        })
                        .collect()
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("probe thread"))
            .collect()
    });
    let best = (0..ROUNDS)
        .map(|r| {
            let start = rounds.iter().map(|w| w[r].0).min().expect("a thread");
            let end = rounds.iter().map(|w| w[r].1).max().expect("a thread");
            flops / (end - start).as_secs_f64()
        })
        .fold(0.0f64, f64::max);
    println!(
        "{{\"peak_gflops\":{:.1},\"isa\":\"{:?}\",\"threads\":{threads}}}",
        best / 1e9,
        arch.isa()
    );
    Ok(())
}
