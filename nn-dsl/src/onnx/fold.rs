//! Constants folded while compiling: the shape computations exporters write around
//! `Reshape` (`Shape → Gather → Unsqueeze → Concat`), `Constant` nodes, and casts. A shape
//! read from data keeps its batch (and a generic network's sizes) as symbols, so that a
//! `Reshape` to `[batch, -1]` built from them still imports.

use super::ops::Attrs;
use super::values::{Data, Dim, Mask, Source, Value};
use nn_onnx::{data_type, NodeProto, TensorProto};

type Outputs = Result<Vec<Value>, String>;

/// The largest float constant kept by value (for the bounds and scalars of patterns).
const SMALL: usize = 16;

/// A tensor of the file as a value.
pub fn constant(t: &TensorProto, name: &str) -> Result<Value, String> {
    let dims = t.shape().map_err(|e| e.to_string())?;
    match t.data_type {
        data_type::FLOAT | data_type::DOUBLE => {
            let count: usize = dims.iter().product();
            let small = if count <= SMALL {
                Some(t.to_f32().map_err(|e| e.to_string())?)
            } else {
                None
            };
            Ok(Value::Weight {
                source: Source::whole(name, &dims),
                dims,
                small,
            })
        }
        data_type::INT64 | data_type::INT32 => {
            let values = t.to_i64().map_err(|e| e.to_string())?;
            Ok(Value::Ints {
                dims,
                values: values.into_iter().map(Dim::N).collect(),
            })
        }
        other => Err(format!(
            "tensor `{name}` holds {}, which typed-nn does not read",
            nn_onnx::data_type_name(other)
        )),
    }
}

/// `Shape` of a data value: its dimensions, the batch as a symbol.
pub fn shape_of(d: &Data, attrs: &mut Attrs) -> Outputs {
    let rank = d.shape.len() as i64;
    let start = clamp_axis(attrs.int("start", 0)?, rank);
    let end = clamp_axis(attrs.int("end", rank)?, rank);
    let values: Vec<Dim> = d.shape[start..end.max(start)].to_vec();
    Ok(vec![Value::Ints {
        dims: vec![values.len()],
        values,
    }])
}

fn clamp_axis(axis: i64, rank: i64) -> usize {
    let a = if axis < 0 { axis + rank } else { axis };
    a.clamp(0, rank) as usize
}

fn ints_of(inputs: &[Option<Value>], k: usize) -> Result<(Vec<usize>, Vec<Dim>), String> {
    match inputs.get(k).and_then(|v| v.as_ref()) {
        Some(Value::Ints { dims, values }) => Ok((dims.clone(), values.clone())),
        Some(_) => Err(format!("input {k} is not an integer constant")),
        None => Err(format!("input {k} is missing")),
    }
}

/// The axes a node names: its input 1 (opset 13 on) or its `axes` attribute (before, and
/// for reductions until opset 18).
pub fn axes_of(inputs: &[Option<Value>], attrs: &mut Attrs) -> Result<Vec<i64>, String> {
    match inputs.get(1) {
        Some(Some(_)) => ints_of(inputs, 1)?
            .1
            .iter()
            .map(|d| d.known().ok_or_else(|| "symbolic axes".to_string()))
            .collect(),
        _ => Ok(attrs.ints("axes")?.unwrap_or_default()),
    }
}

/// [`squeeze`] of a constant's dimensions.
fn squeezed_dims(op: &str, dims: &[usize], axes: &[i64]) -> Result<Vec<usize>, String> {
    let as_dims: Vec<Dim> = dims.iter().map(|&d| Dim::N(d as i64)).collect();
    Ok(squeeze(op, &as_dims, axes)?
        .iter()
        .map(|d| d.known().unwrap_or(0) as usize)
        .collect())
}

/// The shape after `Squeeze` or `Unsqueeze` on `axes`.
pub fn squeeze(op: &str, shape: &[Dim], axes: &[i64]) -> Result<Vec<Dim>, String> {
    let mut out = shape.to_vec();
    if op == "Unsqueeze" {
        let rank = (shape.len() + axes.len()) as i64;
        let mut axes: Vec<i64> = axes
            .iter()
            .map(|&a| if a < 0 { a + rank } else { a })
            .collect();
        axes.sort_unstable();
        for a in axes {
            if a < 0 || a as usize > out.len() {
                return Err(format!("axis {a} out of range"));
            }
            out.insert(a as usize, Dim::N(1));
        }
    } else {
        let rank = shape.len() as i64;
        let mut axes: Vec<i64> = if axes.is_empty() {
            (0..rank)
                .filter(|&a| shape[a as usize] == Dim::N(1))
                .collect()
        } else {
            axes.iter()
                .map(|&a| if a < 0 { a + rank } else { a })
                .collect()
        };
        axes.sort_unstable();
        for a in axes.into_iter().rev() {
            if a < 0 || a >= rank || out[a as usize] != Dim::N(1) {
                return Err(format!("axis {a} is not of size 1"));
            }
            out.remove(a as usize);
        }
    }
    Ok(out)
}

fn arith(op: &str, a: &Dim, b: &Dim) -> Result<Dim, String> {
    match (a, b) {
        (Dim::N(a), Dim::N(b)) => {
            let v = match op {
                "Add" => a.checked_add(*b),
                "Sub" => a.checked_sub(*b),
                "Mul" => a.checked_mul(*b),
                _ => {
                    if *b == 0 {
                        None
                    } else {
                        Some(a.div_euclid(*b))
                    }
                }
            };
            v.map(Dim::N)
                .ok_or_else(|| format!("{op} of {a} and {b} overflows"))
        }
        (s, Dim::N(1)) if op == "Mul" || op == "Div" => Ok(s.clone()),
        (Dim::N(1), s) if op == "Mul" => Ok(s.clone()),
        (s, Dim::N(0)) if op == "Add" || op == "Sub" => Ok(s.clone()),
        _ => Err(format!("{op} of {a} and {b} is not known while compiling")),
    }
}

/// A float constant that is all zeros, as one zero (what initial states are made of).
fn zero(name: &str) -> Value {
    Value::Weight {
        source: Source::whole(name, &[]),
        dims: Vec::new(),
        small: Some(vec![0.0]),
    }
}

fn is_zero(v: Option<&Option<Value>>) -> bool {
    v.and_then(Option::as_ref).is_some_and(|v| v.all_equal(0.0))
}

/// Folds a node whose inputs are all constants.
pub fn fold(node: &NodeProto, inputs: &[Option<Value>], attrs: &mut Attrs) -> Outputs {
    let op = node.op_type.as_str();
    let out_name = node.output.first().cloned().unwrap_or_default();
    if inputs
        .iter()
        .flatten()
        .any(|v| matches!(v, Value::Opaque(_)))
    {
        return Ok(vec![
            Value::Opaque(mask_step(op, inputs, attrs)?);
            node.output.len().max(1)
        ]);
    }
    // Zeros expanded, sliced or reshaped to a state's shape stay zeros (of the batch's
    // size, which is not known while compiling).
    if matches!(
        op,
        "Expand"
            | "Slice"
            | "Reshape"
            | "Unsqueeze"
            | "Squeeze"
            | "Transpose"
            | "Cast"
            | "Identity"
    ) && is_zero(inputs.first())
    {
        for a in ["perm", "to", "saturate", "allowzero", "axes"] {
            attrs.get(a);
        }
        return Ok(vec![zero(&out_name)]);
    }
    if matches!(inputs.first(), Some(Some(Value::Weight { .. }))) {
        return weight_pieces(op, inputs, attrs);
    }
    match op {
        "ConstantOfShape" => {
            let value = attrs.get("value").and_then(|a| a.t.as_ref());
            let zeros = match value {
                None => true,
                Some(t) => {
                    t.to_f32().is_ok_and(|v| v.iter().all(|&v| v == 0.0))
                        || t.to_i64().is_ok_and(|v| v.iter().all(|&v| v == 0))
                }
            };
            if zeros {
                Ok(vec![zero(&out_name)])
            } else {
                Err("a constant other than zeros of a computed shape".into())
            }
        }
        "Reshape" => {
            let (_, values) = ints_of(inputs, 0)?;
            attrs.get("allowzero");
            let count = values.len();
            Ok(vec![Value::Ints {
                dims: vec![count],
                values,
            }])
        }
        "Constant" => {
            let a = attrs.get("value").and_then(|a| a.t.as_ref());
            if let Some(t) = a {
                return Ok(vec![constant(t, &out_name)?]);
            }
            if let Some(a) = attrs.get("value_ints") {
                return Ok(vec![Value::Ints {
                    dims: vec![a.ints.len()],
                    values: a.ints.iter().map(|&v| Dim::N(v)).collect(),
                }]);
            }
            if let Some(a) = attrs.get("value_int") {
                return Ok(vec![Value::Ints {
                    dims: Vec::new(),
                    values: vec![Dim::N(a.i)],
                }]);
            }
            if let Some(a) = attrs.get("value_float") {
                return Ok(vec![Value::Weight {
                    source: Source::whole(&out_name, &[]),
                    dims: Vec::new(),
                    small: Some(vec![a.f]),
                }]);
            }
            Err("a constant of a kind typed-nn does not read".into())
        }
        "Identity" | "Cast" => {
            if op == "Cast" {
                attrs.int("to", 0)?;
                attrs.int("saturate", 1)?;
            }
            Ok(vec![inputs
                .first()
                .cloned()
                .flatten()
                .ok_or("input 0 is missing")?])
        }
        "Gather" => {
            let (dims, values) = ints_of(inputs, 0)?;
            let (idims, indices) = ints_of(inputs, 1)?;
            if attrs.int("axis", 0)? != 0 || dims.len() != 1 {
                return Err("only a gather from a vector of integers folds".into());
            }
            let picked = indices
                .iter()
                .map(|i| {
                    let i = i.known().ok_or("a symbolic index")?;
                    let i = if i < 0 { i + values.len() as i64 } else { i };
                    values
                        .get(usize::try_from(i).map_err(|_| "index out of range")?)
                        .cloned()
                        .ok_or("index out of range")
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(vec![Value::Ints {
                dims: idims,
                values: picked,
            }])
        }
        "Unsqueeze" | "Squeeze" => {
            let (dims, values) = ints_of(inputs, 0)?;
            let dims = squeezed_dims(op, &dims, &axes_of(inputs, attrs)?)?;
            Ok(vec![Value::Ints { dims, values }])
        }
        "Concat" => {
            let mut values = Vec::new();
            for k in 0..inputs.len() {
                let (dims, v) = ints_of(inputs, k)?;
                if dims.len() > 1 {
                    return Err("only a concatenation of integer vectors folds".into());
                }
                values.extend(v);
            }
            attrs.int("axis", 0)?;
            Ok(vec![Value::Ints {
                dims: vec![values.len()],
                values,
            }])
        }
        "Slice" => {
            let (dims, values) = ints_of(inputs, 0)?;
            let bounds = slice_bounds(inputs)?;
            if dims.len() != 1 || bounds.axis != 0 || bounds.step != 1 {
                return Err("only a unit-step slice of an integer vector folds".into());
            }
            let (s, e) = bounds.range(values.len());
            let values: Vec<Dim> = values[s..e].to_vec();
            Ok(vec![Value::Ints {
                dims: vec![values.len()],
                values,
            }])
        }
        "Add" | "Sub" | "Mul" | "Div" => {
            let (ad, a) = ints_of(inputs, 0)?;
            let (bd, b) = ints_of(inputs, 1)?;
            let (dims, values) = match (a.len(), b.len()) {
                (x, y) if x == y => (
                    ad,
                    a.iter()
                        .zip(&b)
                        .map(|(x, y)| arith(op, x, y))
                        .collect::<Result<_, _>>()?,
                ),
                (_, 1) => (
                    ad,
                    a.iter()
                        .map(|x| arith(op, x, &b[0]))
                        .collect::<Result<_, _>>()?,
                ),
                (1, _) => (
                    bd,
                    b.iter()
                        .map(|y| arith(op, &a[0], y))
                        .collect::<Result<_, _>>()?,
                ),
                _ => return Err("integers of different lengths".into()),
            };
            Ok(vec![Value::Ints { dims, values }])
        }
        _ => Err(format!(
            "operator `{op}` on constants is not folded (only shape computations are)"
        )),
    }
}

/// One axis of a `Slice` (starts, ends, axes and steps of one value each, known).
struct SliceBounds {
    start: i64,
    end: i64,
    axis: i64,
    step: i64,
}

impl SliceBounds {
    /// The indices `[s, e)` the slice takes of an axis of `len`, clamped as ONNX says.
    fn range(&self, len: usize) -> (usize, usize) {
        let n = len as i64;
        let at = |v: i64| (if v < 0 { v.saturating_add(n) } else { v }).clamp(0, n) as usize;
        let s = at(self.start);
        (s, at(self.end).max(s))
    }
}

fn slice_bounds(inputs: &[Option<Value>]) -> Result<SliceBounds, String> {
    let one = |k: usize, default: i64| -> Result<i64, String> {
        if !matches!(inputs.get(k), Some(Some(_))) {
            return Ok(default);
        }
        match ints_of(inputs, k)?.1.as_slice() {
            [Dim::N(v)] => Ok(*v),
            [_] => Err("symbolic bounds".into()),
            _ => Err("a slice of more than one axis".into()),
        }
    };
    Ok(SliceBounds {
        start: one(1, 0)?,
        end: one(2, i64::MAX)?,
        axis: one(3, 0)?,
        step: one(4, 1)?,
    })
}

/// The values of a weight, as ranges of its source's.
fn ranges(w: &Source) -> Vec<(usize, usize)> {
    if w.chunks.is_empty() {
        // A whole tensor's dimensions multiply within usize (checked when it was read).
        vec![(0, w.dims.iter().product())]
    } else {
        w.chunks.clone()
    }
}

/// The values `[from, to)` of a weight whose values are `ranges` of its source's.
fn select(ranges: &[(usize, usize)], from: usize, to: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut at = 0;
    for &(a, b) in ranges {
        let (lo, hi) = (from.max(at), to.min(at + (b - a)));
        if lo < hi {
            out.push((a + lo - at, a + hi - at));
        }
        at += b - a;
    }
    out
}

/// Slices along the first axis, concatenations along it and changes of shape of a weight:
/// how exporters reorder a recurrence's gate blocks. The result keeps pointing into the
/// file's tensor, which the network reads at run time.
fn weight_pieces(op: &str, inputs: &[Option<Value>], attrs: &mut Attrs) -> Outputs {
    let piece = |k: usize| -> Result<(Source, Vec<usize>), String> {
        match inputs.get(k).and_then(|v| v.as_ref()) {
            Some(Value::Weight { source, dims, .. }) if !source.name.is_empty() => {
                Ok((source.clone(), dims.clone()))
            }
            _ => Err(format!("input {k} is not a weight of the file")),
        }
    };
    let (source, dims) = piece(0)?;
    let row: usize = dims.iter().skip(1).product();
    // The result names its ranges of the file's tensor even when it is all of it: its shape
    // is no longer the file's.
    let made = |from: Source, dims: Vec<usize>| {
        Ok(vec![Value::Weight {
            source: Source {
                chunks: ranges(&from),
                dims: dims.clone(),
                name: from.name,
            },
            dims,
            small: None,
        }])
    };
    match op {
        "Slice" => {
            let bounds = slice_bounds(inputs)?;
            if bounds.axis != 0 || bounds.step != 1 || dims.is_empty() {
                return Err("only a unit-step slice of a weight's first axis folds".into());
            }
            let (s, e) = bounds.range(dims[0]);
            let chunks = select(&ranges(&source), s * row, e * row);
            let mut out = dims.clone();
            out[0] = e - s;
            made(Source { chunks, ..source }, out)
        }
        "Concat" => {
            if attrs.int("axis", 0)? != 0 {
                return Err("only a concatenation of weights along their first axis folds".into());
            }
            let mut chunks = ranges(&source);
            let mut out = dims.clone();
            for k in 1..inputs.len() {
                let (other, odims) = piece(k)?;
                if other.name != source.name || odims.get(1..) != dims.get(1..) {
                    return Err("only pieces of one weight concatenate".into());
                }
                chunks.extend(ranges(&other));
                out[0] = out[0]
                    .checked_add(odims[0])
                    .ok_or("a concatenation of weights overflows")?;
            }
            made(Source { chunks, ..source }, out)
        }
        "Unsqueeze" | "Squeeze" | "Reshape" | "Identity" | "Cast" => {
            for a in ["to", "saturate", "allowzero"] {
                attrs.get(a);
            }
            let out: Vec<usize> = match op {
                "Identity" | "Cast" => dims.clone(),
                "Reshape" => {
                    let target = ints_of(inputs, 1)?.1;
                    let count: usize = dims.iter().product();
                    let known: Vec<i64> = target.iter().map(|d| d.known().unwrap_or(-2)).collect();
                    let fixed: usize = known
                        .iter()
                        .filter(|&&d| d > 0)
                        .try_fold(1usize, |p, &d| p.checked_mul(usize::try_from(d).ok()?))
                        .ok_or("a weight's new shape overflows")?;
                    known
                        .iter()
                        .enumerate()
                        .map(|(k, &d)| match d {
                            -1 if fixed > 0 => Ok(count / fixed),
                            0 => dims.get(k).copied().ok_or("0 past the rank"),
                            d if d > 0 => Ok(d as usize),
                            _ => Err("a symbolic shape for a weight"),
                        })
                        .collect::<Result<_, _>>()?
                }
                _ => squeezed_dims(op, &dims, &axes_of(inputs, attrs)?)?,
            };
            let new_count = out.iter().try_fold(1usize, |p, &d| p.checked_mul(d));
            if new_count != Some(dims.iter().product::<usize>()) {
                return Err("a change of shape that changes the number of values".into());
            }
            made(source, out)
        }
        _ => Err(format!("operator `{op}` on a weight is not folded")),
    }
}

/// The next step of a causal mask built from a hidden shape, or `Mask::Other`.
fn mask_step(op: &str, inputs: &[Option<Value>], attrs: &mut Attrs) -> Result<Mask, String> {
    for a in [
        "axis",
        "axes",
        "start",
        "end",
        "allowzero",
        "to",
        "saturate",
    ] {
        attrs.get(a);
    }
    let float = |k: usize| {
        inputs
            .get(k)
            .and_then(Option::as_ref)
            .and_then(Value::scalar)
    };
    let is = |k: usize, m: Mask| matches!(inputs.get(k), Some(Some(Value::Opaque(x))) if *x == m);
    Ok(match op {
        "Expand" if float(0) == Some(1.0) => Mask::Ones,
        "Trilu" if is(0, Mask::Ones) && inputs.len() == 1 => {
            if attrs.int("upper", 1)? == 0 {
                Mask::LowerTriangle
            } else {
                Mask::Other
            }
        }
        "Equal" if is(0, Mask::LowerTriangle) && float(1) == Some(0.0) => Mask::AboveDiagonal,
        "Where"
            if is(0, Mask::AboveDiagonal)
                && float(1).is_some_and(|v| v < -1e30)
                && float(2) == Some(0.0) =>
        {
            Mask::Causal
        }
        _ => {
            attrs.get("upper");
            Mask::Other
        }
    })
}
