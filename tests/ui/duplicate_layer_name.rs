use typed_nn::prelude::*;

network! {
    pub struct Mlp: [784] {
        fc: Dense(64), Relu,
        fc: Dense(10), Softmax,
    }
}

fn main() {}
