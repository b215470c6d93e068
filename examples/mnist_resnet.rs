//! A small ResNet on MNIST: a stem, then three stages of two residual blocks (8, 16 and 32
//! channels at 28×28, 14×14 and 7×7) with BatchNorm, the first block of the later stages
//! downsampling with a strided body and a projection shortcut; global average pooling and a
//! classifier. Adam, batch 64, the learning rate decaying from 2e-3 to 0 along a cosine over
//! the run. Each block is declared once and reused by name.
//!
//! The test set is measured after every epoch (Keras's `validation_data`) and reported
//! with a confusion matrix at the end; the training curves are drawn.
//!
//! ```text
//! cargo run --release --example mnist_resnet [-- --epochs 6]
//! cargo run --release --example mnist_resnet -- --help
//! ```

use clap::Parser;
use typed_nn::fit::CosineDecay;
use typed_nn::prelude::*;

mod common;

network! {
    /// Two 3×3 convolutions with BatchNorm, added to the block's input.
    pub struct Block8: [8, 28, 28] {
        Residual {
            Conv2d(8, 3, padding = 1, bias = false), BatchNorm2d, Relu,
            Conv2d(8, 3, padding = 1, bias = false), BatchNorm2d,
        },
        Relu,
    }
}

network! {
    /// A downsampling block: stride 2 in the body, a strided 1×1 projection on the shortcut.
    pub struct Down16: [8, 28, 28] {
        Residual {
            Conv2d(16, 3, stride = 2, padding = 1, bias = false), BatchNorm2d, Relu,
            Conv2d(16, 3, padding = 1, bias = false), BatchNorm2d,
        } shortcut {
            Conv2d(16, 1, stride = 2, bias = false), BatchNorm2d,
        },
        Relu,
    }
}

network! {
    pub struct Block16: [16, 14, 14] {
        Residual {
            Conv2d(16, 3, padding = 1, bias = false), BatchNorm2d, Relu,
            Conv2d(16, 3, padding = 1, bias = false), BatchNorm2d,
        },
        Relu,
    }
}

network! {
    pub struct Down32: [16, 14, 14] {
        Residual {
            Conv2d(32, 3, stride = 2, padding = 1, bias = false), BatchNorm2d, Relu,
            Conv2d(32, 3, padding = 1, bias = false), BatchNorm2d,
        } shortcut {
            Conv2d(32, 1, stride = 2, bias = false), BatchNorm2d,
        },
        Relu,
    }
}

network! {
    pub struct Block32: [32, 7, 7] {
        Residual {
            Conv2d(32, 3, padding = 1, bias = false), BatchNorm2d, Relu,
            Conv2d(32, 3, padding = 1, bias = false), BatchNorm2d,
        },
        Relu,
    }
}

network! {
    /// The whole ResNet: the shapes of every stage are checked where the blocks meet.
    pub struct MnistResNet: [1, 28, 28] {
        stem: Conv2d(8, 3, padding = 1, bias = false), bn: BatchNorm2d, Relu,
        stage1a: Net(Block8), stage1b: Net(Block8),
        stage2a: Net(Down16), stage2b: Net(Block16),
        stage3a: Net(Down32), stage3b: Net(Block32),
        GlobalAvgPool2d,
        out: Dense(10), Softmax,
    }
}

/// Trains a small ResNet on MNIST.
#[derive(Parser, Debug)]
struct Options {
    /// Passes over the training images.
    #[arg(long, default_value_t = 6)]
    epochs: usize,
    #[command(flatten)]
    mnist: common::MnistOptions,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = Options::parse();
    let mut model = MnistResNet::init(&mut Rng::seed(options.mnist.seed));
    print!("{}", MnistResNet::summary());
    let (train, test) = mnist::load_as::<Tensor3<1, 28, 28>>(&options.mnist.data)?;
    // Cosine decay: large steps while far from a minimum, small ones to settle in.
    let steps = options.epochs * train.len().div_ceil(options.mnist.batch_size.max(1));
    let history = options
        .mnist
        .trainer(CrossEntropy, Adam::new(2e-3))
        .epochs(options.epochs)
        .schedule(CosineDecay::new(2e-3, steps))
        .fit_validated(&mut model, &train, Some(&test))?;
    common::report_test(&model, &test)?;
    options.mnist.plot("mnist_resnet", &history)?;
    Ok(())
}
