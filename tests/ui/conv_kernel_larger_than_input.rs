use typed_nn::prelude::*;

network! {
    pub struct Net: [1, 3, 3] {
        Conv2d(4, 5), Relu,
    }
}

fn main() {}
