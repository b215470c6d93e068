use typed_nn::prelude::*;

network! {
    pub struct Binary: [4] {
        Dense(8), Tanh,
        Dense(1), Sigmoid,
    }
}

fn main() {
    let mut model = Binary::init(&mut Rng::seed(0));
    let x = Batch::<Tensor1<4>>::zeros(2);
    let labels = Labels::<1>::new(vec![0, 0]).unwrap();
    // Cross-entropy over classes reads softmax scores, not a sigmoid's output.
    let _ = model.train_step(&x, &labels, &CrossEntropy, &mut Sgd::new(0.1));
}
