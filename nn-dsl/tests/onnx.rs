//! The ONNX importer on models built here: what it writes, and that every problem of a file
//! is reported at once, naming the node, its operator and its inputs' shapes.

use nn_onnx::*;

fn dim(v: i64) -> Dimension {
    Dimension {
        value: Some(DimensionValue::DimValue(v)),
        denotation: String::new(),
    }
}

fn named(p: &str) -> Dimension {
    Dimension {
        value: Some(DimensionValue::DimParam(p.into())),
        denotation: String::new(),
    }
}

fn value(name: &str, elem_type: i32, dims: Vec<Dimension>) -> ValueInfoProto {
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            tensor_type: Some(TensorTypeProto {
                elem_type,
                shape: Some(TensorShapeProto { dim: dims }),
            }),
            denotation: String::new(),
        }),
        doc_string: String::new(),
    }
}

fn node(name: &str, op: &str, inputs: &[&str], outputs: &[&str]) -> NodeProto {
    NodeProto {
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        name: name.into(),
        op_type: op.into(),
        ..Default::default()
    }
}

fn int_attr(name: &str, i: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: attribute_type::INT,
        i,
        ..Default::default()
    }
}

fn model(
    opset: i64,
    input: Vec<Dimension>,
    nodes: Vec<NodeProto>,
    weights: Vec<TensorProto>,
) -> Vec<u8> {
    encode_model(&ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: opset,
        }],
        graph: Some(GraphProto {
            node: nodes,
            initializer: weights,
            input: vec![value("input", data_type::FLOAT, input)],
            output: vec![value(
                "output",
                data_type::FLOAT,
                vec![named("batch"), dim(3)],
            )],
            ..Default::default()
        }),
        ..Default::default()
    })
}

fn gemm(name: &str, x: &str, w: &str, b: &str, y: &str) -> NodeProto {
    let mut n = node(name, "Gemm", &[x, w, b], &[y]);
    n.attribute.push(int_attr("transB", 1));
    n
}

fn mlp_weights() -> Vec<TensorProto> {
    vec![
        TensorProto::from_f32("fc1.weight", &[4, 6], &[0.1; 24]),
        TensorProto::from_f32("fc1.bias", &[4], &[0.0; 4]),
        TensorProto::from_f32("fc2.weight", &[3, 4], &[0.1; 12]),
        TensorProto::from_f32("fc2.bias", &[3], &[0.0; 3]),
    ]
}

#[test]
fn a_dense_network_imports_with_its_weights_by_onnx_name() {
    let bytes = model(
        17,
        vec![named("batch"), dim(6)],
        vec![
            gemm("/fc1/Gemm", "input", "fc1.weight", "fc1.bias", "h"),
            node("/act/Relu", "Relu", &["h"], &["a"]),
            gemm("/fc2/Gemm", "a", "fc2.weight", "fc2.bias", "output"),
        ],
        mlp_weights(),
    );
    let imported = nn_dsl::onnx::import(&bytes).unwrap();
    assert_eq!(imported.input, "[6]");
    assert_eq!(
        imported.body,
        "fc1: Dense(4, bias = true), act: Relu, fc2: Dense(3, bias = true), "
    );
    let names: Vec<(&str, &str)> = imported
        .weights
        .iter()
        .map(|(name, w)| (name.as_str(), w.source.name.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("fc1.weight", "fc1.weight"),
            ("fc1.bias", "fc1.bias"),
            ("fc2.weight", "fc2.weight"),
            ("fc2.bias", "fc2.bias")
        ]
    );
    let items = nn_dsl::onnx_network_from_bytes(&bytes).to_string();
    assert!(!items.contains("compile_error"), "{items}");
    assert!(items.contains("from_onnx_file"), "{items}");
}

#[test]
fn every_unsupported_node_is_reported_at_once() {
    let mut topk = node("/head/TopK", "TopK", &["a"], &["b"]);
    topk.attribute.push(int_attr("axis", -1));
    let mut leaky = node("/act/LeakyRelu", "LeakyRelu", &["h"], &["a"]);
    leaky.attribute.push(int_attr("mystery", 1));
    let bytes = model(
        17,
        vec![named("batch"), dim(6)],
        vec![
            gemm("/fc1/Gemm", "input", "fc1.weight", "fc1.bias", "h"),
            leaky,
            topk,
            gemm("/fc2/Gemm", "b", "fc2.weight", "fc2.bias", "c"),
            node("/sin/Sin", "Sin", &["c"], &["output"]),
        ],
        mlp_weights(),
    );
    let errors = nn_dsl::onnx::import(&bytes).unwrap_err();
    assert_eq!(errors.len(), 3, "{errors:#?}");
    assert_eq!(
        errors[0],
        "node `/act/LeakyRelu` (LeakyRelu) on [batch, 4]: unsupported attribute `mystery`"
    );
    // After a failed node, shapes are unknown; operators without a layer are still named,
    // those with one (the Gemm) are not reported again.
    assert_eq!(
        errors[1],
        "node `/head/TopK` (TopK) on (not imported): operator `TopK` is not supported"
    );
    assert_eq!(
        errors[2],
        "node `/sin/Sin` (Sin) on (not imported): operator `Sin` is not supported"
    );
    let items = nn_dsl::onnx_network_from_bytes(&bytes).to_string();
    assert_eq!(items.matches("compile_error").count(), 3, "{items}");
}

#[test]
fn shapes_that_do_not_fit_name_the_node() {
    let bytes = model(
        17,
        vec![named("batch"), dim(5)],
        vec![gemm(
            "/fc1/Gemm",
            "input",
            "fc1.weight",
            "fc1.bias",
            "output",
        )],
        mlp_weights(),
    );
    let errors = nn_dsl::onnx::import(&bytes).unwrap_err();
    assert_eq!(
        errors,
        ["node `/fc1/Gemm` (Gemm) on [batch, 5], constant [4, 6], constant [4]: a [4, 6] weight on input [batch, 5]"]
    );
}

#[test]
fn an_old_opset_and_an_input_without_sizes_are_errors_that_say_what_to_fix() {
    let nodes = || {
        vec![gemm(
            "/fc1/Gemm",
            "input",
            "fc1.weight",
            "fc1.bias",
            "output",
        )]
    };
    let errors = nn_dsl::onnx::import(&model(
        11,
        vec![named("batch"), dim(6)],
        nodes(),
        mlp_weights(),
    ))
    .unwrap_err();
    assert!(
        errors[0].contains("opset 11") && errors[0].contains("opset_version=17"),
        "{errors:?}"
    );
    let unknown = Dimension::default();
    let errors = nn_dsl::onnx::import(&model(
        17,
        vec![named("batch"), unknown],
        nodes(),
        mlp_weights(),
    ))
    .unwrap_err();
    assert!(
        errors[0].contains("dimension 1 of input `input` has no size"),
        "{errors:?}"
    );
}

#[test]
fn named_sizes_become_parameters_of_the_network() {
    let bytes = model(
        17,
        vec![named("batch"), named("seq len"), dim(6)],
        vec![node("/act/Relu", "Relu", &["input"], &["output"])],
        Vec::new(),
    );
    let imported = nn_dsl::onnx::import(&bytes).unwrap();
    assert_eq!(imported.generics, "<const SEQ_LEN: usize>");
    assert_eq!(imported.input, "[SEQ_LEN, 6]");
}

#[test]
fn a_shape_computation_folds_into_a_flatten() {
    // Shape → Gather(0) → Unsqueeze → Concat(-1) → Reshape: PyTorch's `x.view(x.size(0), -1)`.
    let mut gather = node("/Gather", "Gather", &["shape", "zero"], &["n"]);
    gather.attribute.push(int_attr("axis", 0));
    let mut concat = node("/Concat", "Concat", &["n1", "minus_one"], &["target"]);
    concat.attribute.push(int_attr("axis", 0));
    let mut weights = mlp_weights();
    weights.push(TensorProto::from_i64("zero", &[], &[0]));
    weights.push(TensorProto::from_i64("axes", &[1], &[0]));
    weights.push(TensorProto::from_i64("minus_one", &[1], &[-1]));
    let bytes = model(
        17,
        vec![named("batch"), dim(2), dim(3)],
        vec![
            node("/Shape", "Shape", &["input"], &["shape"]),
            gather,
            node("/Unsqueeze", "Unsqueeze", &["n", "axes"], &["n1"]),
            concat,
            node("/Reshape", "Reshape", &["input", "target"], &["flat"]),
            gemm("/fc1/Gemm", "flat", "fc1.weight", "fc1.bias", "output"),
        ],
        weights,
    );
    let imported = nn_dsl::onnx::import(&bytes).unwrap();
    assert_eq!(imported.input, "[2, 3]");
    assert_eq!(
        imported.body,
        "fc1_gemm_reshape: Flatten, fc1: Dense(4, bias = true), "
    );
}

#[test]
fn hostile_bytes_are_errors() {
    for bytes in [
        &b""[..],
        b"\x0a\xff\xff\xff\xff\x0f",
        b"\x3a\x05\x0a\x03abc",
        &[0x42; 64],
    ] {
        let items = nn_dsl::onnx_network_from_bytes(bytes).to_string();
        assert!(items.contains("compile_error"), "{items}");
        syn::parse_str::<syn::File>(&items).unwrap();
    }
}

#[test]
fn pieces_of_a_weight_are_read_where_they_are() {
    // The rows of `w` [4, 3] swapped in halves (Slice, Slice, Concat), then a MatMul.
    let slice = |name: &str, start: &str, end: &str, out: &str| {
        node(name, "Slice", &["w", start, end, "axes"], &[out])
    };
    let mut concat = node("/Concat", "Concat", &["hi", "lo"], &["w2"]);
    concat.attribute.push(int_attr("axis", 0));
    let weights = vec![
        TensorProto::from_f32("w", &[6, 3], &[0.5; 18]),
        TensorProto::from_i64("zero", &[1], &[0]),
        TensorProto::from_i64("three", &[1], &[3]),
        TensorProto::from_i64("six", &[1], &[6]),
        TensorProto::from_i64("axes", &[1], &[0]),
    ];
    let bytes = model(
        17,
        vec![named("batch"), dim(6)],
        vec![
            slice("/lo", "zero", "three", "lo"),
            slice("/hi", "three", "six", "hi"),
            concat,
            node("/fc/MatMul", "MatMul", &["input", "w2"], &["output"]),
        ],
        weights,
    );
    let imported = nn_dsl::onnx::import(&bytes).unwrap();
    assert_eq!(imported.body, "fc: Dense(3, bias = false), ");
    let source = &imported.weights[0].1.source;
    assert_eq!(source.name, "w");
    assert_eq!(source.chunks, [(9, 18), (0, 9)]);
    assert_eq!(source.dims, [6, 3]);
}

/// The exported parity models that do not import yet (tests/onnx_import.rs imports the
/// rest): each is a list of errors naming the nodes, not a panic or a wrong network.
#[test]
fn the_parity_models_that_do_not_import_name_their_nodes() {
    let cases: [(&str, &str); 7] = [
        ("act_softplus", "node `n9` (Greater)"),
        ("attention_rope", "node `node_neg_1` (Neg)"),
        ("bigru", "node `node_select` (Gather) on [2, batch, 3]"),
        (
            "cross_attention",
            "node `node_slice_2` (Slice) on [batch, 54]",
        ),
        ("decoder_post_norm", "node `node_Split_260` (Split)"),
        ("decoder_pre_norm", "node `node_Split_267` (Split)"),
        ("llama_block", "node `node_pow_1` (Pow) on [batch, 5, 8]"),
    ];
    for (case, expected) in cases {
        let path = format!(
            "{}/../tests/fixtures/onnx/{case}.onnx",
            env!("CARGO_MANIFEST_DIR")
        );
        let errors = nn_dsl::onnx::import(&std::fs::read(path).unwrap()).unwrap_err();
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "{case}: {errors:#?}"
        );
    }
}

/// The parity fixtures' files with bytes changed, cut short or inserted: the importer gives
/// items (a network or errors) and never panics. The fuzz target (`fuzz/`, `onnx_import`)
/// explores further from the same seeds.
mod mutated {
    use proptest::prelude::*;

    fn seeds() -> Vec<Vec<u8>> {
        [
            "dense",
            "cnn",
            "residual",
            "concat",
            "lstm",
            "gru",
            "transformer",
            "groupnorm",
        ]
        .iter()
        .map(|c| {
            let path = format!(
                "{}/../tests/fixtures/onnx/{c}.onnx",
                env!("CARGO_MANIFEST_DIR")
            );
            std::fs::read(path).unwrap()
        })
        .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        #[test]
        fn changed_files_never_panic(
            seed in 0usize..8,
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..6),
            cut in proptest::option::of(any::<prop::sample::Index>()),
        ) {
            let mut bytes = seeds().swap_remove(seed);
            for (at, byte, how) in edits {
                let i = at.index(bytes.len());
                match how {
                    0 => bytes[i] = byte,
                    1 => bytes.insert(i, byte),
                    _ => bytes[i] ^= 0x80,
                }
            }
            if let Some(cut) = cut {
                bytes.truncate(cut.index(bytes.len() + 1));
            }
            let items = nn_dsl::onnx_network_from_bytes(&bytes);
            prop_assert!(syn::parse2::<syn::File>(items).is_ok());
        }
    }

    fn awkward() -> impl Strategy<Value = i64> {
        prop_oneof![
            Just(i64::MIN),
            Just(i64::MAX),
            Just(-1i64),
            Just(0i64),
            Just(1i64),
            Just(1i64 << 31),
            Just((1i64 << 31) + 1),
            Just(1i64 << 40),
            -300i64..300,
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        /// Attributes, dimensions and integer constants set to awkward values in files that
        /// otherwise decode: the shape arithmetic meets them.
        #[test]
        fn awkward_numbers_never_panic(
            seed in 0usize..8,
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>(), awkward(), 0u8..3), 1..5),
        ) {
            let mut model = nn_onnx::decode_model(&seeds().swap_remove(seed)).unwrap();
            let graph = model.graph.as_mut().unwrap();
            for (which, slot, value, what) in edits {
                match what {
                    0 if !graph.node.is_empty() => {
                        let n = which.index(graph.node.len());
                        let node = &mut graph.node[n];
                        if !node.attribute.is_empty() {
                            let a = slot.index(node.attribute.len());
                            node.attribute[a].i = value;
                            if !node.attribute[a].ints.is_empty() {
                                let k = slot.index(node.attribute[a].ints.len());
                                node.attribute[a].ints[k] = value;
                            }
                        }
                    }
                    1 if !graph.initializer.is_empty() => {
                        let n = which.index(graph.initializer.len());
                        let t = &mut graph.initializer[n];
                        if !t.dims.is_empty() {
                            let k = slot.index(t.dims.len());
                            t.dims[k] = value;
                        }
                        if t.data_type == nn_onnx::data_type::INT64 && t.raw_data.len() >= 8 {
                            let k = slot.index(t.raw_data.len() / 8) * 8;
                            t.raw_data[k..k + 8].copy_from_slice(&value.to_le_bytes());
                        }
                    }
                    _ => {
                        if let Some(dims) = graph.input.first_mut().and_then(|i| i.r#type.as_mut()).and_then(|t| t.tensor_type.as_mut()).and_then(|t| t.shape.as_mut()) {
                            if !dims.dim.is_empty() {
                                let k = slot.index(dims.dim.len());
                                dims.dim[k].value = Some(nn_onnx::DimensionValue::DimValue(value));
                            }
                        }
                    }
                }
            }
            let items = nn_dsl::onnx_network_from_bytes(&nn_onnx::encode_model(&model));
            prop_assert!(syn::parse2::<syn::File>(items).is_ok());
        }
    }
}
