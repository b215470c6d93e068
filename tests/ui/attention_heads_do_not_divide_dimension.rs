use typed_nn::prelude::*;

network! {
    pub struct M: [10, 64] {
        MultiHeadAttention(3, 64),
    }
}

fn main() {}
