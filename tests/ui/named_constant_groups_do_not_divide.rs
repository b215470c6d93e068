use typed_nn::prelude::*;

const C: usize = 6;

network! {
    pub struct M: [C, 8, 8] {
        Conv2d(2 * C, 3, groups = 4),
    }
}

fn main() {}
