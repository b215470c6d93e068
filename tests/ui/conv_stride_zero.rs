use typed_nn::prelude::*;

network! {
    pub struct Net: [1, 28, 28] {
        Conv2d(8, 3, stride = 0), Relu,
    }
}

fn main() {}
