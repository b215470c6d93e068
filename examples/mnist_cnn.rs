//! Trains workload E2's CNN on MNIST: 1×28×28 → Conv 32 k3 → pool → Conv 64 k3 → pool →
//! Flatten → Dense 128 → Dense 10, Adam 1e-3, batch 64.
//!
//! ```text
//! cargo run --release --example mnist_cnn [-- --epochs 3 --data data/mnist --seed 0]
//! ```

use std::time::Instant;
use typed_nn::prelude::*;

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

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (mut epochs, mut data, mut seed) = (3usize, "data/mnist".to_string(), 0u64);
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
    let mut model = MnistCnn::init(&mut rng);
    print!("{}", MnistCnn::summary());
    let (train, test) = mnist::load_as::<Tensor3<1, 28, 28>>(&data)?;
    println!("{} training and {} test images", train.len(), test.len());

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
