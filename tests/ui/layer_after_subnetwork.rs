use typed_nn::prelude::*;

network! {
    pub struct Encoder: [1, 8, 8] {
        Conv2d(4, 3), Flatten,
    }
}

network! {
    pub struct M: [1, 8, 8] {
        Net(Encoder),
        BatchNorm1d,
    }
}

fn main() {}
