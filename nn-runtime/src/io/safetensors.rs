//! Save and load every network's parameters and buffers (running statistics) as
//! safetensors, with PyTorch's `state_dict` names, layouts and dtypes (a `nn.Sequential` of
//! the same layers reads and writes the same file; `num_batches_tracked` is an int64 scalar).
//!
//! Loading checks every tensor's name, dtype and shape against the network's compile-time
//! types and reports every mismatch at once; nothing is changed unless all fit. Truncated,
//! corrupt or hostile files are errors (the `safetensors` crate bounds-checks the header and
//! every offset before anything is read).

use super::named::{named_buffers, named_parameters, replace_last, NamedBuffer};
use crate::error::{Error, Result, WeightProblem};
use crate::layers::{Buffer, BufferVisitor, Layer, Layout, ParamVisitor, Path};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::BTreeMap;

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// The transpose of a `rows × cols` row-major matrix, as a new buffer.
fn transposed(x: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; x.len()];
    crate::kernels::transpose(x, rows, cols, &mut out);
    out
}

/// The network's parameters and buffers as the bytes of a safetensors file.
pub fn to_bytes<L: Layer>(net: &L) -> Result<Vec<u8>> {
    // Name, dtype, shape and little-endian bytes of every tensor, sorted by name.
    let mut tensors: BTreeMap<String, (Dtype, Vec<usize>, Vec<u8>)> = BTreeMap::new();
    for t in named_parameters(net) {
        tensors.insert(t.name, (Dtype::F32, t.shape, f32_bytes(&t.values)));
    }
    for b in named_buffers(net) {
        match b {
            NamedBuffer::Values(t) => {
                tensors.insert(t.name, (Dtype::F32, t.shape, f32_bytes(&t.values)))
            }
            NamedBuffer::Count { name, count } => tensors.insert(
                name,
                (
                    Dtype::I64,
                    Vec::new(),
                    (count as i64).to_le_bytes().to_vec(),
                ),
            ),
        };
    }
    let views = tensors
        .iter()
        .map(|(name, (dtype, shape, bytes))| {
            TensorView::new(*dtype, shape.clone(), bytes).map(|v| (name.as_str(), v))
        })
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::CorruptWeights {
            reason: e.to_string(),
        })?;
    safetensors::serialize(views, None).map_err(|e| Error::CorruptWeights {
        reason: e.to_string(),
    })
}

/// Writes the network's parameters and buffers to a safetensors file, atomically: an
/// existing file is replaced only by a complete new one (see [`super::write_atomically`]).
pub fn save<L: Layer>(net: &L, path: impl AsRef<std::path::Path>) -> Result<()> {
    super::write_atomically(path.as_ref(), &to_bytes(net)?)
}

/// What the network expects of one tensor.
struct Expected {
    name: String,
    shape: Vec<usize>,
    dtype: Dtype,
    sibling: Option<String>,
}

struct Expect(Vec<Expected>);

impl ParamVisitor for Expect {
    fn visit(
        &mut self,
        path: &Path<'_>,
        shape: &[usize],
        layout: Layout,
        _value: &mut [f32],
        _grad: &mut [f32],
    ) {
        let name = path.to_string();
        let sibling = match layout {
            Layout::SumWith(s) => Some(replace_last(&name, s)),
            _ => None,
        };
        self.0.push(Expected {
            name,
            shape: shape.to_vec(),
            dtype: Dtype::F32,
            sibling,
        });
    }
}

impl BufferVisitor for Expect {
    fn visit(&mut self, path: &Path<'_>, shape: &[usize], buffer: Buffer<'_>) {
        self.0.push(Expected {
            name: path.to_string(),
            shape: shape.to_vec(),
            dtype: match buffer {
                Buffer::Values(_) => Dtype::F32,
                Buffer::Count(_) => Dtype::I64,
            },
            sibling: None,
        });
    }
}

/// Copies checked tensors into the parameters.
struct Import<'a> {
    tensors: &'a SafeTensors<'a>,
}

fn read_f32(view: &TensorView<'_>) -> Vec<f32> {
    view.data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

impl ParamVisitor for Import<'_> {
    fn visit(
        &mut self,
        path: &Path<'_>,
        shape: &[usize],
        layout: Layout,
        value: &mut [f32],
        _grad: &mut [f32],
    ) {
        let name = path.to_string();
        // Every name, dtype and shape was checked before any parameter is touched.
        let Ok(view) = self.tensors.tensor(&name) else {
            return;
        };
        let data = read_f32(&view);
        match layout {
            Layout::RowMajor => value.copy_from_slice(&data),
            Layout::Transposed => value.copy_from_slice(&transposed(&data, shape[0], shape[1])),
            Layout::SumWith(sibling) => {
                let other = self
                    .tensors
                    .tensor(&replace_last(&name, sibling))
                    .map(|v| read_f32(&v))
                    .unwrap_or_default();
                for ((v, a), b) in value
                    .iter_mut()
                    .zip(&data)
                    .zip(other.iter().chain(std::iter::repeat(&0.0)))
                {
                    *v = a + b;
                }
            }
        }
    }
}

/// Loads parameters and buffers from the bytes of a safetensors file into `net`: every
/// tensor the network has must be there with its dtype (F32; I64 for counts) and shape, and
/// no other; otherwise one error lists every problem and `net` is unchanged.
pub fn load_bytes<L: Layer>(net: &mut L, bytes: &[u8]) -> Result<()> {
    let tensors = SafeTensors::deserialize(bytes).map_err(|e| Error::CorruptWeights {
        reason: e.to_string(),
    })?;
    let mut expect = Expect(Vec::new());
    net.visit_params(&Path::ROOT, &mut expect);
    net.visit_buffers(&Path::ROOT, &mut expect);
    let mut problems = Vec::new();
    let mut known: Vec<&str> = Vec::new();
    for e in &expect.0 {
        for name in std::iter::once(&e.name).chain(e.sibling.as_ref()) {
            known.push(name);
            match tensors.tensor(name) {
                Err(_) => problems.push(WeightProblem::Missing {
                    name: name.clone(),
                    shape: e.shape.clone(),
                }),
                Ok(view) if view.dtype() != e.dtype => problems.push(WeightProblem::WrongDtype {
                    name: name.clone(),
                    found: format!("{:?}", view.dtype()),
                }),
                Ok(view) if view.shape() != e.shape.as_slice() => {
                    problems.push(WeightProblem::WrongShape {
                        name: name.clone(),
                        expected: e.shape.clone(),
                        found: view.shape().to_vec(),
                    })
                }
                Ok(_) => {}
            }
        }
    }
    let mut unexpected: Vec<&str> = tensors
        .names()
        .into_iter()
        .filter(|n| !known.contains(n))
        .collect();
    unexpected.sort_unstable();
    problems.extend(unexpected.into_iter().map(|n| WeightProblem::Unexpected {
        name: n.to_string(),
    }));
    if !problems.is_empty() {
        return Err(Error::WeightsMismatch { problems });
    }
    let mut import = Import { tensors: &tensors };
    net.visit_params(&Path::ROOT, &mut import);
    net.visit_buffers(&Path::ROOT, &mut import);
    Ok(())
}

impl BufferVisitor for Import<'_> {
    fn visit(&mut self, path: &Path<'_>, _shape: &[usize], buffer: Buffer<'_>) {
        // Checked before any buffer is touched, as the parameters.
        let Ok(view) = self.tensors.tensor(&path.to_string()) else {
            return;
        };
        match buffer {
            Buffer::Values(values) => values.copy_from_slice(&read_f32(&view)),
            Buffer::Count(count) => {
                if let Ok(bytes) = <[u8; 8]>::try_from(view.data()) {
                    // A negative count (not one PyTorch writes) reads as 0.
                    *count = u64::try_from(i64::from_le_bytes(bytes)).unwrap_or(0);
                }
            }
        }
    }
}

/// [`load_bytes`] from a file.
pub fn load<L: Layer>(net: &mut L, path: impl AsRef<std::path::Path>) -> Result<()> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(Error::reading(path))?;
    load_bytes(net, &bytes)
}
