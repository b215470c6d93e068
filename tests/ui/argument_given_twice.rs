use typed_nn::prelude::*;

network! {
    pub struct M: [10] {
        Dense(64, units = 32),
    }
}

fn main() {}
