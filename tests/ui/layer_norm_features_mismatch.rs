use typed_nn::prelude::*;

network! {
    pub struct M: [10, 16] {
        LayerNorm(10),
    }
}

fn main() {}
