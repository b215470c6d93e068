// A layer without an arena pass (attention) keeps its network from `forward_in`.
use typed_nn::prelude::*;

network! {
    pub struct Attend: [8, 4] {
        attention: MultiHeadAttention(2, 4),
        Flatten,
        out: Dense(2),
    }
}

fn main() {
    let net = Attend::init(&mut Rng::seed(0));
    let mut arena = typed_nn::Arena::<{ Attend::ARENA_FLOATS }>::new();
    let _ = net.forward_in(&mut arena, &Tensor2 { data: [[0.0; 4]; 8] });
}
