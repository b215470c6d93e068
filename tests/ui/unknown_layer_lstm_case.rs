use typed_nn::prelude::*;

network! {
    pub struct M: [28, 28] {
        Lstm(16),
        Dense(10),
    }
}

fn main() {}
