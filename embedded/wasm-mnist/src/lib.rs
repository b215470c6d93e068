//! The MNIST classifier of `examples/embedded_inference.rs` as WebAssembly: its trained
//! weights and the first hundred test digits compiled in, each digit classified with
//! `forward_in` in an arena whose size the network's type fixes.
//!
//! Two ways in:
//! - [`Classifier`], the safe Rust API that `src/main.rs` (the WASI program) and the tests
//!   use;
//! - on `wasm32-unknown-unknown`, a C ABI for JavaScript (src/ffi.rs): `input_ptr` gives
//!   the address of a 784-byte buffer the script writes a digit into, `classify` returns
//!   the digit and `probabilities_ptr` the ten probabilities behind it. See `classify.mjs`.
//!
//! ```text
//! cargo build -p wasm-mnist --lib --target wasm32-unknown-unknown --profile wasm
//! node embedded/wasm-mnist/classify.mjs 0 1 2
//! ```

use typed_nn::prelude::*;
use typed_nn::Arena;

network! {
    /// The network examples/mnist_mlp.rs trains.
    pub struct Mlp: [784] {
        fc1: Dense(64), Relu,
        fc2: Dense(32), Relu,
        out: Dense(10), Softmax,
    }
}

/// Pixels of a digit: 28 rows of 28, row by row, 0 the background and 255 full ink (MNIST's
/// convention).
pub const PIXELS: usize = 28 * 28;

/// Digits the network tells apart.
pub const CLASSES: usize = 10;

/// 52,650 trained parameters, 97.1 % on the MNIST test set.
static WEIGHTS: &[u8] = include_bytes!("../../../examples/weights/mnist_mlp.safetensors");

/// The first 100 MNIST test digits (784 bytes each), then their 100 labels.
static DIGITS: &[u8] = include_bytes!("../../../examples/weights/mnist_test_digits.bin");

/// How many digits [`test_digits`] yields.
pub const TEST_DIGITS: usize = 100;

// The two files must be the ones this crate reads them as, checked when it compiles.
const _: () = assert!(DIGITS.len() == TEST_DIGITS * (PIXELS + 1));

/// Bytes of working memory one classification takes (the arena).
pub const ARENA_BYTES: usize = Mlp::ARENA_BYTES;

/// Bytes of the network's parameters, as `f32`.
pub const PARAM_BYTES: usize = Mlp::PARAM_BYTES;

/// Floating-point operations of one classification (a multiply-add counts two).
pub const FLOPS: usize = Mlp::FLOPS;

/// The embedded test digits with their labels, in the order of the MNIST test set.
pub fn test_digits() -> impl Iterator<Item = (&'static [u8; PIXELS], u8)> {
    let (images, labels) = DIGITS.split_at(TEST_DIGITS * PIXELS);
    images
        .chunks_exact(PIXELS)
        .map(|pixels| pixels.try_into().expect("chunks of PIXELS bytes"))
        .zip(labels.iter().copied())
}

/// The trained network and the arena it computes in: after [`Classifier::new`], classifying
/// allocates nothing.
pub struct Classifier {
    model: Mlp,
    arena: Arena<{ Mlp::ARENA_FLOATS }>,
}

impl Classifier {
    /// The network with the embedded weights, checked against its types (names, shapes,
    /// dtypes): the one step that allocates.
    pub fn new() -> Result<Self, Error> {
        Ok(Classifier {
            model: Mlp::from_safetensors_bytes(WEIGHTS)?,
            arena: Arena::new(),
        })
    }

    /// The probability of each digit for a 28×28 image, pixels scaled from 0..=255 to
    /// 0..=1 as in training.
    pub fn probabilities(&mut self, pixels: &[u8; PIXELS]) -> [f32; CLASSES] {
        let x = Tensor1::<PIXELS>::new(core::array::from_fn(|p| f32::from(pixels[p]) / 255.0));
        self.model.forward_in(&mut self.arena, &x).data
    }
}

/// The most probable digit (the first one on ties).
pub fn argmax(probabilities: &[f32; CLASSES]) -> usize {
    Tensor1::new(*probabilities).argmax()
}

#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
mod ffi;
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
pub use ffi::{classify, input_ptr, probabilities_ptr};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_weights_get_97_of_the_100_digits() {
        let mut classifier = Classifier::new().unwrap();
        let correct = test_digits()
            .filter(|(pixels, label)| {
                argmax(&classifier.probabilities(pixels)) == usize::from(*label)
            })
            .count();
        // What examples/embedded_inference.rs gets with the same weights and digits, and
        // what tools/test-wasm-mnist.sh requires of the wasm32 module.
        assert_eq!(correct, 97);
    }

    #[test]
    fn probabilities_sum_to_one() {
        let mut classifier = Classifier::new().unwrap();
        let (pixels, _) = test_digits().next().unwrap();
        let sum: f32 = classifier.probabilities(pixels).iter().sum();
        assert!((sum - 1.0).abs() < 1e-5, "{sum}");
    }
}
