use typed_nn::prelude::*;

network! {
    pub struct M: [3, 8, 8] {
        Conv2d(4, 3),
        BatchNorm2d(eps = 0),
    }
}

fn main() {}
