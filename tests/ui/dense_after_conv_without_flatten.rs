use typed_nn::prelude::*;

network! {
    pub struct Net: [1, 28, 28] {
        Conv2d(8, 3), Relu,
        MaxPool2d(2),
        Dense(10), Softmax,
    }
}

fn main() {}
