// A layer without an arena pass (a recurrence) keeps its network from `forward_in`.
use typed_nn::prelude::*;

network! {
    pub struct Tagger: [8, 4] {
        lstm: LSTM(16),
        out: Dense(2),
    }
}

fn main() {
    let net = Tagger::init(&mut Rng::seed(0));
    let mut arena = typed_nn::Arena::<{ Tagger::ARENA_FLOATS }>::new();
    let _ = net.forward_in(&mut arena, &Tensor2 { data: [[0.0; 4]; 8] });
}
