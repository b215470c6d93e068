//! Weights in and out: PyTorch's safetensors files.

pub mod safetensors;
