use typed_nn::prelude::*;

network! {
    pub struct M: [6, 8, 8] {
        Conv2d(8, 3, groups = 4),
    }
}

fn main() {}
