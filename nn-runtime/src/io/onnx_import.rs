//! The weights of a network imported from an ONNX file (`network! { … : onnx("…") }`): the
//! macro writes, for every tensor of the network, where it comes from in the file (an
//! initializer, or a `Constant` node's value) and how ONNX lays it out; this module reads
//! the file with `nn-onnx`, rearranges each tensor into PyTorch's layout under the network's
//! name, and loads the result as a safetensors file would be, with the same checks.

#[allow(unused_imports)]
use crate::core_prelude::*;

use crate::error::{Error, Result};
use crate::layers::Layer;
use alloc::collections::BTreeMap;
use nn_onnx::TensorProto;
use safetensors::tensor::TensorView;
use safetensors::Dtype;

/// How a tensor of the file becomes a tensor of the network: the description the importer
/// writes for each tensor, shared through `nn-onnx`.
pub use nn_onnx::TensorLayout as OnnxLayout;

/// One tensor of an imported network: its name in the network, its PyTorch shape, where
/// it comes from in the file and how.
#[derive(Clone, Copy, Debug)]
pub struct OnnxWeight {
    pub name: &'static str,
    pub shape: &'static [usize],
    pub source: &'static str,
    /// The shape the graph gives the source's values (after `chunks`), as the network was
    /// compiled for it.
    pub source_shape: &'static [usize],
    /// Ranges of the file tensor's values, in row-major order, one after the other (the
    /// pieces an exporter sliced and concatenated); empty for all of them.
    pub chunks: &'static [(usize, usize)],
    pub layout: OnnxLayout,
}

fn corrupt(reason: impl Into<String>) -> Error {
    Error::CorruptWeights {
        reason: reason.into(),
    }
}

/// The network's tensors from the ONNX file's bytes, as a safetensors file.
pub fn state_from_onnx(bytes: &[u8], map: &[OnnxWeight]) -> Result<Vec<u8>> {
    let model = nn_onnx::decode_model(bytes).map_err(|e| corrupt(e.to_string()))?;
    let graph = model.graph.as_ref().ok_or_else(|| corrupt("no graph"))?;
    let mut sources: BTreeMap<&str, &TensorProto> = graph
        .initializer
        .iter()
        .map(|t| (t.name.as_str(), t))
        .collect();
    for node in &graph.node {
        if node.op_type == "Constant" {
            if let (Some(out), Some(t)) = (
                node.output.first(),
                node.attribute
                    .iter()
                    .find(|a| a.name == "value")
                    .and_then(|a| a.t.as_ref()),
            ) {
                sources.insert(out.as_str(), t);
            }
        }
    }
    let mut tensors: Vec<(&str, Dtype, Vec<usize>, Vec<u8>)> = Vec::with_capacity(map.len());
    for w in map {
        let count: usize = w.shape.iter().product();
        let values = match w.layout {
            OnnxLayout::Zeros => vec![0.0; count],
            OnnxLayout::Ones => vec![1.0; count],
            OnnxLayout::Count => {
                tensors.push((w.name, Dtype::I64, Vec::new(), 0i64.to_le_bytes().to_vec()));
                continue;
            }
            layout => {
                let t = sources.get(w.source).ok_or_else(|| {
                    corrupt(format!(
                        "the ONNX file has no tensor `{}` (for `{}`)",
                        w.source, w.name
                    ))
                })?;
                let dims = t.shape().map_err(|e| corrupt(e.to_string()))?;
                let values = t.to_f32().map_err(|e| corrupt(e.to_string()))?;
                let values = pieces(w, &dims, values)?;
                rearrange(w, layout, w.source_shape, values)?
            }
        };
        if values.len() != count {
            return Err(corrupt(format!(
                "ONNX tensor `{}` gives {} values for `{}` of shape {:?}",
                w.source,
                values.len(),
                w.name,
                w.shape
            )));
        }
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        tensors.push((w.name, Dtype::F32, w.shape.to_vec(), bytes));
    }
    let views = tensors
        .iter()
        .map(|(name, dtype, shape, bytes)| {
            TensorView::new(*dtype, shape.clone(), bytes).map(|v| (*name, v))
        })
        .collect::<core::result::Result<Vec<_>, _>>()
        .map_err(|e| corrupt(e.to_string()))?;
    safetensors::serialize(views, None).map_err(|e| corrupt(e.to_string()))
}

/// The values the graph reads from a file tensor of shape `dims`: all of them, or its
/// pieces, checked against the shape the network was compiled for.
fn pieces(w: &OnnxWeight, dims: &[usize], values: Vec<f32>) -> Result<Vec<f32>> {
    let compiled: usize = w.source_shape.iter().product();
    if w.chunks.is_empty() {
        if dims != w.source_shape {
            return Err(corrupt(format!(
                "ONNX tensor `{}` has shape {dims:?}; the network was imported from a file where it has {:?}",
                w.source, w.source_shape
            )));
        }
        return Ok(values);
    }
    let mut out = Vec::with_capacity(compiled);
    for &(a, b) in w.chunks {
        let piece = values.get(a..b).ok_or_else(|| {
            corrupt(format!(
                "ONNX tensor `{}` of shape {dims:?} has no values {a}..{b}",
                w.source
            ))
        })?;
        out.extend_from_slice(piece);
    }
    if out.len() != compiled {
        return Err(corrupt(format!(
            "the pieces of ONNX tensor `{}` hold {} values for shape {:?}",
            w.source,
            out.len(),
            w.source_shape
        )));
    }
    Ok(out)
}

/// `values` of the file's tensor of shape `dims`, in the network's layout.
fn rearrange(
    w: &OnnxWeight,
    layout: OnnxLayout,
    dims: &[usize],
    values: Vec<f32>,
) -> Result<Vec<f32>> {
    let wrong = |why: &str| {
        corrupt(format!(
            "ONNX tensor `{}` of shape {dims:?} cannot give `{}` {:?}: {why}",
            w.source, w.name, w.shape
        ))
    };
    match layout {
        OnnxLayout::Same | OnnxLayout::Zeros | OnnxLayout::Ones | OnnxLayout::Count => Ok(values),
        OnnxLayout::Transpose => {
            let &[k, n] = dims else {
                return Err(wrong("not a matrix"));
            };
            let mut out = vec![0.0; values.len()];
            for i in 0..k {
                for j in 0..n {
                    out[j * k + i] = values[i * n + j];
                }
            }
            Ok(out)
        }
        OnnxLayout::Gates {
            direction,
            half,
            order,
        } => {
            let (&directions, rest) = dims.split_first().ok_or_else(|| wrong("a scalar"))?;
            if direction >= directions {
                return Err(wrong("no such direction"));
            }
            let per_direction = values.len() / directions.max(1);
            let own = &values[direction * per_direction..(direction + 1) * per_direction];
            // B holds the input and the recurrent biases one after the other.
            let halves = if rest.len() == 1 { 2 } else { 1 };
            if half >= halves || !own.len().is_multiple_of(halves * order.len()) {
                return Err(wrong("its size is not a whole number of gate blocks"));
            }
            let part = own.len() / halves;
            let own = &own[half * part..(half + 1) * part];
            let block = part / order.len();
            Ok(order
                .iter()
                .flat_map(|&k| own[k * block..(k + 1) * block].iter().copied())
                .collect())
        }
    }
}

/// Loads the weights of an imported network from its ONNX file's bytes.
pub fn load_onnx_bytes<L: Layer>(net: &mut L, bytes: &[u8], map: &[OnnxWeight]) -> Result<()> {
    crate::io::safetensors::load_bytes(net, &state_from_onnx(bytes, map)?)
}

/// Loads the weights of an imported network from its ONNX file.
#[cfg(feature = "std")]
pub fn load_onnx_file<L: Layer>(
    net: &mut L,
    path: impl AsRef<std::path::Path>,
    map: &[OnnxWeight],
) -> Result<()> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    load_onnx_bytes(net, &bytes, map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weight(layout: OnnxLayout, shape: &'static [usize]) -> OnnxWeight {
        OnnxWeight {
            name: "w",
            shape,
            source: "t",
            source_shape: &[],
            chunks: &[],
            layout,
        }
    }

    #[test]
    fn matrices_are_transposed() {
        let w = weight(OnnxLayout::Transpose, &[3, 2]);
        let out = rearrange(&w, w.layout, &[2, 3], vec![1., 2., 3., 4., 5., 6.]).unwrap();
        assert_eq!(out, vec![1., 4., 2., 5., 3., 6.]);
    }

    #[test]
    fn gate_blocks_are_reordered_per_direction_and_half() {
        // Two directions, B of 2 halves × 4 gates × 1 unit: values name their position.
        let values: Vec<f32> = (0..16).map(|v| v as f32).collect();
        let lstm = &[0, 2, 3, 1];
        let w = weight(
            OnnxLayout::Gates {
                direction: 1,
                half: 1,
                order: lstm,
            },
            &[4],
        );
        let out = rearrange(&w, w.layout, &[2, 8], values).unwrap();
        assert_eq!(out, vec![12., 14., 15., 13.]);
        let w = weight(
            OnnxLayout::Gates {
                direction: 2,
                half: 0,
                order: lstm,
            },
            &[4],
        );
        assert!(rearrange(&w, w.layout, &[2, 8], vec![0.; 16]).is_err());
    }

    #[test]
    fn pieces_are_read_in_order_and_checked() {
        let mut w = weight(OnnxLayout::Same, &[4]);
        w.source_shape = &[4];
        w.chunks = &[(4, 6), (0, 2)];
        let values: Vec<f32> = (0..6).map(|v| v as f32).collect();
        assert_eq!(
            pieces(&w, &[3, 2], values.clone()).unwrap(),
            vec![4., 5., 0., 1.]
        );
        w.chunks = &[(4, 8)];
        assert!(pieces(&w, &[3, 2], values.clone()).is_err());
        w.chunks = &[];
        w.source_shape = &[2, 3];
        let message = pieces(&w, &[3, 2], values).unwrap_err().to_string();
        assert!(message.contains("[3, 2]"), "{message}");
    }

    #[test]
    fn a_missing_tensor_is_an_error() {
        let model = nn_onnx::ModelProto {
            graph: Some(Default::default()),
            ..Default::default()
        };
        let bytes = nn_onnx::encode_model(&model);
        let map = [weight(OnnxLayout::Same, &[1])];
        let message = state_from_onnx(&bytes, &map).unwrap_err().to_string();
        assert!(message.contains("no tensor `t`"), "{message}");
        assert!(state_from_onnx(b"\xff\xff", &map).is_err());
    }
}
