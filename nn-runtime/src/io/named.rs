//! A network's tensors by PyTorch name, in PyTorch's layouts: what its `state_dict` would
//! hold (`named_parameters`), the gradients of the last training step as PyTorch's
//! `param.grad` would hold them (`named_gradients`), and its buffers. Safetensors files are
//! written from the same conversion.

#[allow(unused_imports)]
use crate::core_prelude::*;

use crate::layers::{BufferReader, BufferRef, Layer, Layout, ParamReader, Path};

/// One tensor, by its PyTorch name (`fc1.weight`), row-major in its PyTorch shape.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedTensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

/// A buffer by its PyTorch name: running statistics, or a count such as
/// `num_batches_tracked`.
#[derive(Clone, Debug, PartialEq)]
pub enum NamedBuffer {
    Values(NamedTensor),
    Count { name: String, count: u64 },
}

/// One entry of a network's state listing ([`NetworkExt::state_dict`](crate::NetworkExt::state_dict)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateEntry {
    pub name: String,
    /// PyTorch's shape; `[]` for a count.
    pub shape: Vec<usize>,
    pub kind: StateKind,
}

/// What a state entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateKind {
    /// A parameter training updates.
    Parameter,
    /// A parameter frozen for fine-tuning.
    Frozen,
    /// A buffer (running statistics, a count).
    Buffer,
}

impl core::fmt::Display for StateEntry {
    /// `name [shape] kind`: `fc1.weight [128, 784] parameter`.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let kind = match self.kind {
            StateKind::Parameter => "parameter",
            StateKind::Frozen => "parameter, frozen",
            StateKind::Buffer => "buffer",
        };
        write!(f, "{} {:?} {kind}", self.name, self.shape)
    }
}

/// Which side of each parameter tensor to read.
#[derive(Clone, Copy)]
enum Side {
    Values,
    Grads,
}

/// Collects parameter tensors (or their gradients) in PyTorch's layouts.
struct Collect {
    side: Side,
    tensors: Vec<NamedTensor>,
}

impl ParamReader for Collect {
    fn read(
        &mut self,
        path: &Path<'_>,
        shape: &[usize],
        layout: Layout,
        value: &[f32],
        grad: &[f32],
    ) {
        let held = match self.side {
            Side::Values => value,
            Side::Grads => grad,
        };
        let name = path.to_string();
        let values = match layout {
            // Stored `[cols, rows]`: PyTorch's `[rows, cols]` is its transpose.
            Layout::Transposed => {
                let mut out = vec![0.0; held.len()];
                crate::kernels::transpose(held, shape[1], shape[0], &mut out);
                out
            }
            Layout::RowMajor | Layout::SumWith(_) => held.to_vec(),
        };
        if let Layout::SumWith(sibling) = layout {
            // One tensor held for PyTorch's two (`bias_ih + bias_hh`): the sum goes to the
            // first and zeros to the sibling; each has the sum's gradient, as in PyTorch.
            let sibling_values = match self.side {
                Side::Values => vec![0.0; values.len()],
                Side::Grads => values.clone(),
            };
            self.tensors.push(NamedTensor {
                name: replace_last(&name, sibling),
                shape: shape.to_vec(),
                values: sibling_values,
            });
        }
        self.tensors.push(NamedTensor {
            name,
            shape: shape.to_vec(),
            values,
        });
    }
}

impl BufferReader for Vec<NamedBuffer> {
    fn read(&mut self, path: &Path<'_>, shape: &[usize], buffer: BufferRef<'_>) {
        let name = path.to_string();
        self.push(match buffer {
            BufferRef::Values(values) => NamedBuffer::Values(NamedTensor {
                name,
                shape: shape.to_vec(),
                values: values.to_vec(),
            }),
            BufferRef::Count(count) => NamedBuffer::Count { name, count },
        });
    }
}

/// `a.b.c` with its last component replaced by `last`.
pub(crate) fn replace_last(name: &str, last: &str) -> String {
    match name.rfind('.') {
        Some(i) => format!("{}.{last}", &name[..i]),
        None => last.to_string(),
    }
}

fn collect<L: Layer>(net: &L, path: &Path<'_>, side: Side) -> Vec<NamedTensor> {
    let mut collect = Collect {
        side,
        tensors: Vec::new(),
    };
    net.read_params(path, &mut collect);
    collect.tensors
}

/// The parameter tensors of `layer`, named under `path` as it sits in a network, in
/// PyTorch's layout: what ONNX export writes as a layer's initializers.
pub(crate) fn parameters_at<L: Layer>(layer: &L, path: &Path<'_>) -> Vec<NamedTensor> {
    collect(layer, path, Side::Values)
}

/// The buffers of `layer`, named under `path`.
pub(crate) fn buffers_at<L: Layer>(layer: &L, path: &Path<'_>) -> Vec<NamedBuffer> {
    let mut buffers = Vec::new();
    layer.read_buffers(path, &mut buffers);
    buffers
}

/// Every parameter tensor by PyTorch name, in PyTorch's layout (PyTorch's
/// `named_parameters()`), in the network's order.
pub fn named_parameters<L: Layer>(net: &L) -> Vec<NamedTensor> {
    collect(net, &Path::ROOT, Side::Values)
}

/// The gradient of every parameter from the last training step (or backward pass), by
/// PyTorch name and in PyTorch's layout (PyTorch's `param.grad`).
pub fn named_gradients<L: Layer>(net: &L) -> Vec<NamedTensor> {
    collect(net, &Path::ROOT, Side::Grads)
}

/// Every buffer by PyTorch name (PyTorch's `named_buffers()`).
pub fn named_buffers<L: Layer>(net: &L) -> Vec<NamedBuffer> {
    buffers_at(net, &Path::ROOT)
}
