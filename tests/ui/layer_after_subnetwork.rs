use typed_nn::prelude::*;

network! {
    pub struct Encoder: [1, 8, 8] {
        Conv2d(4, 3),
    }
}

network! {
    pub struct M: [1, 8, 8] {
        Net(Encoder),
        Conv2d(4, 3),
    }
}

fn main() {}
