// A layer with no low-precision conversion (attention) makes converting its network a
// compile error that names the layer's type.
use typed_nn::prelude::*;

network! {
    pub struct Attend: [6, 8] {
        attn: MultiHeadAttention(2, 8),
        Flatten,
        out: Dense(2),
    }
}

fn main() {
    let model = Attend::init(&mut Rng::seed(0));
    let _ = model.to_precision::<Bf16>(&Batch::zeros(0));
}
