use typed_nn::prelude::*;

network! {
    pub struct M: [8] {
        Dense(16), Relu,
        Zip {
            digit: { Dense(10), Softmax },
            thickness: { Dense(1) },
        },
    }
}

fn main() {}
