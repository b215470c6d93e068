//! The operator table: what each ONNX operator becomes.

use super::layers::{conv, last_step, pool, recurrence, resize};
use super::patterns::{activation_product, bias_after_matmul, gelu, group_norm, join};
use super::*;
use crate::onnx::{attention, fold};

pub(super) fn dispatch(
    cx: &mut Importer,
    node: &NodeProto,
    inputs: &[Option<Value>],
    attrs: &mut Attrs,
) -> Outputs {
    // Inside an attention region, the region takes every node; on a value that starts one
    // (the input projection's output), the node is tried as usual first.
    if let Some(r) = attention::region_of(inputs, true) {
        return attention::absorb(cx, node, inputs, attrs, r);
    }
    let plain = dispatch_plain(cx, node, inputs, attrs);
    match (plain, attention::region_of(inputs, false)) {
        (Err(e), Some(r)) => attention::absorb(cx, node, inputs, attrs, r).map_err(|_| e),
        (plain, _) => plain,
    }
}

pub(super) fn dispatch_plain(
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
        return fold::fold(node, inputs, attrs);
    }
    let op = node.op_type.as_str();
    if let Some(out) = gelu(cx, node, inputs)? {
        return Ok(vec![out]);
    }
    match op {
        "Constant" => fold::fold(node, inputs, attrs),
        "Shape" => fold::shape_of(data(inputs, 0)?, attrs),
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
                cx.regions.push(attention::Region {
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
            let mut axes = fold::axes_of(inputs, attrs)?;
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
            let shape = fold::squeeze(op, &d.shape, &fold::axes_of(inputs, attrs)?)?;
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
