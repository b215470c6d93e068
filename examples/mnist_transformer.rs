//! A transformer encoder on MNIST: each image as 28 tokens (its rows) of 28 pixels, projected
//! to 64 features per token, a learned positional embedding, two pre-norm encoder blocks
//! (self-attention with 4 heads, then a GELU MLP, each in a residual join), and a classifier
//! on the flattened tokens. Adam 1e-3, batch 64.
//!
//! ```text
//! cargo run --release --example mnist_transformer [-- --epochs 5 --data data/mnist --seed 0]
//! ```

use std::time::Instant;
use typed_nn::prelude::*;

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

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (mut epochs, mut data, mut seed) = (5usize, "data/mnist".to_string(), 0u64);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--epochs" => epochs = value.parse()?,
            "--data" => data = value,
            "--seed" => seed = value.parse()?,
            _ => {
                return Err(format!(
                    "unknown argument {flag}; expected --epochs N, --data DIR, --seed N"
                )
                .into())
            }
        }
    }
    let mut rng = Rng::seed(seed);
    let mut model = MnistTransformer::init(&mut rng);
    print!("{}", MnistTransformer::summary());
    let (train, test) = mnist::load_as::<Tensor2<28, 28>>(&data)?;
    let mut opt = Adam::new(1e-3);
    for epoch in 1..=epochs {
        let start = Instant::now();
        let (mut loss_sum, mut rows) = (0.0f64, 0usize);
        for (x, y) in train.shuffled(&mut rng).batches(64)? {
            loss_sum += model.train_step(&x, &y, &CrossEntropy, &mut opt)? as f64 * x.rows() as f64;
            rows += x.rows();
        }
        let seconds = start.elapsed().as_secs_f64();
        let eval = model.evaluate(&test, &CrossEntropy)?;
        println!(
            "epoch {epoch}: train loss {:.4}, test loss {:.4}, test accuracy {:.2}%, {seconds:.1} s",
            loss_sum / rows as f64,
            eval.loss,
            100.0 * eval.accuracy
        );
    }
    Ok(())
}
