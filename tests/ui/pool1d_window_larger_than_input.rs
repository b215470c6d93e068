use typed_nn::prelude::*;

network! {
    pub struct M: [2, 4] {
        MaxPool1d(6),
    }
}

fn main() {}
