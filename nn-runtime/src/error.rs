//! The runtime's error type: every failure a user can cause is a value, never a panic.

#[allow(unused_imports)]
use crate::core_prelude::*;

#[cfg(feature = "std")]
use std::path::{Path, PathBuf};
/// Without `std` there are no files: the variants that name one (never made then) hold a
/// string.
#[cfg(not(feature = "std"))]
type PathBuf = String;

/// What went wrong, with what was expected and what was found.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be opened or read.
    #[cfg(feature = "std")]
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A file that is needed does not exist.
    #[error("{path}: file not found")]
    MissingFile { path: PathBuf },

    /// A file ended before the data its header announced.
    #[error("{path}: truncated: expected {expected} bytes of data, found {found}")]
    Truncated {
        path: PathBuf,
        expected: u64,
        found: u64,
    },

    /// A gzip stream could not be decoded.
    #[error("{path}: corrupt gzip stream: {reason}")]
    CorruptGzip { path: PathBuf, reason: String },

    /// An IDX file starts with a magic number other than the one its content needs.
    #[error("{path}: wrong IDX magic number: expected {expected:#010x}, found {found:#010x}")]
    WrongMagic {
        path: PathBuf,
        expected: u32,
        found: u32,
    },

    /// An IDX file's dimensions differ from what the data set needs.
    #[error("{path}: wrong dimensions: expected {expected}, found {found}")]
    WrongDimensions {
        path: PathBuf,
        expected: String,
        found: String,
    },

    /// An IDX file holds more bytes than its header announced.
    #[error("{path}: {extra} trailing bytes after the {expected} bytes the header announces")]
    TrailingData {
        path: PathBuf,
        expected: u64,
        extra: u64,
    },

    /// Image and label files of one split disagree on the number of samples.
    #[error("{images} holds {image_count} images but {labels} holds {label_count} labels")]
    CountMismatch {
        images: PathBuf,
        image_count: usize,
        labels: PathBuf,
        label_count: usize,
    },

    /// A class label is not below the number of classes.
    #[error("label {label} at index {index} is out of range for {classes} classes")]
    LabelOutOfRange {
        index: usize,
        label: u64,
        classes: usize,
    },

    /// A flat buffer's length is not what the tensor shape needs.
    #[error("{what}: expected {expected} values, found {found}")]
    LengthMismatch {
        what: &'static str,
        expected: usize,
        found: usize,
    },

    /// A sequence's length is 0 or more than the steps its shape holds.
    #[error("sequence {row}: length {length}, but a sequence here has 1 to {steps} steps")]
    SequenceLength {
        row: usize,
        length: usize,
        steps: usize,
    },

    /// Stateful inference went past the steps a causal attention layer caches (its `T`):
    /// start a new state (a new sequence), or give the layer a longer window.
    #[error("the key-value cache holds {capacity} steps and is full; start a new state")]
    CacheFull { capacity: usize },

    /// A token id is not below the vocabulary of the embedding that reads it.
    #[error("sample {sample}, position {position}: token id {id} is not below the vocabulary of {vocabulary}")]
    TokenOutOfVocabulary {
        sample: usize,
        position: usize,
        id: f32,
        vocabulary: usize,
    },

    /// Inputs and targets of one batch or data set have different numbers of rows.
    #[error("{inputs} input rows but {targets} target rows")]
    RowMismatch { inputs: usize, targets: usize },

    /// A batch with no rows was given where work needs at least one.
    #[error("empty batch: a training step needs at least one row")]
    EmptyBatch,

    /// The workers of a distributed run disagree (a different network on one of them,
    /// weights that drifted apart), or one of them is gone.
    #[error("distributed training: {0}")]
    Distributed(String),

    /// A data set with no samples was given where work needs at least one.
    #[error("empty data set")]
    EmptyDataset,

    /// A batch size of zero was asked for.
    #[error("batch size must be at least 1")]
    ZeroBatchSize,

    /// The loss was NaN or infinite; the parameters were left unchanged.
    #[error(
        "loss is {loss}: parameters left unchanged (lower the learning rate or check the inputs)"
    )]
    NonFiniteLoss { loss: f32 },

    /// A gradient was NaN or infinite although the loss was finite; the parameters, the
    /// optimizer's state and the running statistics were left unchanged.
    #[error("the gradient of `{parameter}` is not finite: parameters left unchanged (check the inputs for NaN or infinity, or lower the learning rate)")]
    NonFiniteGradient { parameter: String },

    /// A kernel path was forced that this CPU cannot run.
    #[error("instruction set {isa} is not available on this CPU")]
    UnsupportedIsa { isa: String },

    /// A thread count of zero was asked for.
    #[error("thread count must be at least 1")]
    ZeroThreads,

    /// A weight file could not be parsed (truncated, corrupt or hostile).
    #[error("corrupt weight file: {reason}")]
    CorruptWeights { reason: String },

    /// A weight file's tensors do not fit the network; every problem is listed.
    #[error("the weight file does not fit the network:{}", problems.iter().map(|p| format!("\n  - {p}")).collect::<String>())]
    WeightsMismatch { problems: Vec<WeightProblem> },

    /// A checkpoint's training state could not be read or does not fit what resumes it.
    #[error("corrupt checkpoint: {reason}")]
    CorruptCheckpoint { reason: String },

    /// Training stopped at a NaN or infinite loss or gradient (`cause`:
    /// [`Error::NonFiniteLoss`] or [`Error::NonFiniteGradient`]); the network keeps the
    /// weights of the last step that succeeded.
    #[error("training stopped in epoch {epoch}, step {step}: {cause}")]
    Diverged {
        epoch: usize,
        step: usize,
        #[source]
        cause: Box<Error>,
    },

    /// A CSV record has a different number of fields than the header (or the first record).
    #[error("{path}, line {line}: expected {expected} columns, found {found}")]
    CsvColumns {
        path: PathBuf,
        line: u64,
        expected: usize,
        found: usize,
    },

    /// A CSV field could not be read as the number (or class) its column holds.
    #[error("{path}, line {line}, column `{column}`: cannot read {value:?} as {expected}")]
    CsvValue {
        path: PathBuf,
        line: u64,
        column: String,
        value: String,
        expected: String,
    },

    /// A CSV file is malformed, or names no column the options ask for.
    #[error("{path}: {reason}")]
    Csv { path: PathBuf, reason: String },

    /// Scores to sample a class from that are no distribution (NaN, negative, all zero).
    #[error("cannot sample from these scores: {reason}")]
    InvalidScores { reason: String },

    /// A path prefix (`freeze`, `batch_norm_eval`, loading options) under which the network
    /// has nothing of what was asked for.
    #[error("the network has no {what} under `{prefix}` (its top-level parts: {known})")]
    UnknownPrefix {
        prefix: String,
        what: &'static str,
        known: String,
    },

    /// A part of a frozen block cannot be made trainable alone.
    #[error("`{prefix}` lies in the frozen block `{block}`: unfreeze `{block}`, then freeze what should stay frozen")]
    FrozenBlock { prefix: String, block: String },

    /// A layer that ONNX export has no graph for: its kind, where it sits in the network,
    /// and why.
    #[error("cannot export `{path}` ({kind}) to ONNX: {reason}")]
    OnnxUnsupported {
        kind: String,
        path: String,
        reason: String,
    },

    /// A hyper-parameter is outside its valid range.
    #[error("invalid hyper-parameter {name} = {value}: {expected}")]
    InvalidHyperparameter {
        name: &'static str,
        value: f64,
        expected: &'static str,
    },
}

/// One way a weight file does not fit a network.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WeightProblem {
    #[error("missing tensor `{name}` of shape {shape:?}")]
    Missing { name: String, shape: Vec<usize> },
    #[error("unexpected tensor `{name}`")]
    Unexpected { name: String },
    #[error("tensor `{name}` has shape {found:?}, expected {expected:?}")]
    WrongShape {
        name: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    #[error("tensor `{name}` has dtype {found}, expected F32")]
    WrongDtype { name: String, found: String },
    /// A low-precision network's tensor of another dtype (an int8 weight stored as F32).
    #[error("tensor `{name}` has dtype {found}, expected {expected}")]
    DtypeMismatch {
        name: String,
        expected: String,
        found: String,
    },
}

/// `Result` with the runtime's [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;

impl Error {
    /// The error for a failed open or read of `path`: [`Error::MissingFile`] when it does not
    /// exist, [`Error::Io`] otherwise. For `map_err`.
    #[cfg(feature = "std")]
    pub(crate) fn reading(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
        move |source| match source.kind() {
            std::io::ErrorKind::NotFound => Error::MissingFile {
                path: path.to_path_buf(),
            },
            _ => Error::Io {
                path: path.to_path_buf(),
                source,
            },
        }
    }

    /// This error about a sample of a batch, renumbered as a sample of the data set whose
    /// batch starts at `first`.
    pub(crate) fn offset_sample(self, first: usize) -> Error {
        match self {
            Error::TokenOutOfVocabulary {
                sample,
                position,
                id,
                vocabulary,
            } => Error::TokenOutOfVocabulary {
                sample: sample + first,
                position,
                id,
                vocabulary,
            },
            other => other,
        }
    }
}
