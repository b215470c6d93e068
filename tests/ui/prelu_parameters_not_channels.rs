use typed_nn::prelude::*;

network! {
    pub struct M: [4, 8, 8] {
        PRelu(3),
        Flatten,
        Dense(2),
    }
}

fn main() {}
