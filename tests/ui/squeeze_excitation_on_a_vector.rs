use typed_nn::prelude::*;

network! {
    pub struct M: [16] {
        SqueezeExcitation(4),
        Dense(2),
    }
}

fn main() {}
