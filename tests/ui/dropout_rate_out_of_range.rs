use typed_nn::prelude::*;

network! {
    pub struct M: [10] {
        Dense(8), Relu,
        Dropout(1.0),
        Dense(2),
    }
}

fn main() {}
