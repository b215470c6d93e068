use typed_nn::prelude::*;

network! {
    pub struct M: [1, 28, 28] {
        MaxPool2d(2, strides = 1),
    }
}

fn main() {}
