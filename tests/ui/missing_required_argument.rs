use typed_nn::prelude::*;

network! {
    pub struct M: [1, 28, 28] {
        Conv2d(8),
    }
}

fn main() {}
