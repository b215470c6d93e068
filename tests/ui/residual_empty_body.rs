use typed_nn::prelude::*;

network! {
    pub struct M: [4, 8, 8] {
        Residual {},
    }
}

fn main() {}
