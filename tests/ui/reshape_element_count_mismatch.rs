use typed_nn::prelude::*;

network! {
    pub struct M: [4, 6] {
        Reshape([5, 5]),
        Flatten,
        Dense(2),
    }
}

fn main() {}
