//! The zoo of `tools/onnx_models.py zoo` (torchvision's resnet18, mobilenet_v2 and
//! squeezenet1_1 with random weights, a transformer encoder and an LSTM tagger, exported by `torch.onnx.export`),
//! imported while compiling, checked against onnxruntime's outputs written beside each file;
//! the CNNs timed at batch 1 and 32 (medians); resnet18 also converted to int8 and bf16.
//! The files are large and generated, so this example needs the `onnx-zoo` feature:
//!
//! ```sh
//! /path/to/venv/bin/python tools/onnx_models.py zoo
//! cargo run --release --features onnx-zoo --example onnx_zoo
//! ```

use std::time::Instant;
use typed_nn::layers::Layer;
use typed_nn::precision::Infer;
use typed_nn::prelude::*;

network! {
    /// torchvision's resnet18.
    pub struct Resnet18: onnx("target/onnx_zoo/resnet18.onnx")
}

network! {
    /// torchvision's mobilenet_v2.
    pub struct MobilenetV2: onnx("target/onnx_zoo/mobilenet_v2.onnx")
}

network! {
    /// torchvision's squeezenet1_1.
    pub struct Squeezenet11: onnx("target/onnx_zoo/squeezenet1_1.onnx")
}

network! {
    /// Two nn.TransformerEncoderLayer(64, 4 heads, 128 hidden) over [16, 64] sequences.
    pub struct TransformerEncoder: onnx("target/onnx_zoo/transformer_encoder.onnx")
}

network! {
    /// Embedding(100, 32), LSTM(64) over every step, Linear(64, 10) on each.
    pub struct LstmTagger: onnx("target/onnx_zoo/lstm_tagger.onnx")
}

/// The input and onnxruntime's output written beside a model.
fn io(name: &str) -> Result<(Vec<f32>, Vec<f32>), Box<dyn std::error::Error>> {
    let bytes = std::fs::read(format!("target/onnx_zoo/{name}.io.safetensors"))?;
    let file = safetensors::SafeTensors::deserialize(&bytes)?;
    let read = |n: &str| -> Result<Vec<f32>, Box<dyn std::error::Error>> {
        let t = file.tensor(n)?;
        Ok(if t.dtype() == safetensors::Dtype::I64 {
            // Token ids: typed-nn's batches hold them as floats.
            t.data()
                .chunks_exact(8)
                .map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes")) as f32)
                .collect()
        } else {
            t.data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect()
        })
    };
    Ok((read("input")?, read("output")?))
}

fn check<N: NetworkExt>(
    name: &str,
    net: &N,
    timed: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let (x, want) = io(name)?;
    let x = Batch::<N::In>::from_vec(x)?;
    let got = net.try_predict(&x)?;
    let error = got
        .as_slice()
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs() / b.abs().max(1.0))
        .fold(0.0f32, f32::max);
    let verdict = if error <= 1e-4 { "agrees" } else { "DISAGREES" };
    println!("{name}: {verdict} with onnxruntime (max relative error {error:.2e})");
    for batch in if timed { vec![1, 32] } else { Vec::new() } {
        let row = x.row(0).to_vec();
        let mut input = Batch::<N::In>::with_capacity(batch);
        for _ in 0..batch {
            input.push_slice(&row)?;
        }
        let mut y = net.predict(&input);
        let mut times = Vec::new();
        for _ in 0..if batch == 1 { 20 } else { 5 } {
            let start = Instant::now();
            net.predict_into(&input, &mut y);
            times.push(start.elapsed().as_secs_f64() * 1e3);
        }
        times.sort_by(f64::total_cmp);
        println!("  batch {batch}: median {:.2} ms", times[times.len() / 2]);
    }
    if error > 1e-4 {
        return Err(format!("{name} disagrees with onnxruntime").into());
    }
    Ok(())
}

/// Median milliseconds of `calls` inferences of `x` through `net`.
fn median_ms<N: Infer>(net: &N, x: &Batch<N::In>, calls: usize) -> f64 {
    let (mut ws, mut y) = (N::Workspace::default(), Batch::zeros(x.rows()));
    net.infer_batch(x, &mut y, &mut ws);
    let mut times: Vec<f64> = (0..calls)
        .map(|_| {
            let start = Instant::now();
            net.infer_batch(x, &mut y, &mut ws);
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// resnet18 converted to int8 (static: calibrated on the checked input and 7 noisy copies;
/// dynamic) and bf16: how far each lands from f32 on the checked input, and its batch-1
/// median next to f32's.
fn resnet_precisions(resnet: &Resnet18) -> Result<(), Box<dyn std::error::Error>> {
    let (x, _) = io("resnet18")?;
    let x = Batch::<<Resnet18 as Layer>::In>::from_vec(x)?;
    let mut rng = Rng::seed(0);
    let mut calibration = x.clone();
    for _ in 0..7 {
        let noisy: Vec<f32> = x
            .row(0)
            .iter()
            .map(|v| v + 0.1 * rng.uniform(-1.0, 1.0))
            .collect();
        calibration.push_slice(&noisy)?;
    }
    let want = resnet.predict(&x);
    let top = want.sample(0).argmax();
    let report = |name: &str, got: &Batch<<Resnet18 as Layer>::Out>, ms: f64| {
        let error = got
            .as_slice()
            .iter()
            .zip(want.as_slice())
            .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        let same = got.sample(0).argmax() == top;
        println!("  {name}: batch 1 median {ms:.2} ms; max |y − y_f32| {error:.3}; same top class: {same}");
    };
    report("f32", &want, median_ms(resnet, &x, 20));
    let int8 = resnet.to_precision::<Int8>(&calibration)?;
    report("int8", &int8.predict(&x), median_ms(&int8, &x, 20));
    let dynamic = resnet.to_precision::<Int8Dynamic>(&calibration)?;
    report(
        "int8 dynamic",
        &dynamic.predict(&x),
        median_ms(&dynamic, &x, 20),
    );
    let bf16 = resnet.to_precision::<Bf16>(&calibration)?;
    report("bf16", &bf16.predict(&x), median_ms(&bf16, &x, 20));
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("threads: {}", rayon::current_num_threads());
    let zoo = "target/onnx_zoo";
    let resnet = Resnet18::from_onnx_file(format!("{zoo}/resnet18.onnx"))?;
    check("resnet18", &resnet, true)?;
    resnet_precisions(&resnet)?;
    let mobilenet = MobilenetV2::from_onnx_file(format!("{zoo}/mobilenet_v2.onnx"))?;
    check("mobilenet_v2", &mobilenet, true)?;
    let squeezenet = Squeezenet11::from_onnx_file(format!("{zoo}/squeezenet1_1.onnx"))?;
    check("squeezenet1_1", &squeezenet, true)?;
    let encoder = TransformerEncoder::from_onnx_file(format!("{zoo}/transformer_encoder.onnx"))?;
    check("transformer_encoder", &encoder, false)?;
    let tagger = LstmTagger::from_onnx_file(format!("{zoo}/lstm_tagger.onnx"))?;
    check("lstm_tagger", &tagger, false)?;
    Ok(())
}
