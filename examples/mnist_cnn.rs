//! Trains workload E2's CNN on MNIST: 1×28×28 → Conv 32 k3 → pool → Conv 64 k3 → pool →
//! Flatten → Dense 128 → Dense 10, Adam 1e-3, batch 64. With `--bn`, the same network with
//! Conv-BatchNorm-ReLU blocks (convolutions without bias, as usual before BatchNorm) and
//! Dropout(0.5) before the classifier.
//!
//! The last tenth of the training images is held out for validation; the test set is
//! reported at the end with a confusion matrix, and the training curves are drawn.
//!
//! ```text
//! cargo run --release --example mnist_cnn [-- --bn --epochs 3]
//! cargo run --release --example mnist_cnn -- --help
//! ```

use clap::Parser;
use typed_nn::prelude::*;

mod common;

network! {
    /// Workload E2: two 3×3 convolutions with 2×2 max pooling, then two dense layers.
    pub struct MnistCnn: [1, 28, 28] {
        conv1: Conv2d(32, 3), Relu,
        MaxPool2d(2),
        conv2: Conv2d(64, 3), Relu,
        MaxPool2d(2),
        Flatten,
        fc: Dense(128), Relu,
        out: Dense(10), Softmax,
    }
}

network! {
    /// E2 with Conv-BatchNorm-ReLU blocks and dropout before the classifier.
    pub struct MnistCnnBn: [1, 28, 28] {
        conv1: Conv2d(32, 3, bias = false), bn1: BatchNorm2d, Relu,
        MaxPool2d(2),
        conv2: Conv2d(64, 3, bias = false), bn2: BatchNorm2d, Relu,
        MaxPool2d(2),
        Flatten,
        fc: Dense(128), Relu,
        Dropout(0.5),
        out: Dense(10), Softmax,
    }
}

/// Trains workload E2's CNN (or, with --bn, its BatchNorm and Dropout variant) on MNIST.
#[derive(Parser, Debug)]
struct Options {
    /// Conv-BatchNorm-ReLU blocks and Dropout(0.5) before the classifier.
    #[arg(long)]
    bn: bool,
    /// Passes over the training images.
    #[arg(long, default_value_t = 3)]
    epochs: usize,
    /// Fraction of the training images held out for validation.
    #[arg(long, default_value_t = 0.1)]
    validation_split: f32,
    #[command(flatten)]
    mnist: common::MnistOptions,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = Options::parse();
    let mut rng = Rng::seed(options.mnist.seed);
    if options.bn {
        print!("{}", MnistCnnBn::summary());
        run(MnistCnnBn::init(&mut rng), &options)
    } else {
        print!("{}", MnistCnn::summary());
        run(MnistCnn::init(&mut rng), &options)
    }
}

/// Trains `model`, then reports the test set and draws the curves.
fn run<N>(mut model: N, options: &Options) -> Result<(), Box<dyn std::error::Error>>
where
    N: Network<In = Tensor3<1, 28, 28>, Out = Tensor1<10>, Head = Softmax> + Send,
{
    let (train, test) = mnist::load_as::<Tensor3<1, 28, 28>>(&options.mnist.data)?;
    println!("{} training and {} test images", train.len(), test.len());
    let history = options
        .mnist
        .trainer(CrossEntropy, Adam::new(1e-3))
        .epochs(options.epochs)
        .validation_split(options.validation_split)
        .fit(&mut model, &train)?;
    common::report_test(&model, &test)?;
    options.mnist.plot(
        if options.bn {
            "mnist_cnn_bn"
        } else {
            "mnist_cnn"
        },
        &history,
    )?;
    Ok(())
}
