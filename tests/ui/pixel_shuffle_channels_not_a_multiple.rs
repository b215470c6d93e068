use typed_nn::prelude::*;

network! {
    pub struct M: [6, 4, 4] {
        PixelShuffle(2),
        Flatten,
        Dense(2),
    }
}

fn main() {}
