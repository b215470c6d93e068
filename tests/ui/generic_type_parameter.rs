use typed_nn::prelude::*;

network! {
    pub struct Mlp<T, const OUT: usize>: [4] {
        Dense(OUT),
    }
}

fn main() {}
