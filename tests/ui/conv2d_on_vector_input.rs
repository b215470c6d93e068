use typed_nn::prelude::*;

network! {
    pub struct Net: [784] {
        Conv2d(8, 3), Relu,
    }
}

fn main() {}
