//! Operations exporters spell out as several nodes, recognised and checked: SiLU, Mish, GELU,
//! GLU, squeeze-and-excitation, group normalisation, a bias or positional table added after a
//! product; and the joins of two paths.

use super::*;

/// `x · σ(x)` (SiLU) and `x · tanh(softplus(x))` (Mish), which exporters write as products.
pub(super) fn activation_product(
    cx: &mut Importer,
    node: &NodeProto,
    inputs: &[Option<Value>],
) -> Outputs {
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
pub(super) fn squeeze_excitation(
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
pub(super) fn glu(
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
pub(super) fn scalar_and_other(inputs: &[Option<Value>]) -> Option<(f32, usize)> {
    if inputs.len() != 2 {
        return None;
    }
    (0..2).find_map(|k| Some((inputs[k].as_ref()?.scalar()?, 1 - k)))
}

/// GELU written out, x · ½(1 + erf(x / √2)), in either order of its last two products:
/// each step is followed as a `Value::Gelu` until the last gives the layer.
pub(super) fn gelu(
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

pub(super) fn gelu_layer(
    cx: &mut Importer,
    node: &NodeProto,
    x: &str,
) -> Result<Option<Value>, String> {
    let Some(Value::Data(d)) = cx.values.get(x).cloned() else {
        return Err(format!("GELU of `{x}`, which is not data"));
    };
    let out = cx.elementwise(node, &d, "Gelu")?;
    Ok(out.into_iter().next())
}

/// Group normalisation as exporters write it: the sample reshaped to `[groups, rest]`, an
/// `InstanceNormalization` without scale or shift (ones and zeros), reshaped back; the
/// per-channel scale and shift come after (`group_norm_affine`).
pub(super) fn group_norm(
    cx: &mut Importer,
    node: &NodeProto,
    inputs: &[Option<Value>],
    d: &Data,
    eps: f32,
) -> Result<Option<Data>, String> {
    let plain = |k: usize, v: f32| {
        inputs
            .get(k)
            .and_then(Option::as_ref)
            .is_some_and(|x| x.all_equal(v))
    };
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
pub(super) fn group_norm_affine(
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
pub(super) fn bias_after_matmul(
    cx: &mut Importer,
    node: &NodeProto,
    inputs: &[Option<Value>],
) -> Outputs {
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

pub(super) fn join(
    cx: &mut Importer,
    node: &NodeProto,
    inputs: &[Option<Value>],
    kind: JoinKind,
) -> Outputs {
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
