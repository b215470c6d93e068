use typed_nn::prelude::*;

network! {
    pub struct M: [10] {
        Dense(4), LeakyRelu(0.1, 0.2),
    }
}

fn main() {}
