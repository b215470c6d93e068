use typed_nn::prelude::*;

network! {
    pub struct M: [1, 28, 28] {
        Conv2D(8, 3), Relu,
    }
}

fn main() {}
