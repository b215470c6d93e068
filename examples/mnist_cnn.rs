//! Trains workload E2's CNN on MNIST: 1×28×28 → Conv 32 k3 → pool → Conv 64 k3 → pool →
//! Flatten → Dense 128 → Dense 10, Adam 1e-3, batch 64. With `--bn`, the same network with
//! Conv-BatchNorm-ReLU blocks (convolutions without bias, as usual before BatchNorm) and
//! Dropout(0.5) before the classifier.
//!
//! ```text
//! cargo run --release --example mnist_cnn [-- --bn --epochs 3 --data data/mnist --seed 0]
//! ```

use std::time::Instant;
use typed_nn::prelude::*;
use typed_nn::train::{evaluate, train_step};

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

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (mut epochs, mut data, mut seed, mut bn) = (3usize, "data/mnist".to_string(), 0u64, false);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--bn" {
            bn = true;
            continue;
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--epochs" => epochs = value.parse()?,
            "--data" => data = value,
            "--seed" => seed = value.parse()?,
            _ => {
                return Err(format!(
                    "unknown argument {flag}; expected --bn, --epochs N, --data DIR, --seed N"
                )
                .into())
            }
        }
    }
    let mut rng = Rng::seed(seed);
    if bn {
        let model = MnistCnnBn::init(&mut rng);
        print!("{}", MnistCnnBn::summary());
        run(model, &data, epochs, &mut rng)
    } else {
        let model = MnistCnn::init(&mut rng);
        print!("{}", MnistCnn::summary());
        run(model, &data, epochs, &mut rng)
    }
}

/// Trains `model` for `epochs` and reports the test figures after each.
fn run<N>(
    mut model: N,
    data: &str,
    epochs: usize,
    rng: &mut Rng,
) -> Result<(), Box<dyn std::error::Error>>
where
    N: Network<In = Tensor3<1, 28, 28>, Out = Tensor1<10>, Head = Softmax> + Send,
{
    let (train, test) = mnist::load_as::<Tensor3<1, 28, 28>>(data)?;
    println!("{} training and {} test images", train.len(), test.len());

    let mut opt = Adam::new(1e-3);
    for epoch in 1..=epochs {
        let start = Instant::now();
        let (mut loss_sum, mut rows) = (0.0f64, 0usize);
        for (x, y) in train.shuffled(rng).batches(64)? {
            loss_sum +=
                train_step(&mut model, &x, &y, &CrossEntropy, &mut opt)? as f64 * x.rows() as f64;
            rows += x.rows();
        }
        let seconds = start.elapsed().as_secs_f64();
        let eval = evaluate(&model, &test, &CrossEntropy)?;
        println!(
            "epoch {epoch}: train loss {:.4}, test loss {:.4}, test accuracy {:.2}%, {seconds:.1} s",
            loss_sum / rows as f64,
            eval.loss,
            100.0 * eval.accuracy
        );
    }
    Ok(())
}
