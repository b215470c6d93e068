use typed_nn::prelude::*;

network! {
    pub struct M: [1, 4, 4] {
        Flatten(start_dim = 1),
        Dense(2),
    }
}

fn main() {}
