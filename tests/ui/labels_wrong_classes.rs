use typed_nn::prelude::*;

network! {
    pub struct Mlp: [784] {
        fc1: Dense(64), Relu,
        out: Dense(10), Softmax,
    }
}

fn main() {
    let mut model = Mlp::init(&mut Rng::seed(0));
    let x = Batch::<Tensor1<784>>::zeros(2);
    let labels = Labels::<9>::new(vec![1, 2]).unwrap();
    let _ = model.train_step(&x, &labels, &CrossEntropy, &mut Adam::new(1e-3));
}
