use typed_nn::prelude::*;

network! {
    pub struct Mlp: [784] {
        fc1: Dense(0), Relu,
        out: Dense(10), Softmax,
    }
}

fn main() {}
