use typed_nn::prelude::*;

network! {
    pub struct M: [16, 28, 28] {
        Residual {
            Conv2d(32, 3, stride = 2, padding = 1), Relu,
            Conv2d(32, 3, padding = 1),
        },
        GlobalAvgPool2d,
        Dense(10),
    }
}

fn main() {}
