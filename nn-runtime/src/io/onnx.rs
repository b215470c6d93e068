//! ONNX export: a network as an ONNX model (opset [`EXPORT_OPSET`]) that onnxruntime runs
//! with the outputs of `predict`.
//!
//! Each layer writes its own nodes ([`Layer::to_onnx`]) into an [`OnnxGraph`], reading the
//! value its input is in and returning the value its output is in; a network chains its
//! layers' nodes under the same paths that name its parameters, so nodes are named after
//! layers (`conv1/Conv`) and initializers exactly as the network's `state_dict`
//! (`conv1.weight`, in PyTorch's layouts). The graph's input is `input` and its output
//! `output`, both with a symbolic first dimension `batch` before the sample's shape.
//!
//! Two kinds of state are not written as they are named: a recurrent layer's tensors, which
//! ONNX's `LSTM`/`GRU`/`RNN` operators want with their gates in another order and stacked
//! (written as `<weight_ih name>.onnx_W`, `<weight_hh name>.onnx_R` and
//! `<bias_ih name>.onnx_B`, the last holding both biases), and counts such as
//! `num_batches_tracked`, which inference does not read. A layer kind with no export is
//! [`Error::OnnxUnsupported`], naming its kind and path.
//!
//! A network of several inputs (or outputs) reads (or writes) them as typed-nn holds a
//! [`crate::pair::Pair`]: one tensor `[batch, values]` of each sample's parts side by side,
//! in their declared order (token ids among them as floats, cast where an embedding reads
//! them), so that the graph keeps one input and one output as `predict` does.

#[allow(unused_imports)]
use crate::core_prelude::*;

use crate::error::{Error, Result};
use crate::io::named::{self, NamedBuffer, NamedTensor};
use crate::layers::{Layer, Path};
#[cfg(feature = "std")]
use crate::tensor::Batch;
use crate::tensor::Sample;
#[cfg(feature = "std")]
use crate::train::NetworkExt;
use alloc::collections::BTreeSet;
use nn_onnx::{
    attribute_type, data_type, AttributeProto, Dimension, DimensionValue, GraphProto, ModelProto,
    NodeProto, OperatorSetIdProto, TensorProto, TensorShapeProto, TensorTypeProto, TypeProto,
    ValueInfoProto,
};

pub use nn_onnx::{EXPORT_IR_VERSION, EXPORT_OPSET};

/// The name of the graph's input.
pub const INPUT: &str = "input";
/// The name of the graph's output.
pub const OUTPUT: &str = "output";
/// The name of the symbolic batch dimension of the input and output.
pub const BATCH: &str = "batch";

/// The error for a layer `L` at `path` that cannot be exported, and why.
pub fn unsupported<L: Layer>(path: &Path<'_>, reason: impl Into<String>) -> Error {
    Error::OnnxUnsupported {
        kind: L::KIND.to_string(),
        path: path.to_string(),
        reason: reason.into(),
    }
}

/// Attributes of a node, by type.
pub mod attr {
    use super::{attribute_type, AttributeProto};
    #[allow(unused_imports)]
    use crate::core_prelude::*;

    pub fn int(name: &str, i: i64) -> AttributeProto {
        AttributeProto {
            name: name.to_string(),
            r#type: attribute_type::INT,
            i,
            ..Default::default()
        }
    }

    pub fn ints(name: &str, ints: &[i64]) -> AttributeProto {
        AttributeProto {
            name: name.to_string(),
            r#type: attribute_type::INTS,
            ints: ints.to_vec(),
            ..Default::default()
        }
    }

    pub fn float(name: &str, f: f32) -> AttributeProto {
        AttributeProto {
            name: name.to_string(),
            r#type: attribute_type::FLOAT,
            f,
            ..Default::default()
        }
    }

    pub fn string(name: &str, s: &str) -> AttributeProto {
        AttributeProto {
            name: name.to_string(),
            r#type: attribute_type::STRING,
            s: s.as_bytes().to_vec(),
            ..Default::default()
        }
    }

    pub fn strings(name: &str, strings: &[&str]) -> AttributeProto {
        AttributeProto {
            name: name.to_string(),
            r#type: attribute_type::STRINGS,
            strings: strings.iter().map(|s| s.as_bytes().to_vec()).collect(),
            ..Default::default()
        }
    }
}

/// `usize` sizes as ONNX's `int64` (sizes of samples, far below `i64::MAX`).
pub fn dims(sizes: &[usize]) -> Vec<i64> {
    sizes.iter().map(|&d| d as i64).collect()
}

/// A graph being written: nodes in topological order, initializers, and the value names
/// taken so far (every value is written once).
#[derive(Default)]
pub struct OnnxGraph {
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    taken: BTreeSet<String>,
    token_input: bool,
}

impl OnnxGraph {
    /// An empty graph whose input is [`INPUT`].
    pub fn new() -> Self {
        let mut g = OnnxGraph::default();
        g.taken.insert(INPUT.to_string());
        g.taken.insert(OUTPUT.to_string());
        g
    }

    /// `hint` if no value has that name yet, else `hint_1`, `hint_2`, ….
    pub fn fresh(&mut self, hint: &str) -> String {
        let mut name = hint.to_string();
        let mut k = 0;
        while !self.taken.insert(name.clone()) {
            k += 1;
            name = format!("{hint}_{k}");
        }
        name
    }

    /// A node `op` of `scope` (the layer's path) reading `inputs` (`""` for an optional
    /// input left out) with `outputs` outputs; returns their names. The node is named as
    /// its first output, `scope/op`.
    pub fn op_outputs(
        &mut self,
        op: &str,
        scope: &str,
        inputs: &[&str],
        outputs: usize,
        attribute: Vec<AttributeProto>,
    ) -> Vec<String> {
        let base = if scope.is_empty() {
            op.to_string()
        } else {
            format!("{scope}/{op}")
        };
        let outputs: Vec<String> = (0..outputs)
            .map(|k| match k {
                0 => self.fresh(&base),
                _ => self.fresh(&format!("{base}:{k}")),
            })
            .collect();
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: outputs.clone(),
            name: outputs[0].clone(),
            op_type: op.to_string(),
            attribute,
            ..Default::default()
        });
        outputs
    }

    /// A node with one output (see [`Self::op_outputs`]); returns its name.
    pub fn op(
        &mut self,
        op: &str,
        scope: &str,
        inputs: &[&str],
        attribute: Vec<AttributeProto>,
    ) -> String {
        let mut outputs = self.op_outputs(op, scope, inputs, 1, attribute);
        outputs.swap_remove(0)
    }

    /// A float initializer named `name` (a parameter's own name when free, as it is in a
    /// network whose paths are unique).
    pub fn initializer(&mut self, name: &str, shape: &[usize], values: &[f32]) -> String {
        let name = self.fresh(name);
        self.initializers
            .push(TensorProto::from_f32(&name, shape, values));
        name
    }

    /// A parameter tensor as an initializer under its own name.
    pub fn tensor(&mut self, t: &NamedTensor) -> String {
        self.initializer(&t.name, &t.shape, &t.values)
    }

    /// An int64 constant of `scope` (shapes, axes, indices).
    pub fn const_i64(
        &mut self,
        scope: &str,
        hint: &str,
        shape: &[usize],
        values: &[i64],
    ) -> String {
        let name = self.fresh(&format!("{scope}/{hint}"));
        self.initializers
            .push(TensorProto::from_i64(&name, shape, values));
        name
    }

    /// A float constant of `scope`.
    pub fn const_f32(
        &mut self,
        scope: &str,
        hint: &str,
        shape: &[usize],
        values: &[f32],
    ) -> String {
        self.initializer(&format!("{scope}/{hint}"), shape, values)
    }

    /// A float scalar constant of `scope`.
    pub fn scalar(&mut self, scope: &str, hint: &str, value: f32) -> String {
        self.const_f32(scope, hint, &[], &[value])
    }

    /// `x` reshaped to a batch of `sample`-shaped samples.
    pub fn reshape(&mut self, scope: &str, x: &str, sample: &[usize]) -> String {
        let mut shape = vec![0];
        shape.extend(dims(sample));
        let shape = self.const_i64(scope, "shape", &[shape.len()], &shape);
        self.op("Reshape", scope, &[x, &shape], vec![])
    }

    /// `x` with its axes permuted.
    pub fn transpose(&mut self, scope: &str, x: &str, perm: &[i64]) -> String {
        self.op("Transpose", scope, &[x], vec![attr::ints("perm", perm)])
    }

    /// `x` with the axes `axes` (of size 1) removed.
    pub fn squeeze(&mut self, scope: &str, x: &str, axes: &[i64]) -> String {
        let axes = self.const_i64(scope, "axes", &[axes.len()], axes);
        self.op("Squeeze", scope, &[x, &axes], vec![])
    }

    /// `x` with axes of size 1 inserted at `axes`.
    pub fn unsqueeze(&mut self, scope: &str, x: &str, axes: &[i64]) -> String {
        let axes = self.const_i64(scope, "axes", &[axes.len()], axes);
        self.op("Unsqueeze", scope, &[x, &axes], vec![])
    }

    /// `x[start..end]` along `axis` (negative from the last).
    pub fn slice(&mut self, scope: &str, x: &str, axis: i64, start: usize, end: usize) -> String {
        let starts = self.const_i64(scope, "starts", &[1], &[start as i64]);
        let ends = self.const_i64(scope, "ends", &[1], &[end as i64]);
        let axes = self.const_i64(scope, "axes", &[1], &[axis]);
        self.op("Slice", scope, &[x, &starts, &ends, &axes], vec![])
    }

    /// The part `[offset, offset + part.len)` of the values of each sample of `x` (samples
    /// of `whole` values), as samples of shape `part`: how a layer reads one part of a
    /// pair.
    pub fn part(
        &mut self,
        scope: &str,
        x: &str,
        whole: usize,
        offset: usize,
        part: &[usize],
    ) -> String {
        let flat = self.reshape(scope, x, &[whole]);
        let len = part.iter().product::<usize>();
        let values = self.slice(scope, &flat, 1, offset, offset + len);
        self.reshape(scope, &values, part)
    }

    /// The pair of `a` (samples of `a_len` values) and `b` (of `b_len`): each sample's
    /// values side by side, as typed-nn lays out a [`crate::pair::Pair`].
    pub fn pair(&mut self, scope: &str, a: &str, a_len: usize, b: &str, b_len: usize) -> String {
        let a = self.reshape(scope, a, &[a_len]);
        let b = self.reshape(scope, b, &[b_len]);
        self.op("Concat", scope, &[&a, &b], vec![attr::int("axis", 1)])
    }

    /// `y = x · Wᵀ + b` over the last axis of `x`, a batch of samples of rank `rank`, with
    /// `weight` `[out, in]` (PyTorch's layout) and an optional `bias` `[out]`: `Gemm` for a
    /// batch of vectors, else `MatMul` by the transposed weight (at every step).
    pub fn linear(
        &mut self,
        scope: &str,
        x: &str,
        rank: usize,
        weight: &str,
        bias: Option<&str>,
    ) -> String {
        if rank == 1 {
            let mut inputs = vec![x, weight];
            inputs.extend(bias);
            return self.op("Gemm", scope, &inputs, vec![attr::int("transB", 1)]);
        }
        let weight_t = self.transpose(scope, weight, &[1, 0]);
        let y = self.op("MatMul", scope, &[x, &weight_t], vec![]);
        match bias {
            Some(b) => self.op("Add", scope, &[&y, b], vec![]),
            None => y,
        }
    }

    /// Records that the graph's input holds token ids (int64), read by an embedding.
    pub fn mark_token_input(&mut self) {
        self.token_input = true;
    }
}

/// A layer's parameters and buffers named under its path, in PyTorch's layouts, for its
/// [`Layer::to_onnx`] to pick by their last name.
pub struct LayerState {
    path: String,
    kind: &'static str,
    params: Vec<NamedTensor>,
    buffers: Vec<NamedBuffer>,
}

impl LayerState {
    /// The state of `layer` at `path`.
    pub fn of<L: Layer>(layer: &L, path: &Path<'_>) -> Self {
        LayerState {
            path: path.to_string(),
            kind: L::KIND,
            params: named::parameters_at(layer, path),
            buffers: named::buffers_at(layer, path),
        }
    }

    fn full_name(&self, last: &str) -> String {
        if self.path.is_empty() {
            last.to_string()
        } else {
            format!("{}.{last}", self.path)
        }
    }

    /// The parameter or buffer of values named `last` under the layer's path, if any.
    pub fn get(&self, last: &str) -> Option<&NamedTensor> {
        let name = self.full_name(last);
        self.params.iter().find(|t| t.name == name).or_else(|| {
            self.buffers.iter().find_map(|b| match b {
                NamedBuffer::Values(t) if t.name == name => Some(t),
                _ => None,
            })
        })
    }

    /// [`Self::get`], where the layer always has it.
    pub fn tensor(&self, last: &str) -> Result<&NamedTensor> {
        self.get(last).ok_or_else(|| Error::OnnxUnsupported {
            kind: self.kind.to_string(),
            path: self.path.clone(),
            reason: format!("it has no tensor `{}`", self.full_name(last)),
        })
    }

    /// The tensor named `last` written as an initializer; its name.
    pub fn initializer(&self, g: &mut OnnxGraph, last: &str) -> Result<String> {
        Ok(g.tensor(self.tensor(last)?))
    }

    /// [`Self::initializer`] for a tensor the layer may lack (a bias).
    pub fn optional_initializer(&self, g: &mut OnnxGraph, last: &str) -> Option<String> {
        self.get(last).map(|t| g.tensor(t))
    }
}

/// A tensor type: `elem_type`, the symbolic batch, then `sample`.
fn batch_type(elem_type: i32, sample: &[usize]) -> TypeProto {
    let batch = Dimension {
        value: Some(DimensionValue::DimParam(BATCH.to_string())),
        denotation: String::new(),
    };
    let rest = sample.iter().map(|&d| Dimension {
        value: Some(DimensionValue::DimValue(d as i64)),
        denotation: String::new(),
    });
    TypeProto {
        tensor_type: Some(TensorTypeProto {
            elem_type,
            shape: Some(TensorShapeProto {
                dim: core::iter::once(batch).chain(rest).collect(),
            }),
        }),
        denotation: String::new(),
    }
}

fn value_info(name: &str, r#type: TypeProto) -> ValueInfoProto {
    ValueInfoProto {
        name: name.to_string(),
        r#type: Some(r#type),
        doc_string: String::new(),
    }
}

/// The network `net` as an ONNX model: opset [`EXPORT_OPSET`], input [`INPUT`] (float, or
/// int64 token ids for a network that embeds its input), output [`OUTPUT`].
pub fn to_model<L: Layer>(net: &L) -> Result<ModelProto> {
    let mut g = OnnxGraph::new();
    let out = net.to_onnx(&mut g, &Path::ROOT, INPUT)?;
    // The last node writes `output` itself, unless the output is the input (a network of
    // identities) or another node reads it too.
    let produced_last = g
        .nodes
        .last()
        .is_some_and(|n| n.output.first() == Some(&out));
    let read = g.nodes.iter().any(|n| n.input.contains(&out));
    match g.nodes.last_mut() {
        Some(last) if produced_last && !read => {
            last.output[0] = OUTPUT.to_string();
            last.name = format!("{}/{OUTPUT}", last.name);
        }
        _ => {
            g.nodes.push(NodeProto {
                input: vec![out],
                output: vec![OUTPUT.to_string()],
                name: OUTPUT.to_string(),
                op_type: "Identity".to_string(),
                ..Default::default()
            });
        }
    }
    let input_type = if g.token_input {
        data_type::INT64
    } else {
        data_type::FLOAT
    };
    let graph = GraphProto {
        node: g.nodes,
        name: L::KIND.to_string(),
        initializer: g.initializers,
        input: vec![value_info(INPUT, batch_type(input_type, L::In::SHAPE))],
        output: vec![value_info(
            OUTPUT,
            batch_type(data_type::FLOAT, L::Out::SHAPE),
        )],
        ..Default::default()
    };
    Ok(ModelProto {
        ir_version: EXPORT_IR_VERSION,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: EXPORT_OPSET,
        }],
        producer_name: "typed-nn".to_string(),
        producer_version: env!("CARGO_PKG_VERSION").to_string(),
        graph: Some(graph),
        ..Default::default()
    })
}

/// The bytes of [`to_model`]'s model.
pub fn to_bytes<L: Layer>(net: &L) -> Result<Vec<u8>> {
    Ok(nn_onnx::encode_model(&to_model(net)?))
}

#[cfg(feature = "std")]
/// Writes [`to_model`]'s model to `path`, atomically (see [`super::write_atomically`]).
pub fn save<L: Layer>(net: &L, path: impl AsRef<std::path::Path>) -> Result<()> {
    super::write_atomically(path.as_ref(), &to_bytes(net)?)
}

#[cfg(feature = "std")]
/// Writes `<dir>/<name>.onnx` and `<dir>/<name>.io.safetensors`, a test vector for an ONNX
/// runtime: `input` (`[batch, …]`, float32, or int64 token ids where the model's input is)
/// and `output`, the network's own `predict` on it.
pub fn write_check_files<N: NetworkExt>(
    net: &N,
    dir: impl AsRef<std::path::Path>,
    name: &str,
    input: &Batch<N::In>,
) -> Result<()> {
    let dir = dir.as_ref();
    let model = to_model(net)?;
    let tokens = model
        .graph
        .as_ref()
        .and_then(|g| g.input.first())
        .and_then(|i| i.r#type.as_ref())
        .and_then(|t| t.tensor_type.as_ref())
        .is_some_and(|t| t.elem_type == data_type::INT64);
    let output = net.try_predict(input)?;
    let rows = input.rows();
    let shape = |sample: &[usize]| {
        core::iter::once(rows)
            .chain(sample.iter().copied())
            .collect()
    };
    let input_bytes: Vec<u8> = if tokens {
        input
            .as_slice()
            .iter()
            .flat_map(|&id| (id as i64).to_le_bytes())
            .collect()
    } else {
        input
            .as_slice()
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect()
    };
    let output_bytes: Vec<u8> = output
        .as_slice()
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let input_dtype = if tokens {
        safetensors::Dtype::I64
    } else {
        safetensors::Dtype::F32
    };
    let corrupt = |e: safetensors::SafeTensorError| Error::CorruptWeights {
        reason: e.to_string(),
    };
    let views = [
        (
            INPUT,
            safetensors::tensor::TensorView::new(input_dtype, shape(N::In::SHAPE), &input_bytes)
                .map_err(corrupt)?,
        ),
        (
            OUTPUT,
            safetensors::tensor::TensorView::new(
                safetensors::Dtype::F32,
                shape(N::Out::SHAPE),
                &output_bytes,
            )
            .map_err(corrupt)?,
        ),
    ];
    let io = safetensors::serialize(views, None).map_err(corrupt)?;
    super::write_atomically(
        &dir.join(format!("{name}.onnx")),
        &nn_onnx::encode_model(&model),
    )?;
    super::write_atomically(&dir.join(format!("{name}.io.safetensors")), &io)
}

/// `kernel_shape`, `strides`, `dilations` and `pads` of a sliding-window operator (Conv,
/// MaxPool, AveragePool) over spatial axes of sizes `input` to `output`, with `before`
/// zeros before each: the zeros after each axis are those the last window reaches past the
/// input, none where PyTorch's symmetric padding leaves the last positions unread (ONNX
/// then computes the same output size, rounding down).
pub fn window_attrs(
    input: &[usize],
    output: &[usize],
    kernel: &[usize],
    strides: &[usize],
    dilations: &[usize],
    before: &[usize],
) -> Vec<AttributeProto> {
    let after: Vec<usize> = (0..input.len())
        .map(|i| {
            let span =
                (output[i].max(1) - 1) * strides[i] + (kernel[i].max(1) - 1) * dilations[i] + 1;
            span.saturating_sub(input[i] + before[i])
        })
        .collect();
    let pads: Vec<usize> = before.iter().chain(&after).copied().collect();
    vec![
        attr::ints("kernel_shape", &dims(kernel)),
        attr::ints("strides", &dims(strides)),
        attr::ints("dilations", &dims(dilations)),
        attr::ints("pads", &dims(&pads)),
    ]
}
