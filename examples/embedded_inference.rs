//! A trained model compiled into the binary: the weights are `include_bytes!`, checked once
//! against the network's types at start-up, and every call after that allocates nothing
//! (tests/no_alloc.rs proves it). The weights come from
//! `cargo run --release --example mnist_mlp -- --save examples/weights/mnist_mlp.safetensors`.
//!
//! ```text
//! cargo run --release --example embedded_inference
//! ```

use typed_nn::prelude::*;

network! {
    /// The network examples/mnist_mlp.rs trains.
    pub struct Mlp: [784] {
        fc1: Dense(64), Relu,
        fc2: Dense(32), Relu,
        out: Dense(10), Softmax,
    }
}

/// 52,650 trained parameters, 97.1 % on the MNIST test set.
static WEIGHTS: &[u8] = include_bytes!("weights/mnist_mlp.safetensors");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let model = Mlp::from_safetensors_bytes(WEIGHTS)?;
    let (_, test) = mnist::load("data/mnist")?;
    let mut correct = 0;
    for i in 0..test.len() {
        // One sample on the stack in, ten probabilities on the stack out.
        let probs: Tensor1<10> = model.forward(&test.input(i));
        correct += usize::from(probs.argmax() == test.target(i).index());
        if i < 5 {
            println!(
                "image {i}: predicted {} ({:.1} %), label {}",
                probs.argmax(),
                100.0 * probs[probs.argmax()],
                test.target(i).index()
            );
        }
    }
    println!(
        "{correct} of {} test images right ({:.2} %)",
        test.len(),
        100.0 * correct as f64 / test.len() as f64
    );
    Ok(())
}
