//! A CNN trained in PyTorch (`tools/onnx_models.py mnist`, on the MNIST images shipped in
//! `data/mnist/`), exported to ONNX, imported here while compiling: its layers come from
//! the file, its shapes are checked by the macro like any network's, its weights are
//! embedded in the program. It is evaluated on the test images (the accuracy PyTorch
//! measured is in `examples/onnx/mnist_cnn.json`), fine-tuned for an epoch in typed-nn, and
//! written back to ONNX (`--out`, default `target/mnist_cnn_finetuned.onnx`).
//!
//! cargo run --release --example onnx_import

use clap::Parser;
use typed_nn::prelude::*;

mod common;

network! {
    /// The PyTorch model, as its ONNX file describes it.
    pub struct MnistCnn: onnx("examples/onnx/mnist_cnn.onnx")
}

#[derive(Parser, Debug)]
struct Options {
    /// Passes over the training images when fine-tuning.
    #[arg(long, default_value_t = 1)]
    epochs: usize,
    /// Where to write the fine-tuned network as ONNX.
    #[arg(long, default_value = "target/mnist_cnn_finetuned.onnx")]
    out: std::path::PathBuf,
    #[command(flatten)]
    mnist: common::MnistOptions,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = Options::parse();
    print!("{}", MnistCnn::summary());
    let mut model = MnistCnn::from_embedded_onnx()?;
    let (train, test) = mnist::load_as::<Tensor3<1, 28, 28>>(&options.mnist.data)?;
    let recorded = std::fs::read_to_string("examples/onnx/mnist_cnn.json").unwrap_or_default();
    println!("PyTorch's record of the model: {}", recorded.trim());
    let imported = model.accuracy(&test)?;
    println!(
        "imported from ONNX: test accuracy {:.2} % ({} of {})",
        100.0 * imported,
        (imported * test.len() as f32).round(),
        test.len()
    );
    options
        .mnist
        .trainer(CrossEntropy, Adam::new(1e-4))
        .epochs(options.epochs)
        .fit(&mut model, &train)?;
    let tuned = model.accuracy(&test)?;
    println!(
        "fine-tuned in typed-nn ({} epoch{}): test accuracy {:.2} %",
        options.epochs,
        if options.epochs == 1 { "" } else { "s" },
        100.0 * tuned
    );
    if let Some(dir) = options.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    model.save_onnx(&options.out)?;
    println!("written to {}", options.out.display());
    Ok(())
}
