use typed_nn::prelude::*;

network! {
    pub struct M: (image: [1, 8, 8], text: tokens[4]) {
        Zip {
            seen: { image, Flatten, Dense(4) },
            read: { caption, Embedding(10, 4), GRU(4) },
        },
        Flatten,
        Dense(2),
    }
}

fn main() {}
