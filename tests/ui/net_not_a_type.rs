use typed_nn::prelude::*;

network! {
    pub struct M: [10] {
        Net(3),
    }
}

fn main() {}
