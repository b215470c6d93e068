// Int8 sums of 7-bit activations and 8-bit weights fit an i32 up to 133,144 products: a
// deeper dense layer does not convert.
use typed_nn::prelude::*;

network! {
    pub struct Wide: [140000] {
        out: Dense(1),
    }
}

fn main() {
    let model = Wide::init(&mut Rng::seed(0));
    let _ = model.to_precision::<Int8>(&Batch::zeros(1));
}
