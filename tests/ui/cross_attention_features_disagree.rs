use typed_nn::prelude::*;

network! {
    pub struct M: (queries: [5, 16], memory: [7, 8]) {
        CrossAttention(2, 16),
    }
}

fn main() {}
