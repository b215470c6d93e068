use typed_nn::prelude::*;

network! {
    pub struct M: floats[3] {
        Dense(2),
    }
}

fn main() {}
