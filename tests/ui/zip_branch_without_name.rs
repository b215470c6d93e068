use typed_nn::prelude::*;

network! {
    pub struct M: [8] {
        Zip { { Dense(4) }, value: { Dense(1) } },
        Flatten,
    }
}

fn main() {}
