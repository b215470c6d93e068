use typed_nn::prelude::*;

network! {
    pub struct M: [2, 4, 4] {
        Concat { { Flatten }, {} },
    }
}

fn main() {}
