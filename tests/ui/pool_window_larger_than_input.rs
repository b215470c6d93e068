use typed_nn::prelude::*;

network! {
    pub struct Net: [2, 3, 3] {
        MaxPool2d(4),
    }
}

fn main() {}
