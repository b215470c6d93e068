use typed_nn::prelude::*;

network! {
    pub struct M: [10] {
        Dense(units),
    }
}

fn main() {}
