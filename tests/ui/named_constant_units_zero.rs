use typed_nn::prelude::*;

const HIDDEN: usize = 0;

network! {
    pub struct M: [10] {
        hidden: Dense(HIDDEN), Relu,
        Dense(2),
    }
}

fn main() {}
