use typed_nn::prelude::*;

network! {
    pub struct M: [10] {
        Softmax,
    }
}

fn main() {}
