//! Weights in and out: PyTorch's safetensors files; files written so that a failure never
//! leaves a half-written one in place.

#[allow(unused_imports)]
use crate::core_prelude::*;

pub mod named;
pub mod onnx;
pub mod onnx_import;
pub mod safetensors;

#[cfg(feature = "std")]
mod atomic;
#[cfg(feature = "std")]
pub use atomic::{write_atomically, write_atomically_with};
