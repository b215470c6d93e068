use typed_nn::prelude::*;

network! {
    pub struct M: [1, 2, 3, 4] {
        Dense(2),
    }
}

fn main() {}
