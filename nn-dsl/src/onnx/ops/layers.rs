//! The operators with most to check: convolutions, pooling, resizing and recurrences.

use super::*;

pub(super) fn conv(
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

pub(super) fn pool(
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

pub(super) fn resize(
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
pub(super) fn recurrence(
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
            Some(Some(v)) if v.all_equal(0.0) => {}
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
pub(super) fn last_step(
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
