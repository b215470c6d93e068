use typed_nn::prelude::*;

const K: usize = 9;

network! {
    pub struct M: [1, 5, 5] {
        conv: Conv2d(4, K, padding = 1),
    }
}

fn main() {}
