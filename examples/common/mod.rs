//! What the MNIST examples share: their common options and the report on the test set.
#![allow(dead_code)] // each example uses the parts it needs

use clap::Args;
use std::path::PathBuf;
use typed_nn::fit::confusion_matrix;
use typed_nn::prelude::*;
use typed_nn::train::evaluate;

/// Options every MNIST example takes.
#[derive(Args, Debug)]
pub struct MnistOptions {
    /// Directory holding the MNIST IDX files (gzipped or not).
    #[arg(long, default_value = "data/mnist")]
    pub data: PathBuf,
    /// Seed of the initial weights and of the shuffles.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Samples per training step.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Progress display: auto (a bar on a terminal, lines otherwise), bar, lines or silent.
    #[arg(long, default_value = "auto")]
    pub progress: Verbosity,
    /// Where to draw the loss and accuracy curves [default: target/<example>_history.svg].
    #[arg(long)]
    pub plot: Option<PathBuf>,
}

impl MnistOptions {
    /// A trainer with these options' batch size, shuffle seed and progress display.
    pub fn trainer<N, L, O>(&self, loss: L, optimizer: O) -> Trainer<N, L, O>
    where
        N: Network + Send,
        L: Send + Sync,
        O: Optimizer + Send,
    {
        Trainer::new(loss, optimizer)
            .batch_size(self.batch_size)
            .seed(self.seed)
            .verbosity(self.progress)
    }

    /// Draws `history` where `--plot` says, or under `target/` named after `example`.
    pub fn plot(&self, example: &str, history: &History) -> Result<(), Error> {
        let path = self
            .plot
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("target/{example}_history.svg")));
        history.plot(&path)?;
        println!("drew the training curves in {}", path.display());
        Ok(())
    }
}

/// Prints the test loss and accuracy, then the confusion matrix.
pub fn report_test<N>(model: &N, test: &Dataset<N::In, Class<10>>) -> Result<(), Error>
where
    N: Network<Out = Tensor1<10>, Head = Softmax>,
{
    let eval = evaluate(model, test, &CrossEntropy)?;
    println!(
        "test: loss {:.4}, accuracy {:.2}% on {} images",
        eval.loss,
        100.0 * eval.accuracy,
        test.len()
    );
    println!("{}", confusion_matrix(model, test)?);
    Ok(())
}
