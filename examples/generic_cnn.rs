//! Generic convolution blocks on MNIST: `ConvBlock<C_IN, C_OUT, H, W>`, two same-padded
//! convolutions at any channel counts and image size, reused at two widths in one CNN; and
//! `AnySizeCnn<H, W>`, a CNN generic over its image size (every size after its first layer
//! computed from `H` and `W`), trained on the 28×28 images and, as `AnySizeCnn<20, 20>`, on
//! their central 20×20 crops.
//!
//! ```text
//! cargo run --release --example generic_cnn [-- --epochs 1]
//! ```

use clap::Parser;
use typed_nn::prelude::*;

mod common;

network! {
    /// Two 3×3 same-padded convolutions, VGG style, at any widths and image size.
    pub struct ConvBlock<const C_IN: usize, const C_OUT: usize, const H: usize, const W: usize>: [C_IN, H, W] {
        Conv2d(C_OUT, 3, padding = same), Relu,
        Conv2d(C_OUT, 3, padding = same), Relu,
    }
}

network! {
    /// The block at 1 → 16 channels on 28×28, then at 16 → 32 on 14×14.
    pub struct BlockCnn: [1, 28, 28] {
        Net(ConvBlock::<1, 16, 28, 28>), MaxPool2d(2),
        Net(ConvBlock::<16, 32, 14, 14>), MaxPool2d(2),
        Flatten,
        Dense(10), Softmax,
    }
}

network! {
    /// A CNN over images of any size.
    pub struct AnySizeCnn<const H: usize, const W: usize>: [1, H, W] {
        Conv2d(16, 3), Relu, MaxPool2d(2),
        Conv2d(32, 3), Relu, MaxPool2d(2),
        Flatten,
        Dense(10), Softmax,
    }
}

/// Trains CNNs built from generic definitions on MNIST.
#[derive(Parser, Debug)]
struct Options {
    /// Passes over the training images, for each network.
    #[arg(long, default_value_t = 1)]
    epochs: usize,
    #[command(flatten)]
    mnist: common::MnistOptions,
}

/// The central 20×20 pixels of each 28×28 image.
fn crop(
    data: &Dataset<Tensor3<1, 28, 28>, Class<10>>,
) -> Result<Dataset<Tensor3<1, 20, 20>, Class<10>>, Error> {
    let mut pixels = Vec::with_capacity(data.len() * 400);
    let mut labels = Vec::with_capacity(data.len());
    for i in 0..data.len() {
        let image = data.input_slice(i);
        for row in image.chunks_exact(28).skip(4).take(20) {
            pixels.extend_from_slice(&row[4..24]);
        }
        labels.push(*data.target(i));
    }
    Dataset::new(pixels, labels)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = Options::parse();
    let mut rng = Rng::seed(options.mnist.seed);
    let (train, test) = mnist::load_as::<Tensor3<1, 28, 28>>(&options.mnist.data)?;

    let mut blocks = BlockCnn::init(&mut rng);
    print!("{}", BlockCnn::summary());
    let history = options
        .mnist
        .trainer(CrossEntropy, Adam::new(1e-3))
        .epochs(options.epochs)
        .fit(&mut blocks, &train)?;
    println!("BlockCnn (ConvBlock<1, 16, 28, 28>, ConvBlock<16, 32, 14, 14>):");
    common::report_test(&blocks, &test)?;
    options.mnist.plot("generic_cnn", &history)?;

    let mut full = AnySizeCnn::<28, 28>::init(&mut rng);
    print!("{}", AnySizeCnn::<28, 28>::summary());
    options
        .mnist
        .trainer(CrossEntropy, Adam::new(1e-3))
        .epochs(options.epochs)
        .fit(&mut full, &train)?;
    println!("AnySizeCnn<28, 28>:");
    common::report_test(&full, &test)?;

    let (train, test) = (crop(&train)?, crop(&test)?);
    let mut cropped = AnySizeCnn::<20, 20>::init(&mut rng);
    print!("{}", AnySizeCnn::<20, 20>::summary());
    options
        .mnist
        .trainer(CrossEntropy, Adam::new(1e-3))
        .epochs(options.epochs)
        .fit(&mut cropped, &train)?;
    println!("AnySizeCnn<20, 20> on the central 20×20 crops:");
    common::report_test(&cropped, &test)?;
    Ok(())
}
