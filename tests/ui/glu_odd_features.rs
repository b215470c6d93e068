use typed_nn::prelude::*;

network! {
    pub struct M: [6] {
        Dense(7),
        Glu,
    }
}

fn main() {}
