use typed_nn::prelude::*;

network! {
    pub struct M: tokens[4, 5] {
        Embedding(10, 4),
    }
}

fn main() {}
