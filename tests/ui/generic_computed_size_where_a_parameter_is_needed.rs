use typed_nn::prelude::*;

network! {
    /// An LSTM's feature count is part of its type: after a valid convolution on a generic
    /// length it is computed, which a type argument cannot be on stable Rust.
    pub struct Seq<const L: usize>: [2, L] {
        Conv1d(4, 3),
        lstm: LSTM(8),
    }
}

fn main() {}
