use typed_nn::prelude::*;

network! {
    pub struct M: [3] {
        Dense(2),
    } extra
}

fn main() {}
