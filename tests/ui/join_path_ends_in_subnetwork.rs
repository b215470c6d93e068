use typed_nn::prelude::*;

network! {
    pub struct Inner: [4, 8, 8] {
        Conv2d(4, 1),
    }
}

network! {
    pub struct M: [4, 8, 8] {
        Concat { { Net(Inner) }, { Conv2d(4, 1) } },
    }
}

fn main() {}
