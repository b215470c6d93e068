use typed_nn::prelude::*;

network! {
    pub struct Net: [784] {
        LSTM(128),
        Dense(10), Softmax,
    }
}

fn main() {}
