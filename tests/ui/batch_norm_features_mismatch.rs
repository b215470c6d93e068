use typed_nn::prelude::*;

network! {
    pub struct M: [3, 8, 8] {
        Conv2d(16, 3),
        BatchNorm2d(32),
    }
}

fn main() {}
