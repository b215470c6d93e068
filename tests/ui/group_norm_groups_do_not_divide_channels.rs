use typed_nn::prelude::*;

network! {
    pub struct Net: [6, 8, 8] {
        GroupNorm(4),
        Flatten,
        Dense(10),
    }
}

fn main() {}
