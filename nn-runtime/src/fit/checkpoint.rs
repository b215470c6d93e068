//! Resumable checkpoints: the weights in `<path>.safetensors` (an ordinary weight file that
//! `Model::load` reads) and, beside them in `<path>.state.safetensors`, everything a run
//! needs to continue as if it had never stopped: the optimizer's vectors (as tensors) and
//! step count, the epoch and step reached, both generators' states (the shuffles' and the
//! network's dropout masks'), the history, and the schedule's and callbacks' memory (as
//! metadata), and a copy of the weights. The state file alone is the resumable checkpoint,
//! written atomically in one piece, so a failure between the two files' writes never pairs
//! one save's state with another save's weights; the weight file beside it is written after
//! it (atomically too) for `Model::load` and other tools.

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::history::History;
use crate::error::{Error, Result};
use crate::io::{safetensors as weights, write_atomically};
use crate::optim::OptimizerState;
use crate::train::Network;
use crate::Rng;
use ::safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// What the file says it is.
const FORMAT: &str = "typed-nn training state 2";
/// The first format, which kept the weights only in the weight file beside it.
const FORMAT_1: &str = "typed-nn training state 1";
/// The state file's tensor holding the weight file's bytes.
const WEIGHTS: &str = "weights";

/// Where a run stands at the end of an epoch.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainingState {
    /// Epochs completed.
    pub epoch: usize,
    /// Optimizer steps taken (what schedules count).
    pub step: usize,
    pub optimizer: OptimizerState,
    /// The generator of the epochs' shuffles, as the next epoch will find it.
    pub shuffle_rng: [u64; 4],
    /// The network's own generator (dropout masks).
    pub network_rng: [u64; 4],
    pub history: History,
    pub schedule: Vec<f64>,
    pub callbacks: Vec<Vec<f64>>,
}

/// The two files of the checkpoint `base` (`dir/last` → `dir/last.safetensors`,
/// `dir/last.state.safetensors`).
pub fn paths(base: &Path) -> (PathBuf, PathBuf) {
    let with = |suffix: &str| {
        let mut name = base.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    (with(".safetensors"), with(".state.safetensors"))
}

fn numbers<T: core::fmt::Display>(values: impl IntoIterator<Item = T>) -> String {
    values
        .into_iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

fn parse_numbers<T: core::str::FromStr>(text: &str, what: &str) -> Result<Vec<T>> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    text.split(',')
        .map(|t| {
            t.parse().map_err(|_| Error::CorruptCheckpoint {
                reason: format!("{what}: cannot read {t:?}"),
            })
        })
        .collect()
}

/// Writes the weights of `net` and `state` as the checkpoint `base`.
pub fn save<N: Network>(base: &Path, net: &mut N, state: &TrainingState) -> Result<()> {
    let (weights_path, state_path) = paths(base);
    if let Some(dir) = base.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let weight_bytes = weights::to_bytes(net)?;
    write_atomically(&state_path, &state_bytes(&weight_bytes, state)?)?;
    // If this write fails, the error says so; the state file already holds this save whole.
    write_atomically(&weights_path, &weight_bytes)
}

/// The state file of a checkpoint: `state`, and the weight file's bytes as one tensor.
pub fn state_bytes(weight_bytes: &[u8], state: &TrainingState) -> Result<Vec<u8>> {
    let mut meta = HashMap::new();
    meta.insert("format".to_string(), FORMAT.to_string());
    meta.insert("epoch".to_string(), state.epoch.to_string());
    meta.insert("step".to_string(), state.step.to_string());
    meta.insert(
        "optimizer_steps".to_string(),
        state.optimizer.steps.to_string(),
    );
    meta.insert("shuffle_rng".to_string(), numbers(state.shuffle_rng));
    meta.insert("network_rng".to_string(), numbers(state.network_rng));
    meta.insert("history".to_string(), state.history.to_text());
    meta.insert("schedule".to_string(), numbers(&state.schedule));
    meta.insert("callbacks".to_string(), state.callbacks.len().to_string());
    for (i, c) in state.callbacks.iter().enumerate() {
        meta.insert(format!("callback.{i}"), numbers(c));
    }
    let data: Vec<(String, Vec<u8>, usize)> = state
        .optimizer
        .tensors
        .iter()
        .map(|(name, v)| {
            (
                format!("optimizer.{name}"),
                v.iter().flat_map(|x| x.to_le_bytes()).collect(),
                v.len(),
            )
        })
        .collect();
    let views = data
        .iter()
        .map(|(name, bytes, len)| (name.as_str(), Dtype::F32, *len, bytes.as_slice()))
        .chain(core::iter::once((
            WEIGHTS,
            Dtype::U8,
            weight_bytes.len(),
            weight_bytes,
        )))
        .map(|(name, dtype, len, bytes)| {
            TensorView::new(dtype, vec![len], bytes).map(|v| (name, v))
        })
        .collect::<core::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::CorruptCheckpoint {
            reason: e.to_string(),
        })?;
    ::safetensors::serialize(views, Some(meta)).map_err(|e| Error::CorruptCheckpoint {
        reason: e.to_string(),
    })
}

/// Reads the checkpoint `base` into `net` (its weights and buffers) and returns the state to
/// resume from. Nothing changes in `net` unless the checkpoint is sound. The weights come
/// from the state file (from the weight file beside it only for the first format).
pub fn load<N: Network>(base: &Path, net: &mut N) -> Result<TrainingState> {
    let (weights_path, state_path) = paths(base);
    let bytes = std::fs::read(&state_path).map_err(Error::reading(&state_path))?;
    let corrupt = |reason: String| Error::CorruptCheckpoint {
        reason: format!("{}: {reason}", state_path.display()),
    };
    let (_, header) = SafeTensors::read_metadata(&bytes).map_err(|e| corrupt(e.to_string()))?;
    let tensors = SafeTensors::deserialize(&bytes).map_err(|e| corrupt(e.to_string()))?;
    let meta = header.metadata().clone().unwrap_or_default();
    let field = |name: &str| {
        meta.get(name)
            .map(String::as_str)
            .ok_or_else(|| corrupt(format!("no `{name}`")))
    };
    let format = field("format")?;
    if format != FORMAT && format != FORMAT_1 {
        return Err(corrupt(format!("not a {FORMAT}")));
    }
    let number = |name: &str| -> Result<usize> {
        field(name)?
            .parse()
            .map_err(|_| corrupt(format!("`{name}` is not a count")))
    };
    let rng = |name: &str| -> Result<[u64; 4]> {
        let v: Vec<u64> = parse_numbers(field(name)?, name)?;
        v.try_into()
            .map_err(|_| corrupt(format!("`{name}` needs 4 numbers")))
    };
    let mut optimizer = OptimizerState {
        steps: number("optimizer_steps")? as u64,
        tensors: Vec::new(),
    };
    let mut names = tensors.names();
    names.sort_unstable();
    let mut weight_bytes = None;
    for name in names {
        if name == WEIGHTS {
            let view = tensors.tensor(name).map_err(|e| corrupt(e.to_string()))?;
            if view.dtype() != Dtype::U8 {
                return Err(corrupt(format!("`{name}` is not U8")));
            }
            weight_bytes = Some(view.data());
            continue;
        }
        let view = tensors.tensor(name).map_err(|e| corrupt(e.to_string()))?;
        let Some(short) = name.strip_prefix("optimizer.") else {
            return Err(corrupt(format!("unexpected tensor `{name}`")));
        };
        if view.dtype() != Dtype::F32 {
            return Err(corrupt(format!("`{name}` is not F32")));
        }
        let values = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        optimizer.tensors.push((short.to_string(), values));
    }
    let callbacks = (0..number("callbacks")?)
        .map(|i| parse_numbers(field(&format!("callback.{i}"))?, "callback"))
        .collect::<Result<Vec<_>>>()?;
    let state = TrainingState {
        epoch: number("epoch")?,
        step: number("step")?,
        optimizer,
        shuffle_rng: rng("shuffle_rng")?,
        network_rng: rng("network_rng")?,
        history: History::from_text(field("history")?)?,
        schedule: parse_numbers(field("schedule")?, "schedule")?,
        callbacks,
    };
    match weight_bytes {
        Some(bytes) => weights::load_bytes(net, bytes)?,
        None if format == FORMAT_1 => weights::load(net, &weights_path)?,
        None => return Err(corrupt(format!("no `{WEIGHTS}` tensor"))),
    }
    *net.buffers().rng() = Rng::from_state(state.network_rng);
    Ok(state)
}
