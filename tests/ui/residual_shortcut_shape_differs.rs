use typed_nn::prelude::*;

network! {
    pub struct M: [16, 28, 28] {
        Residual {
            Conv2d(32, 3, stride = 2, padding = 1),
        } shortcut {
            Conv2d(32, 1),
        },
    }
}

fn main() {}
