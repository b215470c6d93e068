use typed_nn::prelude::*;

network! {
    pub struct M: [16] {
        ZeroPad2d(1),
        Dense(2),
    }
}

fn main() {}
