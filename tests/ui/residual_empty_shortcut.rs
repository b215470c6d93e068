use typed_nn::prelude::*;

network! {
    pub struct M: [4, 8, 8] {
        Residual { Conv2d(4, 1) } shortcut {},
    }
}

fn main() {}
