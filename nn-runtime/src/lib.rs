//! The runtime of typed-nn: tensors with compile-time feature shapes, kernels, layers,
//! losses, optimizers, training and data loading. Everything here works by hand, without the
//! `network!` macro; the macro only writes the glue that chains these pieces.

// Without `std`, the core: `core` and `alloc` only (see the crate's features).
#![cfg_attr(not(feature = "std"), no_std)]
// The SIMD kernels are `unsafe fn`s over raw pointers: each unsafe operation in them gets its
// own block and its own argument, rather than the whole body being one unchecked region.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

extern crate alloc;

/// What the standard library's prelude gives every module and `core` + `alloc` do not:
/// each module that uses these names imports this (a no-op with `std`).
#[allow(unused_imports)]
mod core_prelude {
    #[cfg(not(feature = "std"))]
    pub use crate::math::{F32Math, F64Math};
    pub use alloc::borrow::ToOwned;
    pub use alloc::boxed::Box;
    pub use alloc::format;
    pub use alloc::string::{String, ToString};
    pub use alloc::vec;
    pub use alloc::vec::Vec;
}

#[cfg(not(feature = "std"))]
mod math;

pub mod check;
mod const_message;
pub mod data;
#[cfg(feature = "mpi")]
pub mod distributed;
mod env;
pub mod error;
#[cfg(feature = "fit")]
pub mod fit;
#[cfg(feature = "nalgebra")]
mod interop;
pub mod io;
pub mod kernels;
pub mod layers;
pub mod loss;
pub mod optim;
pub mod pair;
pub mod precision;
mod rng;
pub mod sampling;
pub mod tensor;
pub mod train;

pub use const_message::ConstMessage;

/// What the code `network!` writes names from `alloc`, so that it compiles in `no_std`
/// crates too.
#[doc(hidden)]
pub mod __alloc {
    pub use alloc::format;
    pub use alloc::string::String;
    pub use alloc::vec::Vec;
}

/// The items `network!` writes only where the standard library is (file paths): `$items`
/// with the `std` feature, nothing without it.
#[cfg(feature = "std")]
#[doc(hidden)]
#[macro_export]
macro_rules! __if_std {
    ($($items:tt)*) => { $($items)* };
}

/// Without `std`: nothing.
#[cfg(not(feature = "std"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __if_std {
    ($($items:tt)*) => {};
}
#[cfg(feature = "csv")]
pub use data::csv::{CsvOptions, Standardizer};
#[cfg(feature = "mnist")]
pub use data::mnist;
pub use data::{Class, Dataset, Labels};
pub use error::{Error, Result, WeightProblem};
pub use kernels::arena::Arena;
#[cfg(feature = "std")]
pub use kernels::{allocations, allocations_during, CountingAllocator};
pub use layers::all::*;
pub use loss::{BinaryCrossEntropy, CrossEntropy, Huber, KlDiv, Mse, Nll, SmoothL1, L1};
pub use optim::{Adam, AdamW, ClipNorm, Optimizer, RmsProp, Sgd};
pub use pair::{Losses, Pair, Select};
pub use rng::Rng;
pub use tensor::{Batch, Sample, ShapeOf, Shaped, Tensor1, Tensor2, Tensor3, Tokens};
pub use train::{Evaluation, Network, NetworkExt};

/// What a program using typed-nn usually needs.
pub mod prelude {
    #[cfg(feature = "mnist")]
    pub use crate::data::mnist;
    pub use crate::data::{Class, Dataset, Labels, StepClasses, StepLabels};
    pub use crate::error::Error;
    #[cfg(feature = "fit")]
    pub use crate::fit::{History, Trainer, Verbosity};
    pub use crate::kernels::arena::Arena;
    pub use crate::layers::all::*;
    pub use crate::layers::{Layer, Stepped};
    pub use crate::loss::{BinaryCrossEntropy, CrossEntropy, Huber, KlDiv, Mse, Nll, SmoothL1, L1};
    pub use crate::optim::{Adam, AdamW, ClipNorm, Optimizer, RmsProp, Sgd};
    pub use crate::pair::{Losses, Pair};
    pub use crate::precision::{Bf16, Int8, Int8Dynamic, Lowered, ToPrecision};
    pub use crate::tensor::{Batch, Sample, Tensor1, Tensor2, Tensor3, Tokens};
    pub use crate::train::{Evaluation, Network, NetworkExt};
    pub use crate::Rng;
}
