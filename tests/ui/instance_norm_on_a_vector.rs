use typed_nn::prelude::*;

network! {
    pub struct M: [16] {
        InstanceNorm1d,
        Dense(2),
    }
}

fn main() {}
