//! The runtime of typed-nn: tensors with compile-time feature shapes, kernels, layers,
//! losses, optimizers, training and data loading. Everything here works by hand, without the
//! `network!` macro; the macro only writes the glue that chains these pieces.

// The SIMD kernels are `unsafe fn`s over raw pointers: each unsafe operation in them gets its
// own block and its own argument, rather than the whole body being one unchecked region.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod check;
mod const_message;
pub mod data;
#[cfg(feature = "mpi")]
pub mod distributed;
pub mod error;
pub mod fit;
mod interop;
pub mod io;
pub mod kernels;
pub mod layers;
pub mod loss;
pub mod optim;
pub mod pair;
mod rng;
pub mod sampling;
pub mod tensor;
pub mod train;

pub use const_message::ConstMessage;
pub use data::csv::{CsvOptions, Standardizer};
pub use data::{mnist, Class, Dataset, Labels};
pub use error::{Error, Result, WeightProblem};
pub use layers::all::*;
pub use loss::{BinaryCrossEntropy, CrossEntropy, Huber, KlDiv, Mse, Nll, SmoothL1, L1};
pub use optim::{Adam, AdamW, ClipNorm, Optimizer, RmsProp, Sgd};
pub use pair::{Losses, Pair, Select};
pub use rng::Rng;
pub use tensor::{Batch, Sample, ShapeOf, Shaped, Tensor1, Tensor2, Tensor3, Tokens};
pub use train::{Evaluation, Network, NetworkExt};

/// What a program using typed-nn usually needs.
pub mod prelude {
    pub use crate::data::{mnist, Class, Dataset, Labels, StepClasses, StepLabels};
    pub use crate::error::Error;
    pub use crate::fit::{History, Trainer, Verbosity};
    pub use crate::layers::all::*;
    pub use crate::layers::{Layer, Stepped};
    pub use crate::loss::{BinaryCrossEntropy, CrossEntropy, Huber, KlDiv, Mse, Nll, SmoothL1, L1};
    pub use crate::optim::{Adam, AdamW, ClipNorm, Optimizer, RmsProp, Sgd};
    pub use crate::pair::{Losses, Pair};
    pub use crate::tensor::{Batch, Sample, Tensor1, Tensor2, Tensor3, Tokens};
    pub use crate::train::{Evaluation, Network, NetworkExt};
    pub use crate::Rng;
}
