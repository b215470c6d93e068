use typed_nn::prelude::*;

network! {
    pub struct M: [28, 28] {
        LSTM(16, return_sequences = yes),
    }
}

fn main() {}
