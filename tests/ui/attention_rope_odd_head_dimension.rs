use typed_nn::prelude::*;

network! {
    pub struct M: [10, 12] {
        MultiHeadAttention(4, 12, causal = true, rope = true),
    }
}

fn main() {}
