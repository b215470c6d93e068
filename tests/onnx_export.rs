//! ONNX export: the structure of exported models (opset, symbolic batch, initializers named
//! as the state dict, operators), the typed error of a layer kind without an export, and
//! check files for the examples' networks when `ONNX_EXPORT_DIR` is set (verified outside
//! `cargo test` by `tools/onnx_models.py check-export DIR`, which runs them in onnxruntime).

use nn_onnx::{decode_model, DimensionValue, ModelProto, ValueInfoProto};
use std::collections::BTreeSet;
use typed_nn::io::onnx::{write_check_files, EXPORT_IR_VERSION, EXPORT_OPSET};
use typed_nn::prelude::*;

network! {
    pub struct Mlp: [12] {
        fc1: Dense(8), Relu,
        fc2: Dense(6), Tanh,
        out: Dense(3), Softmax,
    }
}

network! {
    pub struct CnnBn: [1, 12, 12] {
        conv1: Conv2d(4, 3, bias = false), bn1: BatchNorm2d, Relu,
        MaxPool2d(2),
        conv2: Conv2d(6, 3, padding = 1), Relu,
        AvgPool2d(2),
        Flatten,
        fc: Dense(8), Gelu,
        Dropout(0.5),
        out: Dense(3), Softmax,
    }
}

network! {
    pub struct Joins: [2, 8, 8] {
        stem: Conv2d(4, 3, padding = 1), Relu,
        block: Residual {
            Conv2d(4, 3, padding = 1, bias = false), BatchNorm2d, Relu,
        },
        down: Residual {
            Conv2d(6, 3, stride = 2, padding = 1), Hardswish,
        } shortcut {
            Conv2d(6, 1, stride = 2, bias = false),
        },
        mix: Concat {
            a: { Conv2d(2, 1), Silu },
            b: {},
        },
        GroupNorm(2),
        GlobalAvgPool2d,
        out: Dense(3),
    }
}

network! {
    pub struct Recurrences: [5, 4] {
        lstm: LSTM(6, return_sequences = true),
        gru: Bidirectional(GRU(3, return_sequences = true)),
        rnn: SimpleRNN(4),
        out: Dense(2), Sigmoid,
    }
}

const TOKENS: usize = 6;
const VOCAB: usize = 11;

network! {
    pub struct Encoder: tokens[TOKENS] {
        embed: Embedding(VOCAB, 8),
        position: PositionalEmbedding,
        attention: Residual { LayerNorm, MultiHeadAttention(2, 8, causal = true) },
        mlp: Residual { LayerNorm, Dense(16, per_step = true), Gelu, Dense(8, per_step = true) },
        norm: LayerNorm,
        Flatten,
        out: Dense(4), LogSoftmax,
    }
}

network! {
    /// Llama's layout: RMS norms, rotary causal attention, a SwiGLU block.
    pub struct Llama: tokens[TOKENS] {
        embed: Embedding(VOCAB, 8),
        attention: Residual { RMSNorm, MultiHeadAttention(2, 8, causal = true, rope = true) },
        mlp: Residual { RMSNorm(eps = 1e-6), SwiGLU(12) },
        norm: RMSNorm,
        GlobalAvgPool1d,
        out: Dense(2),
    }
}

network! {
    /// RMSNorm and SwiGLU on vectors (`Gemm`s rather than `MatMul`s).
    pub struct VectorSwiGlu: [8] {
        norm: RMSNorm,
        mlp: SwiGLU(12),
        out: Dense(2),
    }
}

network! {
    pub struct Rearrangements: [2, 5, 6] {
        ZeroPad2d((1, 2)),
        conv: Conv2d(8, 3, padding = 1), Tanh,
        PixelShuffle(2),
        Permute([1, 2, 0]),
        Flatten,
        out: Dense(3),
    }
}

network! {
    pub struct TimePools: [6, 5] {
        Permute([1, 0]),
        conv: Conv1d(4, 3), Relu,
        Permute([1, 0]),
        pools: Concat {
            avg: { GlobalAvgPool1d },
            max: { GlobalMaxPool1d },
        },
        out: Dense(2),
    }
}

network! {
    /// Two float inputs: cross-attention of one over the other.
    pub struct Cross: (queries: [4, 6], memory: [5, 6]) {
        attention: CrossAttention(2, 6),
        GlobalAvgPool1d,
        out: Dense(2),
    }
}

network! {
    /// Decoder layers, pre-norm then post-norm, then the target.
    pub struct Decoding: (target: [4, 8], memory: [5, 8]) {
        pre: TransformerDecoderLayer(2, 8, 16, norm_first = true, activation = gelu),
        post: TransformerDecoderLayer(2, 8, 16),
        target,
        GlobalMaxPool1d,
        out: Dense(2),
    }
}

const SOURCE: usize = 6;
const TARGET: usize = 5;

network! {
    /// Two token inputs, each read by its own path, then cross-attention.
    pub struct Translator: (source: tokens[SOURCE], target: tokens[TARGET]) {
        Zip {
            queries: {
                target,
                Embedding(VOCAB, 8),
                Residual { LayerNorm, MultiHeadAttention(2, 8, causal = true, rope = true) },
            },
            memory: {
                source,
                Embedding(VOCAB, 8),
                PositionalEmbedding,
                Residual { LayerNorm, MultiHeadAttention(2, 8, rope = true) },
            },
        },
        CrossAttention(2, 8),
        Dense(VOCAB, per_step = true),
        Softmax,
    }
}

network! {
    /// Two outputs, kept apart.
    pub struct TwoHeads: [6] {
        trunk: Dense(8), Relu,
        Zip {
            class: { Dense(3) },
            value: { Dense(1) },
        },
    }
}

fn decoded<N: NetworkExt>(net: &N) -> ModelProto {
    decode_model(&net.to_onnx_bytes().expect("export")).expect("decodes")
}

/// `batch` then the sample's dimensions, and the element type.
fn signature(v: &ValueInfoProto) -> (i32, Vec<String>) {
    let t = v.r#type.as_ref().unwrap().tensor_type.as_ref().unwrap();
    let dims = t
        .shape
        .as_ref()
        .unwrap()
        .dim
        .iter()
        .map(|d| match &d.value {
            Some(DimensionValue::DimParam(p)) => p.clone(),
            Some(DimensionValue::DimValue(v)) => v.to_string(),
            None => "?".into(),
        });
    (t.elem_type, dims.collect())
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn op_types(model: &ModelProto) -> BTreeSet<String> {
    let graph = model.graph.as_ref().unwrap();
    graph.node.iter().map(|n| n.op_type.clone()).collect()
}

fn initializer_names(model: &ModelProto) -> BTreeSet<String> {
    let graph = model.graph.as_ref().unwrap();
    graph.initializer.iter().map(|t| t.name.clone()).collect()
}

/// The state dict's tensors of values (parameters and running statistics; not counts).
fn state_names<N: NetworkExt>(net: &N) -> BTreeSet<String> {
    let counts: BTreeSet<String> = net
        .named_buffers()
        .into_iter()
        .filter_map(|b| match b {
            typed_nn::io::named::NamedBuffer::Count { name, .. } => Some(name),
            _ => None,
        })
        .collect();
    net.state_dict()
        .into_iter()
        .map(|e| e.name)
        .filter(|n| !counts.contains(n))
        .collect()
}

/// Every state tensor is an initializer of the same name, shape and values.
fn assert_state_is_initializers<N: NetworkExt>(net: &N, model: &ModelProto) {
    let names = initializer_names(model);
    let graph = model.graph.as_ref().unwrap();
    for t in net.named_parameters() {
        assert!(names.contains(&t.name), "{} missing from {names:?}", t.name);
        let init = graph.initializer.iter().find(|i| i.name == t.name).unwrap();
        assert_eq!(init.shape().unwrap(), t.shape, "{}", t.name);
        assert_eq!(init.to_f32().unwrap(), t.values, "{}", t.name);
    }
    for name in state_names(net) {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
}

fn assert_opset_and_io(model: &ModelProto, input: (i32, &[&str]), output: &[&str]) {
    assert_eq!(model.ir_version, EXPORT_IR_VERSION);
    assert_eq!(nn_onnx::default_opset(model), Some(EXPORT_OPSET));
    assert_eq!(EXPORT_OPSET, 17);
    let graph = model.graph.as_ref().unwrap();
    assert_eq!(graph.input.len(), 1);
    assert_eq!(graph.input[0].name, "input");
    assert_eq!(signature(&graph.input[0]), (input.0, strings(input.1)));
    assert_eq!(graph.output.len(), 1);
    assert_eq!(graph.output[0].name, "output");
    assert_eq!(
        signature(&graph.output[0]),
        (nn_onnx::data_type::FLOAT, strings(output))
    );
    assert!(graph
        .node
        .iter()
        .any(|n| n.output.contains(&"output".into())));
}

const FLOAT: i32 = nn_onnx::data_type::FLOAT;

#[test]
fn a_dense_network_is_gemms_and_its_activations() {
    let net = Mlp::init(&mut Rng::seed(1));
    let model = decoded(&net);
    assert_opset_and_io(&model, (FLOAT, &["batch", "12"]), &["batch", "3"]);
    assert_eq!(
        initializer_names(&model),
        state_names(&net),
        "the initializers are the state dict"
    );
    assert_state_is_initializers(&net, &model);
    let ops: Vec<String> = model
        .graph
        .as_ref()
        .unwrap()
        .node
        .iter()
        .map(|n| n.op_type.clone())
        .collect();
    assert_eq!(
        ops,
        strings(&["Gemm", "Relu", "Gemm", "Tanh", "Gemm", "Softmax"])
    );
    let first = &model.graph.as_ref().unwrap().node[0];
    assert_eq!(first.name, "fc1/Gemm");
    assert_eq!(first.input, strings(&["input", "fc1.weight", "fc1.bias"]));
}

#[test]
fn convolutions_pools_and_batch_norm_keep_pytorch_names() {
    let net = CnnBn::init(&mut Rng::seed(2));
    let model = decoded(&net);
    assert_opset_and_io(
        &model,
        (FLOAT, &["batch", "1", "12", "12"]),
        &["batch", "3"],
    );
    assert_state_is_initializers(&net, &model);
    for op in [
        "Conv",
        "BatchNormalization",
        "MaxPool",
        "AveragePool",
        "Reshape",
        "Erf",
        "Gemm",
    ] {
        assert!(
            op_types(&model).contains(op),
            "{op} in {:?}",
            op_types(&model)
        );
    }
    assert!(
        !op_types(&model).contains("Dropout"),
        "dropout is the identity"
    );
    assert!(!initializer_names(&model).contains("bn1.num_batches_tracked"));
}

#[test]
fn joins_are_adds_and_concatenations_of_their_paths() {
    let net = Joins::init(&mut Rng::seed(3));
    let model = decoded(&net);
    assert_opset_and_io(&model, (FLOAT, &["batch", "2", "8", "8"]), &["batch", "3"]);
    assert_state_is_initializers(&net, &model);
    for op in [
        "Add",
        "Concat",
        "HardSwish",
        "Sigmoid",
        "LayerNormalization",
        "GlobalAveragePool",
    ] {
        assert!(
            op_types(&model).contains(op),
            "{op} in {:?}",
            op_types(&model)
        );
    }
    let names = initializer_names(&model);
    assert!(names.contains("block.body.0.weight"), "{names:?}");
    assert!(names.contains("down.shortcut.0.weight"), "{names:?}");
    assert!(names.contains("mix.a.0.weight"), "{names:?}");
}

#[test]
fn recurrences_are_onnx_recurrent_operators_with_suffixed_tensors() {
    let net = Recurrences::init(&mut Rng::seed(4));
    let model = decoded(&net);
    assert_opset_and_io(&model, (FLOAT, &["batch", "5", "4"]), &["batch", "2"]);
    let ops = op_types(&model);
    for op in ["LSTM", "GRU", "RNN", "Slice", "Concat"] {
        assert!(ops.contains(op), "{op} in {ops:?}");
    }
    let names = initializer_names(&model);
    for name in [
        "lstm.weight_ih_l0.onnx_W",
        "lstm.weight_hh_l0.onnx_R",
        "lstm.bias_ih_l0.onnx_B",
        "gru.weight_ih_l0_reverse.onnx_W",
        "rnn.bias_ih_l0.onnx_B",
    ] {
        assert!(names.contains(name), "{name} in {names:?}");
    }
    // LSTM: ONNX's gates i, o, f, c are PyTorch's blocks 0, 3, 1, 2.
    let graph = model.graph.as_ref().unwrap();
    let w = graph
        .initializer
        .iter()
        .find(|t| t.name == "lstm.weight_ih_l0.onnx_W")
        .unwrap();
    assert_eq!(w.shape().unwrap(), vec![1, 24, 4]);
    let torch = net
        .named_parameters()
        .into_iter()
        .find(|t| t.name == "lstm.weight_ih_l0")
        .unwrap();
    let onnx = w.to_f32().unwrap();
    let block = 6 * 4;
    for (to, from) in [0, 3, 1, 2].into_iter().enumerate() {
        assert_eq!(
            onnx[to * block..][..block],
            torch.values[from * block..][..block]
        );
    }
    let b = graph
        .initializer
        .iter()
        .find(|t| t.name == "lstm.bias_ih_l0.onnx_B")
        .unwrap();
    assert_eq!(b.shape().unwrap(), vec![1, 48]);
}

#[test]
fn an_embedding_network_takes_int64_tokens_and_attention_is_decomposed() {
    let net = Encoder::init(&mut Rng::seed(5));
    let model = decoded(&net);
    let tokens = nn_onnx::data_type::INT64;
    assert_opset_and_io(&model, (tokens, &["batch", "6"]), &["batch", "4"]);
    assert!(initializer_names(&model).is_superset(&state_names(&net)));
    assert_state_is_initializers(&net, &model);
    for op in [
        "Gather",
        "MatMul",
        "Softmax",
        "LayerNormalization",
        "LogSoftmax",
        "Transpose",
    ] {
        assert!(
            op_types(&model).contains(op),
            "{op} in {:?}",
            op_types(&model)
        );
    }
}

/// The ONNX node of type `op` (the first), if any.
fn node<'m>(model: &'m ModelProto, op: &str) -> Option<&'m nn_onnx::NodeProto> {
    let graph = model.graph.as_ref().unwrap();
    graph.node.iter().find(|n| n.op_type == op)
}

fn int_attr(node: &nn_onnx::NodeProto, name: &str) -> Option<i64> {
    node.attribute.iter().find(|a| a.name == name).map(|a| a.i)
}

fn ints_attr(node: &nn_onnx::NodeProto, name: &str) -> Option<Vec<i64>> {
    let a = node.attribute.iter().find(|a| a.name == name)?;
    Some(a.ints.clone())
}

#[test]
fn padding_pixel_shuffle_and_permutations_are_pad_depth_to_space_and_transposes() {
    let net = Rearrangements::init(&mut Rng::seed(8));
    let model = decoded(&net);
    assert_opset_and_io(&model, (FLOAT, &["batch", "2", "5", "6"]), &["batch", "3"]);
    assert_state_is_initializers(&net, &model);
    let pad = node(&model, "Pad").expect("a Pad");
    let pads = model
        .graph
        .as_ref()
        .unwrap()
        .initializer
        .iter()
        .find(|t| t.name == pad.input[1])
        .unwrap();
    // Batch and channels unpadded; 1 row and 2 columns before and after.
    assert_eq!(pads.to_i64().unwrap(), [0, 0, 1, 2, 0, 0, 1, 2]);
    let shuffle = node(&model, "DepthToSpace").expect("a DepthToSpace");
    assert_eq!(int_attr(shuffle, "blocksize"), Some(2));
    let mode = shuffle.attribute.iter().find(|a| a.name == "mode").unwrap();
    assert_eq!(mode.s, b"CRD", "PyTorch's channel order");
    let permute = node(&model, "Transpose").expect("a Transpose");
    assert_eq!(ints_attr(permute, "perm").unwrap(), [0, 2, 3, 1]);
}

#[test]
fn pooling_over_time_reduces_the_steps_axis() {
    let net = TimePools::init(&mut Rng::seed(9));
    let model = decoded(&net);
    assert_opset_and_io(&model, (FLOAT, &["batch", "6", "5"]), &["batch", "2"]);
    for op in ["ReduceMean", "ReduceMax"] {
        let reduce = node(&model, op).unwrap_or_else(|| panic!("a {op}"));
        assert_eq!(ints_attr(reduce, "axes").unwrap(), [1], "{op}");
        assert_eq!(int_attr(reduce, "keepdims"), Some(0), "{op}");
    }
}

#[test]
fn rms_norm_swiglu_and_rotary_attention_are_decomposed() {
    let net = Llama::init(&mut Rng::seed(6));
    let model = decoded(&net);
    let tokens = nn_onnx::data_type::INT64;
    assert_opset_and_io(&model, (tokens, &["batch", "6"]), &["batch", "2"]);
    assert_state_is_initializers(&net, &model);
    let ops = op_types(&model);
    for op in [
        "ReduceMean",
        "Sqrt",
        "Div",
        "Sigmoid",
        "MatMul",
        "Neg",
        "Slice",
        "Concat",
    ] {
        assert!(ops.contains(op), "{op} in {ops:?}");
    }
    let names = initializer_names(&model);
    for name in [
        "mlp.body.1.gate_proj.weight",
        "mlp.body.1.up_proj.weight",
        "mlp.body.1.down_proj.weight",
        "attention.body.1/rope_cos",
        "attention.body.1/rope_sin",
    ] {
        assert!(names.contains(name), "{name} in {names:?}");
    }
    let vector = VectorSwiGlu::init(&mut Rng::seed(6));
    let model = decoded(&vector);
    assert_opset_and_io(&model, (FLOAT, &["batch", "8"]), &["batch", "2"]);
    assert_state_is_initializers(&vector, &model);
    assert!(op_types(&model).contains("Gemm"));
}

#[test]
fn several_inputs_are_one_input_of_their_parts_side_by_side() {
    let net = Cross::init(&mut Rng::seed(10));
    let model = decoded(&net);
    // [4, 6] queries and [5, 6] memory: 24 + 30 values a sample.
    assert_opset_and_io(&model, (FLOAT, &["batch", "54"]), &["batch", "2"]);
    assert_state_is_initializers(&net, &model);
    let ops = op_types(&model);
    for op in ["Slice", "Reshape", "MatMul", "Softmax"] {
        assert!(ops.contains(op), "{op} in {ops:?}");
    }

    let net = Decoding::init(&mut Rng::seed(11));
    let model = decoded(&net);
    assert_opset_and_io(&model, (FLOAT, &["batch", "72"]), &["batch", "2"]);
    assert_state_is_initializers(&net, &model);
    let names = initializer_names(&model);
    for name in [
        "pre.self_attn.in_proj_weight",
        "pre.multihead_attn.in_proj_weight",
        "post.linear1.weight",
        "post.norm3.bias",
    ] {
        assert!(names.contains(name), "{name} in {names:?}");
    }

    // Token ids among the parts travel as floats and are cast where embedded.
    let net = Translator::init(&mut Rng::seed(12));
    let model = decoded(&net);
    assert_opset_and_io(&model, (FLOAT, &["batch", "11"]), &["batch", "5", "11"]);
    assert_state_is_initializers(&net, &model);
    assert!(op_types(&model).contains("Cast"));

    // Two outputs: one output of both side by side.
    let net = TwoHeads::init(&mut Rng::seed(13));
    let model = decoded(&net);
    assert_opset_and_io(&model, (FLOAT, &["batch", "6"]), &["batch", "4"]);
}

/// A layer written by hand without an export: `y = 2x`.
#[derive(Default)]
struct Doubling;

impl typed_nn::layers::Layer for Doubling {
    type In = Tensor1<2>;
    type Out = Tensor1<2>;
    type Cache = ();
    type Workspace = ();
    const PARAMS: usize = 0;
    const KIND: &'static str = "Doubling";
    fn init(_: &mut Rng) -> Self {
        Doubling
    }
    fn forward_into(&self, x: &Tensor1<2>, y: &mut Tensor1<2>, _: &mut ()) {
        y.data = x.data.map(|v| 2.0 * v);
    }
    fn forward_batch_into(&self, x: &Batch<Tensor1<2>>, y: &mut Batch<Tensor1<2>>, _: &mut ()) {
        *y = Batch::from_vec(x.as_slice().iter().map(|v| 2.0 * v).collect()).unwrap();
    }
    fn forward_train(
        &self,
        x: &Batch<Tensor1<2>>,
        y: &mut Batch<Tensor1<2>>,
        _: &mut (),
        _: &mut Rng,
    ) {
        self.forward_batch_into(x, y, &mut ());
    }
    fn backward(
        &mut self,
        _: &Batch<Tensor1<2>>,
        _: &Batch<Tensor1<2>>,
        _: &mut (),
        dy: &Batch<Tensor1<2>>,
        dx: Option<&mut Batch<Tensor1<2>>>,
    ) {
        if let Some(dx) = dx {
            *dx = dy.clone();
        }
    }
    fn walk<W: typed_nn::layers::Walk<Self>>(_: &mut W) {}
}

#[test]
fn a_layer_kind_without_an_export_is_a_typed_error_naming_it() {
    use typed_nn::layers::{Identity, Residual};
    let block = Residual::from_parts(Doubling, Identity::<Tensor1<2>>::default());
    match typed_nn::io::onnx::to_bytes(&block) {
        Err(Error::OnnxUnsupported { kind, path, .. }) => {
            assert_eq!(kind, "Doubling");
            assert_eq!(path, "body");
        }
        other => panic!("expected OnnxUnsupported, got {:?}", other.map(|b| b.len())),
    }
    let message = typed_nn::io::onnx::save(&block, std::env::temp_dir().join("never.onnx"))
        .unwrap_err()
        .to_string();
    assert!(message.contains("Doubling"), "{message}");
}

#[test]
fn save_onnx_writes_the_bytes() {
    let net = Mlp::init(&mut Rng::seed(7));
    let dir = std::env::temp_dir().join(format!("typed-nn-onnx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("mlp.onnx");
    net.save_onnx(&path).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), net.to_onnx_bytes().unwrap());
    write_check_files(&net, &dir, "mlp", &random_batch::<Tensor1<12>>(3, 1)).unwrap();
    assert!(dir.join("mlp.io.safetensors").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `rows` samples of uniform values in [−1, 1).
fn random_batch<S: Sample>(rows: usize, seed: u64) -> Batch<S> {
    let mut rng = Rng::seed(seed);
    let mut values = vec![0.0; rows * S::LEN];
    rng.fill_uniform(&mut values, 1.0);
    Batch::from_vec(values).unwrap()
}

/// `rows` sequences of token ids below `vocab`.
fn random_tokens<const T: usize>(rows: usize, vocab: usize, seed: u64) -> Batch<Tokens<T>> {
    let mut rng = Rng::seed(seed);
    let mut values = vec![0.0; rows * T];
    rng.fill_uniform(&mut values, 1.0);
    let ids: Vec<u32> = values
        .iter()
        .map(|v| (((v + 1.0) / 2.0 * vocab as f32) as u32).min(vocab as u32 - 1))
        .collect();
    Batch::from_ids(&ids).unwrap()
}

#[path = "common/example_networks.rs"]
mod examples;

/// Batch-norm statistics away from their initial 0 and 1, so that an export reading the
/// wrong tensor or ignoring them shows.
fn perturb_buffers<N: Network>(net: &mut N) {
    struct Perturb(Rng);
    impl typed_nn::layers::BufferVisitor for Perturb {
        fn visit(
            &mut self,
            path: &typed_nn::layers::Path<'_>,
            _shape: &[usize],
            buffer: typed_nn::layers::Buffer<'_>,
        ) {
            if let typed_nn::layers::Buffer::Values(values) = buffer {
                let mut noise = vec![0.0; values.len()];
                self.0.fill_uniform(&mut noise, 0.5);
                let var = path.to_string().ends_with("running_var");
                for (v, n) in values.iter_mut().zip(noise) {
                    *v = if var { 1.0 + n } else { n };
                }
            }
        }
    }
    net.visit_buffers(&typed_nn::layers::Path::ROOT, &mut Perturb(Rng::seed(9)));
}

/// With `ONNX_EXPORT_DIR` set: `<name>.onnx` and `<name>.io.safetensors` for each of the
/// examples' networks and the networks above, for `tools/onnx_models.py check-export`.
#[test]
fn check_files_for_the_examples_networks() {
    let Some(dir) = std::env::var_os("ONNX_EXPORT_DIR") else {
        return;
    };
    std::fs::create_dir_all(&dir).unwrap();
    macro_rules! write {
        ($name:literal, $ty:ty, $input:expr) => {{
            let mut net = <$ty>::init(&mut Rng::seed(42));
            perturb_buffers(&mut net);
            write_check_files(&net, &dir, $name, &$input).unwrap();
        }};
    }
    use examples::{
        Autoencoder, DenoisingUNet, MnistCnn, MnistCnnBn, MnistResNet, MnistTransformer,
        MobileNetLike, SeqMnist,
    };
    write!(
        "mnist_mlp",
        examples::Mlp,
        random_batch::<Tensor1<784>>(4, 1)
    );
    write!(
        "mnist_cnn",
        MnistCnn,
        random_batch::<Tensor3<1, 28, 28>>(4, 2)
    );
    write!(
        "mnist_cnn_bn",
        MnistCnnBn,
        random_batch::<Tensor3<1, 28, 28>>(4, 3)
    );
    write!(
        "mnist_resnet",
        MnistResNet,
        random_batch::<Tensor3<1, 28, 28>>(3, 4)
    );
    write!(
        "seq_mnist_lstm",
        SeqMnist,
        random_batch::<Tensor2<28, 28>>(4, 5)
    );
    write!(
        "mnist_transformer",
        MnistTransformer,
        random_batch::<Tensor2<28, 28>>(3, 6)
    );
    write!(
        "mnist_autoencoder",
        Autoencoder,
        random_batch::<Tensor3<1, 28, 28>>(3, 7)
    );
    write!(
        "mnist_unet",
        DenoisingUNet,
        random_batch::<Tensor3<1, 28, 28>>(3, 8)
    );
    write!(
        "mobilenet_like",
        MobileNetLike,
        random_batch::<Tensor3<1, 28, 28>>(3, 9)
    );
    write!("test_mlp", Mlp, random_batch::<Tensor1<12>>(5, 10));
    write!(
        "test_cnn_bn",
        CnnBn,
        random_batch::<Tensor3<1, 12, 12>>(5, 11)
    );
    write!("test_joins", Joins, random_batch::<Tensor3<2, 8, 8>>(5, 12));
    write!(
        "test_recurrences",
        Recurrences,
        random_batch::<Tensor2<5, 4>>(5, 13)
    );
    write!(
        "test_encoder",
        Encoder,
        random_tokens::<TOKENS>(5, VOCAB, 14)
    );
    write!("test_llama", Llama, random_tokens::<TOKENS>(5, VOCAB, 15));
    write!(
        "test_vector_swiglu",
        VectorSwiGlu,
        random_batch::<Tensor1<8>>(5, 16)
    );
    write!(
        "test_rearrangements",
        Rearrangements,
        random_batch::<Tensor3<2, 5, 6>>(5, 17)
    );
    write!(
        "test_time_pools",
        TimePools,
        random_batch::<Tensor2<6, 5>>(5, 18)
    );
    write!(
        "test_cross_attention",
        Cross,
        random_batch::<Pair<Tensor2<4, 6>, Tensor2<5, 6>>>(5, 19)
    );
    write!(
        "test_decoder",
        Decoding,
        random_batch::<Pair<Tensor2<4, 8>, Tensor2<5, 8>>>(5, 20)
    );
    let tokens = Batch::zip(
        &random_tokens::<SOURCE>(5, VOCAB, 21),
        &random_tokens::<TARGET>(5, VOCAB, 22),
    )
    .unwrap();
    write!("test_translator", Translator, tokens);
    write!(
        "test_two_heads",
        TwoHeads,
        random_batch::<Tensor1<6>>(5, 23)
    );
}
