//! What each ONNX operator becomes: a layer of the table (with its arguments and the file's
//! tensors it reads), a join, or, for the shape computations exporters write, a constant
//! folded while compiling. Every operator, attribute and input shape that has no layer is an
//! error naming what it is; the node's own message is added by the caller.
//!
//! `table.rs` is the operator table (what each `op_type` becomes); `patterns.rs` the
//! operations exporters spell out as several nodes (SiLU, GELU, GLU, squeeze-and-excitation,
//! group normalisation, a bias after a product) and the joins; `layers.rs` the operators
//! with most to check (convolutions, pooling, resizing, recurrences).

mod layers;
mod patterns;
mod table;

use super::emit::{self, JoinKind, Layout, Step, WeightRef};
use super::values::{shape_text, Data, Dim, GeluStage, Source, Value};
use super::Importer;
use nn_onnx::{attribute_type, AttributeProto, NodeProto};

type Outputs = Result<Vec<Value>, String>;

/// The attributes of a node, each one read at most once, so that any left unread is one the
/// import does not support.
pub struct Attrs<'n> {
    node: &'n NodeProto,
    read: Vec<&'n str>,
}

impl<'n> Attrs<'n> {
    fn new(node: &'n NodeProto) -> Self {
        Attrs {
            node,
            read: Vec::new(),
        }
    }

    pub fn get(&mut self, name: &'n str) -> Option<&'n AttributeProto> {
        self.read.push(name);
        self.node.attribute.iter().find(|a| a.name == name)
    }

    pub fn int(&mut self, name: &'n str, default: i64) -> Result<i64, String> {
        match self.get(name) {
            None => Ok(default),
            Some(a) if a.r#type == attribute_type::INT || a.r#type == 0 => in_range(name, a.i),
            Some(_) => Err(format!("attribute `{name}` is not an integer")),
        }
    }

    pub fn float(&mut self, name: &'n str, default: f32) -> Result<f32, String> {
        match self.get(name) {
            None => Ok(default),
            Some(a) if (a.r#type == attribute_type::FLOAT || a.r#type == 0) && a.f.is_finite() => {
                Ok(a.f)
            }
            Some(_) => Err(format!("attribute `{name}` is not a finite float")),
        }
    }

    pub fn ints(&mut self, name: &'n str) -> Result<Option<Vec<i64>>, String> {
        match self.get(name) {
            None => Ok(None),
            Some(a) if a.r#type == attribute_type::INTS || a.r#type == 0 => {
                let values = a.ints.iter().map(|&v| in_range(name, v));
                Ok(Some(values.collect::<Result<_, _>>()?))
            }
            Some(_) => Err(format!("attribute `{name}` is not a list of integers")),
        }
    }

    pub fn string(&mut self, name: &'n str, default: &str) -> Result<String, String> {
        match self.get(name) {
            None => Ok(default.to_string()),
            Some(a) if a.r#type == attribute_type::STRING || a.r#type == 0 => {
                Ok(String::from_utf8_lossy(&a.s).into_owned())
            }
            Some(_) => Err(format!("attribute `{name}` is not a string")),
        }
    }

    /// The attributes the node has that were never read.
    fn unread(&self) -> Vec<&'n str> {
        self.node
            .attribute
            .iter()
            .map(|a| a.name.as_str())
            .filter(|n| !self.read.contains(n))
            .collect()
    }
}

/// Imports one node whose inputs are known (none failed).
pub fn import(cx: &mut Importer, node: &NodeProto, inputs: &[Option<Value>]) -> Outputs {
    let mut attrs = Attrs::new(node);
    let outputs = table::dispatch(cx, node, inputs, &mut attrs)?;
    let unread = attrs.unread();
    if !unread.is_empty() {
        return Err(format!(
            "unsupported attribute{} {}",
            if unread.len() > 1 { "s" } else { "" },
            unread
                .iter()
                .map(|a| format!("`{a}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(outputs)
}

fn input(inputs: &[Option<Value>], k: usize) -> Result<&Value, String> {
    inputs
        .get(k)
        .and_then(|v| v.as_ref())
        .ok_or_else(|| format!("input {k} is missing"))
}

fn data(inputs: &[Option<Value>], k: usize) -> Result<&Data, String> {
    match input(inputs, k)? {
        Value::Data(d) => Ok(d),
        _ => Err(format!("input {k} is a constant, where data is needed")),
    }
}

/// The largest size, count or index an attribute or a shape the import computes with may
/// hold: far above any network's, and small enough that sums and products of a few of them
/// cannot overflow (a hostile file's `i64::MAX` is an error, not a panic).
pub const LIMIT: i64 = 1 << 31;

/// `value`, or an error naming `what` when it is beyond ±[`LIMIT`].
pub fn in_range(what: &str, value: i64) -> Result<i64, String> {
    if value.unsigned_abs() <= LIMIT as u64 {
        Ok(value)
    } else {
        Err(format!("`{what}` = {value} is out of range"))
    }
}

fn weight(inputs: &[Option<Value>], k: usize) -> Result<(Source, Vec<usize>), String> {
    match input(inputs, k)? {
        Value::Weight { source, dims, .. } if !source.name.is_empty() => {
            if dims.iter().any(|&d| d as u64 > LIMIT as u64) {
                return Err(format!("input {k} has a dimension out of range: {dims:?}"));
            }
            Ok((source.clone(), dims.clone()))
        }
        Value::Data(_) => Err(format!(
            "input {k} is computed from the network's input, where a weight of the file is needed"
        )),
        _ => Err(format!("input {k} is not a float tensor")),
    }
}

fn optional_weight(
    inputs: &[Option<Value>],
    k: usize,
) -> Result<Option<(Source, Vec<usize>)>, String> {
    match inputs.get(k) {
        Some(Some(_)) => weight(inputs, k).map(Some),
        _ => Ok(None),
    }
}

/// A small float constant's values (an activation's bounds).
fn small_floats(inputs: &[Option<Value>], k: usize) -> Result<Option<Vec<f32>>, String> {
    match inputs.get(k) {
        Some(Some(Value::Weight { small, .. })) => small
            .clone()
            .map(Some)
            .ok_or_else(|| format!("input {k} is too large for a bound")),
        Some(Some(_)) => Err(format!("input {k} is not a float constant")),
        _ => Ok(None),
    }
}

fn ints(inputs: &[Option<Value>], k: usize) -> Result<Vec<Dim>, String> {
    match input(inputs, k)? {
        Value::Ints { values, .. } => {
            for v in values {
                if let Dim::N(n) = v {
                    in_range(&format!("input {k}"), *n)?;
                }
            }
            Ok(values.clone())
        }
        _ => Err(format!(
            "input {k} is not known while compiling (only constants and shapes fold)"
        )),
    }
}

fn known_ints(inputs: &[Option<Value>], k: usize) -> Result<Vec<i64>, String> {
    ints(inputs, k)?
        .iter()
        .map(|d| {
            d.known()
                .ok_or_else(|| format!("input {k} depends on the batch size"))
        })
        .collect()
}

fn usize_dims(dims: &[Dim]) -> Result<Vec<usize>, String> {
    dims.iter()
        .map(|d| match d {
            Dim::N(n) if *n >= 0 => Ok(*n as usize),
            _ => Err(format!("shape {} is not fixed", shape_text(dims))),
        })
        .collect()
}

fn known(d: &Dim, what: &str) -> Result<i64, String> {
    d.known()
        .ok_or_else(|| format!("the {what} ({d}) must be a fixed number"))
}

/// A list attribute of one value per spatial dimension, defaulting to `default`.
fn per_axis(
    attrs: &mut Attrs,
    name: &'static str,
    rank: usize,
    default: i64,
) -> Result<Vec<i64>, String> {
    match attrs.ints(name)? {
        None => Ok(vec![default; rank]),
        Some(v) if v.len() == rank => Ok(v),
        Some(v) => Err(format!(
            "`{name}` has {} values for {rank} spatial axes",
            v.len()
        )),
    }
}

/// `pads` as one value per spatial axis; ONNX lists the beginnings then the ends, and
/// typed-nn pads both ends alike.
fn symmetric_pads(attrs: &mut Attrs, rank: usize) -> Result<Vec<i64>, String> {
    let auto_pad = attrs.string("auto_pad", "NOTSET")?;
    if auto_pad != "NOTSET" && auto_pad != "VALID" {
        return Err(format!(
            "`auto_pad = {auto_pad}` (export with explicit pads: PyTorch does)"
        ));
    }
    let pads = per_axis(attrs, "pads", 2 * rank, 0)?;
    let (begin, end) = pads.split_at(rank);
    if begin != end {
        return Err(format!(
            "asymmetric `pads` {pads:?}: typed-nn pads both ends of an axis alike"
        ));
    }
    if begin.iter().any(|&p| p < 0) {
        return Err("negative `pads`".into());
    }
    Ok(begin.to_vec())
}

/// `n` as an argument, or the pair `(h, w)` on two axes.
fn arg(values: &[i64]) -> String {
    match values {
        [v] => v.to_string(),
        [h, w] => format!("({h}, {w})"),
        _ => format!("{values:?}"),
    }
}

/// A float as a Rust literal that parses back to it.
fn float_arg(v: f32) -> String {
    let text = format!("{v:?}");
    if text.contains(['.', 'e']) {
        text
    } else {
        format!("{text}.0")
    }
}

/// The spatial output size of a window of `k` at stride `s`, dilation `d`, padding `p`.
fn window_out(size: i64, k: i64, s: i64, d: i64, p: i64) -> Result<i64, String> {
    if s <= 0 || d <= 0 || k <= 0 {
        return Err("kernel, stride and dilation must be positive".into());
    }
    let span = d.checked_mul(k - 1).ok_or("the window overflows")? + 1;
    let padded = size + 2 * p;
    if padded < span {
        return Err(format!(
            "the window ({span}) is larger than the padded input ({padded})"
        ));
    }
    Ok((padded - span) / s + 1)
}

impl Importer {
    /// `d` with its sample in the ONNX shape (a `Flatten` or `Reshape` first when a reshape
    /// no layer needed left it in another).
    pub(super) fn exact(&mut self, d: &Data, at: &str) -> Result<Data, String> {
        if d.half_of.is_some() {
            return Err("a half of a Split: only GLU (a · σ(b) of the two halves) reads it".into());
        }
        if d.batch_axis() != Some(0) {
            return Err(format!(
                "input {} has its batch axis elsewhere than first (time-major), which no layer reads",
                shape_text(&d.shape)
            ));
        }
        let want = d.onnx_sample();
        if d.sample == want {
            let mut d = d.clone();
            d.forget_marks();
            return Ok(d);
        }
        let text = if want.len() == 1 {
            "Flatten".to_string()
        } else {
            let dims = usize_dims(&want)?;
            format!("Reshape({dims:?})")
        };
        let name = self.steps.name(&format!("{at}/reshape"), "");
        let mut out = d.clone();
        out.path.push(self.steps.push(Step::Layer {
            name,
            text,
            weights: Vec::new(),
        }));
        out.sample = want;
        out.forget_marks();
        Ok(out)
    }

    /// `d` followed by a new layer.
    pub(super) fn layer(
        &mut self,
        node: &NodeProto,
        d: &Data,
        text: String,
        weights: Vec<WeightRef>,
        shape: Vec<Dim>,
    ) -> Result<(Data, usize), String> {
        // Every size stays within LIMIT, so that the next layer's arithmetic cannot overflow.
        for n in shape.iter().filter_map(Dim::known) {
            in_range("an output size", n)?;
        }
        let d = self.exact(d, &node.name)?;
        let name = self.steps.name(&node.name, &node.op_type);
        let id = self.steps.push(Step::Layer {
            name,
            text,
            weights,
        });
        let mut out = d;
        out.path.push(id);
        out.sample = shape
            .iter()
            .filter(|d| **d != Dim::Batch)
            .cloned()
            .collect();
        out.shape = shape;
        out.forget_marks();
        Ok((out, id))
    }

    /// The layer that closes an attention region, on its start (batch first).
    pub(super) fn attention_layer(
        &mut self,
        node: &NodeProto,
        start: &Data,
        text: String,
        weights: Vec<WeightRef>,
    ) -> Result<(Data, usize), String> {
        let shape = start.shape.clone();
        self.layer(node, start, text, weights, shape)
    }

    /// `d` through an element-wise layer, its shape kept (and its sample as it is).
    fn elementwise(&mut self, node: &NodeProto, d: &Data, text: &str) -> Outputs {
        let name = self.steps.name(&node.name, &node.op_type);
        let id = self.steps.push(Step::Layer {
            name,
            text: text.to_string(),
            weights: Vec::new(),
        });
        let mut out = d.clone();
        out.path.push(id);
        out.forget_marks();
        Ok(vec![Value::Data(out)])
    }
}

fn same(suffix: &'static str, shape: Vec<usize>, source: Source) -> WeightRef {
    WeightRef {
        suffix,
        shape,
        source,
        layout: Layout::Same,
    }
}

/// The operators [`import`] maps (on data; any operator folds on constants that the folding
/// knows), so that a node after a failed one is still reported when it has none.
pub const OPERATORS: &[&str] = &[
    "Constant",
    "Shape",
    "Identity",
    "Dropout",
    "Relu",
    "Sigmoid",
    "Tanh",
    "Softplus",
    "HardSwish",
    "Mish",
    "Gelu",
    "LeakyRelu",
    "Elu",
    "HardSigmoid",
    "Clip",
    "Softmax",
    "LogSoftmax",
    "PRelu",
    "Mul",
    "Add",
    "Sum",
    "Concat",
    "Gemm",
    "MatMul",
    "Conv",
    "ConvTranspose",
    "MaxPool",
    "AveragePool",
    "ReduceMean",
    "ReduceMax",
    "GlobalAveragePool",
    "GlobalMaxPool",
    "BatchNormalization",
    "LayerNormalization",
    "InstanceNormalization",
    "Flatten",
    "Reshape",
    "Squeeze",
    "Unsqueeze",
    "Transpose",
    "Pad",
    "DepthToSpace",
    "Resize",
    "Gather",
    "Cast",
    "Slice",
    "Sub",
    "Div",
    "LSTM",
    "GRU",
    "RNN",
    "Expand",
    "ConstantOfShape",
    "Split",
    "Erf",
    "Trilu",
    "Equal",
    "Where",
];

/// The shape `Reshape` gives `shape` with `target` (0 keeps a dimension, -1 takes the rest).
fn reshaped(shape: &[Dim], target: &[Dim]) -> Result<Vec<Dim>, String> {
    let mut out: Vec<Dim> = Vec::with_capacity(target.len());
    let mut infer = None;
    for (k, t) in target.iter().enumerate() {
        match t {
            Dim::N(0) => out.push(shape.get(k).cloned().ok_or("0 past the input's rank")?),
            Dim::N(-1) if infer.is_none() => {
                infer = Some(k);
                out.push(Dim::N(-1));
            }
            Dim::N(n) if *n > 0 => out.push(Dim::N(*n)),
            Dim::N(n) => return Err(format!("target dimension {n}")),
            other => out.push(other.clone()),
        }
    }
    let known_product = |dims: &[Dim]| -> Option<i64> {
        dims.iter()
            .filter(|d| **d != Dim::Batch && **d != Dim::N(-1))
            .try_fold(1i64, |p, d| p.checked_mul(d.known()?))
    };
    let batches = |dims: &[Dim]| dims.iter().filter(|d| **d == Dim::Batch).count();
    if let Some(k) = infer {
        let (have, want) = (known_product(shape), known_product(&out));
        let (Some(have), Some(want)) = (have, want) else {
            return Err(format!("-1 in {} needs fixed sizes", shape_text(target)));
        };
        if batches(shape) == batches(&out) + 1 {
            out[k] = Dim::Batch;
        } else if want == 0 || have % want != 0 {
            return Err(format!(
                "cannot reshape {} into {}",
                shape_text(shape),
                shape_text(target)
            ));
        } else {
            out[k] = Dim::N(have / want);
        }
    }
    // The samples stay the same values in the same order when what comes before the
    // batch axis is the same.
    let before = |dims: &[Dim]| {
        dims.iter()
            .take_while(|d| **d != Dim::Batch)
            .cloned()
            .collect::<Vec<_>>()
    };
    if batches(&out) != 1 || before(shape) != before(&out) {
        return Err(format!(
            "target {} does not keep the batch axis where it was",
            shape_text(&out)
        ));
    }
    if known_product(shape) != known_product(&out) {
        return Err(format!(
            "cannot reshape {} into {}",
            shape_text(shape),
            shape_text(&out)
        ));
    }
    Ok(out)
}
