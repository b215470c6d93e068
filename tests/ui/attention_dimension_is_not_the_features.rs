use typed_nn::prelude::*;

network! {
    pub struct M: [10, 64] {
        MultiHeadAttention(4, 32),
    }
}

fn main() {}
