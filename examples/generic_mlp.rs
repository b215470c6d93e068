//! One generic classifier, `Classifier<IN, CLASSES>`, trained on two datasets in one
//! program: MNIST as `Classifier<784, 10>`, and a scikit-learn-sized set as
//! `Classifier<2, 3>` — 600 points on three interleaved spirals, generated, written to a CSV
//! file and read back as a user's own data would be. Each instantiation is a network type of
//! its own: trained, evaluated, saved and loaded like any other.
//!
//! ```text
//! cargo run --release --example generic_mlp [-- --epochs 3 --spiral-epochs 150]
//! ```

use clap::Parser;
use std::f32::consts::PI;
use std::io::Write;
use std::path::PathBuf;
use typed_nn::prelude::*;
use typed_nn::CsvOptions;

mod common;

network! {
    /// An MLP over any number of features and classes.
    pub struct Classifier<const IN: usize, const CLASSES: usize>: [IN] {
        Dense(64), Relu,
        Dense(64), Relu,
        Dense(CLASSES), Softmax,
    }
}

/// Trains one generic MLP on MNIST and on generated spirals.
#[derive(Parser, Debug)]
struct Options {
    /// Passes over the MNIST training images.
    #[arg(long, default_value_t = 3)]
    epochs: usize,
    /// Passes over the spirals' training points.
    #[arg(long, default_value_t = 150)]
    spiral_epochs: usize,
    /// Where to write the spirals' CSV file [default: target/spirals.csv].
    #[arg(long)]
    csv: Option<PathBuf>,
    #[command(flatten)]
    mnist: common::MnistOptions,
}

/// `per_class` noisy points on each of three spiral arms, as `x,y,label` lines.
fn write_spirals(path: &PathBuf, per_class: usize, rng: &mut Rng) -> std::io::Result<()> {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(file, "x,y,label")?;
    for class in 0..3 {
        for i in 0..per_class {
            let r = i as f32 / per_class as f32;
            let angle = 4.0 * r + class as f32 * 2.0 * PI / 3.0 + rng.uniform(-0.2, 0.2);
            writeln!(file, "{},{},{class}", r * angle.cos(), r * angle.sin())?;
        }
    }
    file.flush()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = Options::parse();
    let mut rng = Rng::seed(options.mnist.seed);

    // MNIST: 784 features, 10 classes.
    let (train, test) = mnist::load(&options.mnist.data)?;
    let mut digits = Classifier::<784, 10>::init(&mut rng);
    print!("{}", Classifier::<784, 10>::summary());
    let history = options
        .mnist
        .trainer(CrossEntropy, Adam::new(1e-3))
        .epochs(options.epochs)
        .fit(&mut digits, &train)?;
    println!("Classifier<784, 10> on MNIST:");
    common::report_test(&digits, &test)?;
    options.mnist.plot("generic_mlp", &history)?;

    // Spirals: 2 features, 3 classes, through a CSV file.
    let csv = options
        .csv
        .clone()
        .unwrap_or_else(|| PathBuf::from("target/spirals.csv"));
    if let Some(dir) = csv.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    write_spirals(&csv, 200, &mut rng)?;
    let points = Dataset::<Tensor1<2>, Class<3>>::from_csv(&csv, &CsvOptions::default())?;
    let (train, _, test) = points.split_random(0.8, 0.0, options.mnist.seed)?;
    let mut spirals = Classifier::<2, 3>::init(&mut rng);
    print!("{}", Classifier::<2, 3>::summary());
    Trainer::new(CrossEntropy, Adam::new(1e-2))
        .batch_size(32)
        .seed(options.mnist.seed)
        .verbosity(Verbosity::Silent)
        .epochs(options.spiral_epochs)
        .fit(&mut spirals, &train)?;
    println!(
        "Classifier<2, 3> on {} spiral points from {}: test accuracy {:.2} % ({} test points)",
        points.len(),
        csv.display(),
        100.0 * spirals.accuracy(&test)?,
        test.len()
    );

    // Saved and loaded per instantiation; a file of one does not load into the other.
    let saved = spirals.to_safetensors_bytes()?;
    let loaded = Classifier::<2, 3>::from_safetensors_bytes(&saved)?;
    let x = test.input(0);
    assert_eq!(loaded.forward(&x), spirals.forward(&x));
    match Classifier::<784, 10>::from_safetensors_bytes(&saved) {
        Err(e) => println!("loading the spirals' weights into Classifier<784, 10>: {e}"),
        Ok(_) => return Err("weights of another size loaded".into()),
    }
    Ok(())
}
