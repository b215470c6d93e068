use typed_nn::prelude::*;

network! {
    pub struct M: [4, 7, 7] {
        ConvTranspose2d(2, 3, stride = 2, output_padding = 2),
        Flatten,
        Dense(2),
    }
}

fn main() {}
