//! The WASI program (`wasm32-wasip1`, run by `run-wasi.mjs` under Node): classifies the
//! hundred embedded test digits and exits non-zero below 90 % right, so that a build whose
//! arithmetic goes wrong on WebAssembly fails CI rather than only looking slow or odd.
//! It builds and runs natively too (`cargo run -p wasm-mnist`), which gives the figures to
//! compare with.

use std::process::ExitCode;
use wasm_mnist::{argmax, test_digits, Classifier, ARENA_BYTES, FLOPS, PARAM_BYTES, TEST_DIGITS};

/// The accuracy below which the build is broken: the trained network gets 97 of these 100.
const MIN_CORRECT: usize = 90;

fn main() -> ExitCode {
    let mut classifier = match Classifier::new() {
        Ok(classifier) => classifier,
        Err(e) => {
            eprintln!("error: the embedded weights do not load: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "Mlp: {PARAM_BYTES} bytes of parameters, {ARENA_BYTES} bytes of working memory, {FLOPS} FLOPs per digit"
    );
    let mut correct = 0;
    for (i, (pixels, label)) in test_digits().enumerate() {
        let probabilities = classifier.probabilities(pixels);
        let digit = argmax(&probabilities);
        if digit == usize::from(label) {
            correct += 1;
        } else {
            println!(
                "digit {i}: predicted {digit} ({:.1} %), label {label}",
                100.0 * probabilities[digit]
            );
        }
    }
    println!(
        "{correct} of {TEST_DIGITS} digits right ({:.0} %)",
        100.0 * correct as f64 / TEST_DIGITS as f64
    );
    if correct < MIN_CORRECT {
        eprintln!("error: fewer than {MIN_CORRECT} of {TEST_DIGITS} right");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
