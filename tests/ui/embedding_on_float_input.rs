use typed_nn::prelude::*;

network! {
    pub struct Net: [100] {
        Embedding(10000, 64),
        LSTM(32),
        Dense(1), Sigmoid,
    }
}

fn main() {}
