use typed_nn::prelude::*;

network! {
    pub struct M: [1, 5, 5] {
        Conv2d(4, 3, dilation = 3),
    }
}

fn main() {}
