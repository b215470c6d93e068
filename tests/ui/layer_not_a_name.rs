use typed_nn::prelude::*;

network! {
    pub struct M: [3] {
        64,
    }
}

fn main() {}
