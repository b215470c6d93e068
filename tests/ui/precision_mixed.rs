// An int8 network is a type of its own: it cannot stand where the f32 network is expected.
use typed_nn::prelude::*;

network! {
    pub struct Mlp: [4] {
        fc: Dense(3), Relu,
        out: Dense(2),
    }
}

fn train_more(_model: &mut Mlp) {}

fn main() {
    let model = Mlp::init(&mut Rng::seed(0));
    let mut int8 = model.to_precision::<Int8Dynamic>(&Batch::zeros(0)).unwrap();
    train_more(&mut int8);
}
