//! A digit classifier compiled into the binary with its weights and a hundred test digits,
//! running in a working memory planned at compile time: no file, no allocation from the
//! first call on (the counting allocator the library exposes checks it), no feature map on
//! the stack. The weights come from
//! `cargo run --release --example mnist_mlp -- --save examples/weights/mnist_mlp.safetensors`,
//! the digits from `python3 tools/mnist_digits.py`.
//!
//! ```text
//! cargo run --release --example embedded_inference
//! cargo run --release --example embedded_inference --no-default-features   # the core alone
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

/// 52,650 trained parameters, 97.1 % on the MNIST test set.
static WEIGHTS: &[u8] = include_bytes!("weights/mnist_mlp.safetensors");

/// The first 100 MNIST test digits (784 bytes each), then their 100 labels.
static DIGITS: &[u8] = include_bytes!("weights/mnist_test_digits.bin");
const DIGIT_COUNT: usize = 100;

// The budget of a small device, checked by the compiler.
const _: () = assert!(Mlp::ARENA_BYTES <= 1024 && Mlp::PARAM_BYTES <= 256 * 1024);

// With the library's `std` feature, every allocation is counted.
#[cfg(feature = "std")]
#[global_allocator]
static GLOBAL: typed_nn::CountingAllocator = typed_nn::CountingAllocator;

/// Allocations so far, where they are counted.
fn allocations() -> Option<usize> {
    #[cfg(feature = "std")]
    return Some(typed_nn::allocations());
    #[cfg(not(feature = "std"))]
    None
}

fn main() -> Result<(), typed_nn::Error> {
    // The one step that allocates: the weights are checked against the network's types
    // (names, shapes, dtypes) and copied into it.
    let model = Mlp::from_safetensors_bytes(WEIGHTS)?;
    println!(
        "Mlp: {} bytes of parameters, {} bytes of working memory, {} FLOPs per digit",
        Mlp::PARAM_BYTES,
        Mlp::ARENA_BYTES,
        Mlp::FLOPS
    );
    let mut arena = Arena::<{ Mlp::ARENA_FLOATS }>::new();
    let (images, labels) = DIGITS.split_at(DIGIT_COUNT * 784);

    let before = allocations();
    let mut correct = 0;
    for (i, (pixels, &label)) in images.chunks_exact(784).zip(labels).enumerate() {
        let x = Tensor1::<784>::new(core::array::from_fn(|p| f32::from(pixels[p]) / 255.0));
        let probs = model.forward_in(&mut arena, &x);
        let digit = probs.argmax();
        correct += usize::from(digit == usize::from(label));
        if i < 3 {
            println!(
                "digit {i}: predicted {digit} ({:.1} %), label {label}",
                100.0 * probs[digit]
            );
        }
    }
    let after = allocations();
    println!("{correct} of {DIGIT_COUNT} digits right");
    match before.zip(after) {
        Some((before, after)) => {
            let n = after - before;
            println!("allocations while classifying, from the first call: {n}");
            if n != 0 {
                eprintln!("error: forward_in allocated");
                std::process::exit(1);
            }
        }
        None => println!("allocations not counted (built without the std feature)"),
    }
    Ok(())
}
