// A layer with no low-precision conversion (a bidirectional recurrence) makes converting
// its network a compile error that names the layer's type.
use typed_nn::prelude::*;

network! {
    pub struct Tagger: [6, 8] {
        rnn: Bidirectional(LSTM(4, return_sequences = true)),
        Flatten,
        out: Dense(2),
    }
}

fn main() {
    let model = Tagger::init(&mut Rng::seed(0));
    let _ = model.to_precision::<Bf16>(&Batch::zeros(0));
}
