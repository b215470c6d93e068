use typed_nn::prelude::*;

network! {
    pub struct M: (a: [8], b: [4]) {
        Dense(4),
    }
}

fn main() {}
