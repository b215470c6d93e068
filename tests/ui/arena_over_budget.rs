// A program holds a network's inference memory to a budget at compile time.
use typed_nn::prelude::*;

network! {
    pub struct Mlp: [784] {
        fc1: Dense(64), Relu,
        fc2: Dense(32), Relu,
        out: Dense(10), Softmax,
    }
}

const _: () = assert!(Mlp::ARENA_BYTES <= 256, "Mlp needs more than 256 bytes to run");

fn main() {}
