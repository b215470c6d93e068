use typed_nn::prelude::*;

network! {
    pub struct Encoder: [784] {
        fc: Dense(32), Tanh,
    }
}

network! {
    pub struct Classifier: [100] {
        enc: Net(Encoder),
        out: Dense(10), Softmax,
    }
}

fn main() {}
