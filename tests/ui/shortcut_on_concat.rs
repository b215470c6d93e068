use typed_nn::prelude::*;

network! {
    pub struct M: [4, 8, 8] {
        Concat { { Conv2d(2, 1) }, { Conv2d(2, 1) } } shortcut { Conv2d(4, 1) },
    }
}

fn main() {}
