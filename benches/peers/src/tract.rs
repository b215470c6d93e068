//! O1–O4 in tract, the Rust ONNX runtime: the zoo's files loaded at run time, the batch
//! symbol bound to the workload's batch, optimised, and run as a plan per call. tract
//! runs on one thread unless given an executor: above one thread the plan gets a rayon pool
//! of that many (tract-linalg's `multithread-mm`).

use crate::harness::{self, Budget, Outcome};
use crate::ZOO_DIR;
use std::collections::HashMap;
use tract_onnx::prelude::*;

pub fn run(model: &str, batch: usize, budget: &Budget) -> Result<Outcome, String> {
    let path = format!("{ZOO_DIR}/{model}.onnx");
    let e = |e: TractError| format!("{path}: {e:#}");
    let shape = [batch, 3, 224, 224];
    let threads = threads_from_env();
    let options = RunOptions {
        executor: (threads > 1).then(|| multithread::Executor::multithread(threads)),
        ..RunOptions::default()
    };
    // The file's batch is a symbol (the exporter's dynamic axis), in the input's shape and in
    // the shapes it records for every intermediate value: it is bound to the workload's batch
    // over the whole graph (fixing only the input's fact contradicts those shapes).
    let model = tract_onnx::onnx()
        .model_for_path(&path)
        .and_then(|m| m.into_typed())
        .map_err(e)?;
    let batch_dims: HashMap<Symbol, TDim> = model
        .input_fact(0)
        .map_err(e)?
        .shape
        .iter()
        .flat_map(|d| d.symbols())
        .map(|s| (s, TDim::Val(batch as i64)))
        .collect();
    let plan = model
        .set_symbols(&batch_dims)
        .and_then(|m| m.into_optimized())
        .and_then(|m| m.into_runnable_with_options(&options))
        .map_err(e)?;
    let x: TValue = Tensor::from_shape(&shape, &harness::uniform(shape.iter().product(), 1))
        .map_err(e)?
        .into_tvalue();
    // A failed run inside the timing loop would time nothing: check one first.
    plan.run(tvec![x.clone()]).map_err(e)?;
    Ok(Outcome::Timed(harness::time(budget, || {
        plan.run(tvec![x.clone()]).expect("checked above")
    })))
}

/// The thread count the table asked for (every library reads it from the environment); the
/// machine's logical CPUs when run by hand without one.
fn threads_from_env() -> usize {
    ["TYPED_NN_THREADS", "RAYON_NUM_THREADS"]
        .iter()
        .find_map(|v| std::env::var(v).ok()?.parse().ok())
        .filter(|&n: &usize| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}
