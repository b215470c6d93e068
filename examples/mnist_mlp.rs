//! Trains the seed's DNN (784 → 64 → 32 → 10) on MNIST with Adam, batch 64.
//!
//! ```text
//! cargo run --release --example mnist_mlp [-- --epochs 5 --data data/mnist --seed 0 --save FILE]
//! ```

use std::time::Instant;
use typed_nn::prelude::*;

network! {
    /// The seed's DNN: Dense(64, relu) -> Dense(32, relu) -> Dense(10, softmax).
    pub struct Mlp: [784] {
        fc1: Dense(64), Relu,
        fc2: Dense(32), Relu,
        out: Dense(10), Softmax,
    }
}

struct Args {
    epochs: usize,
    data: String,
    seed: u64,
    save: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        epochs: 5,
        data: "data/mnist".into(),
        seed: 0,
        save: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--epochs" => args.epochs = value()?.parse().map_err(|e| format!("--epochs: {e}"))?,
            "--data" => args.data = value()?,
            "--seed" => args.seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--save" => args.save = Some(value()?),
            _ => {
                return Err(format!(
                "unknown argument {flag}; expected --epochs N, --data DIR, --seed N, --save FILE"
            ))
            }
        }
    }
    Ok(args)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let mut rng = Rng::seed(args.seed);
    let mut model = Mlp::init(&mut rng);
    print!("{}", Mlp::summary());

    let start = Instant::now();
    let (train, test) = mnist::load(&args.data)?;
    println!(
        "loaded {} training and {} test images in {:.2} s",
        train.len(),
        test.len(),
        start.elapsed().as_secs_f64()
    );

    let mut opt = Adam::new(1e-3);
    let training = Instant::now();
    for epoch in 1..=args.epochs {
        let epoch_start = Instant::now();
        let (mut loss_sum, mut rows) = (0.0f64, 0usize);
        for (x, y) in train.shuffled(&mut rng).batches(64)? {
            let loss = model.train_step(&x, &y, &CrossEntropy, &mut opt)?;
            loss_sum += loss as f64 * x.rows() as f64;
            rows += x.rows();
        }
        let seconds = epoch_start.elapsed().as_secs_f64();
        let eval = model.evaluate(&test, &CrossEntropy)?;
        println!(
            "epoch {epoch}: train loss {:.4}, test loss {:.4}, test accuracy {:.2}%, {seconds:.2} s",
            loss_sum / rows as f64,
            eval.loss,
            100.0 * eval.accuracy,
        );
    }
    println!(
        "trained {} epochs in {:.2} s",
        args.epochs,
        training.elapsed().as_secs_f64()
    );

    if let Some(path) = &args.save {
        model.save(path)?;
        println!("saved the weights to {path}");
    }

    let first: Tensor1<10> = model.forward(&test.input(0));
    println!(
        "first test image: predicted {}, label {}",
        first.argmax(),
        test.target(0).index()
    );
    Ok(())
}
