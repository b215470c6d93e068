use typed_nn::prelude::*;

network! {
    pub struct M: [16] {
        Residual,
    }
}

fn main() {}
