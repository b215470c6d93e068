//! The C ABI a JavaScript host calls on `wasm32-unknown-unknown`, where there is nothing
//! but the module's own memory to pass values through. A digit goes in through a static
//! buffer whose address [`input_ptr`] returns, so the host writes 784 bytes into the
//! module's memory once and no function takes a pointer argument that Rust would have to
//! trust:
//!
//! ```js
//! new Uint8Array(memory.buffer, exports.input_ptr(), 784).set(pixels);
//! const digit = exports.classify();
//! const probabilities = new Float32Array(memory.buffer, exports.probabilities_ptr(), 10);
//! ```
//!
//! The first `classify` loads the weights, which grows the memory: a host takes its views
//! of `memory.buffer` after the call, as above, never before it.

use crate::{argmax, Classifier, CLASSES, PIXELS};
use std::sync::{Mutex, MutexGuard, PoisonError};

struct State {
    /// The digit the host writes, at the address `input_ptr` returns.
    input: [u8; PIXELS],
    /// The probabilities of the last `classify`, at the address `probabilities_ptr`
    /// returns.
    probabilities: [f32; CLASSES],
    /// Loaded at the first `classify`, so that instantiating the module costs nothing.
    classifier: Option<Classifier>,
}

// A `Mutex` rather than a `static mut`: the buffers' addresses come from safe code, and
// on a target without threads the lock is a flag that costs nothing.
static STATE: Mutex<State> = Mutex::new(State {
    input: [0; PIXELS],
    probabilities: [0.0; CLASSES],
    classifier: None,
});

fn state() -> MutexGuard<'static, State> {
    // A panic on wasm32 is a trap that ends the instance, never unwinding past a guard, so
    // a poisoned lock holds nothing half-written.
    STATE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The address of the 784-byte input buffer: a 28×28 digit, row by row, 0 the background
/// and 255 full ink. It stays valid for the instance's life; its contents are read at each
/// [`classify`].
// SAFETY: exported unmangled so that JavaScript finds it by this name; no other symbol
// linked into the module is called `input_ptr` (wasm-ld rejects a second definition) and
// no runtime function is replaced by it.
#[unsafe(no_mangle)]
pub extern "C" fn input_ptr() -> *mut u8 {
    state().input.as_mut_ptr()
}

/// Classifies the digit in the input buffer: returns it (0 to 9) and leaves the ten
/// probabilities at [`probabilities_ptr`]. The first call loads the embedded weights; if
/// they did not fit the network (a broken build, which the crate's tests rule out) it traps.
// SAFETY: as for `input_ptr`, no other symbol in the module is called `classify`.
#[unsafe(no_mangle)]
pub extern "C" fn classify() -> u32 {
    let mut state = state();
    let State {
        input,
        probabilities,
        classifier,
    } = &mut *state;
    let classifier = match classifier {
        Some(classifier) => classifier,
        None => classifier.insert(Classifier::new().expect("the embedded weights fit the network")),
    };
    *probabilities = classifier.probabilities(input);
    // A digit, 0 to 9: the conversion cannot fail.
    argmax(probabilities) as u32
}

/// The address of the ten `f32` probabilities of the last [`classify`] (zeros before the
/// first), digit 0 first.
// SAFETY: as for `input_ptr`, no other symbol in the module is called `probabilities_ptr`.
#[unsafe(no_mangle)]
pub extern "C" fn probabilities_ptr() -> *const f32 {
    state().probabilities.as_ptr()
}
