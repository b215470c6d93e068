//! Networks imported from ONNX files at compile time (`network! { … : onnx("…") }`): the
//! PyTorch parity models, exported by `tools/onnx_models.py fixtures` with
//! `torch.onnx.export`, must give onnxruntime's outputs (written beside each file by the
//! same script) to 1e-4, relative to max(1, |onnxruntime's value|).

use typed_nn::network;
use typed_nn::prelude::*;

/// The input and onnxruntime's output of a fixture.
fn io(case: &str) -> (Vec<f32>, Vec<f32>) {
    let path = format!(
        "{}/tests/fixtures/onnx/{case}.io.safetensors",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(path).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let read = |name: &str| -> Vec<f32> {
        let t = file.tensor(name).unwrap();
        t.data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    };
    (read("input"), read("output"))
}

/// The largest error of `got` against `want`, relative to max(1, |want|).
fn max_error(got: &[f32], want: &[f32]) -> f32 {
    assert_eq!(got.len(), want.len());
    got.iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs() / b.abs().max(1.0))
        .fold(0.0, f32::max)
}

/// Imports the fixture `$case` as `$net` and checks it in a test of the same name.
macro_rules! imported {
    ($($case:ident: $net:ident = $file:literal;)*) => {
        $(
            network! { struct $net: onnx($file) }

            #[test]
            fn $case() {
                let net = $net::from_onnx_file($file).unwrap();
                let (x, want) = io(stringify!($case));
                let x = Batch::from_vec(x).unwrap();
                let got = net.try_predict(&x).unwrap();
                let error = max_error(got.as_slice(), &want);
                assert!(error <= 1e-4, "{}: error {error}", stringify!($case));
            }
        )*
    };
}

imported! {
    dense: Dense = "tests/fixtures/onnx/dense.onnx";
    dropout_eval: DropoutEval = "tests/fixtures/onnx/dropout_eval.onnx";
    identity: IdentityNet = "tests/fixtures/onnx/identity.onnx";
    act_elu: ActElu = "tests/fixtures/onnx/act_elu.onnx";
    act_hardsigmoid: ActHardsigmoid = "tests/fixtures/onnx/act_hardsigmoid.onnx";
    act_hardswish: ActHardswish = "tests/fixtures/onnx/act_hardswish.onnx";
    act_prelu: ActPrelu = "tests/fixtures/onnx/act_prelu.onnx";
    act_relu6: ActRelu6 = "tests/fixtures/onnx/act_relu6.onnx";
    act_silu: ActSilu = "tests/fixtures/onnx/act_silu.onnx";
    cnn: Cnn = "tests/fixtures/onnx/cnn.onnx";
    concat: ConcatNet = "tests/fixtures/onnx/concat.onnx";
    conv1d: Conv1dNet = "tests/fixtures/onnx/conv1d.onnx";
    conv_dilation: ConvDilation = "tests/fixtures/onnx/conv_dilation.onnx";
    conv_stride_pad: ConvStridePad = "tests/fixtures/onnx/conv_stride_pad.onnx";
    depthwise: Depthwise = "tests/fixtures/onnx/depthwise.onnx";
    avgpool1d: Avgpool1d = "tests/fixtures/onnx/avgpool1d.onnx";
    batchnorm1d_seq: Batchnorm1dSeq = "tests/fixtures/onnx/batchnorm1d_seq.onnx";
    batchnorm_eval: BatchnormEval = "tests/fixtures/onnx/batchnorm_eval.onnx";
    conv_transpose1d: ConvTranspose1dNet = "tests/fixtures/onnx/conv_transpose1d.onnx";
    conv_transpose2d: ConvTranspose2dNet = "tests/fixtures/onnx/conv_transpose2d.onnx";
    instancenorm1d: Instancenorm1d = "tests/fixtures/onnx/instancenorm1d.onnx";
    instancenorm2d: Instancenorm2d = "tests/fixtures/onnx/instancenorm2d.onnx";
    layernorm: Layernorm = "tests/fixtures/onnx/layernorm.onnx";
    permute: PermuteNet = "tests/fixtures/onnx/permute.onnx";
    permute3: Permute3 = "tests/fixtures/onnx/permute3.onnx";
    pixel_shuffle: PixelShuffleNet = "tests/fixtures/onnx/pixel_shuffle.onnx";
    reshape: ReshapeNet = "tests/fixtures/onnx/reshape.onnx";
    upsample: UpsampleNet = "tests/fixtures/onnx/upsample.onnx";
    upsample_align_corners: UpsampleAlignCorners = "tests/fixtures/onnx/upsample_align_corners.onnx";
    upsample_linear: UpsampleLinear = "tests/fixtures/onnx/upsample_linear.onnx";
    rnn: RnnNet = "tests/fixtures/onnx/rnn.onnx";
    lstm: LstmNet = "tests/fixtures/onnx/lstm.onnx";
    gru: GruNet = "tests/fixtures/onnx/gru.onnx";
    bilstm: Bilstm = "tests/fixtures/onnx/bilstm.onnx";
    step_ce: StepCe = "tests/fixtures/onnx/step_ce.onnx";
    residual: ResidualNet = "tests/fixtures/onnx/residual.onnx";
    batchnorm: Batchnorm = "tests/fixtures/onnx/batchnorm.onnx";
    pools: Pools = "tests/fixtures/onnx/pools.onnx";
    zeropad2d: Zeropad2d = "tests/fixtures/onnx/zeropad2d.onnx";
    act_mish: ActMish = "tests/fixtures/onnx/act_mish.onnx";
    act_glu: ActGlu = "tests/fixtures/onnx/act_glu.onnx";
    squeeze_excitation: SqueezeExcitationNet = "tests/fixtures/onnx/squeeze_excitation.onnx";
    transformer: Transformer = "tests/fixtures/onnx/transformer.onnx";
    attention_causal: AttentionCausal = "tests/fixtures/onnx/attention_causal.onnx";
    groupnorm: Groupnorm = "tests/fixtures/onnx/groupnorm.onnx";
}

// The steps are a named dimension in the file (`steps`): a const parameter of the network.
network! { struct PerStepDynamic: onnx("tests/fixtures/onnx/per_step_dynamic.onnx") }

#[test]
fn a_named_dimension_is_a_parameter_of_the_network() {
    let path = "tests/fixtures/onnx/per_step_dynamic.onnx";
    let net = PerStepDynamic::<5>::from_onnx_file(path).unwrap();
    let (x, want) = io("per_step_dynamic");
    let got = net.predict(&Batch::from_vec(x).unwrap());
    let error = max_error(got.as_slice(), &want);
    assert!(error <= 1e-4, "error {error}");
    // Other lengths are other types, from the same file.
    let longer = PerStepDynamic::<9>::from_onnx_file(path).unwrap();
    assert_eq!(longer.predict(&Batch::zeros(2)).rows(), 2);
    assert_eq!(<PerStepDynamic<9> as Layer>::Out::SHAPE, &[9, 3]);
}
