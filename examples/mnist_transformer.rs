//! A transformer encoder on MNIST: each image as 28 tokens (its rows) of 28 pixels, projected
//! to 64 features per token, a learned positional embedding, two pre-norm encoder blocks
//! (self-attention with 4 heads, then a GELU MLP, each in a residual join), and a classifier
//! on the flattened tokens. Adam 1e-3, batch 64.
//!
//! The test set is measured after every epoch (Keras's `validation_data`) and reported
//! with a confusion matrix at the end; the training curves are drawn.
//!
//! ```text
//! cargo run --release --example mnist_transformer [-- --epochs 5]
//! cargo run --release --example mnist_transformer -- --help
//! ```

use clap::Parser;
use typed_nn::prelude::*;

mod common;

const TOKENS: usize = 28;
const DIM: usize = 64;

network! {
    /// One pre-norm encoder block: x + attention(norm(x)), then x + mlp(norm(x)).
    pub struct EncoderBlock: [TOKENS, DIM] {
        attention: Residual { LayerNorm, MultiHeadAttention(4, DIM) },
        mlp: Residual {
            LayerNorm,
            Dense(2 * DIM, per_step = true), Gelu,
            Dense(DIM, per_step = true),
        },
    }
}

network! {
    pub struct MnistTransformer: [TOKENS, 28] {
        embed: Dense(DIM, per_step = true),
        position: PositionalEmbedding,
        block1: Net(EncoderBlock),
        block2: Net(EncoderBlock),
        norm: LayerNorm,
        Flatten,
        out: Dense(10), Softmax,
    }
}

/// Trains a transformer encoder on MNIST, one token per image row.
#[derive(Parser, Debug)]
struct Options {
    /// Passes over the training images.
    #[arg(long, default_value_t = 5)]
    epochs: usize,
    #[command(flatten)]
    mnist: common::MnistOptions,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = Options::parse();
    let mut model = MnistTransformer::init(&mut Rng::seed(options.mnist.seed));
    print!("{}", MnistTransformer::summary());
    let (train, test) = mnist::load_as::<Tensor2<TOKENS, 28>>(&options.mnist.data)?;
    let history = options
        .mnist
        .trainer(CrossEntropy, Adam::new(1e-3))
        .epochs(options.epochs)
        .fit_validated(&mut model, &train, Some(&test))?;
    common::report_test(&model, &test)?;
    options.mnist.plot("mnist_transformer", &history)?;
    Ok(())
}
