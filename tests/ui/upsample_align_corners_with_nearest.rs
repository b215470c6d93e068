use typed_nn::prelude::*;

network! {
    pub struct M: [2, 4, 4] {
        Upsample(2, align_corners = true),
        Flatten,
        Dense(2),
    }
}

fn main() {}
