//! Any bytes given to the weight loader give a network or an error, never a panic, an
//! abort or an allocation out of proportion to the input.
//!
//! cargo +nightly fuzz run load_safetensors -- -max_total_time=60

#![no_main]

use libfuzzer_sys::fuzz_target;
use typed_nn::prelude::*;

network! {
    /// One tensor of each layout: transposed (Dense, LSTM), row-major (conv, bias) and the
    /// summed LSTM bias.
    pub struct Target: [1, 6, 6] {
        conv: Conv2d(2, 3), Relu,
        Flatten,
        fc: Dense(4),
    }
}

network! {
    pub struct Sequence: [3, 2] {
        lstm: LSTM(2),
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = Target::from_safetensors_bytes(data);
    let _ = Sequence::from_safetensors_bytes(data);
});
