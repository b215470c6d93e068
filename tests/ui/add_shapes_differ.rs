use typed_nn::prelude::*;

network! {
    pub struct M: [8, 14, 14] {
        Add {
            { Conv2d(16, 3, padding = 1) },
            { Conv2d(8, 3, padding = 1) },
        },
    }
}

fn main() {}
