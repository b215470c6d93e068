use typed_nn::prelude::*;

network! {
    pub struct M: [4, 8, 8] {
        Concat { { Conv2d(4, 1) } },
    }
}

fn main() {}
