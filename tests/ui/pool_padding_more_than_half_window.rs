use typed_nn::prelude::*;

network! {
    pub struct M: [1, 8, 8] {
        MaxPool2d(2, padding = 2),
    }
}

fn main() {}
