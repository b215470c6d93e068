use typed_nn::prelude::*;

network! {
    pub struct M: [16] {
        Dense(8) { Relu },
    }
}

fn main() {}
