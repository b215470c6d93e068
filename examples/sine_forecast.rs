//! Sequence regression: a GRU reads 30 steps of a noisy periodic series and predicts the
//! next value. Trained with `fit` (MAE and RMSE are the figures of a regression), the later
//! part of the series as validation; prints the test RMSE next to the naive "next = last"
//! baseline.
//!
//! ```text
//! cargo run --release --example sine_forecast [-- --epochs 15 --seed 0]
//! ```

use clap::Parser;
use typed_nn::prelude::*;

/// Steps the network sees before predicting the next one.
const WINDOW: usize = 30;

network! {
    /// GRU(32) over the window, then a linear read-out of the next value.
    pub struct Forecaster: [30, 1] {
        gru: GRU(32),
        out: Dense(1),
    }
}

/// A noisy sum of two sines: period 25 and 7.3 steps, noise σ = 0.1.
fn series(len: usize, rng: &mut Rng) -> Vec<f32> {
    (0..len)
        .map(|t| {
            let t = t as f32;
            (std::f32::consts::TAU * t / 25.0).sin()
                + 0.5 * (std::f32::consts::TAU * t / 7.3).sin()
                + 0.1 * rng.normal()
        })
        .collect()
}

/// Every window of the series with the value that follows it.
fn windows(values: &[f32]) -> Dataset<Tensor2<WINDOW, 1>, Tensor1<1>> {
    let samples: Vec<(Tensor2<WINDOW, 1>, Tensor1<1>)> = values
        .windows(WINDOW + 1)
        .map(|w| {
            (
                Tensor2::from_slice(&w[..WINDOW]).expect("window length"),
                Tensor1::new([w[WINDOW]]),
            )
        })
        .collect();
    Dataset::from_samples(&samples)
}

fn rmse(pairs: impl Iterator<Item = (f32, f32)>) -> f64 {
    let (mut sum, mut n) = (0.0f64, 0usize);
    for (a, b) in pairs {
        sum += ((a - b) as f64).powi(2);
        n += 1;
    }
    (sum / n as f64).sqrt()
}

/// Forecasts a noisy periodic series with a GRU.
#[derive(Parser, Debug)]
struct Options {
    /// Passes over the training windows.
    #[arg(long, default_value_t = 15)]
    epochs: usize,
    /// Seed of the series' noise, the initial weights and the shuffles.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Progress display: auto (a bar on a terminal, lines otherwise), bar, lines or silent.
    #[arg(long, default_value = "auto")]
    progress: Verbosity,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = Options::parse();
    let mut rng = Rng::seed(options.seed);
    let values = series(4_000, &mut rng);
    let (train_part, test_part) = values.split_at(3_000);
    let (train, test) = (windows(train_part), windows(test_part));
    println!(
        "{} training and {} test windows of {WINDOW} steps",
        train.len(),
        test.len()
    );

    let mut model = Forecaster::init(&mut rng);
    Trainer::new(Mse, Adam::new(3e-3).clip_norm(1.0))
        .epochs(options.epochs)
        .batch_size(32)
        .seed(options.seed)
        .verbosity(options.progress)
        .fit_validated(&mut model, &train, Some(&test))?;

    let model_rmse =
        rmse((0..test.len()).map(|i| (model.forward(&test.input(i))[0], test.target(i)[0])));
    let naive_rmse =
        rmse((0..test.len()).map(|i| (test.input(i).data[WINDOW - 1][0], test.target(i)[0])));
    println!("test RMSE: GRU {model_rmse:.4}, naive last value {naive_rmse:.4}");
    if model_rmse < naive_rmse {
        println!(
            "the GRU beats the naive forecast by {:.0}%",
            100.0 * (1.0 - model_rmse / naive_rmse)
        );
    } else {
        println!("the GRU does not beat the naive forecast");
    }
    Ok(())
}
