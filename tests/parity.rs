//! Parity with PyTorch through the committed fixtures of tools/pytorch_parity.py (torch
//! version in tests/fixtures/TORCH_VERSION): the same weights and buffers give the same
//! outputs in inference (PyTorch's eval mode) and in training (train mode: batch statistics),
//! the same loss, parameter gradients, running statistics after a step, and one Adam step.
//! A model whose training pass is random (dropout) is compared in inference only. A batch of
//! padded sequences carries its lengths, which the PyTorch model gives
//! `pack_padded_sequence` and `key_padding_mask`.
//!
//! Tolerances: outputs and loss 1e-5 relative (with a 1e-6 absolute floor: f32 sums of a
//! few dozen terms in a different order); gradients 1e-4 relative (with a 1e-5 floor: they
//! go through more f32 operations, and our fused log-softmax differs in rounding from
//! PyTorch's separate ops). The Adam step compares weights after
//! `p − lr·m̂/(√v̂ + ε)`, whose first step is ±lr wherever the gradient is not tiny: 1e-5,
//! on the entries whose gradient is above 1e-6 (below, the step is rounding noise over ε).
//!
//! SimpleRNN and LSTM keep one bias where PyTorch has two; their import sums them, so
//! gradients compare against either PyTorch bias (both equal ∂loss/∂bias), and the Adam step
//! is not compared for that bias (one Adam parameter moves differently from two).

use typed_nn::layers::{Buffer, BufferVisitor, Layer, Layout, ParamVisitor, Path};
use typed_nn::loss::{BinaryCrossEntropyWith, CrossEntropyWith, Head};
use typed_nn::prelude::*;
use typed_nn::{data::TargetBatch, loss::Loss, Network};

fn fixture(name: &str, kind: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/{name}.{kind}.safetensors",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

struct Data {
    bytes: Vec<u8>,
}

impl Data {
    fn has(&self, name: &str) -> bool {
        let file = safetensors::SafeTensors::deserialize(&self.bytes).unwrap();
        file.tensor(name).is_ok()
    }

    fn tensor(&self, name: &str) -> Vec<f32> {
        let file = safetensors::SafeTensors::deserialize(&self.bytes).unwrap();
        let view = file
            .tensor(name)
            .unwrap_or_else(|_| panic!("fixture tensor {name}"));
        view.data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    }
}

fn assert_close(what: &str, got: &[f32], want: &[f32], rel: f32, floor: f32) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (k, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= rel * w.abs() + floor,
            "{what}[{k}]: typed-nn {g} vs PyTorch {w}"
        );
    }
}

/// Every parameter (or its gradient) in PyTorch's layout, with its name and layout.
struct Collect {
    grads: bool,
    out: Vec<(String, Layout, Vec<f32>)>,
}

impl ParamVisitor for Collect {
    fn visit(
        &mut self,
        path: &Path<'_>,
        shape: &[usize],
        layout: Layout,
        value: &mut [f32],
        grad: &mut [f32],
    ) {
        let src = if self.grads { &*grad } else { &*value };
        let values = match layout {
            Layout::Transposed => {
                let (rows, cols) = (shape[0], shape[1]);
                let mut t = vec![0.0; src.len()];
                for r in 0..rows {
                    for c in 0..cols {
                        t[r * cols + c] = src[c * rows + r];
                    }
                }
                t
            }
            _ => src.to_vec(),
        };
        self.out.push((path.to_string(), layout, values));
    }
}

/// Every float buffer (running statistics), with its name.
struct CollectBuffers(Vec<(String, Vec<f32>)>);

impl BufferVisitor for CollectBuffers {
    fn visit(&mut self, path: &Path<'_>, _shape: &[usize], buffer: Buffer<'_>) {
        if let Buffer::Values(v) = buffer {
            self.0.push((path.to_string(), v.to_vec()));
        }
    }
}

fn collect<L: Layer>(net: &mut L, grads: bool) -> Vec<(String, Layout, Vec<f32>)> {
    let mut c = Collect {
        grads,
        out: Vec::new(),
    };
    net.visit_params(&Path::ROOT, &mut c);
    c.out
}

/// Runs one fixture: forward, loss and gradients, then one Adam step from the same weights.
fn check<N, T, L>(name: &str, targets: impl Fn(&[f32]) -> T, loss: &L)
where
    N: Network + Send,
    T: TargetBatch + 'static,
    L: Loss<N::Head, N::Out, T> + Sync,
{
    check_prepared::<N, T, L>(name, targets, loss, |_| {});
}

/// [`check`] of a network that `prepare` sets up after loading (modes, frozen parts).
fn check_prepared<N, T, L>(
    name: &str,
    targets: impl Fn(&[f32]) -> T,
    loss: &L,
    prepare: impl Fn(&mut N),
) where
    N: Network + Send,
    T: TargetBatch + 'static,
    L: Loss<N::Head, N::Out, T> + Sync,
{
    let weights = fixture(name, "weights");
    let data = Data {
        bytes: fixture(name, "data"),
    };
    let load = || {
        let mut net = N::init(&mut Rng::seed(99));
        typed_nn::io::safetensors::load_bytes(&mut net, &weights).unwrap();
        prepare(&mut net);
        net
    };
    // The same number of trainable scalars as PyTorch's sum(p.numel()), counting the bias
    // that SimpleRNN and LSTM keep as one where PyTorch keeps two twice.
    let (_, meta) = safetensors::SafeTensors::read_metadata(&weights).unwrap();
    let params = meta.metadata().as_ref().and_then(|m| m.get("params"));
    let mut counted = load();
    let as_pytorch: usize = collect(&mut counted, false)
        .iter()
        .map(|(_, layout, v)| match layout {
            Layout::SumWith(_) => 2 * v.len(),
            _ => v.len(),
        })
        .sum();
    assert_eq!(params, Some(&as_pytorch.to_string()), "{name}: parameters");
    let mut x = Batch::<N::In>::from_vec(data.tensor("input")).unwrap();
    if data.has("lengths") {
        // Padded sequences, which the PyTorch model packs (or masks).
        let lengths: Vec<usize> = data.tensor("lengths").iter().map(|&l| l as usize).collect();
        x.set_lengths(&lengths).unwrap();
    }
    if data.has("part") {
        // A pair whose second part is padded: its place and the lengths of its rows.
        let [offset, values, steps] = data.tensor("part")[..] else {
            panic!("{name}: part holds offset, values and steps")
        };
        x.set_part_lengths(vec![typed_nn::tensor::PartLengths {
            offset: offset as usize,
            values: values as usize,
            steps: steps as usize,
            lengths: data
                .tensor("part_lengths")
                .iter()
                .map(|&l| l as u32)
                .collect(),
        }]);
    }
    let mut net = load();
    let mut out = Batch::default();
    net.forward_batch_into(&x, &mut out, &mut Default::default());
    assert_close(
        &format!("{name} inference output"),
        out.as_slice(),
        &data.tensor("eval_output"),
        1e-5,
        1e-6,
    );
    if !data.has("output") {
        return;
    }
    let t = targets(&data.tensor("target"));
    let mut cache = Default::default();
    net.forward_train(&x, &mut out, &mut cache, &mut Rng::seed(0));
    assert_close(
        &format!("{name} training output"),
        out.as_slice(),
        &data.tensor("output"),
        1e-5,
        1e-6,
    );

    // A step with learning rate 0 leaves the weights and computes the gradients.
    let value = typed_nn::train::train_step(&mut net, &x, &t, loss, &mut Sgd::new(0.0)).unwrap();
    assert_close(
        &format!("{name} loss"),
        &[value],
        &data.tensor("loss"),
        1e-5,
        1e-6,
    );
    for (param, layout, grad) in collect(&mut net, true) {
        assert_close(
            &format!("{name} grad.{param}"),
            &grad,
            &data.tensor(&format!("grad.{param}")),
            1e-4,
            1e-5,
        );
        if let Layout::SumWith(_) = layout {
            let sibling = param.replace("bias_ih", "bias_hh");
            assert_close(
                &format!("{name} grad.{sibling}"),
                &grad,
                &data.tensor(&format!("grad.{sibling}")),
                1e-4,
                1e-5,
            );
        }
    }

    let mut buffers = CollectBuffers(Vec::new());
    net.visit_buffers(&Path::ROOT, &mut buffers);
    for (buffer, values) in buffers.0 {
        assert_close(
            &format!("{name} {buffer} after a step"),
            &values,
            &data.tensor(&format!("buffer.{buffer}")),
            1e-5,
            1e-6,
        );
    }

    let mut net = load();
    typed_nn::train::train_step(&mut net, &x, &t, loss, &mut Adam::new(1e-2)).unwrap();
    for (param, layout, value) in collect(&mut net, false) {
        if matches!(layout, Layout::SumWith(_)) {
            continue;
        }
        // Where the gradient vanishes mathematically (a bias before BatchNorm, the key bias of
        // attention: both cancel out) its computed value is rounding noise near Adam's ε, and
        // the step g/(|g| + ε) is ill-conditioned: those entries are left out.
        let grad = data.tensor(&format!("grad.{param}"));
        let want = data.tensor(&format!("adam.{param}"));
        let keep = |k: &usize| grad[*k].abs() > 1e-6;
        let got: Vec<f32> = (0..value.len()).filter(keep).map(|k| value[k]).collect();
        let want: Vec<f32> = (0..want.len()).filter(keep).map(|k| want[k]).collect();
        assert_close(&format!("{name} adam.{param}"), &got, &want, 1e-5, 1e-5);
    }
}

fn labels<const N: usize>(t: &[f32]) -> Labels<N> {
    Labels::new(t.iter().map(|&c| c as u32).collect()).unwrap()
}

fn dense_targets<const N: usize>(t: &[f32]) -> Batch<Tensor1<N>> {
    Batch::from_vec(t.to_vec()).unwrap()
}

/// A loss alone against a `loss_<case>` fixture: the value of `loss` and `loss_and_grad`,
/// and ∂loss/∂input, at PyTorch's input (logits, or log-probabilities) through head `Hd`.
/// Both 1e-5 relative, with floors of 1e-6 (loss) and 1e-7 (gradient entries, which are
/// of order 1/n): one f32 loss over a few dozen terms, without a network before it.
fn check_loss<Hd: Head, S: Sample, T, L: Loss<Hd, S, T>>(
    name: &str,
    targets: impl Fn(&Data) -> T,
    loss: impl Fn(&Data) -> L,
) {
    let data = Data {
        bytes: fixture(name, "data"),
    };
    let input: Batch<S> = Batch::from_vec(data.tensor("input")).unwrap();
    let (targets, loss) = (targets(&data), loss(&data));
    let mut output = input.clone();
    Hd::default().forward(input.as_slice(), output.as_mut_slice(), S::ROW);
    let mut grad = Batch::default();
    let value = loss.loss_and_grad(&input, &output, &targets, &mut grad);
    let want = data.tensor("loss");
    assert_close(&format!("{name} loss"), &[value], &want, 1e-5, 1e-6);
    let alone = loss.loss(&input, &output, &targets);
    assert_close(&format!("{name} loss alone"), &[alone], &want, 1e-5, 1e-6);
    assert_close(
        &format!("{name} grad"),
        grad.as_slice(),
        &data.tensor("grad"),
        1e-5,
        1e-7,
    );
}

fn dense<S: Sample>(data: &Data) -> Batch<S> {
    Batch::from_vec(data.tensor("target")).unwrap()
}

#[test]
fn l1_loss_matches_pytorch() {
    check_loss::<Linear, Tensor1<5>, _, _>("loss_l1", dense, |_| L1);
}

#[test]
fn nll_loss_after_log_softmax_matches_pytorch() {
    let labels = |d: &Data| labels::<5>(&d.tensor("target"));
    check_loss::<Linear, Tensor1<5>, _, _>("loss_nll", labels, |_| Nll);
    let steps = |d: &Data| step_labels::<4, 5>(&d.tensor("target"));
    check_loss::<Linear, Tensor2<4, 5>, _, _>("loss_nll_steps", steps, |_| Nll);
}

#[test]
fn kl_divergence_batchmean_matches_pytorch() {
    check_loss::<Linear, Tensor1<5>, _, _>("loss_kl_div", dense, |_| KlDiv::default());
    let log_target = |_: &Data| KlDiv { log_target: true };
    check_loss::<Linear, Tensor1<5>, _, _>("loss_kl_div_log_target", dense, log_target);
}

/// The cross-entropy of a fixture's settings: its class weights and label smoothing when it
/// has them.
fn cross_entropy_with<const N: usize>(d: &Data) -> CrossEntropyWith<N> {
    let mut loss = CrossEntropyWith::default();
    if d.has("weight") {
        loss = loss.class_weights_from_slice(&d.tensor("weight")).unwrap();
    }
    if d.has("label_smoothing") {
        loss = loss
            .label_smoothing(d.tensor("label_smoothing")[0])
            .unwrap();
    }
    loss
}

#[test]
fn cross_entropy_with_class_weights_and_label_smoothing_matches_pytorch() {
    let labels = |d: &Data| labels::<5>(&d.tensor("target"));
    for case in [
        "loss_ce_weighted",
        "loss_ce_smoothing",
        "loss_ce_weighted_smoothing",
    ] {
        // Fused with a softmax or on raw logits, the gradient is the logits' own.
        check_loss::<Linear, Tensor1<5>, _, _>(case, labels, cross_entropy_with::<5>);
        check_loss::<Softmax, Tensor1<5>, _, _>(case, labels, cross_entropy_with::<5>);
    }
    let steps = |d: &Data| step_labels::<4, 5>(&d.tensor("target"));
    let case = "loss_ce_steps_weighted_smoothing";
    check_loss::<Linear, Tensor2<4, 5>, _, _>(case, steps, cross_entropy_with::<5>);
    check_loss::<Softmax, Tensor2<4, 5>, _, _>(case, steps, cross_entropy_with::<5>);
    let case = "loss_ce_probs_weighted_smoothing";
    check_loss::<Linear, Tensor1<5>, _, _>(case, dense, cross_entropy_with::<5>);
    check_loss::<Softmax, Tensor1<5>, _, _>(case, dense, cross_entropy_with::<5>);
}

#[test]
fn binary_cross_entropy_with_pos_weight_matches_pytorch() {
    let pos_weight =
        |d: &Data| BinaryCrossEntropyWith::<5>::from_slice(&d.tensor("pos_weight")).unwrap();
    // Fused with a sigmoid or on raw logits, the gradient is the logits' own.
    check_loss::<Linear, Tensor1<5>, _, _>("loss_bce_pos_weight", dense, pos_weight);
    check_loss::<Sigmoid, Tensor1<5>, _, _>("loss_bce_pos_weight", dense, pos_weight);
    check_loss::<Linear, Tensor2<3, 5>, _, _>("loss_bce_pos_weight_steps", dense, pos_weight);
}

#[test]
fn huber_and_smooth_l1_losses_match_pytorch() {
    let delta = |d: &Data| Huber::new(d.tensor("delta")[0]).unwrap();
    check_loss::<Linear, Tensor1<5>, _, _>("loss_huber", dense, delta);
    let beta = |d: &Data| SmoothL1::new(d.tensor("beta")[0]).unwrap();
    check_loss::<Linear, Tensor1<5>, _, _>("loss_smooth_l1", dense, beta);
    check_loss::<Linear, Tensor1<5>, _, _>("loss_smooth_l1_beta0", dense, beta);
}

network! {
    struct DenseNet: [6] {
        Dense(5), Tanh, Dense(5), LeakyRelu(0.1), Dense(4), Sigmoid, Dense(4), Relu, Dense(3), Softmax,
    }
}

network! {
    struct Cnn: [3, 16, 16] {
        Conv2d(4, 3), Relu, MaxPool2d(2), Conv2d(6, 3), Relu, MaxPool2d(2), Flatten, Dense(10), Softmax,
    }
}

network! {
    struct Pools: [2, 8, 8] {
        Conv2d(3, 3, padding = same), Relu, AvgPool2d(2), Conv2d(4, (2, 3)), GlobalAvgPool2d, Flatten, Dense(2),
    }
}

network! {
    struct Conv1dNet: [2, 10] {
        Conv1d(3, 3), Relu, MaxPool1d(2), Flatten, Dense(2),
    }
}

network! {
    struct RnnNet: [7, 2] {
        rnn: SimpleRNN(4), out: Dense(1), act: Sigmoid,
    }
}

network! {
    struct LstmNet: [5, 3] {
        lstm: LSTM(4), out: Dense(3),
    }
}

network! {
    struct GruNet: [5, 3] {
        gru: GRU(4, return_sequences = true), flat: Flatten, out: Dense(2),
    }
}

#[test]
fn dense_and_activations_match_pytorch() {
    check::<DenseNet, _, _>("dense", labels::<3>, &CrossEntropy);
}

#[test]
fn seed_cnn_matches_pytorch() {
    check::<Cnn, _, _>("cnn", labels::<10>, &CrossEntropy);
}

#[test]
fn pooling_padding_and_flatten_match_pytorch() {
    check::<Pools, _, _>("pools", dense_targets::<2>, &Mse);
}

#[test]
fn conv1d_matches_pytorch() {
    check::<Conv1dNet, _, _>("conv1d", dense_targets::<2>, &Mse);
}

#[test]
fn simple_rnn_matches_pytorch() {
    check::<RnnNet, _, _>("rnn", dense_targets::<1>, &BinaryCrossEntropy);
}

#[test]
fn lstm_matches_pytorch() {
    check::<LstmNet, _, _>("lstm", labels::<3>, &CrossEntropy);
}

#[test]
fn gru_matches_pytorch() {
    check::<GruNet, _, _>("gru", dense_targets::<2>, &Mse);
}

network! {
    struct ConvStridePad: [3, 9, 9] {
        Conv2d(4, 3, stride = 2, padding = 1), Relu, Conv2d(4, (3, 2), padding = (1, 2)), Flatten, Dense(3),
    }
}

network! {
    struct ConvDilation: [2, 8, 8] {
        Conv2d(4, 3, dilation = 2, padding = 2), Tanh, Conv2d(6, 3, groups = 2),
        MaxPool2d(3, stride = 2, padding = 1), AvgPool2d(2, stride = 1, padding = 1),
        GlobalMaxPool2d, Flatten, Dense(2),
    }
}

network! {
    struct Depthwise: [3, 6, 6] {
        Conv2d(6, 3, padding = 1, groups = 3, bias = false), Relu, Conv2d(4, 1, bias = false),
        Flatten, Dense(3, bias = false),
    }
}

network! {
    struct BatchNormNet: [3, 6, 6] {
        Conv2d(4, 3, padding = 1, bias = false), BatchNorm2d, Relu,
        Conv2d(4, 3), BatchNorm2d(momentum = 0.3, eps = 1e-3),
        GlobalAvgPool2d, Flatten, Dense(5), BatchNorm1d, Dense(3),
    }
}

network! {
    struct BatchNorm1dSeq: [2, 8] {
        Conv1d(3, 3), BatchNorm1d, Tanh, Flatten, Dense(2),
    }
}

network! {
    struct LayerNormNet: [4, 6] {
        LayerNorm, Flatten, Dense(8), LayerNorm(eps = 1e-3), Tanh, Dense(3),
    }
}

network! {
    struct DropoutNet: [6] {
        Dense(8), Relu, Dropout(0.5), Dense(3),
    }
}

#[test]
fn convolution_with_stride_and_integer_padding_matches_pytorch() {
    check::<ConvStridePad, _, _>("conv_stride_pad", labels::<3>, &CrossEntropy);
}

#[test]
fn dilation_groups_and_padded_pooling_match_pytorch() {
    check::<ConvDilation, _, _>("conv_dilation", dense_targets::<2>, &Mse);
}

#[test]
fn depthwise_and_pointwise_convolutions_without_bias_match_pytorch() {
    check::<Depthwise, _, _>("depthwise", labels::<3>, &CrossEntropy);
}

#[test]
fn batch_norm_in_training_and_inference_matches_pytorch() {
    check::<BatchNormNet, _, _>("batchnorm", labels::<3>, &CrossEntropy);
    check::<BatchNorm1dSeq, _, _>("batchnorm1d_seq", dense_targets::<2>, &Mse);
}

network! {
    struct GroupNormNet: [3, 6, 6] {
        Conv2d(6, 3), GroupNorm(3), Relu, Conv2d(4, 1), GroupNorm(2, eps = 1e-3), Flatten, Dense(3),
    }
}

#[test]
fn group_norm_matches_pytorch() {
    check::<GroupNormNet, _, _>("groupnorm", labels::<3>, &CrossEntropy);
}

#[test]
fn layer_norm_matches_pytorch() {
    check::<LayerNormNet, _, _>("layernorm", dense_targets::<3>, &Mse);
}

#[test]
fn dropout_at_inference_is_the_identity_as_in_pytorch() {
    check::<DropoutNet, _, _>("dropout_eval", labels::<3>, &CrossEntropy);
}

network! {
    struct ResidualNet: [2, 8, 8] {
        Conv2d(4, 3, padding = 1, bias = false), BatchNorm2d, Relu,
        Residual {
            Conv2d(8, 3, stride = 2, padding = 1, bias = false), BatchNorm2d, Relu,
            Conv2d(8, 3, padding = 1, bias = false), BatchNorm2d,
        } shortcut {
            Conv2d(8, 1, stride = 2, bias = false), BatchNorm2d,
        },
        Relu,
        Residual {
            Conv2d(8, 3, padding = 1, bias = false), BatchNorm2d, Relu,
            Conv2d(8, 3, padding = 1, bias = false), BatchNorm2d,
        },
        Relu, GlobalAvgPool2d, Flatten, Dense(3),
    }
}

network! {
    struct ConcatNet: [3, 6, 6] {
        Conv2d(4, 3, padding = 1), Relu,
        Concat {
            a: { Conv2d(2, 1) },
            b: { Conv2d(3, 1), Relu, Conv2d(3, 3, padding = 1) },
            pool: { MaxPool2d(3, stride = 1, padding = 1), Conv2d(2, 1) },
        },
        Add { {}, { Conv2d(7, 1) } },
        Flatten, Dense(2),
    }
}

network! {
    struct TransformerNet: [5, 8] {
        PositionalEmbedding,
        Residual { LayerNorm, MultiHeadAttention(2, 8) },
        Residual { LayerNorm, Dense(16, per_step = true), Gelu, Dense(8, per_step = true) },
        Flatten, Dense(3),
    }
}

#[test]
fn residual_blocks_with_batch_norm_and_a_projection_shortcut_match_pytorch() {
    check::<ResidualNet, _, _>("residual", labels::<3>, &CrossEntropy);
}

#[test]
fn concatenated_and_added_branches_match_pytorch() {
    check::<ConcatNet, _, _>("concat", dense_targets::<2>, &Mse);
}

#[test]
fn a_pre_norm_transformer_block_matches_pytorch() {
    check::<TransformerNet, _, _>("transformer", labels::<3>, &CrossEntropy);
}

/// A class per step, PyTorch's ignore_index (-100) as an ignored step.
fn step_labels<const T: usize, const N: usize>(t: &[f32]) -> StepLabels<T, N> {
    let rows: Vec<StepClasses<T, N>> = t
        .chunks_exact(T)
        .map(|row| {
            let steps: [Option<u32>; T] =
                std::array::from_fn(|k| (row[k] >= 0.0).then_some(row[k] as u32));
            StepClasses::from_steps(steps).unwrap()
        })
        .collect();
    StepLabels::new(&rows)
}

network! {
    struct StepCe: tokens[6] {
        emb: Embedding(7, 5),
        lstm: LSTM(6, return_sequences = true),
        out: Dense(7, per_step = true),
        Softmax,
    }
}

network! {
    struct BiLstmMean: [5, 3] {
        rnn: Bidirectional(LSTM(4, return_sequences = true)),
        GlobalAvgPool1d,
        out: Dense(3),
    }
}

network! {
    struct BiGruSum: [6, 2] {
        rnn: Bidirectional(GRU(3), merge = sum),
        out: Dense(2),
    }
}

network! {
    struct MaskedAttention: [5, 4] {
        attention: MultiHeadAttention(2, 4),
        GlobalAvgPool1d,
        out: Dense(2),
    }
}

#[test]
fn per_step_cross_entropy_with_ignored_steps_matches_pytorch() {
    check::<StepCe, _, _>("step_ce", step_labels::<6, 7>, &CrossEntropy);
}

#[test]
fn bidirectional_lstm_and_the_mean_over_steps_match_pytorch_packed_or_not() {
    check::<BiLstmMean, _, _>("bilstm", labels::<3>, &CrossEntropy);
    check::<BiLstmMean, _, _>("bilstm_lengths", labels::<3>, &CrossEntropy);
}

#[test]
fn bidirectional_gru_final_states_match_pytorch_packed_or_not() {
    check::<BiGruSum, _, _>("bigru", dense_targets::<2>, &Mse);
    check::<BiGruSum, _, _>("bigru_lengths", dense_targets::<2>, &Mse);
}

#[test]
fn attention_with_padded_keys_matches_pytorch_key_padding_mask() {
    check::<MaskedAttention, _, _>("attention_mask", dense_targets::<2>, &Mse);
}

network! {
    struct CausalAttention: [5, 4] {
        attention: MultiHeadAttention(2, 4, causal = true),
        GlobalAvgPool1d,
        out: Dense(2),
    }
}

network! {
    struct RopeAttention: [6, 8] {
        attention: MultiHeadAttention(2, 8, causal = true, rope = true),
        GlobalAvgPool1d,
        out: Dense(2),
    }
}

#[test]
fn causal_attention_matches_pytorch_is_causal() {
    check::<CausalAttention, _, _>("attention_causal", dense_targets::<2>, &Mse);
}

#[test]
fn causal_attention_with_padded_keys_matches_pytorch_merged_masks() {
    check::<CausalAttention, _, _>("attention_causal_lengths", dense_targets::<2>, &Mse);
}

network! {
    struct LlamaBlock: [5, 8] {
        attention: Residual { RMSNorm, MultiHeadAttention(2, 8, causal = true, rope = true) },
        mlp: Residual { RMSNorm(eps = 1e-6), SwiGLU(12) },
        norm: RMSNorm,
        GlobalAvgPool1d,
        out: Dense(2),
    }
}

network! {
    struct CrossParity: (queries: [4, 6], memory: [5, 6]) {
        attention: CrossAttention(2, 6),
        GlobalAvgPool1d,
        out: Dense(2),
    }
}

#[test]
fn cross_attention_matches_pytorch_multihead_attention_of_query_key_value() {
    check::<CrossParity, _, _>("cross_attention", dense_targets::<2>, &Mse);
}

network! {
    struct DecoderPreNorm: (target: [4, 8], memory: [5, 8]) {
        decoder: TransformerDecoderLayer(2, 8, 16, norm_first = true, activation = gelu),
        target,
        GlobalAvgPool1d,
        out: Dense(2),
    }
}

network! {
    struct DecoderPostNorm: (target: [4, 8], memory: [5, 8]) {
        decoder: TransformerDecoderLayer(2, 8, 16),
        target,
        GlobalAvgPool1d,
        out: Dense(2),
    }
}

#[test]
fn a_pre_norm_decoder_layer_matches_pytorch_transformer_decoder_layer() {
    check::<DecoderPreNorm, _, _>("decoder_pre_norm", dense_targets::<2>, &Mse);
}

#[test]
fn a_post_norm_decoder_layer_matches_pytorch_transformer_decoder_layer() {
    check::<DecoderPostNorm, _, _>("decoder_post_norm", dense_targets::<2>, &Mse);
}

#[test]
fn cross_attention_over_a_padded_memory_matches_pytorch_key_padding_mask() {
    check::<CrossParity, _, _>("cross_attention_lengths", dense_targets::<2>, &Mse);
}

/// A Dense, the activation `$act`, a Dense: the network of fixture `act_<name>`.
macro_rules! activation_parity {
    ($($net:ident, $act:ident, $fixture:literal, $test:ident;)*) => {$(
        network! {
            struct $net: [6] { Dense(5), $act, Dense(3) }
        }

        #[test]
        fn $test() {
            check::<$net, _, _>($fixture, dense_targets::<3>, &Mse);
        }
    )*};
}

activation_parity! {
    ActSilu, Silu, "act_silu", silu_matches_pytorch;
    ActMish, Mish, "act_mish", mish_matches_pytorch;
    ActHardswish, Hardswish, "act_hardswish", hardswish_matches_pytorch;
    ActHardsigmoid, Hardsigmoid, "act_hardsigmoid", hardsigmoid_matches_pytorch;
    ActRelu6, Relu6, "act_relu6", relu6_matches_pytorch;
}

network! {
    struct ActElu: [6] { Dense(5), Elu(0.5), Dense(3) }
}

#[test]
fn elu_with_its_alpha_matches_pytorch() {
    check::<ActElu, _, _>("act_elu", dense_targets::<3>, &Mse);
}

network! {
    struct ActSoftplus: [6] { Dense(5), Softplus(2.0, threshold = 1.5), Dense(3) }
}

#[test]
fn softplus_with_its_beta_and_threshold_matches_pytorch() {
    check::<ActSoftplus, _, _>("act_softplus", dense_targets::<3>, &Mse);
}

network! {
    struct ActGlu: [6] { Dense(8), Glu, Dense(3) }
}

network! {
    struct AvgPool1dNet: [2, 10] {
        Conv1d(3, 3), Tanh,
        AvgPool1d(3, stride = 2, padding = 1),
        Flatten,
        Dense(2),
    }
}

#[test]
fn avg_pool_1d_with_padding_matches_pytorch() {
    check::<AvgPool1dNet, _, _>("avgpool1d", dense_targets::<2>, &Mse);
}

network! {
    struct ActPRelu: [6] { Dense(5), PRelu(5), Dense(3) }
}

network! {
    struct WithIdentity: [6] { Dense(5), Identity, Dense(3) }
}

network! {
    struct ZeroPadNet: [2, 5, 6] {
        ZeroPad2d((1, 2)),
        Conv2d(3, 3), Tanh,
        Flatten,
        Dense(2),
    }
}

#[test]
fn zero_padding_matches_pytorch() {
    check::<ZeroPadNet, _, _>("zeropad2d", dense_targets::<2>, &Mse);
}

#[test]
fn identity_matches_pytorch() {
    check::<WithIdentity, _, _>("identity", dense_targets::<3>, &Mse);
}

#[test]
fn prelu_with_a_slope_per_feature_matches_pytorch() {
    check::<ActPRelu, _, _>("act_prelu", dense_targets::<3>, &Mse);
}

#[test]
fn glu_matches_pytorch() {
    check::<ActGlu, _, _>("act_glu", dense_targets::<3>, &Mse);
}

#[test]
fn a_llama_block_matches_pytorch_rms_norm_and_swiglu() {
    check::<LlamaBlock, _, _>("llama_block", dense_targets::<2>, &Mse);
}

#[test]
fn rotary_causal_attention_matches_a_llama_style_reference() {
    check::<RopeAttention, _, _>("attention_rope", dense_targets::<2>, &Mse);
}

network! {
    struct ConvTranspose2dNet: [3, 4, 5] {
        ConvTranspose2d(4, 3, stride = 2, padding = 1, output_padding = 1), Tanh,
        ConvTranspose2d(2, (2, 3), stride = (1, 2), dilation = (2, 1), groups = 2),
        Flatten,
        Dense(2),
    }
}

network! {
    struct ConvTranspose1dNet: [3, 6] {
        ConvTranspose1d(4, 4, stride = 2, padding = 1), Relu,
        ConvTranspose1d(2, 3, stride = 3, output_padding = 2, bias = false),
        Flatten,
        Dense(2),
    }
}

#[test]
fn transposed_convolutions_match_pytorch() {
    check::<ConvTranspose2dNet, _, _>("conv_transpose2d", dense_targets::<2>, &Mse);
    check::<ConvTranspose1dNet, _, _>("conv_transpose1d", dense_targets::<2>, &Mse);
}

network! {
    struct UpsampleNet: [2, 5, 6] {
        Conv2d(3, 3), Tanh, Upsample(2),
        Conv2d(8, 3), Upsample((2, 3), mode = bilinear),
        Flatten,
        Dense(2),
    }
}

network! {
    struct AlignCornersNet: [2, 5, 6] {
        Conv2d(4, 3), Upsample(3, mode = bilinear, align_corners = true),
        Flatten,
        Dense(2),
    }
}

network! {
    struct LinearUpsampleNet: [3, 7] {
        Conv1d(4, 3), Upsample(2, mode = linear),
        Conv1d(2, 3), Upsample(3, mode = linear, align_corners = true),
        Flatten,
        Dense(2),
    }
}

#[test]
fn upsampling_matches_pytorch() {
    check::<UpsampleNet, _, _>("upsample", dense_targets::<2>, &Mse);
    check::<AlignCornersNet, _, _>("upsample_align_corners", dense_targets::<2>, &Mse);
    check::<LinearUpsampleNet, _, _>("upsample_linear", dense_targets::<2>, &Mse);
}

network! {
    struct PixelShuffleNet: [2, 5, 6] {
        Conv2d(8, 3), PixelShuffle(2), Tanh,
        Flatten,
        Dense(2),
    }
}

#[test]
fn pixel_shuffle_matches_pytorch() {
    check::<PixelShuffleNet, _, _>("pixel_shuffle", dense_targets::<2>, &Mse);
}

network! {
    struct InstanceNorm2dNet: [2, 5, 6] {
        Conv2d(4, 3), InstanceNorm2d(4, affine = true), Relu,
        Conv2d(3, 1, bias = false), InstanceNorm2d(eps = 1e-3),
        Flatten,
        Dense(2),
    }
}

network! {
    struct InstanceNorm1dNet: [3, 7] {
        Conv1d(4, 3), InstanceNorm1d(affine = true), Tanh,
        Flatten,
        Dense(2),
    }
}

#[test]
fn instance_norm_matches_pytorch() {
    check::<InstanceNorm2dNet, _, _>("instancenorm2d", dense_targets::<2>, &Mse);
    check::<InstanceNorm1dNet, _, _>("instancenorm1d", dense_targets::<2>, &Mse);
}

network! {
    struct ReshapeNet: [6] {
        Dense(12), Reshape([3, 4]), Conv1d(2, 3), Tanh,
        Flatten,
        Dense(2),
    }
}

#[test]
fn reshape_matches_pytorch() {
    check::<ReshapeNet, _, _>("reshape", dense_targets::<2>, &Mse);
}

network! {
    struct PermuteNet: [5, 3] {
        Permute([1, 0]), Conv1d(4, 3), Relu, Permute([1, 0]),
        Flatten,
        Dense(2),
    }
}

network! {
    struct Permute3Net: [2, 3, 4] {
        Permute([2, 0, 1]), Conv2d(2, 2),
        Flatten,
        Dense(2),
    }
}

#[test]
fn permute_matches_pytorch() {
    check::<PermuteNet, _, _>("permute", dense_targets::<2>, &Mse);
    check::<Permute3Net, _, _>("permute3", dense_targets::<2>, &Mse);
}

network! {
    struct BatchNormEvalNet: [2, 5, 6] {
        Conv2d(4, 3), BatchNorm2d, Relu,
        Flatten,
        Dense(2),
    }
}

#[test]
fn batch_norm_in_eval_mode_while_training_matches_pytorch() {
    check_prepared::<BatchNormEvalNet, _, _>("batchnorm_eval", dense_targets::<2>, &Mse, |net| {
        assert_eq!(net.batch_norm_eval("1", true).unwrap(), 1);
    });
}

network! {
    struct SqueezeExcitationNet: [2, 6, 7] {
        Conv2d(4, 3), Tanh, SqueezeExcitation(3),
        Conv2d(3, 1), SqueezeExcitation(2, activation = hardswish, scale_activation = hardsigmoid),
        Flatten,
        Dense(2),
    }
}

#[test]
fn squeeze_excitation_matches_pytorch() {
    check::<SqueezeExcitationNet, _, _>("squeeze_excitation", dense_targets::<2>, &Mse);
}
