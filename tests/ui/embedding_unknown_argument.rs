use typed_nn::prelude::*;

network! {
    pub struct M: tokens[20] {
        Embedding(100, 8, padding_idx = 0),
        LSTM(16),
    }
}

fn main() {}
