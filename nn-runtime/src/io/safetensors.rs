//! Save and load every network's parameters and buffers (running statistics) as
//! safetensors, with PyTorch's `state_dict` names, layouts and dtypes (a `nn.Sequential` of
//! the same layers reads and writes the same file; `num_batches_tracked` is an int64 scalar).
//!
//! Loading checks every tensor's name, dtype and shape against the network's compile-time
//! types and reports every mismatch at once; nothing is changed unless all fit. Truncated,
//! corrupt or hostile files are errors (the `safetensors` crate bounds-checks the header and
//! every offset before anything is read).

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::named::{named_buffers, named_parameters, replace_last, NamedBuffer};
use crate::error::{Error, Result, WeightProblem};
use crate::layers::{Buffer, BufferVisitor, Layer, Layout, ParamVisitor, Path};
use alloc::collections::{BTreeMap, BTreeSet};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

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
        .collect::<core::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::CorruptWeights {
            reason: e.to_string(),
        })?;
    safetensors::serialize(views, None).map_err(|e| Error::CorruptWeights {
        reason: e.to_string(),
    })
}

#[cfg(feature = "std")]
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

/// Copies checked tensors into the parameters: each network name read from the file's
/// tensor `names` maps it to (its own name when loading plainly), those in `skip` (left out
/// of a partial load) not at all.
struct Import<'a> {
    tensors: &'a SafeTensors<'a>,
    names: &'a BTreeMap<String, String>,
    skip: &'a BTreeSet<String>,
}

impl<'a> Import<'a> {
    fn tensor(&self, name: &str) -> Option<TensorView<'a>> {
        if self.skip.contains(name) {
            return None;
        }
        self.tensors.tensor(self.names.get(name)?).ok()
    }
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
        let Some(view) = self.tensor(&name) else {
            return;
        };
        let data = read_f32(&view);
        match layout {
            Layout::RowMajor => value.copy_from_slice(&data),
            Layout::Transposed => value.copy_from_slice(&transposed(&data, shape[0], shape[1])),
            Layout::SumWith(sibling) => {
                let other = self
                    .tensor(&replace_last(&name, sibling))
                    .map(|v| read_f32(&v))
                    .unwrap_or_default();
                for ((v, a), b) in value
                    .iter_mut()
                    .zip(&data)
                    .zip(other.iter().chain(core::iter::repeat(&0.0)))
                {
                    *v = a + b;
                }
            }
        }
    }
}

/// A function from a file's tensor name to the network's.
type RenameFn = Box<dyn Fn(&str) -> String>;

/// How [`load_with`] reads a file whose tensor names differ from the network's, or that
/// holds only part of it. Each file name is mapped in order: the prefix to strip removed
/// (names without it are kept as they are), the prefix to add put in front, the first
/// rename whose old prefix it lies under rewritten (`"0.short"` → `"0.shortcut"` turns
/// `0.short.0.weight` into `0.shortcut.0.weight`), then the rename function. Prefixes are
/// whole path components (`"0.short"` is no prefix of `"0.shorter.weight"`).
pub struct LoadOptions {
    strip_prefix: Option<String>,
    add_prefix: Option<String>,
    renames: Vec<(String, String)>,
    rename_fn: Option<RenameFn>,
    only: Option<String>,
    strict: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            strip_prefix: None,
            add_prefix: None,
            renames: Vec::new(),
            rename_fn: None,
            only: None,
            strict: true,
        }
    }
}

impl core::fmt::Debug for LoadOptions {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LoadOptions")
            .field("strip_prefix", &self.strip_prefix)
            .field("add_prefix", &self.add_prefix)
            .field("renames", &self.renames)
            .field("rename_fn", &self.rename_fn.is_some())
            .field("only", &self.only)
            .field("strict", &self.strict)
            .finish()
    }
}

impl LoadOptions {
    /// Every tensor of the network from the file, under its own name (what [`load`] does).
    pub fn new() -> Self {
        Self::default()
    }

    /// Removes `prefix` (a path: `"model"` or `"model."` alike) from the file's names, as a
    /// checkpoint saved from a wrapper (`model.0.weight`) needs.
    pub fn strip_prefix(mut self, prefix: &str) -> Self {
        self.strip_prefix = Some(prefix.trim_end_matches('.').to_string());
        self
    }

    /// Puts `prefix` in front of the file's names: a file of a body alone loaded into the
    /// `body` block of a larger network.
    pub fn add_prefix(mut self, prefix: &str) -> Self {
        self.add_prefix = Some(prefix.trim_end_matches('.').to_string());
        self
    }

    /// Renames the file's names at or under `from` to lie under `to` instead.
    pub fn rename(mut self, from: &str, to: &str) -> Self {
        self.renames.push((from.to_string(), to.to_string()));
        self
    }

    /// Maps every file name (after the prefixes and renames) through `f`.
    pub fn rename_with(mut self, f: impl Fn(&str) -> String + 'static) -> Self {
        self.rename_fn = Some(Box::new(f));
        self
    }

    /// Reads only the file's tensors that map to names at or under `prefix` (the body of a
    /// network whose head is replaced); the others are passed over, as if not in the file.
    pub fn only(mut self, prefix: &str) -> Self {
        self.only = Some(prefix.trim_end_matches('.').to_string());
        self
    }

    /// Loads what the file and the network share (PyTorch's `strict=False`): the network's
    /// tensors the file lacks keep their values, the file's tensors the network lacks are
    /// ignored, both listed in the [`LoadReport`]. A tensor of the wrong shape or dtype is
    /// still an error.
    pub fn non_strict(mut self) -> Self {
        self.strict = false;
        self
    }

    /// The network name a file name maps to.
    pub fn map(&self, file_name: &str) -> String {
        let mut name = file_name.to_string();
        if let Some(p) = &self.strip_prefix {
            if crate::layers::under(&name, p) && name != *p {
                name = name[p.len() + 1..].to_string();
            }
        }
        if let Some(p) = &self.add_prefix {
            if !p.is_empty() {
                name = format!("{p}.{name}");
            }
        }
        if let Some((from, to)) = self
            .renames
            .iter()
            .find(|(from, _)| crate::layers::under(&name, from))
        {
            name = format!("{to}{}", &name[from.len()..]);
        }
        match &self.rename_fn {
            Some(f) => f(&name),
            None => name,
        }
    }
}

/// What a load read: the network's tensors it loaded, those it left as they were (not in the
/// file), and the file's tensors it ignored (not in the network), each by name (the
/// network's for the first two, the file's for the third).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadReport {
    pub loaded: Vec<String>,
    pub missing: Vec<String>,
    pub unexpected: Vec<String>,
}

/// Loads parameters and buffers from the bytes of a safetensors file into `net`: every
/// tensor the network has must be there with its dtype (F32; I64 for counts) and shape, and
/// no other; otherwise one error lists every problem and `net` is unchanged.
pub fn load_bytes<L: Layer>(net: &mut L, bytes: &[u8]) -> Result<()> {
    load_bytes_with(net, bytes, &LoadOptions::new()).map(|_| ())
}

/// [`load_bytes`] with names mapped by `options`, and, when they are not strict, of the
/// tensors the file and the network share. Every problem is reported at once and `net` is
/// unchanged unless the load succeeds.
pub fn load_bytes_with<L: Layer>(
    net: &mut L,
    bytes: &[u8],
    options: &LoadOptions,
) -> Result<LoadReport> {
    let tensors = SafeTensors::deserialize(bytes).map_err(|e| Error::CorruptWeights {
        reason: e.to_string(),
    })?;
    // Network name → file name.
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    let mut passed_over: BTreeSet<&str> = BTreeSet::new();
    for file_name in tensors.names() {
        let name = options.map(file_name);
        if options
            .only
            .as_ref()
            .is_some_and(|p| !crate::layers::under(&name, p))
        {
            passed_over.insert(file_name);
            continue;
        }
        if let Some(other) = names.insert(name.clone(), file_name.to_string()) {
            return Err(Error::CorruptWeights {
                reason: format!(
                    "the file's tensors `{other}` and `{file_name}` both map to `{name}`"
                ),
            });
        }
    }
    let mut expect = Expect(Vec::new());
    net.visit_params(&Path::ROOT, &mut expect);
    net.visit_buffers(&Path::ROOT, &mut expect);
    let mut problems = Vec::new();
    let mut report = LoadReport::default();
    let mut skip = BTreeSet::new();
    let mut known: BTreeSet<&str> = BTreeSet::new();
    for e in &expect.0 {
        let parts: Vec<&String> = core::iter::once(&e.name)
            .chain(e.sibling.as_ref())
            .collect();
        let absent: Vec<&&String> = parts
            .iter()
            .filter(|n| !names.contains_key(n.as_str()))
            .collect();
        if !absent.is_empty() && !options.strict {
            // A tensor the file lacks (or half of a pair summed into one) keeps its values.
            report.missing.extend(parts.iter().map(|n| n.to_string()));
            skip.insert(e.name.clone());
            for n in &parts {
                if let Some(f) = names.get(n.as_str()) {
                    known.insert(f);
                }
            }
            continue;
        }
        for name in parts {
            let Some(file_name) = names.get(name.as_str()) else {
                problems.push(WeightProblem::Missing {
                    name: name.clone(),
                    shape: e.shape.clone(),
                });
                continue;
            };
            known.insert(file_name);
            let Ok(view) = tensors.tensor(file_name) else {
                continue;
            };
            if view.dtype() != e.dtype {
                problems.push(WeightProblem::WrongDtype {
                    name: file_name.clone(),
                    found: format!("{:?}", view.dtype()),
                });
            } else if view.shape() != e.shape.as_slice() {
                problems.push(WeightProblem::WrongShape {
                    name: file_name.clone(),
                    expected: e.shape.clone(),
                    found: view.shape().to_vec(),
                });
            } else {
                report.loaded.push(name.clone());
            }
        }
    }
    let mut unexpected: Vec<&str> = tensors
        .names()
        .into_iter()
        .filter(|n| !known.contains(n) && !passed_over.contains(n))
        .collect();
    unexpected.sort_unstable();
    if options.strict {
        problems.extend(unexpected.iter().map(|n| WeightProblem::Unexpected {
            name: n.to_string(),
        }));
    } else {
        report.unexpected = unexpected.iter().map(|n| n.to_string()).collect();
    }
    if !problems.is_empty() {
        return Err(Error::WeightsMismatch { problems });
    }
    let mut import = Import {
        tensors: &tensors,
        names: &names,
        skip: &skip,
    };
    net.visit_params(&Path::ROOT, &mut import);
    net.visit_buffers(&Path::ROOT, &mut import);
    Ok(report)
}

impl BufferVisitor for Import<'_> {
    fn visit(&mut self, path: &Path<'_>, _shape: &[usize], buffer: Buffer<'_>) {
        // Checked before any buffer is touched, as the parameters.
        let Some(view) = self.tensor(&path.to_string()) else {
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

#[cfg(feature = "std")]
/// [`load_bytes_with`] from a file.
pub fn load_with<L: Layer>(
    net: &mut L,
    path: impl AsRef<std::path::Path>,
    options: &LoadOptions,
) -> Result<LoadReport> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(Error::reading(path))?;
    load_bytes_with(net, &bytes, options)
}

#[cfg(feature = "std")]
/// [`load_bytes`] from a file.
pub fn load<L: Layer>(net: &mut L, path: impl AsRef<std::path::Path>) -> Result<()> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(Error::reading(path))?;
    load_bytes(net, &bytes)
}
