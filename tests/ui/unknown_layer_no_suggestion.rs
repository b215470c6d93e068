use typed_nn::prelude::*;

network! {
    pub struct M: [16, 8] {
        Transformer(4),
    }
}

fn main() {}
