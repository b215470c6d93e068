//! What each ONNX operator becomes: a layer of the table (with its arguments and the file's
//! tensors it reads), a join, or, for the shape computations exporters write, a constant
//! folded while compiling. Every operator, attribute and input shape that has no layer is an
//! error naming what it is; the node's own message is added by the caller.

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
    let outputs = dispatch(cx, node, inputs, &mut attrs)?;
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
        Value::Weight { name, dims, .. } if !name.name.is_empty() => {
            if dims.iter().any(|&d| d as u64 > LIMIT as u64) {
                return Err(format!("input {k} has a dimension out of range: {dims:?}"));
            }
            Ok((name.clone(), dims.clone()))
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

fn dispatch(
    cx: &mut Importer,
    node: &NodeProto,
    inputs: &[Option<Value>],
    attrs: &mut Attrs,
) -> Outputs {
    // Inside an attention region, the region takes every node; on a value that starts one
    // (the input projection's output), the node is tried as usual first.
    if let Some(r) = super::attention::region_of(inputs, true) {
        return super::attention::absorb(cx, node, inputs, attrs, r);
    }
    let plain = dispatch_plain(cx, node, inputs, attrs);
    match (plain, super::attention::region_of(inputs, false)) {
        (Err(e), Some(r)) => super::attention::absorb(cx, node, inputs, attrs, r).map_err(|_| e),
        (plain, _) => plain,
    }
}

fn dispatch_plain(
    cx: &mut Importer,
    node: &NodeProto,
    inputs: &[Option<Value>],
    attrs: &mut Attrs,
) -> Outputs {
    if !node.domain.is_empty() && node.domain != "ai.onnx" {
        return Err(format!(
            "operator `{}.{}` is not supported",
            node.domain, node.op_type
        ));
    }
    let all_constant = inputs
        .iter()
        .flatten()
        .all(|v| !matches!(v, Value::Data(_) | Value::Gelu { .. }));
    if all_constant && node.op_type != "Constant" {
        return super::fold::fold(node, inputs, attrs);
    }
    let op = node.op_type.as_str();
    if let Some(out) = gelu(cx, node, inputs)? {
        return Ok(vec![out]);
    }
    match op {
        "Constant" => super::fold::fold(node, inputs, attrs),
        "Shape" => super::fold::shape_of(data(inputs, 0)?, attrs),
        "Identity" => Ok(vec![Value::Data(data(inputs, 0)?.clone())]),
        "Split" => {
            let d = data(inputs, 0)?;
            let last = d.shape.len() as i64 - 1;
            let axis = attrs.int("axis", 0)?;
            attrs.int("num_outputs", 2)?;
            let sizes = match inputs.get(1) {
                Some(Some(_)) => known_ints(inputs, 1)?,
                _ => Vec::new(),
            };
            let features = known(d.shape.last().ok_or("a value without axes")?, "features")?;
            if (axis != -1 && axis != last)
                || node.output.len() != 2
                || features % 2 != 0
                || !(sizes.is_empty() || sizes == [features / 2, features / 2])
            {
                return Err("only halves of the last axis, multiplied as GLU, have a layer".into());
            }
            let d = cx.exact(d, &node.name)?;
            let halves = (0..2)
                .map(|k| {
                    let mut h = d.clone();
                    *h.shape.last_mut().expect("rank checked") = Dim::N(features / 2);
                    h.half_of = Some(k);
                    Value::Data(h)
                })
                .collect();
            Ok(halves)
        }
        "Cast" => {
            // Token ids cast between integer types, or floats to floats: the same values.
            let d = data(inputs, 0)?;
            let to = attrs.int("to", 0)?;
            attrs.int("saturate", 1)?;
            let ints =
                [nn_onnx::data_type::INT64, nn_onnx::data_type::INT32].contains(&(to as i32));
            if ints && !d.tokens && d.path.is_empty() {
                // Token ids given as floats and cast: the network reads token ids.
                cx.input_tokens = true;
                let mut d = d.clone();
                d.tokens = true;
                return Ok(vec![Value::Data(d)]);
            }
            if ints != d.tokens || !(ints || to as i32 == nn_onnx::data_type::FLOAT) {
                return Err(format!("a cast to {}", nn_onnx::data_type_name(to as i32)));
            }
            Ok(vec![Value::Data(d.clone())])
        }
        "LSTM" | "GRU" | "RNN" => recurrence(cx, node, inputs, attrs),
        "Dropout" => {
            attrs.int("seed", 0)?;
            if node.output.get(1).is_some_and(|m| !m.is_empty()) && cx.is_used(&node.output[1]) {
                return Err("its mask output is used".into());
            }
            Ok(vec![Value::Data(data(inputs, 0)?.clone()), Value::Failed])
        }
        "Relu" => cx.elementwise(node, data(inputs, 0)?, "Relu"),
        "Sigmoid" => {
            cx.note_activation(node, "Sigmoid");
            cx.elementwise(node, data(inputs, 0)?, "Sigmoid")
        }
        "Tanh" => {
            cx.note_activation(node, "Tanh");
            cx.elementwise(node, data(inputs, 0)?, "Tanh")
        }
        "Softplus" => {
            cx.note_activation(node, "Softplus");
            cx.elementwise(node, data(inputs, 0)?, "Softplus")
        }
        "HardSwish" => cx.elementwise(node, data(inputs, 0)?, "Hardswish"),
        "Mish" => cx.elementwise(node, data(inputs, 0)?, "Mish"),
        "Gelu" => {
            let approximate = attrs.string("approximate", "none")?;
            if approximate != "none" {
                return Err(format!(
                    "`approximate = {approximate}` (typed-nn's Gelu is exact)"
                ));
            }
            cx.elementwise(node, data(inputs, 0)?, "Gelu")
        }
        "LeakyRelu" => {
            let alpha = attrs.float("alpha", 0.01)?;
            cx.elementwise(
                node,
                data(inputs, 0)?,
                &format!("LeakyRelu({})", float_arg(alpha)),
            )
        }
        "Elu" => {
            let alpha = attrs.float("alpha", 1.0)?;
            cx.elementwise(
                node,
                data(inputs, 0)?,
                &format!("Elu({})", float_arg(alpha)),
            )
        }
        "HardSigmoid" => {
            let (alpha, beta) = (attrs.float("alpha", 0.2)?, attrs.float("beta", 0.5)?);
            if (alpha - 1.0 / 6.0).abs() > 1e-6 || (beta - 0.5).abs() > 1e-6 {
                return Err(format!(
                    "`alpha = {alpha}, beta = {beta}`: typed-nn's Hardsigmoid is PyTorch's (alpha 1/6, beta 0.5)"
                ));
            }
            cx.elementwise(node, data(inputs, 0)?, "Hardsigmoid")
        }
        "Clip" => {
            let (lo, hi) = (small_floats(inputs, 1)?, small_floats(inputs, 2)?);
            let d = data(inputs, 0)?;
            match (lo.as_deref(), hi.as_deref()) {
                (Some([lo]), Some([hi])) if *lo == 0.0 && *hi == 6.0 => {
                    cx.elementwise(node, d, "Relu6")
                }
                (Some([lo]), None) if *lo == 0.0 => cx.elementwise(node, d, "Relu"),
                _ => Err(format!(
                    "bounds {lo:?}, {hi:?}: only [0, 6] (ReLU6) and [0, ∞) (ReLU) have a layer"
                )),
            }
        }
        "Softmax" | "LogSoftmax" => {
            let d = data(inputs, 0)?;
            let axis = attrs.int("axis", -1)?;
            let rank = d.shape.len() as i64;
            if axis != -1 && axis != rank - 1 {
                return Err(format!(
                    "`axis = {axis}`: typed-nn's {op} is over the last axis"
                ));
            }
            cx.elementwise(node, d, op)
        }
        "PRelu" => {
            let d = data(inputs, 0)?;
            let (slope, dims) = weight(inputs, 1)?;
            let count: usize = dims.iter().product();
            let channels = d.shape.get(1).and_then(Dim::known).unwrap_or(-1);
            if count != 1 && count as i64 != channels {
                return Err(format!(
                    "slopes of shape {dims:?}: typed-nn's PRelu has one slope or one per channel"
                ));
            }
            let d = cx.exact(d, &node.name)?;
            let text = format!("PRelu(parameters = {count})");
            let w = vec![same("weight", vec![count], slope)];
            let (out, _) = cx.layer(node, &d, text, w, d.shape.clone())?;
            Ok(vec![Value::Data(out)])
        }
        "Mul" => activation_product(cx, node, inputs),
        "Add" | "Sum"
            if matches!(input(inputs, 0), Ok(Value::Data(_)))
                && matches!(input(inputs, 1), Ok(Value::Data(_))) =>
        {
            if inputs.len() != 2 {
                return Err("a sum of more than two values".into());
            }
            join(cx, node, inputs, JoinKind::Add)
        }
        "Add" => bias_after_matmul(cx, node, inputs),
        "Concat" => {
            let rank = data(inputs, 0)?.shape.len() as i64;
            let axis = attrs.int("axis", 0)?;
            if axis != 1 && axis != 1 - rank {
                return Err(format!(
                    "`axis = {axis}`: typed-nn concatenates along the first axis after the batch"
                ));
            }
            join(cx, node, inputs, JoinKind::Concat)
        }
        "Gemm" => {
            let d = data(inputs, 0)?;
            let (w, dims) = weight(inputs, 1)?;
            let (alpha, beta) = (attrs.float("alpha", 1.0)?, attrs.float("beta", 1.0)?);
            let (trans_a, trans_b) = (attrs.int("transA", 0)?, attrs.int("transB", 0)?);
            if alpha != 1.0 || beta != 1.0 || trans_a != 0 {
                return Err("`alpha`, `beta` other than 1 or `transA`".into());
            }
            let &[r, c] = dims.as_slice() else {
                return Err(format!("weight of shape {dims:?}, not a matrix"));
            };
            let (units, depth, layout) = if trans_b != 0 {
                (r, c, Layout::Same)
            } else {
                (c, r, Layout::Transpose)
            };
            if d.shape.len() != 2 || d.shape[1] != Dim::N(depth as i64) {
                return Err(format!(
                    "a [{units}, {depth}] weight on input {}",
                    shape_text(&d.shape)
                ));
            }
            let mut weights = vec![WeightRef {
                suffix: "weight",
                shape: vec![units, depth],
                source: w,
                layout,
            }];
            let bias = optional_weight(inputs, 2)?;
            if let Some((b, bdims)) = &bias {
                if bdims.iter().product::<usize>() != units {
                    return Err(format!("bias of shape {bdims:?} for {units} units"));
                }
                weights.push(same("bias", vec![units], b.clone()));
            }
            let text = format!("Dense({units}, bias = {})", bias.is_some());
            let (out, _) = cx.layer(
                node,
                d,
                text,
                weights,
                vec![Dim::Batch, Dim::N(units as i64)],
            )?;
            Ok(vec![Value::Data(out)])
        }
        "MatMul" => {
            let d = data(inputs, 0)?;
            let (w, dims) = weight(inputs, 1)?;
            let &[depth, units] = dims.as_slice() else {
                return Err(format!("right-hand side of shape {dims:?}, not a matrix"));
            };
            if d.shape.last() != Some(&Dim::N(depth as i64)) || !(2..=3).contains(&d.shape.len()) {
                return Err(format!(
                    "a [{depth}, {units}] matrix on input {}",
                    shape_text(&d.shape)
                ));
            }
            let per_step = if d.shape.len() == 3 {
                ", per_step = true"
            } else {
                ""
            };
            let weights = vec![WeightRef {
                suffix: "weight",
                shape: vec![units, depth],
                source: w,
                layout: Layout::Transpose,
            }];
            // A time-major sequence holds the same samples as a batch-first one.
            let time_major = d.shape.len() == 3 && d.batch_axis() == Some(1);
            let mut x = d.clone();
            if time_major {
                x.shape.swap(0, 1);
            }
            let mut shape = x.shape.clone();
            *shape.last_mut().expect("rank checked") = Dim::N(units as i64);
            let text = format!("Dense({units}, bias = false{per_step})");
            let (mut out, id) = cx.layer(node, &x, text, weights, shape)?;
            if time_major {
                out.shape.swap(0, 1);
            }
            cx.open_dense(&node.output[0], id, units);
            if units == 3 * depth {
                // Perhaps an attention's input projection (queries, keys, values).
                out.region = Some(cx.regions.len());
                cx.regions.push(super::attention::Region {
                    start: d.clone(),
                    projection: id,
                    dim: depth,
                    head_dim: None,
                    softmaxes: 0,
                    products: 0,
                    scale: 1.0,
                    causal: false,
                });
            }
            Ok(vec![Value::Data(out)])
        }
        "Conv" | "ConvTranspose" => conv(cx, node, inputs, attrs),
        "MaxPool" | "AveragePool" => pool(cx, node, inputs, attrs),
        "ReduceMean" | "ReduceMax" => {
            let d = data(inputs, 0)?;
            let rank = d.shape.len() as i64;
            let mut axes = match inputs.get(1) {
                Some(Some(_)) => known_ints(inputs, 1)?,
                _ => attrs.ints("axes")?.unwrap_or_default(),
            };
            for a in &mut axes {
                if *a < 0 {
                    *a += rank;
                }
            }
            axes.sort_unstable();
            let keep = attrs.int("keepdims", 1)? != 0;
            attrs.int("noop_with_empty_axes", 0)?;
            let mean = op == "ReduceMean";
            let (text, mut shape) = match (rank, axes.as_slice()) {
                (4, [2, 3]) => (if mean { "GlobalAvgPool2d" } else { "GlobalMaxPool2d" }, vec![Dim::Batch, d.shape[1].clone()]),
                (3, [1]) => (if mean { "GlobalAvgPool1d" } else { "GlobalMaxPool1d" }, vec![Dim::Batch, d.shape[2].clone()]),
                _ => return Err(format!("axes {axes:?}: only the spatial axes of [batch, channels, height, width] or the steps of [batch, steps, features] have a layer")),
            };
            let (mut out, _) = cx.layer(node, d, text.into(), Vec::new(), shape.clone())?;
            if keep {
                if rank == 4 {
                    shape.extend([Dim::N(1), Dim::N(1)]);
                } else {
                    shape.insert(1, Dim::N(1));
                }
                out.shape = shape;
            }
            Ok(vec![Value::Data(out)])
        }
        "GlobalAveragePool" | "GlobalMaxPool" => {
            let d = data(inputs, 0)?;
            if d.shape.len() != 4 {
                return Err(
                    "a global pooling of other than [batch, channels, height, width]".into(),
                );
            }
            let text = if op == "GlobalAveragePool" {
                "GlobalAvgPool2d"
            } else {
                "GlobalMaxPool2d"
            };
            let shape = vec![Dim::Batch, d.shape[1].clone()];
            let (mut out, _) = cx.layer(node, d, text.into(), Vec::new(), shape)?;
            // ONNX keeps the two axes of one; typed-nn's sample is [C] until a layer needs them.
            out.shape.extend([Dim::N(1), Dim::N(1)]);
            Ok(vec![Value::Data(out)])
        }
        "BatchNormalization" => {
            let d = data(inputs, 0)?;
            let eps = attrs.float("epsilon", 1e-5)?;
            let momentum = attrs.float("momentum", 0.9)?;
            if attrs.int("training_mode", 0)? != 0 {
                return Err("`training_mode = 1`".into());
            }
            let channels = usize_dims(&d.shape[1..2])?[0];
            let text = match d.shape.len() {
                4 => "BatchNorm2d",
                2 | 3 => "BatchNorm1d",
                _ => return Err("a batch normalisation of rank other than 2, 3 or 4".into()),
            };
            let mut weights = Vec::new();
            for (k, suffix) in [
                (1, "weight"),
                (2, "bias"),
                (3, "running_mean"),
                (4, "running_var"),
            ] {
                let (w, dims) = weight(inputs, k)?;
                if dims.iter().product::<usize>() != channels {
                    return Err(format!(
                        "`{suffix}` of shape {dims:?} for {channels} channels"
                    ));
                }
                weights.push(same(suffix, vec![channels], w));
            }
            weights.push(WeightRef {
                suffix: "num_batches_tracked",
                shape: Vec::new(),
                source: Source::default(),
                layout: Layout::Count,
            });
            let momentum = if momentum > 0.0 && momentum < 1.0 {
                format!(", momentum = {}", float_arg(1.0 - momentum))
            } else {
                String::new()
            };
            let text = format!("{text}(eps = {}{momentum})", float_arg(eps));
            let (out, _) = cx.layer(node, d, text, weights, d.shape.clone())?;
            Ok(vec![Value::Data(out)])
        }
        "LayerNormalization" => {
            let d = data(inputs, 0)?;
            let eps = attrs.float("epsilon", 1e-5)?;
            let axis = attrs.int("axis", -1)?;
            attrs.int("stash_type", 1)?;
            if axis != -1 && axis != d.shape.len() as i64 - 1 {
                return Err(format!(
                    "`axis = {axis}`: typed-nn's LayerNorm is over the last axis"
                ));
            }
            if node
                .output
                .iter()
                .skip(1)
                .any(|o| !o.is_empty() && cx.is_used(o))
            {
                return Err("its mean or inverse deviation output is used".into());
            }
            let features = usize_dims(&d.shape[d.shape.len() - 1..])?[0];
            let (w, _) = weight(inputs, 1)?;
            let mut weights = vec![same("weight", vec![features], w)];
            weights.push(match optional_weight(inputs, 2)? {
                Some((b, _)) => same("bias", vec![features], b),
                None => WeightRef {
                    suffix: "bias",
                    shape: vec![features],
                    source: Source::default(),
                    layout: Layout::Zeros,
                },
            });
            let text = format!("LayerNorm(eps = {})", float_arg(eps));
            let (out, _) = cx.layer(node, d, text, weights, d.shape.clone())?;
            Ok(vec![Value::Data(out)])
        }
        "InstanceNormalization" => {
            let d = data(inputs, 0)?;
            let eps = attrs.float("epsilon", 1e-5)?;
            if let Some(out) = group_norm(cx, node, inputs, d, eps)? {
                return Ok(vec![Value::Data(out)]);
            }
            let channels = usize_dims(&d.shape[1..2])?[0];
            let kind = match d.shape.len() {
                4 => "InstanceNorm2d",
                3 => "InstanceNorm1d",
                _ => return Err("an instance normalisation of rank other than 3 or 4".into()),
            };
            let weights = vec![
                same("weight", vec![channels], weight(inputs, 1)?.0),
                same("bias", vec![channels], weight(inputs, 2)?.0),
            ];
            let text = format!("{kind}(eps = {}, affine = true)", float_arg(eps));
            let (out, _) = cx.layer(node, d, text, weights, d.shape.clone())?;
            Ok(vec![Value::Data(out)])
        }
        "Flatten" => {
            let d = data(inputs, 0)?;
            let axis = attrs.int("axis", 1)?;
            if axis != 1 {
                return Err(format!(
                    "`axis = {axis}`: only a flattening after the batch has a layer"
                ));
            }
            let rest: Vec<usize> = usize_dims(&d.shape[1..])?;
            let count = rest
                .iter()
                .try_fold(1i64, |p, &n| p.checked_mul(n as i64))
                .ok_or("the flattened size overflows")?;
            let mut out = d.clone();
            out.shape = vec![Dim::Batch, Dim::N(in_range("the flattened size", count)?)];
            Ok(vec![Value::Data(out)])
        }
        "Reshape" => {
            let d = data(inputs, 0)?;
            let target = ints(inputs, 1)?;
            // With `allowzero`, a 0 is an empty axis rather than a copied one; without any,
            // both read alike.
            if attrs.int("allowzero", 0)? != 0 && target.contains(&Dim::N(0)) {
                return Err("`allowzero = 1` with an empty axis".into());
            }
            let shape = reshaped(&d.shape, &target)?;
            let mut out = d.clone();
            out.shape = shape;
            Ok(vec![Value::Data(out)])
        }
        "Squeeze" | "Unsqueeze" => {
            let d = data(inputs, 0)?;
            let axes = match inputs.get(1) {
                Some(Some(_)) => known_ints(inputs, 1)?,
                _ => attrs.ints("axes")?.unwrap_or_default(),
            };
            let shape = super::fold::squeeze(op, &d.shape, &axes)?;
            let mut out = d.clone();
            out.shape = shape;
            Ok(vec![Value::Data(out)])
        }
        "Transpose" => {
            let d = data(inputs, 0)?;
            let rank = d.shape.len();
            let perm = attrs
                .ints("perm")?
                .unwrap_or_else(|| (0..rank as i64).rev().collect());
            let mut sorted = perm.clone();
            sorted.sort_unstable();
            if sorted != (0..rank as i64).collect::<Vec<_>>() {
                return Err(format!(
                    "`perm = {perm:?}` is not a permutation of the axes"
                ));
            }
            let shape: Vec<Dim> = perm.iter().map(|&p| d.shape[p as usize].clone()).collect();
            let batch = d.batch_axis().ok_or("no batch axis")? as i64;
            let others: Vec<i64> = perm.iter().copied().filter(|&p| p != batch).collect();
            if others.windows(2).all(|w| w[0] < w[1]) {
                // Only the batch axis moves (batch-first to time-major and back): the
                // samples are the same.
                let mut out = d.clone();
                out.shape = shape;
                return Ok(vec![Value::Data(out)]);
            }
            if perm[0] != 0 || batch != 0 {
                return Err(format!(
                    "`perm = {perm:?}` moves the batch axis and the others"
                ));
            }
            let dims: Vec<i64> = perm[1..].iter().map(|p| p - 1).collect();
            let (out, _) = cx.layer(node, d, format!("Permute({dims:?})"), Vec::new(), shape)?;
            Ok(vec![Value::Data(out)])
        }
        "Pad" => {
            let d = data(inputs, 0)?;
            let mode = attrs.string("mode", "constant")?;
            let pads = known_ints(inputs, 1)?;
            let value = small_floats(inputs, 2)?;
            if mode != "constant"
                || value
                    .as_deref()
                    .is_some_and(|v| v.iter().any(|&v| v != 0.0))
                || matches!(inputs.get(3), Some(Some(_)))
            {
                return Err("only zero padding of every axis has a layer".into());
            }
            if d.shape.len() != 4
                || pads.len() != 8
                || pads[..2] != [0, 0]
                || pads[4..6] != [0, 0]
                || pads[2..4] != pads[6..8]
            {
                return Err(format!("`pads` {pads:?}: only the same zeros at both ends of height and width have a layer"));
            }
            let mut shape = d.shape.clone();
            for k in 2..4 {
                shape[k] = Dim::N(known(&d.shape[k], "size")? + 2 * pads[k]);
            }
            let text = format!("ZeroPad2d({})", arg(&pads[2..4]));
            let (out, _) = cx.layer(node, d, text, Vec::new(), shape)?;
            Ok(vec![Value::Data(out)])
        }
        "DepthToSpace" => {
            let d = data(inputs, 0)?;
            let r = attrs.int("blocksize", 0)?;
            if attrs.string("mode", "DCR")? != "CRD" {
                return Err("`mode = DCR`: PyTorch's PixelShuffle is CRD".into());
            }
            if d.shape.len() != 4 || r <= 0 {
                return Err(
                    "a [batch, channels, height, width] input and a positive block size are needed"
                        .into(),
                );
            }
            let dims = usize_dims(&d.shape[1..])?;
            let shape = vec![
                Dim::Batch,
                Dim::N(dims[0] as i64 / (r * r)),
                Dim::N(dims[1] as i64 * r),
                Dim::N(dims[2] as i64 * r),
            ];
            let (out, _) = cx.layer(node, d, format!("PixelShuffle({r})"), Vec::new(), shape)?;
            Ok(vec![Value::Data(out)])
        }
        "Resize" => resize(cx, node, inputs, attrs),
        "Gather" if matches!(input(inputs, 0), Ok(Value::Data(_))) => {
            last_step(cx, node, inputs, attrs)
        }
        "Gather" => {
            let tokens = data(inputs, 1)?;
            let (w, dims) = weight(inputs, 0)?;
            if attrs.int("axis", 0)? != 0 || !tokens.tokens {
                return Err("only rows of a weight picked by the network's token ids (an embedding) have a layer".into());
            }
            let &[vocabulary, dimension] = dims.as_slice() else {
                return Err(format!("embedding of shape {dims:?}"));
            };
            let mut shape = tokens.shape.clone();
            shape.push(Dim::N(dimension as i64));
            let weights = vec![same("weight", dims.clone(), w)];
            let mut tokens = tokens.clone();
            tokens.tokens = false;
            let (out, _) = cx.layer(
                node,
                &tokens,
                format!("Embedding({vocabulary}, {dimension})"),
                weights,
                shape,
            )?;
            Ok(vec![Value::Data(out)])
        }
        _ => Err(format!("operator `{op}` is not supported")),
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

/// `x · σ(x)` (SiLU) and `x · tanh(softplus(x))` (Mish), which exporters write as products.
fn activation_product(cx: &mut Importer, node: &NodeProto, inputs: &[Option<Value>]) -> Outputs {
    if let Some(out) = group_norm_affine(cx, inputs, "weight")? {
        return Ok(vec![Value::Data(out)]);
    }
    for (a, b) in [(0, 1), (1, 0)] {
        let (Some(x), Some(gate)) = (node.input.get(a), node.input.get(b)) else {
            continue;
        };
        let chain = cx.activation_chain(gate, x);
        let kind = match chain.as_slice() {
            ["Sigmoid"] => "Silu",
            ["Softplus", "Tanh"] => "Mish",
            _ => continue,
        };
        return cx.elementwise(node, data(inputs, a)?, kind);
    }
    for (a, b) in [(0, 1), (1, 0)] {
        if let Some(out) = squeeze_excitation(cx, node, data(inputs, a)?, data(inputs, b)?)? {
            return Ok(vec![Value::Data(out)]);
        }
        if let Some(out) = glu(cx, node, inputs, a, b)? {
            return Ok(vec![Value::Data(out)]);
        }
    }
    Err("a product of values: only x·σ(x) (SiLU), x·tanh(softplus(x)) (Mish), the halves of a Split (GLU) and squeeze-and-excitation have layers".into())
}

/// `x · gate(fc2(act(fc1(mean of x over its planes))))`, torchvision's
/// `SqueezeExcitation`: the steps that compute the gates from `x` become one layer.
fn squeeze_excitation(
    cx: &mut Importer,
    node: &NodeProto,
    x: &Data,
    gates: &Data,
) -> Result<Option<Data>, String> {
    let Some(rest) = gates.path.strip_prefix(x.path.as_slice()) else {
        return Ok(None);
    };
    if x.shape.len() != 4 || gates.shape.len() != 4 || gates.shape[2..] != [Dim::N(1), Dim::N(1)] {
        return Ok(None);
    }
    // The reshapes between the pooled vector and the 1×1 convolutions are not layers of it.
    let steps: Vec<(&String, &Vec<WeightRef>)> = rest
        .iter()
        .filter_map(|&id| match &cx.steps.steps[id] {
            Step::Layer { text, weights, .. }
                if !text.starts_with("Reshape") && text != "Flatten" =>
            {
                Some((text, weights))
            }
            _ => None,
        })
        .collect();
    let [(pool, _), (fc1, w1), (act, _), (fc2, w2), (gate, _)] = steps.as_slice() else {
        return Ok(None);
    };
    let one_by_one = |t: &str| {
        t.starts_with("Conv2d(") && t.contains(", (1, 1), stride = (1, 1), padding = (0, 0)")
    };
    let activation = match act.as_str() {
        "Relu" => "relu",
        "Hardswish" => "hardswish",
        "Silu" => "silu",
        _ => return Ok(None),
    };
    let scale = match gate.as_str() {
        "Sigmoid" => "sigmoid",
        "Hardsigmoid" => "hardsigmoid",
        _ => return Ok(None),
    };
    if pool.as_str() != "GlobalAvgPool2d"
        || !one_by_one(fc1)
        || !one_by_one(fc2)
        || w1.len() != 2
        || w2.len() != 2
    {
        return Ok(None);
    }
    let squeeze = w1[0].shape[0];
    let mut weights = Vec::new();
    for (prefix, w) in [("fc1", w1), ("fc2", w2)] {
        for part in w.iter() {
            let suffix: &'static str = match (prefix, part.suffix) {
                ("fc1", "weight") => "fc1.weight",
                ("fc1", _) => "fc1.bias",
                (_, "weight") => "fc2.weight",
                _ => "fc2.bias",
            };
            weights.push(WeightRef {
                suffix,
                ..part.clone()
            });
        }
    }
    let text = format!(
        "SqueezeExcitation({squeeze}, activation = {activation}, scale_activation = {scale})"
    );
    let (out, _) = cx.layer(node, x, text, weights, x.shape.clone())?;
    Ok(Some(out))
}

/// `a · σ(b)` where `a` and `b` are the halves of one `Split` along the last axis: GLU.
fn glu(
    cx: &mut Importer,
    node: &NodeProto,
    inputs: &[Option<Value>],
    a: usize,
    b: usize,
) -> Result<Option<Data>, String> {
    let (Some(first), Some(gate)) = (node.input.get(a), node.input.get(b)) else {
        return Ok(None);
    };
    let Some((second, "Sigmoid")) = cx
        .activations
        .get(gate.as_str())
        .map(|(i, k)| (i.clone(), *k))
    else {
        return Ok(None);
    };
    let (Some(Value::Data(x0)), Some(Value::Data(x1))) =
        (cx.values.get(first), cx.values.get(&second))
    else {
        return Ok(None);
    };
    if x0.half_of != Some(0)
        || x1.half_of != Some(1)
        || x0.path != x1.path
        || !cx.is_used_once(gate)
    {
        return Ok(None);
    }
    let mut whole = data(inputs, a)?.clone();
    whole.half_of = None;
    let shape = whole.shape.clone();
    let mut input = whole.clone();
    let last = input.shape.len() - 1;
    input.shape[last] = Dim::N(2 * known(&shape[last], "features")?);
    input.sample = input.onnx_sample();
    let (out, _) = cx.layer(node, &input, "Glu".into(), Vec::new(), shape)?;
    Ok(Some(out))
}

/// A scalar constant among the inputs, and the other input's position.
fn scalar_and_other(inputs: &[Option<Value>]) -> Option<(f32, usize)> {
    if inputs.len() != 2 {
        return None;
    }
    (0..2).find_map(|k| match &inputs[k] {
        Some(Value::Weight { small: Some(v), .. }) if v.len() == 1 => Some((v[0], 1 - k)),
        _ => None,
    })
}

/// GELU written out, x · ½(1 + erf(x / √2)), in either order of its last two products:
/// each step is followed as a `Value::Gelu` until the last gives the layer.
fn gelu(
    cx: &mut Importer,
    node: &NodeProto,
    inputs: &[Option<Value>],
) -> Result<Option<Value>, String> {
    let close = |a: f32, b: f32| (a - b).abs() <= 1e-5 * b.abs();
    let op = node.op_type.as_str();
    let pending = |k: usize| match inputs.get(k) {
        Some(Some(Value::Gelu { x, stage })) => Some((x.clone(), *stage)),
        _ => None,
    };
    let next = |x: String, stage| Ok(Some(Value::Gelu { x, stage }));
    let scalar = scalar_and_other(inputs);
    match (op, scalar) {
        ("Div", Some((c, 0)))
            if close(c, std::f32::consts::SQRT_2) && matches!(inputs[0], Some(Value::Data(_))) =>
        {
            next(node.input[0].clone(), GeluStage::Scaled)
        }
        ("Mul", Some((c, k)))
            if close(c, std::f32::consts::FRAC_1_SQRT_2)
                && matches!(inputs[k], Some(Value::Data(_))) =>
        {
            next(node.input[k].clone(), GeluStage::Scaled)
        }
        ("Erf", _) => match pending(0) {
            Some((x, GeluStage::Scaled)) => next(x, GeluStage::Erf),
            _ => Err("an error function other than GELU's".into()),
        },
        ("Add", Some((1.0, k))) => match pending(k) {
            Some((x, GeluStage::Erf)) => next(x, GeluStage::OnePlus),
            _ => Ok(None),
        },
        ("Mul", Some((0.5, k))) => match pending(k) {
            Some((x, GeluStage::OnePlus)) => next(x, GeluStage::Phi),
            Some((x, GeluStage::Twice)) => gelu_layer(cx, node, &x),
            _ => Ok(None),
        },
        ("Mul", None) => {
            for (a, b) in [(0, 1), (1, 0)] {
                if let Some((x, stage)) = pending(b) {
                    if node.input.get(a) == Some(&x) {
                        return match stage {
                            GeluStage::Phi => gelu_layer(cx, node, &x),
                            GeluStage::OnePlus => next(x, GeluStage::Twice),
                            _ => Ok(None),
                        };
                    }
                }
            }
            Ok(None)
        }
        _ if (0..inputs.len()).any(|k| pending(k).is_some()) => {
            Err("arithmetic on a GELU's steps other than GELU's own".into())
        }
        _ => Ok(None),
    }
}

fn gelu_layer(cx: &mut Importer, node: &NodeProto, x: &str) -> Result<Option<Value>, String> {
    let Some(Value::Data(d)) = cx.values.get(x).cloned() else {
        return Err(format!("GELU of `{x}`, which is not data"));
    };
    let out = cx.elementwise(node, &d, "Gelu")?;
    Ok(out.into_iter().next())
}

/// Group normalisation as exporters write it: the sample reshaped to `[groups, rest]`, an
/// `InstanceNormalization` without scale or shift (ones and zeros), reshaped back; the
/// per-channel scale and shift come after (`group_norm_affine`).
fn group_norm(
    cx: &mut Importer,
    node: &NodeProto,
    inputs: &[Option<Value>],
    d: &Data,
    eps: f32,
) -> Result<Option<Data>, String> {
    let plain = |k: usize, v: f32| matches!(inputs.get(k), Some(Some(Value::Weight { small: Some(x), .. })) if x.iter().all(|&x| x == v));
    if d.shape.len() != 3
        || d.sample.len() < 2
        || d.sample == d.onnx_sample()
        || !plain(1, 1.0)
        || !plain(2, 0.0)
    {
        return Ok(None);
    }
    let (Some(groups), Some(channels)) = (d.shape[1].known(), d.sample[0].known()) else {
        return Ok(None);
    };
    if groups <= 0 || channels % groups != 0 {
        return Ok(None);
    }
    let channels = channels as usize;
    let weights = vec![
        WeightRef {
            suffix: "weight",
            shape: vec![channels],
            source: Source::default(),
            layout: Layout::Ones,
        },
        WeightRef {
            suffix: "bias",
            shape: vec![channels],
            source: Source::default(),
            layout: Layout::Zeros,
        },
    ];
    let text = format!("GroupNorm({groups}, eps = {})", float_arg(eps));
    // On the sample as it is (`[C, H, W]`), not the grouped view.
    let name = cx.steps.name(&node.name, "GroupNorm");
    let id = cx.steps.push(Step::Layer {
        name,
        text,
        weights,
    });
    let mut out = d.clone();
    out.path.push(id);
    out.forget_marks();
    out.affine_of = Some((id, channels));
    Ok(Some(out))
}

/// The per-channel scale (`Mul`) or shift (`Add`) of a `[C, 1, 1]` constant after a group
/// normalisation: its weight or bias.
fn group_norm_affine(
    cx: &mut Importer,
    inputs: &[Option<Value>],
    suffix: &'static str,
) -> Result<Option<Data>, String> {
    let k = match (inputs.first(), inputs.get(1)) {
        (Some(Some(Value::Data(d))), Some(Some(Value::Weight { .. }))) if d.affine_of.is_some() => {
            0
        }
        (Some(Some(Value::Weight { .. })), Some(Some(Value::Data(d)))) if d.affine_of.is_some() => {
            1
        }
        _ => return Ok(None),
    };
    let d = data(inputs, k)?;
    let (w, dims) = weight(inputs, 1 - k)?;
    let Some((id, channels)) = d.affine_of else {
        return Ok(None);
    };
    let per_channel = dims.iter().product::<usize>() == channels && dims.first() == Some(&channels);
    if !per_channel || d.onnx_sample() != d.sample {
        return Ok(None);
    }
    let (_, weights) = cx.steps.layer_mut(id).ok_or("no group normalisation")?;
    let Some(slot) = weights
        .iter_mut()
        .find(|w| w.suffix == suffix && w.source.name.is_empty())
    else {
        return Ok(None);
    };
    *slot = same(suffix, vec![channels], w);
    let mut out = d.clone();
    if suffix == "bias" {
        out.affine_of = None;
    }
    Ok(Some(out))
}

/// `MatMul` then `Add` of a vector: the bias of the dense layer the product made.
fn bias_after_matmul(cx: &mut Importer, node: &NodeProto, inputs: &[Option<Value>]) -> Outputs {
    if let Some(out) = group_norm_affine(cx, inputs, "bias")? {
        return Ok(vec![Value::Data(out)]);
    }
    let (d_at, w_at) = if matches!(input(inputs, 0)?, Value::Data(_)) {
        (0, 1)
    } else {
        (1, 0)
    };
    let d = data(inputs, d_at)?;
    let (b, dims) = weight(inputs, w_at)?;
    let Some((id, units, suffix)) = cx.open_dense_of(&node.input[d_at]) else {
        // A learnt [steps, features] table added to a sequence: positional embeddings.
        let sample = d.onnx_sample();
        let table = dims
            .iter()
            .skip_while(|&&n| n == 1)
            .map(|&n| Dim::N(n as i64));
        if d.shape.len() == 3 && d.batch_axis() == Some(0) && table.eq(sample.iter().cloned()) {
            let dims = usize_dims(&sample)?;
            let weights = vec![same("weight", dims, b)];
            let (out, _) = cx.layer(
                node,
                d,
                "PositionalEmbedding".into(),
                weights,
                d.shape.clone(),
            )?;
            return Ok(vec![Value::Data(out)]);
        }
        return Err("adding a constant: only the bias right after a MatMul and a [steps, features] table (positional embeddings) have layers".into());
    };
    if dims.iter().product::<usize>() != units || dims.last() != Some(&units) {
        return Err(format!("a bias of shape {dims:?} for {units} units"));
    }
    let (text, weights) = cx.steps.layer_mut(id).ok_or("no dense layer")?;
    *text = text.replacen("bias = false", "bias = true", 1);
    // An attention's output projection has its bias already, as zeros until now.
    weights.retain(|w| w.suffix != suffix);
    weights.push(same(suffix, vec![units], b));
    Ok(vec![Value::Data(d.clone())])
}

fn join(cx: &mut Importer, node: &NodeProto, inputs: &[Option<Value>], kind: JoinKind) -> Outputs {
    let mut parts = Vec::new();
    for k in 0..inputs.len() {
        let d = data(inputs, k)?;
        parts.push(cx.exact(d, &node.name)?);
    }
    let first = &parts[0];
    let mut shape = first.shape.clone();
    for p in &parts[1..] {
        if p.shape.len() != shape.len() {
            return Err("inputs of different ranks".into());
        }
        match kind {
            JoinKind::Add if p.shape != shape => {
                return Err("a sum of different shapes (typed-nn does not broadcast)".into())
            }
            JoinKind::Concat if p.shape[2..] != shape[2..] => {
                return Err("a concatenation of values that differ past their first axis".into())
            }
            JoinKind::Concat => {
                shape[1] = Dim::N(known(&shape[1], "channels")? + known(&p.shape[1], "channels")?)
            }
            _ => {}
        }
    }
    let name = cx.steps.name(&node.name, &node.op_type);
    let paths: Vec<&[usize]> = parts.iter().map(|p| p.path.as_slice()).collect();
    let path = emit::join(&mut cx.steps, name, kind, &paths);
    Ok(vec![Value::Data(Data {
        sample: shape[1..].to_vec(),
        shape,
        path,
        tokens: false,
        sequence_of: None,
        half_of: None,
        region: None,
        affine_of: None,
    })])
}

fn conv(
    cx: &mut Importer,
    node: &NodeProto,
    inputs: &[Option<Value>],
    attrs: &mut Attrs,
) -> Outputs {
    let transposed = node.op_type == "ConvTranspose";
    let d = data(inputs, 0)?;
    let (w, wdims) = weight(inputs, 1)?;
    let rank = d.shape.len().saturating_sub(2);
    if !(1..=2).contains(&rank) || wdims.len() != rank + 2 {
        return Err(format!(
            "a weight of shape {wdims:?} on {}: only 1-D and 2-D convolutions have layers",
            shape_text(&d.shape)
        ));
    }
    let sizes: Vec<i64> = d.shape[1..]
        .iter()
        .map(|s| known(s, "size"))
        .collect::<Result<_, _>>()?;
    let channels = sizes[0];
    let groups = attrs.int("group", 1)?;
    let kernel: Vec<i64> = wdims[2..].iter().map(|&k| k as i64).collect();
    if let Some(k) = attrs.ints("kernel_shape")? {
        if k != kernel {
            return Err(format!(
                "`kernel_shape` {k:?} differs from the weight's {kernel:?}"
            ));
        }
    }
    let strides = per_axis(attrs, "strides", rank, 1)?;
    let dilations = per_axis(attrs, "dilations", rank, 1)?;
    let pads = symmetric_pads(attrs, rank)?;
    if groups <= 0 || channels % groups != 0 {
        return Err(format!("{channels} channels in {groups} groups"));
    }
    let (filters, weight_in) = if transposed {
        (wdims[1] as i64 * groups, wdims[0] as i64)
    } else {
        (wdims[0] as i64, wdims[1] as i64 * groups)
    };
    if weight_in != channels {
        return Err(format!(
            "a weight of shape {wdims:?} for {channels} input channels in {groups} groups"
        ));
    }
    let output_padding = if transposed {
        if attrs.ints("output_shape")?.is_some() {
            return Err("`output_shape` (export with `output_padding`)".into());
        }
        per_axis(attrs, "output_padding", rank, 0)?
    } else {
        vec![0; rank]
    };
    let mut shape = vec![Dim::Batch, Dim::N(filters)];
    for a in 0..rank {
        let size = sizes[a + 1];
        let out = if transposed {
            // Each term is within ±2^62: their sum is computed wide.
            let wide = i128::from(size - 1) * i128::from(strides[a]) - 2 * i128::from(pads[a])
                + i128::from(dilations[a]) * i128::from(kernel[a] - 1)
                + i128::from(output_padding[a])
                + 1;
            in_range("the output size", i64::try_from(wide).unwrap_or(i64::MAX))?
        } else {
            window_out(size, kernel[a], strides[a], dilations[a], pads[a])?
        };
        if out <= 0 {
            return Err("an empty output".into());
        }
        shape.push(Dim::N(out));
    }
    let bias = optional_weight(inputs, 2)?;
    let mut weights = vec![same("weight", wdims.clone(), w)];
    if let Some((b, _)) = &bias {
        weights.push(same("bias", vec![filters as usize], b.clone()));
    }
    let kind = match (transposed, rank) {
        (false, 1) => "Conv1d",
        (false, _) => "Conv2d",
        (true, 1) => "ConvTranspose1d",
        (true, _) => "ConvTranspose2d",
    };
    let mut text = format!(
        "{kind}({filters}, {}, stride = {}, padding = {}, dilation = {}, groups = {groups}, bias = {}",
        arg(&kernel),
        arg(&strides),
        arg(&pads),
        arg(&dilations),
        bias.is_some()
    );
    if transposed {
        text.push_str(&format!(", output_padding = {}", arg(&output_padding)));
    }
    text.push(')');
    let (out, _) = cx.layer(node, d, text, weights, shape)?;
    Ok(vec![Value::Data(out)])
}

fn pool(
    cx: &mut Importer,
    node: &NodeProto,
    inputs: &[Option<Value>],
    attrs: &mut Attrs,
) -> Outputs {
    let max = node.op_type == "MaxPool";
    let d = data(inputs, 0)?;
    let rank = d.shape.len().saturating_sub(2);
    if !(1..=2).contains(&rank) {
        return Err("only 1-D and 2-D pooling have layers".into());
    }
    let kernel = attrs.ints("kernel_shape")?.ok_or("no `kernel_shape`")?;
    if kernel.len() != rank {
        return Err(format!(
            "`kernel_shape` {kernel:?} on {}",
            shape_text(&d.shape)
        ));
    }
    let strides = per_axis(attrs, "strides", rank, 1)?;
    let pads = symmetric_pads(attrs, rank)?;
    let ceil = attrs.int("ceil_mode", 0)? != 0;
    if max {
        if per_axis(attrs, "dilations", rank, 1)?
            .iter()
            .any(|&d| d != 1)
        {
            return Err("dilated pooling".into());
        }
        if attrs.int("storage_order", 0)? != 0 {
            return Err("`storage_order = 1`".into());
        }
        if node
            .output
            .get(1)
            .is_some_and(|o| !o.is_empty() && cx.is_used(o))
        {
            return Err("its indices output is used".into());
        }
    } else if attrs.int("count_include_pad", 0)? == 0 && pads.iter().any(|&p| p > 0) {
        return Err("padding not counted in the mean (`count_include_pad = 0`): typed-nn counts it, as PyTorch's default".into());
    }
    let mut shape = d.shape[..2].to_vec();
    for a in 0..rank {
        let size = known(&d.shape[a + 2], "size")?;
        // Rounding the number of windows up changes nothing where the windows fit exactly
        // (SqueezeNet's pools); elsewhere it adds a partial window typed-nn does not have.
        if ceil && (size + 2 * pads[a] - kernel[a]).rem_euclid(strides[a].max(1)) != 0 {
            return Err(format!(
                "`ceil_mode = 1` where it adds a partial window (size {size}, window {}, stride {})",
                kernel[a], strides[a]
            ));
        }
        shape.push(Dim::N(window_out(size, kernel[a], strides[a], 1, pads[a])?));
    }
    let kind = match (max, rank) {
        (true, 1) => "MaxPool1d",
        (true, _) => "MaxPool2d",
        (false, 1) => "AvgPool1d",
        (false, _) => "AvgPool2d",
    };
    let text = format!(
        "{kind}({}, stride = {}, padding = {})",
        arg(&kernel),
        arg(&strides),
        arg(&pads)
    );
    let (out, _) = cx.layer(node, d, text, Vec::new(), shape)?;
    Ok(vec![Value::Data(out), Value::Failed])
}

fn resize(
    cx: &mut Importer,
    node: &NodeProto,
    inputs: &[Option<Value>],
    attrs: &mut Attrs,
) -> Outputs {
    let d = data(inputs, 0)?;
    let mode = attrs.string("mode", "nearest")?;
    let transform = attrs.string("coordinate_transformation_mode", "half_pixel")?;
    let nearest_mode = attrs.string("nearest_mode", "round_prefer_floor")?;
    attrs.float("cubic_coeff_a", -0.75)?;
    attrs.int("exclude_outside", 0)?;
    attrs.float("extrapolation_value", 0.0)?;
    let sizes = d.shape[2..]
        .iter()
        .map(|s| known(s, "size"))
        .collect::<Result<Vec<_>, _>>()?;
    let factors: Vec<i64> = match (small_floats(inputs, 2)?, inputs.get(3)) {
        (Some(scales), _) if !scales.is_empty() => scales
            .iter()
            .map(|&s| {
                if s >= 1.0 && s.fract() == 0.0 {
                    s as i64
                } else {
                    -1
                }
            })
            .collect(),
        (_, Some(Some(_))) => {
            let out = known_ints(inputs, 3)?;
            out.iter()
                .zip(&d.shape)
                .map(|(&o, s)| match s {
                    Dim::Batch => 1,
                    s => match s.known() {
                        Some(s) if s > 0 && o % s == 0 => o / s,
                        _ => -1,
                    },
                })
                .collect()
        }
        _ => return Err("neither `scales` nor `sizes`".into()),
    };
    if factors.len() != d.shape.len()
        || factors[..2] != [1, 1]
        || factors[2..].iter().any(|&f| f <= 0)
    {
        return Err(format!(
            "scale factors {factors:?}: only whole factors on the spatial axes have a layer"
        ));
    }
    let factor = arg(&factors[2..]);
    let args = match (mode.as_str(), transform.as_str()) {
        ("nearest", "asymmetric") if nearest_mode == "floor" => String::new(),
        ("linear", "half_pixel" | "pytorch_half_pixel") => format!(", mode = {}", if sizes.len() == 2 { "bilinear" } else { "linear" }),
        ("linear", "align_corners") => format!(", mode = {}, align_corners = true", if sizes.len() == 2 { "bilinear" } else { "linear" }),
        _ => return Err(format!("`mode = {mode}`, `coordinate_transformation_mode = {transform}`, `nearest_mode = {nearest_mode}`: PyTorch's nearest and (bi)linear upsampling have a layer")),
    };
    let mut shape = d.shape[..2].to_vec();
    for f in &factors[2..] {
        in_range("a scale factor", *f)?;
    }
    shape.extend(sizes.iter().zip(&factors[2..]).map(|(s, f)| Dim::N(s * f)));
    let (out, _) = cx.layer(
        node,
        d,
        format!("Upsample({factor}{args})"),
        Vec::new(),
        shape,
    )?;
    Ok(vec![Value::Data(out)])
}

/// `LSTM`, `GRU` and `RNN` over a time-major input: the recurrent layer returning every step
/// (`Y`, `[steps, directions, batch, hidden]`) and one returning its last state (`Y_h`,
/// `[directions, batch, hidden]`), whichever the graph reads.
fn recurrence(
    cx: &mut Importer,
    node: &NodeProto,
    inputs: &[Option<Value>],
    attrs: &mut Attrs,
) -> Outputs {
    let op = node.op_type.as_str();
    let d = data(inputs, 0)?;
    if attrs.int("layout", 0)? != 0 {
        return Err("`layout = 1`".into());
    }
    let hidden = attrs.int("hidden_size", 0)?;
    let direction = attrs.string("direction", "forward")?;
    let directions: usize = match direction.as_str() {
        "forward" => 1,
        "bidirectional" => 2,
        _ => return Err(format!("`direction = {direction}`")),
    };
    if attrs.get("clip").is_some() {
        return Err("`clip`".into());
    }
    let activations: Vec<String> = attrs
        .get("activations")
        .map(|a| {
            a.strings
                .iter()
                .map(|s| String::from_utf8_lossy(s).to_lowercase())
                .collect()
        })
        .unwrap_or_default();
    attrs.get("activation_alpha");
    attrs.get("activation_beta");
    let (gates, order, kind, activation): (usize, &'static [usize], &str, &str) = match op {
        "LSTM" => {
            if attrs.int("input_forget", 0)? != 0 {
                return Err("`input_forget = 1`".into());
            }
            if !activations.is_empty()
                && activations
                    .chunks(3)
                    .any(|a| a != ["sigmoid", "tanh", "tanh"])
            {
                return Err(format!("activations {activations:?}"));
            }
            // ONNX's gates are i, o, f, c; PyTorch's i, f, g, o.
            (4, &[0, 2, 3, 1], "LSTM", "")
        }
        "GRU" => {
            if attrs.int("linear_before_reset", 0)? != 1 {
                return Err("`linear_before_reset = 0`: PyTorch's GRU applies the reset gate after the recurrent product".into());
            }
            if !activations.is_empty() && activations.chunks(2).any(|a| a != ["sigmoid", "tanh"]) {
                return Err(format!("activations {activations:?}"));
            }
            // ONNX's gates are z, r, h; PyTorch's r, z, n.
            (3, &[1, 0, 2], "GRU", "")
        }
        _ => {
            let activation = match activations.first().map(String::as_str) {
                None | Some("tanh") => "",
                Some("relu") => ", activation = relu",
                Some(other) => return Err(format!("activation `{other}`")),
            };
            if activations.len() > 1 && activations.iter().any(|a| *a != activations[0]) {
                return Err("different activations per direction".into());
            }
            (1, &[0], "SimpleRNN", activation)
        }
    };
    for (k, what) in [(4, "sequence lengths"), (7, "peepholes")] {
        if matches!(inputs.get(k), Some(Some(_))) {
            return Err(format!("{what} (input {k})"));
        }
    }
    for k in [5, 6] {
        match inputs.get(k) {
            Some(Some(Value::Weight { small: Some(v), .. })) if v.iter().all(|&v| v == 0.0) => {}
            Some(Some(_)) => return Err(format!("an initial state (input {k}) other than zeros")),
            _ => {}
        }
    }
    if d.shape.len() != 3 || d.batch_axis() != Some(1) {
        return Err(format!(
            "input {}: a [steps, batch, features] sequence is needed",
            shape_text(&d.shape)
        ));
    }
    let (steps, features) = (d.shape[0].clone(), known(&d.shape[2], "features")? as usize);
    let hidden = usize::try_from(hidden)
        .ok()
        .filter(|&h| h > 0)
        .ok_or("`hidden_size` must be positive")?;
    let (w, wdims) = weight(inputs, 1)?;
    let (r, _) = weight(inputs, 2)?;
    let b = optional_weight(inputs, 3)?;
    if wdims != [directions, gates * hidden, features] {
        return Err(format!(
            "`W` of shape {wdims:?} for {features} features and {hidden} units"
        ));
    }
    let names: [&'static str; 8] = [
        "weight_ih_l0",
        "weight_hh_l0",
        "bias_ih_l0",
        "bias_hh_l0",
        "weight_ih_l0_reverse",
        "weight_hh_l0_reverse",
        "bias_ih_l0_reverse",
        "bias_hh_l0_reverse",
    ];
    let mut weights = Vec::new();
    for direction in 0..directions {
        let name = &names[4 * direction..4 * direction + 4];
        let gates_of =
            |source: &Source, half: usize, suffix: &'static str, shape: Vec<usize>| WeightRef {
                suffix,
                shape,
                source: source.clone(),
                layout: Layout::Gates {
                    direction,
                    half,
                    order,
                },
            };
        weights.push(gates_of(&w, 0, name[0], vec![gates * hidden, features]));
        weights.push(gates_of(&r, 0, name[1], vec![gates * hidden, hidden]));
        for half in 0..2 {
            weights.push(match &b {
                Some((b, _)) => gates_of(b, half, name[2 + half], vec![gates * hidden]),
                None => WeightRef {
                    suffix: name[2 + half],
                    shape: vec![gates * hidden],
                    source: Source::default(),
                    layout: Layout::Zeros,
                },
            });
        }
    }
    let layer = |sequences: bool| {
        let inner = format!("{kind}({hidden}{activation}, return_sequences = {sequences})");
        if directions == 2 {
            format!("Bidirectional({inner})")
        } else {
            inner
        }
    };
    // The sequence as batch-first samples, as the layer reads it.
    let mut x = d.clone();
    x.shape.swap(0, 1);
    let dirs = Dim::N(directions as i64);
    let units = Dim::N(hidden as i64);
    let (mut y, id) = cx.layer(
        node,
        &x,
        layer(true),
        weights.clone(),
        vec![
            Dim::Batch,
            steps.clone(),
            Dim::N((directions * hidden) as i64),
        ],
    )?;
    y.shape = vec![steps, dirs.clone(), Dim::Batch, units.clone()];
    y.sequence_of = (directions == 1).then_some(id);
    let mut outputs = vec![Value::Data(y)];
    if node
        .output
        .get(1)
        .is_some_and(|o| !o.is_empty() && cx.is_used(o))
    {
        let (mut h, _) = cx.layer(
            node,
            &x,
            layer(false),
            weights,
            vec![Dim::Batch, Dim::N((directions * hidden) as i64)],
        )?;
        h.shape = vec![dirs, Dim::Batch, units];
        outputs.push(Value::Data(h));
    }
    if node
        .output
        .get(2)
        .is_some_and(|o| !o.is_empty() && cx.is_used(o))
    {
        return Err("its last cell state (`Y_c`) is used".into());
    }
    Ok(outputs)
}

/// `Gather` of a recurrence's last step (`y[:, -1]`): the layer returns its last state.
fn last_step(
    cx: &mut Importer,
    node: &NodeProto,
    inputs: &[Option<Value>],
    attrs: &mut Attrs,
) -> Outputs {
    let d = data(inputs, 0)?;
    let index = known_ints(inputs, 1)?;
    let rank = d.shape.len() as i64;
    let axis = attrs.int("axis", 0)?;
    let axis = if axis < 0 { axis + rank } else { axis } as usize;
    let (Some(id), [index]) = (d.sequence_of, index.as_slice()) else {
        return Err("only the last step of a recurrence's output has a layer".into());
    };
    let steps = known(&d.shape[axis.min(d.shape.len() - 1)], "steps")?;
    if d.shape.len() != 3
        || d.batch_axis() != Some(0)
        || axis != 1
        || (*index != -1 && *index != steps - 1)
        || !cx.is_used_once(&node.input[0])
    {
        return Err("only the last step of a recurrence's output has a layer".into());
    }
    let (text, _) = cx.steps.layer_mut(id).ok_or("no recurrent layer")?;
    *text = text.replacen("return_sequences = true", "return_sequences = false", 1);
    let mut out = d.clone();
    out.shape.remove(1);
    out.sample = out.onnx_sample();
    out.forget_marks();
    Ok(vec![Value::Data(out)])
}
