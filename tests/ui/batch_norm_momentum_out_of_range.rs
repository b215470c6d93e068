use typed_nn::prelude::*;

network! {
    pub struct M: [10] {
        Dense(8),
        BatchNorm1d(momentum = 1.5),
    }
}

fn main() {}
