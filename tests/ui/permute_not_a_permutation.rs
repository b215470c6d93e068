use typed_nn::prelude::*;

network! {
    pub struct M: [2, 3, 4] {
        Permute([0, 2, 2]),
        Flatten,
        Dense(2),
    }
}

fn main() {}
