// An arena smaller than the network's plan does not compile.
use typed_nn::prelude::*;

network! {
    pub struct Mlp: [784] {
        fc1: Dense(64), Relu,
        out: Dense(10), Softmax,
    }
}

fn main() {
    let mlp = Mlp::init(&mut Rng::seed(0));
    let mut arena = typed_nn::Arena::<32>::new();
    let _ = mlp.forward_in(&mut arena, &Tensor1::new([0.0; 784]));
}
