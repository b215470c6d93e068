use typed_nn::prelude::*;

network! {
    pub struct M: [16] {
        Dense(8, per_step = true),
    }
}

fn main() {}
