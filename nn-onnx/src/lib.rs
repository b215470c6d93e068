//! ONNX files for typed-nn: the messages of `onnx.proto`, decoded and encoded by prost, and
//! checked readers of the constant tensors they hold. The importer (`nn-dsl`, at compile
//! time), the weight loader and the exporter (`nn-runtime`) share them.
//!
//! Decoding never panics on hostile bytes: prost bounds every length and limits nesting, and
//! the readers here check every element count against the tensor's dimensions, with
//! overflow-checked arithmetic, before they read.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub mod proto;

pub use proto::*;

#[allow(unused_imports)]
use alloc::{format, string::String, string::ToString, vec, vec::Vec};
use core::fmt;
use prost::Message;

/// The opset of the default domain that exported files declare.
pub const EXPORT_OPSET: i64 = 17;

/// The ONNX IR version of exported files (the one that goes with opset 17).
pub const EXPORT_IR_VERSION: i64 = 8;

/// How a tensor of an ONNX file becomes a tensor of an imported network, in PyTorch's layout:
/// what the importer (nn-dsl) writes for each tensor and the runtime's loader applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TensorLayout {
    /// The same values in the same order (the shape may differ by ones: a `[C, 1, 1]`
    /// slope is a `[C]` one).
    Same,
    /// A `[k, n]` matrix (`MatMul`'s right-hand side, `Gemm` without `transB`) transposed
    /// into `[n, k]` (`nn.Linear`'s weight).
    Transpose,
    /// A recurrence's gate blocks: from the file's `[directions, gates · hidden, …]` tensor
    /// (`W`, `R`; or `B`, `[directions, 2 · gates · hidden]`, whose `half` 0 is the input
    /// bias and 1 the recurrent one), direction `direction`, its gate blocks reordered so
    /// that block `k` of the result is block `order[k]` of the file (ONNX's LSTM gates are
    /// i, o, f, c and PyTorch's i, f, g, o).
    Gates {
        direction: usize,
        half: usize,
        order: &'static [usize],
    },
    /// Zeros (a bias the file leaves out, such as `LayerNormalization`'s optional `B`).
    Zeros,
    /// Ones (a scale the file leaves out: a group normalisation without one).
    Ones,
    /// A step count of zero (BatchNorm's `num_batches_tracked`, which ONNX does not keep).
    Count,
}

/// Why a file or one of its tensors could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OnnxError {
    /// The bytes are not a protobuf `ModelProto`.
    Decode(String),
    /// The model has no graph.
    NoGraph,
    /// A tensor's values do not fit its dimensions or type.
    Tensor { name: String, problem: String },
}

impl fmt::Display for OnnxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OnnxError::Decode(why) => write!(f, "not an ONNX model: {why}"),
            OnnxError::NoGraph => write!(f, "the ONNX model has no graph"),
            OnnxError::Tensor { name, problem } => write!(f, "tensor `{name}`: {problem}"),
        }
    }
}

impl core::error::Error for OnnxError {}

/// Decodes an ONNX file's bytes.
pub fn decode_model(bytes: &[u8]) -> Result<ModelProto, OnnxError> {
    let model = ModelProto::decode(bytes).map_err(|e| OnnxError::Decode(e.to_string()))?;
    if model.graph.is_none() {
        return Err(OnnxError::NoGraph);
    }
    Ok(model)
}

/// Encodes a model into an ONNX file's bytes.
pub fn encode_model(model: &ModelProto) -> Vec<u8> {
    model.encode_to_vec()
}

/// The version of the default (`""` or `ai.onnx`) domain a model imports, if any.
pub fn default_opset(model: &ModelProto) -> Option<i64> {
    model
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map(|o| o.version)
}

/// The name of a data type, for messages.
pub fn data_type_name(data_type: i32) -> &'static str {
    match data_type {
        data_type::FLOAT => "float32",
        data_type::UINT8 => "uint8",
        data_type::INT8 => "int8",
        4 => "uint16",
        5 => "int16",
        data_type::INT32 => "int32",
        data_type::INT64 => "int64",
        8 => "string",
        data_type::BOOL => "bool",
        10 => "float16",
        data_type::DOUBLE => "float64",
        12 => "uint32",
        13 => "uint64",
        16 => "bfloat16",
        _ => "an unknown type",
    }
}

impl TensorProto {
    fn problem(&self, problem: impl Into<String>) -> OnnxError {
        OnnxError::Tensor {
            name: self.name.clone(),
            problem: problem.into(),
        }
    }

    /// The dimensions, checked: none negative, and their product (the element count)
    /// representable.
    pub fn shape(&self) -> Result<Vec<usize>, OnnxError> {
        let mut shape = Vec::with_capacity(self.dims.len());
        let mut count: usize = 1;
        for &d in &self.dims {
            let d =
                usize::try_from(d).map_err(|_| self.problem(format!("negative dimension {d}")))?;
            count = count
                .checked_mul(d)
                .ok_or_else(|| self.problem("its dimensions overflow"))?;
            shape.push(d);
        }
        Ok(shape)
    }

    /// The number of elements its dimensions say it holds.
    pub fn element_count(&self) -> Result<usize, OnnxError> {
        Ok(self.shape()?.iter().product())
    }

    fn check_external(&self) -> Result<(), OnnxError> {
        if self.external_data.is_empty() {
            Ok(())
        } else {
            Err(self.problem(
                "its values are in an external file; save the model with its weights inside \
                 (onnx.save_model(model, path, save_as_external_data=False))",
            ))
        }
    }

    /// Little-endian `raw_data` as `N`-byte elements, checked against the dimensions.
    fn raw_elements<const N: usize>(&self, count: usize) -> Result<Vec<[u8; N]>, OnnxError> {
        if count.checked_mul(N) != Some(self.raw_data.len()) {
            return Err(self.problem(format!(
                "{} bytes of raw data for {count} elements of {N} bytes",
                self.raw_data.len()
            )));
        }
        Ok(self
            .raw_data
            .chunks_exact(N)
            .map(|c| {
                let mut b = [0u8; N];
                b.copy_from_slice(c);
                b
            })
            .collect())
    }

    fn check_len(&self, len: usize, count: usize) -> Result<(), OnnxError> {
        if len == count {
            Ok(())
        } else {
            Err(self.problem(format!("{len} values for {count} elements")))
        }
    }

    /// The values as `f32` (from float32 or float64 data).
    pub fn to_f32(&self) -> Result<Vec<f32>, OnnxError> {
        self.check_external()?;
        let count = self.element_count()?;
        let raw = !self.raw_data.is_empty() || count == 0;
        match self.data_type {
            data_type::FLOAT if raw && self.float_data.is_empty() => Ok(self
                .raw_elements::<4>(count)?
                .into_iter()
                .map(f32::from_le_bytes)
                .collect()),
            data_type::FLOAT => {
                self.check_len(self.float_data.len(), count)?;
                Ok(self.float_data.clone())
            }
            data_type::DOUBLE if raw && self.double_data.is_empty() => Ok(self
                .raw_elements::<8>(count)?
                .into_iter()
                .map(|b| f64::from_le_bytes(b) as f32)
                .collect()),
            data_type::DOUBLE => {
                self.check_len(self.double_data.len(), count)?;
                Ok(self.double_data.iter().map(|&v| v as f32).collect())
            }
            other => Err(self.problem(format!(
                "holds {}, where floating-point values are needed",
                data_type_name(other)
            ))),
        }
    }

    /// The values as `i64` (from int64 or int32 data): shapes, axes, indices.
    pub fn to_i64(&self) -> Result<Vec<i64>, OnnxError> {
        self.check_external()?;
        let count = self.element_count()?;
        let raw = !self.raw_data.is_empty() || count == 0;
        match self.data_type {
            data_type::INT64 if raw && self.int64_data.is_empty() => Ok(self
                .raw_elements::<8>(count)?
                .into_iter()
                .map(i64::from_le_bytes)
                .collect()),
            data_type::INT64 => {
                self.check_len(self.int64_data.len(), count)?;
                Ok(self.int64_data.clone())
            }
            data_type::INT32 if raw && self.int32_data.is_empty() => Ok(self
                .raw_elements::<4>(count)?
                .into_iter()
                .map(|b| i64::from(i32::from_le_bytes(b)))
                .collect()),
            data_type::INT32 => {
                self.check_len(self.int32_data.len(), count)?;
                Ok(self.int32_data.iter().map(|&v| i64::from(v)).collect())
            }
            other => Err(self.problem(format!(
                "holds {}, where integers are needed",
                data_type_name(other)
            ))),
        }
    }

    /// A float32 tensor named `name` of shape `dims`, its values in `raw_data`.
    pub fn from_f32(name: &str, dims: &[usize], values: &[f32]) -> TensorProto {
        TensorProto {
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: data_type::FLOAT,
            name: name.to_string(),
            raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ..Default::default()
        }
    }

    /// An int64 tensor named `name` of shape `dims`.
    pub fn from_i64(name: &str, dims: &[usize], values: &[i64]) -> TensorProto {
        TensorProto {
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: data_type::INT64,
            name: name.to_string(),
            raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensors_round_trip_through_the_wire_format() {
        let model = ModelProto {
            ir_version: EXPORT_IR_VERSION,
            opset_import: vec![OperatorSetIdProto {
                domain: String::new(),
                version: EXPORT_OPSET,
            }],
            graph: Some(GraphProto {
                initializer: vec![
                    TensorProto::from_f32("w", &[2, 3], &[1.0, -2.0, 3.5, 0.0, 5.0, -6.25]),
                    TensorProto::from_i64("shape", &[2], &[-1, 6]),
                ],
                ..Default::default()
            }),
            ..Default::default()
        };
        let back = decode_model(&encode_model(&model)).unwrap();
        assert_eq!(back, model);
        let graph = back.graph.unwrap();
        assert_eq!(graph.initializer[0].shape().unwrap(), vec![2, 3]);
        assert_eq!(
            graph.initializer[0].to_f32().unwrap(),
            vec![1.0, -2.0, 3.5, 0.0, 5.0, -6.25]
        );
        assert_eq!(graph.initializer[1].to_i64().unwrap(), vec![-1, 6]);
        assert_eq!(default_opset(&model_with_opset(13)), Some(13));
    }

    fn model_with_opset(version: i64) -> ModelProto {
        ModelProto {
            opset_import: vec![OperatorSetIdProto {
                domain: "ai.onnx".into(),
                version,
            }],
            ..Default::default()
        }
    }

    #[test]
    fn inline_values_are_read_and_checked_against_the_dimensions() {
        let mut t = TensorProto {
            dims: vec![3],
            data_type: data_type::FLOAT,
            float_data: vec![1.0, 2.0, 3.0],
            name: "b".into(),
            ..Default::default()
        };
        assert_eq!(t.to_f32().unwrap(), vec![1.0, 2.0, 3.0]);
        t.dims = vec![4];
        assert!(matches!(t.to_f32(), Err(OnnxError::Tensor { .. })));
        t.data_type = data_type::INT64;
        let message = t.to_f32().unwrap_err().to_string();
        assert!(message.contains("int64"), "{message}");
    }

    #[test]
    fn hostile_tensors_are_errors() {
        let huge = TensorProto {
            dims: vec![i64::MAX, i64::MAX],
            data_type: data_type::FLOAT,
            name: "huge".into(),
            ..Default::default()
        };
        assert!(huge.to_f32().unwrap_err().to_string().contains("overflow"));
        let negative = TensorProto {
            dims: vec![-1],
            data_type: data_type::INT64,
            name: "neg".into(),
            ..Default::default()
        };
        assert!(negative.to_i64().is_err());
        let short = TensorProto {
            dims: vec![2],
            data_type: data_type::FLOAT,
            raw_data: vec![0; 7],
            name: "short".into(),
            ..Default::default()
        };
        assert!(short.to_f32().unwrap_err().to_string().contains("7 bytes"));
        let external = TensorProto {
            dims: vec![1],
            data_type: data_type::FLOAT,
            external_data: vec![StringStringEntryProto {
                key: "location".into(),
                value: "w.bin".into(),
            }],
            ..Default::default()
        };
        assert!(external
            .to_f32()
            .unwrap_err()
            .to_string()
            .contains("external"));
        assert!(decode_model(&[0xff, 0xff, 0xff]).is_err());
        assert_eq!(decode_model(&[]), Err(OnnxError::NoGraph));
    }
}
