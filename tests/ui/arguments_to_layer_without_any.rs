use typed_nn::prelude::*;

network! {
    pub struct M: [10] {
        Dense(4), Relu(1),
    }
}

fn main() {}
