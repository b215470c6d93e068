//! The tensors of a lowered network by name, with their dtypes: what its safetensors file
//! holds. Reads check name, dtype and shape, and remember what was read, so that a file
//! with tensors the network lacks is refused too.

#[allow(unused_imports)]
use crate::core_prelude::*;

use crate::error::{Error, Result, WeightProblem};
use crate::layers::{Layer, Path};
use crate::Rng;
use alloc::collections::{BTreeMap, BTreeSet};
use core::cell::RefCell;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

#[derive(Clone, Debug)]
struct Stored {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

/// Named tensors of mixed dtypes (see the module docs).
#[derive(Debug, Default)]
pub struct TensorMap {
    tensors: BTreeMap<String, Stored>,
    read: RefCell<BTreeSet<String>>,
}

fn corrupt(e: impl core::fmt::Display) -> Error {
    Error::CorruptWeights {
        reason: e.to_string(),
    }
}

fn mismatch(problem: WeightProblem) -> Error {
    Error::WeightsMismatch {
        problems: vec![problem],
    }
}

impl TensorMap {
    fn insert(&mut self, name: String, dtype: Dtype, shape: &[usize], bytes: Vec<u8>) {
        self.tensors.insert(
            name,
            Stored {
                dtype,
                shape: shape.to_vec(),
                bytes,
            },
        );
    }

    /// Adds an `F32` tensor.
    pub fn insert_f32(&mut self, name: String, shape: &[usize], values: &[f32]) {
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.insert(name, Dtype::F32, shape, bytes);
    }

    /// Adds an `I8` tensor.
    pub fn insert_i8(&mut self, name: String, shape: &[usize], values: &[i8]) {
        let bytes = values.iter().map(|&v| v as u8).collect();
        self.insert(name, Dtype::I8, shape, bytes);
    }

    /// Adds a `U8` tensor.
    pub fn insert_u8(&mut self, name: String, shape: &[usize], values: &[u8]) {
        self.insert(name, Dtype::U8, shape, values.to_vec());
    }

    /// Adds a `BF16` tensor (the bf16 bit patterns).
    pub fn insert_bf16(&mut self, name: String, shape: &[usize], values: &[u16]) {
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.insert(name, Dtype::BF16, shape, bytes);
    }

    /// The bytes of tensor `name`, checked to be of `dtype` and `shape`.
    fn get(&self, name: &str, dtype: Dtype, shape: &[usize]) -> Result<&[u8]> {
        let t = self.tensors.get(name).ok_or_else(|| {
            mismatch(WeightProblem::Missing {
                name: name.to_string(),
                shape: shape.to_vec(),
            })
        })?;
        if t.dtype != dtype {
            return Err(mismatch(WeightProblem::DtypeMismatch {
                name: name.to_string(),
                expected: format!("{dtype:?}"),
                found: format!("{:?}", t.dtype),
            }));
        }
        if t.shape != shape {
            return Err(mismatch(WeightProblem::WrongShape {
                name: name.to_string(),
                expected: shape.to_vec(),
                found: t.shape.clone(),
            }));
        }
        self.read.borrow_mut().insert(name.to_string());
        Ok(&t.bytes)
    }

    /// Tensor `name` as `F32` values of `shape`.
    pub fn f32(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let bytes = self.get(name, Dtype::F32, shape)?;
        Ok(bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    }

    /// Tensor `name` as `I8` values of `shape`.
    pub fn i8(&self, name: &str, shape: &[usize]) -> Result<Vec<i8>> {
        Ok(self
            .get(name, Dtype::I8, shape)?
            .iter()
            .map(|&b| b as i8)
            .collect())
    }

    /// Tensor `name` as `U8` values of `shape`.
    pub fn u8(&self, name: &str, shape: &[usize]) -> Result<Vec<u8>> {
        Ok(self.get(name, Dtype::U8, shape)?.to_vec())
    }

    /// Tensor `name` as `BF16` bit patterns of `shape`.
    pub fn bf16(&self, name: &str, shape: &[usize]) -> Result<Vec<u16>> {
        let bytes = self.get(name, Dtype::BF16, shape)?;
        Ok(bytes
            .chunks_exact(2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
            .collect())
    }

    /// Adds an f32 layer's parameters and buffers under `path`, as `save` writes them.
    pub(crate) fn insert_layer<L: Layer>(&mut self, path: &Path<'_>, layer: &L) -> Result<()> {
        let own = TensorMap::from_bytes(&crate::io::safetensors::to_bytes(layer)?)?;
        let prefix = path.to_string();
        for (name, t) in own.tensors {
            let name = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}.{name}")
            };
            self.tensors.insert(name, t);
        }
        Ok(())
    }

    /// The f32 layer whose tensors lie under `path`, loaded (and checked) as `load` does.
    pub(crate) fn layer<L: Layer>(&self, path: &Path<'_>) -> Result<L> {
        let prefix = path.to_string();
        let mut own = TensorMap::default();
        for (name, t) in &self.tensors {
            let rest = if prefix.is_empty() {
                Some(name.as_str())
            } else {
                name.strip_prefix(prefix.as_str())
                    .and_then(|r| r.strip_prefix('.'))
            };
            if let Some(rest) = rest {
                own.tensors.insert(rest.to_string(), t.clone());
                self.read.borrow_mut().insert(name.clone());
            }
        }
        let mut layer = L::init(&mut Rng::seed(0));
        crate::io::safetensors::load_bytes(&mut layer, &own.to_bytes()?)?;
        Ok(layer)
    }

    /// The names present that nothing read.
    pub(crate) fn unread(&self) -> Vec<String> {
        let read = self.read.borrow();
        self.tensors
            .keys()
            .filter(|n| !read.contains(*n))
            .cloned()
            .collect()
    }

    /// A safetensors file of these tensors.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let views = self
            .tensors
            .iter()
            .map(|(name, t)| {
                TensorView::new(t.dtype, t.shape.clone(), &t.bytes).map(|v| (name.as_str(), v))
            })
            .collect::<core::result::Result<Vec<_>, _>>()
            .map_err(corrupt)?;
        safetensors::serialize(views, None).map_err(corrupt)
    }

    /// The tensors of a safetensors file (bounds-checked by the `safetensors` crate).
    pub fn from_bytes(bytes: &[u8]) -> Result<TensorMap> {
        let file = SafeTensors::deserialize(bytes).map_err(corrupt)?;
        let mut map = TensorMap::default();
        for (name, view) in file.tensors() {
            map.insert(name, view.dtype(), view.shape(), view.data().to_vec());
        }
        Ok(map)
    }

    /// An error naming every tensor nothing read (a file for another network).
    pub(crate) fn check_all_read(&self) -> Result<()> {
        let unread = self.unread();
        if unread.is_empty() {
            return Ok(());
        }
        Err(Error::WeightsMismatch {
            problems: unread
                .into_iter()
                .map(|name| WeightProblem::Unexpected { name })
                .collect(),
        })
    }
}
