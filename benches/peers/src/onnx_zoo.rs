//! O1–O4 in typed-nn: torchvision's resnet18 and mobilenet_v2 as `tools/onnx_models.py zoo`
//! exports them, imported by `network!` while compiling (the path is relative to this
//! crate), their weights read from the same files at run time, as examples/onnx_zoo.rs does.

use crate::harness::{self, Budget, Outcome};
use crate::ZOO_DIR;
use typed_nn::prelude::*;

network! {
    /// torchvision's resnet18.
    pub struct Resnet18: onnx("../../target/onnx_zoo/resnet18.onnx")
}

network! {
    /// torchvision's mobilenet_v2.
    pub struct MobilenetV2: onnx("../../target/onnx_zoo/mobilenet_v2.onnx")
}

pub fn run(model: &str, batch: usize, budget: &Budget) -> Result<Outcome, String> {
    let path = format!("{ZOO_DIR}/{model}.onnx");
    let e = |e: typed_nn::Error| format!("{path}: {e}");
    match model {
        "resnet18" => time(&Resnet18::from_onnx_file(&path).map_err(e)?, batch, budget),
        "mobilenet_v2" => time(
            &MobilenetV2::from_onnx_file(&path).map_err(e)?,
            batch,
            budget,
        ),
        other => Err(format!("no model {other} in the zoo")),
    }
}

/// `predict` on a batch of uniform [0, 1) images, batch 1 included, as examples/onnx_zoo.rs
/// times it (`forward` on one [3, 224, 224] sample overflowed the main thread's 8 MiB stack).
fn time<N: NetworkExt>(net: &N, batch: usize, budget: &Budget) -> Result<Outcome, String> {
    let x = Batch::<N::In>::from_vec(harness::uniform(batch * <N::In as Sample>::LEN, 1))
        .map_err(|e| e.to_string())?;
    Ok(Outcome::Timed(harness::time(budget, || {
        net.predict(&x).rows()
    })))
}
