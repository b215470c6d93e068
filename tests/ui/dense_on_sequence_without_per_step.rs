use typed_nn::prelude::*;

network! {
    pub struct M: [10, 64] {
        Dense(32),
    }
}

fn main() {}
