use typed_nn::prelude::*;

network! {
    pub struct M: [8, 14, 14] {
        Concat {
            { Conv2d(16, 1) },
            { Conv2d(16, 3) },
        },
    }
}

fn main() {}
