use typed_nn::prelude::*;

network! {
    pub struct Tagger: [6, 3] {
        GRU(8, return_sequences = true),
        Dense(4, per_step = true),
        Softmax,
    }
}

fn main() {
    let mut model = Tagger::init(&mut Rng::seed(0));
    let x = Batch::<Tensor2<6, 3>>::zeros(1);
    let tags = StepLabels::new(&[StepClasses::<6, 4>::padded(&[1, 2, 3]).unwrap()]);
    // A class per step is compared by cross-entropy, not by squared error.
    let _ = model.train_step(&x, &tags, &Mse, &mut Sgd::new(0.1));
}
