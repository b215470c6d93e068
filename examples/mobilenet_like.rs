//! A MobileNetV3-style classifier on MNIST: a strided stem to 16×14×14, then three inverted
//! residual blocks, each a 1×1 expansion, a depthwise 3×3 convolution (`groups` = channels),
//! squeeze-and-excitation with MobileNetV3's hard sigmoid gate, and a linear 1×1 projection,
//! BatchNorm after every convolution and Hardswish between; the block's input is added back
//! where its shape is kept (Residual), the middle block downsamples to 24×7×7 and has no
//! shortcut, as in MobileNet. A 1×1 convolution to 96 channels, global average pooling and a
//! classifier end it. Adam 2e-3, batch 64, the test set measured after every epoch.
//!
//! ```text
//! cargo run --release --example mobilenet_like [-- --epochs 3]
//! cargo run --release --example mobilenet_like -- --help
//! ```

use clap::Parser;
use std::time::Instant;
use typed_nn::prelude::*;

mod common;

network! {
    /// Stem, three inverted residual blocks, a 1×1 head and the classifier.
    pub struct MobileNetLike: [1, 28, 28] {
        stem: Conv2d(16, 3, stride = 2, padding = 1, bias = false), BatchNorm2d, Hardswish,
        // 16×14×14, expanded 3×: the block keeps the shape, so its input is added back.
        block1: Residual {
            Conv2d(48, 1, bias = false), BatchNorm2d, Hardswish,
            Conv2d(48, 3, padding = 1, groups = 48, bias = false), BatchNorm2d, Hardswish,
            SqueezeExcitation(12, scale_activation = hardsigmoid),
            Conv2d(16, 1, bias = false), BatchNorm2d,
        },
        // Downsampling to 24×7×7 with a strided depthwise convolution: no shortcut.
        block2: Conv2d(64, 1, bias = false), BatchNorm2d, Hardswish,
        Conv2d(64, 3, stride = 2, padding = 1, groups = 64, bias = false), BatchNorm2d, Hardswish,
        SqueezeExcitation(16, scale_activation = hardsigmoid),
        Conv2d(24, 1, bias = false), BatchNorm2d,
        block3: Residual {
            Conv2d(72, 1, bias = false), BatchNorm2d, Hardswish,
            Conv2d(72, 3, padding = 1, groups = 72, bias = false), BatchNorm2d, Hardswish,
            SqueezeExcitation(18, scale_activation = hardsigmoid),
            Conv2d(24, 1, bias = false), BatchNorm2d,
        },
        head: Conv2d(96, 1, bias = false), BatchNorm2d, Hardswish,
        GlobalAvgPool2d,
        out: Dense(10), Softmax,
    }
}

/// Trains a MobileNetV3-style network (depthwise convolutions, squeeze-and-excitation,
/// Hardswish) on MNIST.
#[derive(Parser, Debug)]
struct Options {
    /// Passes over the training images.
    #[arg(long, default_value_t = 3)]
    epochs: usize,
    /// Learning rate of Adam.
    #[arg(long, default_value_t = 2e-3)]
    lr: f32,
    #[command(flatten)]
    mnist: common::MnistOptions,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = Options::parse();
    let started = Instant::now();
    let mut model = MobileNetLike::init(&mut Rng::seed(options.mnist.seed));
    print!("{}", MobileNetLike::summary());
    let (train, test) = mnist::load_as::<Tensor3<1, 28, 28>>(&options.mnist.data)?;
    println!("{} training and {} test images", train.len(), test.len());
    let history = options
        .mnist
        .trainer(CrossEntropy, Adam::new(options.lr))
        .epochs(options.epochs)
        .fit_validated(&mut model, &train, Some(&test))?;
    if let Some(accuracy) = history.get("val_accuracy") {
        for (epoch, a) in accuracy.iter().enumerate() {
            println!("epoch {}: test accuracy {:.2}%", epoch + 1, 100.0 * a);
        }
    }
    common::report_test(&model, &test)?;
    println!("{:.1} s in all", started.elapsed().as_secs_f64());
    options.mnist.plot("mobilenet_like", &history)?;
    Ok(())
}
