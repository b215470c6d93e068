use typed_nn::prelude::*;

network! {
    pub struct M: [3] {}
}

fn main() {}
