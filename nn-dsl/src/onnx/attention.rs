//! Self-attention as exporters write it: PyTorch's `nn.MultiheadAttention` becomes an input
//! projection (`MatMul` to three times the features, plus its bias), then reshapes and
//! transposes that split queries, keys and values into heads (the batch merged with the
//! heads), two products with a softmax between them and a scale, and an output projection.
//! The importer cannot give the values in between a typed-nn shape, so it follows them as a
//! region that starts at the input projection: the data movement is absorbed, the
//! arithmetic counted and checked (one softmax over the keys, two products, a scale of
//! 1/√head_dim), and the output projection closes the region with one `MultiHeadAttention`
//! layer on the projection's input.

use super::emit::{Layout, Step, WeightRef};
use super::ops::Attrs;
use super::values::{Data, Dim, Mask, Source, Value};
use super::Importer;
use nn_onnx::NodeProto;

type Outputs = Result<Vec<Value>, String>;

/// An attention region: where it starts and what it has seen.
#[derive(Clone, Debug)]
pub struct Region {
    /// The input projection's input.
    pub start: Data,
    /// The input projection (a dense layer of 3·dim units; its weights are the attention's).
    pub projection: usize,
    pub dim: usize,
    pub head_dim: Option<usize>,
    pub softmaxes: usize,
    pub products: usize,
    pub scale: f64,
    /// Whether a causal mask was added to the scores.
    pub causal: bool,
}

/// The region a node reads, when one of its inputs is inside one (`strict`: only values
/// whose shape the region hides; otherwise also the projection's output itself).
pub fn region_of(inputs: &[Option<Value>], strict: bool) -> Option<usize> {
    inputs.iter().flatten().find_map(|v| match v {
        Value::Data(d) if d.region.is_some() && (!strict || d.shape.is_empty()) => d.region,
        _ => None,
    })
}

/// A value inside region `r`: its shape hidden.
fn inside(cx: &Importer, r: usize) -> Value {
    let start = &cx.regions[r].start;
    Value::Data(Data {
        shape: Vec::new(),
        sample: Vec::new(),
        path: start.path.clone(),
        tokens: false,
        sequence_of: None,
        half_of: None,
        region: Some(r),
        affine_of: None,
    })
}

fn scalar(inputs: &[Option<Value>]) -> Option<f32> {
    inputs.iter().flatten().find_map(Value::scalar)
}

/// A node of region `r`.
pub fn absorb(
    cx: &mut Importer,
    node: &NodeProto,
    inputs: &[Option<Value>],
    attrs: &mut Attrs,
    r: usize,
) -> Outputs {
    let op = node.op_type.as_str();
    let n = node.output.len().max(1);
    let data_inputs = inputs
        .iter()
        .flatten()
        .filter(|v| matches!(v, Value::Data(_)))
        .count();
    match op {
        "Shape" => {
            attrs.int("start", 0)?;
            attrs.int("end", 0)?;
            Ok(vec![Value::Opaque(Mask::Other)])
        }
        "Reshape" => {
            attrs.int("allowzero", 0)?;
            if let Some(Value::Ints { values, .. }) = inputs.get(1).and_then(|v| v.as_ref()) {
                let region = &mut cx.regions[r];
                if let (3, Some(Dim::N(h))) = (values.len(), values.last()) {
                    let h = *h as usize;
                    if region.head_dim.is_none() && h > 0 && h < region.dim && region.dim.is_multiple_of(h) {
                        region.head_dim = Some(h);
                    }
                }
            }
            Ok(vec![inside(cx, r)])
        }
        "Transpose" | "Squeeze" | "Unsqueeze" | "Identity" => {
            attrs.ints("perm")?;
            attrs.ints("axes")?;
            Ok(vec![inside(cx, r); n])
        }
        "Gather" => {
            attrs.int("axis", 0)?;
            if !matches!(inputs.get(1), Some(Some(Value::Ints { .. }))) {
                return Err("a gather by computed indices inside attention".into());
            }
            Ok(vec![inside(cx, r)])
        }
        "Mul" | "Div" if data_inputs == 1 => {
            let v = scalar(inputs).ok_or("a product with other than a scalar inside attention (a mask?)")?;
            let region = &mut cx.regions[r];
            region.scale *= if op == "Mul" { f64::from(v) } else { 1.0 / f64::from(v) };
            Ok(vec![inside(cx, r)])
        }
        "MatMul" if data_inputs == 2 => {
            if region_of(&inputs[1..], false) != Some(r) || region_of(&inputs[..1], false) != Some(r) {
                return Err("a product of two attentions' values".into());
            }
            cx.regions[r].products += 1;
            Ok(vec![inside(cx, r)])
        }
        "Add" if matches!(inputs.get(1), Some(Some(Value::Opaque(Mask::Causal)))) => {
            let region = &mut cx.regions[r];
            if region.causal || region.products != 1 || region.softmaxes != 0 {
                return Err("a mask added elsewhere than to the scores".into());
            }
            region.causal = true;
            Ok(vec![inside(cx, r)])
        }
        "Softmax" => {
            if attrs.int("axis", -1)? != -1 {
                return Err("a softmax inside attention over other than the last axis".into());
            }
            cx.regions[r].softmaxes += 1;
            Ok(vec![inside(cx, r)])
        }
        "Gemm" | "MatMul" => close(cx, node, inputs, attrs, r),
        _ => Err(format!(
            "operator `{op}` inside self-attention (only PyTorch's nn.MultiheadAttention without masks has a layer)"
        )),
    }
}

/// The output projection: the region becomes a `MultiHeadAttention` layer.
fn close(
    cx: &mut Importer,
    node: &NodeProto,
    inputs: &[Option<Value>],
    attrs: &mut Attrs,
    r: usize,
) -> Outputs {
    let region = cx.regions[r].clone();
    let dim = region.dim;
    let (w, wdims) = match inputs.get(1).and_then(|v| v.as_ref()) {
        Some(Value::Weight { source, dims, .. }) => (source.clone(), dims.clone()),
        _ => return Err("the output projection's weight is not a weight of the file".into()),
    };
    let layout = if node.op_type == "Gemm" {
        let (alpha, beta) = (attrs.float("alpha", 1.0)?, attrs.float("beta", 1.0)?);
        if alpha != 1.0 || beta != 1.0 || attrs.int("transA", 0)? != 0 {
            return Err("`alpha`, `beta` other than 1 or `transA`".into());
        }
        if attrs.int("transB", 0)? != 0 {
            Layout::Same
        } else {
            Layout::Transpose
        }
    } else {
        Layout::Transpose
    };
    let problems = [
        (
            wdims != [dim, dim],
            format!("an output projection of shape {wdims:?} for {dim} features"),
        ),
        (
            region.softmaxes != 1,
            format!("{} softmaxes", region.softmaxes),
        ),
        (
            region.products != 2,
            format!("{} products of values", region.products),
        ),
        (region.head_dim.is_none(), "no split into heads".to_string()),
    ];
    if let Some((_, why)) = problems.iter().find(|(bad, _)| *bad) {
        return Err(format!(
            "this attention is not PyTorch's nn.MultiheadAttention: {why}"
        ));
    }
    let head_dim = region.head_dim.unwrap_or(1);
    let expected = 1.0 / (head_dim as f64).sqrt();
    if (region.scale - expected).abs() > 1e-4 * expected {
        return Err(format!(
            "a scale of {} where nn.MultiheadAttention's is 1/√{head_dim}",
            region.scale
        ));
    }
    let Some(Step::Layer {
        weights: projection,
        ..
    }) = cx.steps.steps.get(region.projection).cloned()
    else {
        return Err("no input projection".into());
    };
    let mut weights: Vec<WeightRef> = Vec::new();
    for p in &projection {
        let suffix = if p.suffix == "weight" {
            "in_proj_weight"
        } else {
            "in_proj_bias"
        };
        weights.push(WeightRef {
            suffix,
            ..p.clone()
        });
    }
    if weights.len() == 1 {
        weights.push(WeightRef {
            suffix: "in_proj_bias",
            shape: vec![3 * dim],
            source: Source::default(),
            layout: Layout::Zeros,
        });
    }
    weights.push(WeightRef {
        suffix: "out_proj.weight",
        shape: vec![dim, dim],
        source: w,
        layout,
    });
    let bias = match inputs.get(2).and_then(|v| v.as_ref()) {
        Some(Value::Weight { source, .. }) => WeightRef {
            suffix: "out_proj.bias",
            shape: vec![dim],
            source: source.clone(),
            layout: Layout::Same,
        },
        _ => WeightRef {
            suffix: "out_proj.bias",
            shape: vec![dim],
            source: Source::default(),
            layout: Layout::Zeros,
        },
    };
    weights.push(bias);
    // The layer reads batch-first sequences; a time-major start is the same samples.
    let mut start = region.start.clone();
    let time_major = start.batch_axis() == Some(1);
    if time_major {
        start.shape.swap(0, 1);
    }
    if start.shape.len() != 3 {
        return Err("attention over other than [batch, tokens, features] sequences".into());
    }
    let causal = if region.causal { ", causal = true" } else { "" };
    let text = format!("MultiHeadAttention({}, {dim}{causal})", dim / head_dim);
    let (mut out, id) = cx.attention_layer(node, &start, text, weights)?;
    // What follows reads the projection's output with the batch where the start had it.
    if time_major {
        out.shape.swap(0, 1);
    }
    cx.open_attention(&node.output[0], id, dim);
    Ok(vec![Value::Data(out)])
}
