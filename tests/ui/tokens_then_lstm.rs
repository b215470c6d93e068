use typed_nn::prelude::*;

network! {
    pub struct M: tokens[20] {
        LSTM(16),
        Dense(2),
    }
}

fn main() {}
