//! MNIST read row by row: 28 time steps of 28 features through LSTM(128), then Dense(10).
//! Adam 1e-3, batch 64.
//!
//! ```text
//! cargo run --release --example seq_mnist_lstm [-- --epochs 5 --data data/mnist --seed 0]
//! ```

use std::time::Instant;
use typed_nn::prelude::*;

network! {
    /// Sequence MNIST: each image is 28 rows of 28 pixels, read top to bottom.
    pub struct SeqMnist: [28, 28] {
        lstm: LSTM(128),
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
    let mut model = SeqMnist::init(&mut rng);
    print!("{}", SeqMnist::summary());
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
