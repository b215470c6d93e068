use typed_nn::prelude::*;

network! {
    pub struct Net: [28, 28] {
        LSTM(64, return_sequences = true),
        Dense(10), Softmax,
    }
}

fn main() {}
