use typed_nn::prelude::*;

network! {
    pub struct M: [0, 3] {
        Dense(2),
    }
}

fn main() {}
