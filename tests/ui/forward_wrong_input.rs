use typed_nn::prelude::*;

network! {
    pub struct Mlp: [784] {
        fc1: Dense(64), Relu,
        out: Dense(10), Softmax,
    }
}

fn main() {
    let model = Mlp::init(&mut Rng::seed(0));
    let _ = model.forward(&Tensor1::<785>::zeros());
}
