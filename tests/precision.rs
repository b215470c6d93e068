//! Int8 (static and dynamic) and bf16 networks converted from f32 ones: agreement with the
//! f32 network within the precision's error, save and load, and typed errors on bad files.
//! Accuracy on real data is in `examples/precision.rs` (README).

use typed_nn::kernels::lowp::{Bf16Arch, Int8Arch};
use typed_nn::precision::Lowered;
use typed_nn::prelude::*;

network! {
    pub struct Mlp: [784] {
        fc1: Dense(64), Relu,
        fc2: Dense(32), Tanh,
        out: Dense(10), Softmax,
    }
}

network! {
    pub struct Cnn: [1, 12, 12] {
        conv1: Conv2d(8, 3), Relu,
        MaxPool2d(2),
        conv2: Conv2d(6, 3, padding = 1, bias = false), Relu,
        Flatten,
        out: Dense(10),
    }
}

fn inputs<S: Sample>(rows: usize, seed: u64) -> Batch<S> {
    let mut rng = Rng::seed(seed);
    let mut x = Batch::<S>::zeros(rows);
    rng.fill_uniform(x.as_mut_slice(), 1.0);
    // Non-negative like pixels, with a few negative values to exercise the zero point.
    for (i, v) in x.as_mut_slice().iter_mut().enumerate() {
        if i % 7 != 0 {
            *v = v.abs();
        }
    }
    x
}

/// The largest |a − b| over two batches.
fn max_diff<S: Sample>(a: &Batch<S>, b: &Batch<S>) -> f32 {
    a.as_slice()
        .iter()
        .zip(b.as_slice())
        .fold(0.0, |m, (x, y)| m.max((x - y).abs()))
}

/// The largest |value| of a batch, the scale errors are measured against.
fn max_abs<S: Sample>(a: &Batch<S>) -> f32 {
    a.as_slice().iter().fold(0.0, |m, x| m.max(x.abs()))
}

#[test]
fn paths_that_ran() {
    // Which low-precision kernels this machine has: the tests below ran on the widest.
    println!(
        "int8 paths: {:?}; bf16 paths: {:?}; AMX: {:?}",
        Int8Arch::available(),
        Bf16Arch::available(),
        typed_nn::kernels::lowp::amx::amx()
    );
}

#[test]
fn mlp_in_each_precision_agrees_with_f32() {
    let model = Mlp::init(&mut Rng::seed(1));
    let calibration = inputs::<Tensor1<784>>(64, 2);
    let x = inputs::<Tensor1<784>>(32, 3);
    let want = model.predict(&x);

    let int8: Lowered<Mlp, Int8> = model.to_precision::<Int8>(&calibration).unwrap();
    let dynamic: MlpLowered<Int8Dynamic> =
        model.to_precision::<Int8Dynamic>(&Batch::zeros(0)).unwrap();
    let bf16: MlpLowered<Bf16> = model.to_precision::<Bf16>(&Batch::zeros(0)).unwrap();
    // Softmax outputs in [0, 1]. Tolerances: 7-bit activations and 8-bit weights through
    // three layers (≈ 1 % of the logits' range), bf16's 8-bit mantissa (≈ 0.4 %).
    let (e8, ed, eb) = (
        max_diff(&int8.predict(&x), &want),
        max_diff(&dynamic.predict(&x), &want),
        max_diff(&bf16.predict(&x), &want),
    );
    println!("MLP max |diff| from f32: int8 {e8:.2e}, dynamic {ed:.2e}, bf16 {eb:.2e}");
    assert!(e8 < 0.03, "int8 {e8}");
    assert!(ed < 0.03, "int8 dynamic {ed}");
    assert!(eb < 0.01, "bf16 {eb}");
    // Not the f32 network under another name: the outputs differ.
    assert!(e8 > 0.0 && eb > 0.0);
    // Same argmax on nearly every sample.
    let agree = (0..x.rows())
        .filter(|&r| int8.predict(&x).sample(r).argmax() == want.sample(r).argmax())
        .count();
    assert!(agree >= 30, "{agree} of 32 agree");
    // One sample and a batch of one give the batch's row.
    let one = int8.forward(&x.sample(5));
    assert_eq!(one.as_slice(), int8.predict(&x).row(5));
}

#[test]
fn cnn_in_each_precision_agrees_with_f32() {
    let model = Cnn::init(&mut Rng::seed(4));
    let calibration = inputs::<Tensor3<1, 12, 12>>(16, 5);
    let x = inputs::<Tensor3<1, 12, 12>>(8, 6);
    let want = model.predict(&x);
    let scale = max_abs(&want);
    let int8 = model.to_precision::<Int8>(&calibration).unwrap();
    let dynamic = model.to_precision::<Int8Dynamic>(&calibration).unwrap();
    let bf16 = model.to_precision::<Bf16>(&calibration).unwrap();
    let (e8, ed, eb) = (
        max_diff(&int8.predict(&x), &want) / scale,
        max_diff(&dynamic.predict(&x), &want) / scale,
        max_diff(&bf16.predict(&x), &want) / scale,
    );
    println!("CNN max |diff| / max |y|: int8 {e8:.2e}, dynamic {ed:.2e}, bf16 {eb:.2e}");
    assert!(e8 < 0.05 && ed < 0.05, "int8 {e8}, dynamic {ed}");
    assert!(eb < 0.02, "bf16 {eb}");
}

#[test]
fn the_kernels_paths_give_the_same_int8_network_outputs() {
    // Int8 sums are exact on every path: forcing the scalar path changes nothing.
    let model = Cnn::init(&mut Rng::seed(7));
    let x = inputs::<Tensor3<1, 12, 12>>(4, 8);
    let int8 = model.to_precision::<Int8>(&x).unwrap();
    let widest = int8.predict(&x);
    let chosen = typed_nn::kernels::isa();
    typed_nn::kernels::set_isa(typed_nn::kernels::Isa::Scalar).unwrap();
    let scalar = int8.predict(&x);
    typed_nn::kernels::set_isa(chosen).unwrap();
    // The f32 epilogue (activations) may round differently on SIMD paths.
    assert!(max_diff(&widest, &scalar) <= 1e-5 * max_abs(&widest).max(1.0));
}

#[test]
fn lowered_networks_save_and_load() {
    let model = Cnn::init(&mut Rng::seed(9));
    let x = inputs::<Tensor3<1, 12, 12>>(4, 10);
    let int8 = model.to_precision::<Int8>(&x).unwrap();
    let bytes = int8.to_bytes().unwrap();
    let back = CnnLowered::<Int8>::from_bytes(&bytes).unwrap();
    assert_eq!(back.predict(&x).as_slice(), int8.predict(&x).as_slice());
    // Int8 weights are stored as int8: the file is about a quarter of the f32 one.
    let f32_len = typed_nn::io::safetensors::to_bytes(&model).unwrap().len();
    println!("CNN file: f32 {f32_len} B, int8 {} B", bytes.len());

    let bf16 = model.to_precision::<Bf16>(&x).unwrap();
    let dir = std::env::temp_dir().join(format!("typed-nn-precision-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("cnn-bf16.safetensors");
    bf16.save(&path).unwrap();
    let back = CnnLowered::<Bf16>::load(&path).unwrap();
    assert_eq!(back.predict(&x).as_slice(), bf16.predict(&x).as_slice());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_file_of_another_precision_or_network_is_a_typed_error() {
    let model = Mlp::init(&mut Rng::seed(11));
    let x = inputs::<Tensor1<784>>(4, 12);
    let static_bytes = model.to_precision::<Int8>(&x).unwrap().to_bytes().unwrap();
    let bf16_bytes = model.to_precision::<Bf16>(&x).unwrap().to_bytes().unwrap();
    // A static file read as dynamic: its input scales are tensors the type lacks.
    let err = MlpLowered::<Int8Dynamic>::from_bytes(&static_bytes)
        .err()
        .unwrap();
    assert!(matches!(err, Error::WeightsMismatch { .. }), "{err}");
    // A bf16 file read as int8: a weight of the wrong dtype, named.
    let err = MlpLowered::<Int8>::from_bytes(&bf16_bytes).err().unwrap();
    assert!(err.to_string().contains("fc1.weight"), "{err}");
    // An f32 file is not a low-precision one.
    let f32_bytes = typed_nn::io::safetensors::to_bytes(&model).unwrap();
    assert!(MlpLowered::<Bf16>::from_bytes(&f32_bytes).is_err());
    // Truncated and corrupt files.
    for cut in [0, 7, static_bytes.len() / 2, static_bytes.len() - 1] {
        let err = MlpLowered::<Int8>::from_bytes(&static_bytes[..cut])
            .err()
            .unwrap();
        assert!(matches!(err, Error::CorruptWeights { .. }), "{cut}: {err}");
    }
}

#[test]
fn static_int8_needs_calibration_inputs() {
    let model = Mlp::init(&mut Rng::seed(13));
    let err = model.to_precision::<Int8>(&Batch::zeros(0)).err().unwrap();
    assert!(matches!(err, Error::EmptyDataset), "{err}");
}

#[test]
fn non_finite_inputs_do_not_panic() {
    let model = Mlp::init(&mut Rng::seed(14));
    let mut x = inputs::<Tensor1<784>>(3, 15);
    x.as_mut_slice()[0] = f32::NAN;
    x.as_mut_slice()[900] = f32::INFINITY;
    let dynamic = model.to_precision::<Int8Dynamic>(&x).unwrap();
    let y = dynamic.predict(&x);
    assert_eq!(y.rows(), 3);
    let int8 = model.to_precision::<Int8>(&x).unwrap();
    assert!(int8.predict(&x).as_slice().iter().all(|v| v.is_finite()));
}

network! {
    pub struct Recurrences: [9, 5] {
        lstm: LSTM(12, return_sequences = true),
        gru: GRU(8, return_sequences = true),
        rnn: SimpleRNN(6),
        out: Dense(3),
    }
}

#[test]
fn recurrences_in_each_precision_agree_with_f32() {
    let model = Recurrences::init(&mut Rng::seed(16));
    let x = inputs::<Tensor2<9, 5>>(6, 17);
    let want = model.predict(&x);
    let scale = max_abs(&want).max(0.1);
    let int8 = model.to_precision::<Int8>(&x).unwrap();
    let bf16 = model.to_precision::<Bf16>(&x).unwrap();
    let (e8, eb) = (
        max_diff(&int8.predict(&x), &want) / scale,
        max_diff(&bf16.predict(&x), &want) / scale,
    );
    println!("recurrences max |diff| / max |y|: int8 {e8:.2e}, bf16 {eb:.2e}");
    assert!(e8 < 0.05 && e8 > 0.0, "int8 {e8}");
    assert!(eb < 0.02 && eb > 0.0, "bf16 {eb}");
    // One sequence (the simple RNN's fused single-row recurrence, with its input quantised
    // on its own range) and variable lengths.
    let one = int8.forward(&x.sample(2));
    let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(a, b)| (a - b).abs() < 0.05 * scale);
    assert!(close(one.as_slice(), want.row(2)));
    let short = x.clone().with_lengths(&[9, 3, 5, 9, 1, 7]).unwrap();
    let (got, want) = (bf16.predict(&short), model.predict(&short));
    assert!(max_diff(&got, &want) / scale < 0.02);
    let back = RecurrencesLowered::<Int8>::from_bytes(&int8.to_bytes().unwrap()).unwrap();
    assert_eq!(back.predict(&x).as_slice(), int8.predict(&x).as_slice());
}

network! {
    pub struct GenericMlp<const IN: usize, const OUT: usize>: [IN] {
        fc: Dense(16), Relu,
        out: Dense(OUT),
    }
}

#[test]
fn generic_networks_convert_per_instantiation() {
    let model = GenericMlp::<20, 3>::init(&mut Rng::seed(18));
    let x = inputs::<Tensor1<20>>(5, 19);
    let int8: GenericMlpLowered<Int8, 20, 3> = model.to_precision::<Int8>(&x).unwrap();
    let want = model.predict(&x);
    assert!(max_diff(&int8.predict(&x), &want) < 0.05 * max_abs(&want));
}

network! {
    pub struct Blocks: [4, 8, 8] {
        stem: Conv2d(8, 3, padding = 1, bias = false), bn: BatchNorm2d, Relu,
        block: Residual {
            Conv2d(8, 3, padding = 1), Relu,
            Conv2d(8, 3, padding = 1),
        },
        Relu,
        mix: Add {
            a: { Conv2d(8, 1) },
            b: { Conv2d(8, 3, padding = 1), Relu },
            c: {},
        },
        GlobalAvgPool2d,
        out: Dense(5),
    }
}

network! {
    pub struct Attend: [6, 16] {
        attn: MultiHeadAttention(4, 16),
        norm: LayerNorm,
        Flatten,
        out: Dense(3),
    }
}

#[test]
fn residual_blocks_and_attention_convert() {
    let model = Blocks::init(&mut Rng::seed(20));
    let x = inputs::<Tensor3<4, 8, 8>>(6, 21);
    let want = model.predict(&x);
    let scale = max_abs(&want).max(0.1);
    for (name, got) in [
        ("int8", model.to_precision::<Int8>(&x).unwrap().predict(&x)),
        ("bf16", model.to_precision::<Bf16>(&x).unwrap().predict(&x)),
    ] {
        let e = max_diff(&got, &want) / scale;
        println!("residual network, {name}: max |diff| / max |y| = {e:.2e}");
        assert!(e > 0.0 && e < 0.05, "{name} {e}");
    }
    let int8 = model.to_precision::<Int8>(&x).unwrap();
    let back = BlocksLowered::<Int8>::from_bytes(&int8.to_bytes().unwrap()).unwrap();
    assert_eq!(back.predict(&x).as_slice(), int8.predict(&x).as_slice());

    let model = Attend::init(&mut Rng::seed(22));
    let x = inputs::<Tensor2<6, 16>>(5, 23);
    let want = model.predict(&x);
    let scale = max_abs(&want).max(0.1);
    for (name, got) in [
        (
            "int8",
            model.to_precision::<Int8Dynamic>(&x).unwrap().predict(&x),
        ),
        ("bf16", model.to_precision::<Bf16>(&x).unwrap().predict(&x)),
    ] {
        let e = max_diff(&got, &want) / scale;
        println!("attention network, {name}: max |diff| / max |y| = {e:.2e}");
        assert!(e > 0.0 && e < 0.05, "{name} {e}");
    }
    let bf16 = model.to_precision::<Bf16>(&x).unwrap();
    let back = AttendLowered::<Bf16>::from_bytes(&bf16.to_bytes().unwrap()).unwrap();
    assert_eq!(back.predict(&x).as_slice(), bf16.predict(&x).as_slice());
}
