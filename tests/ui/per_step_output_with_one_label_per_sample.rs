use typed_nn::prelude::*;

network! {
    pub struct CharModel: tokens[8] {
        Embedding(20, 8),
        LSTM(16, return_sequences = true),
        Dense(20, per_step = true),
        Softmax,
    }
}

fn main() {
    let mut model = CharModel::init(&mut Rng::seed(0));
    let x = Batch::<Tokens<8>>::from_ids(&[0; 16]).unwrap();
    // One class per sample, but the output is a distribution per step.
    let labels = Labels::<20>::new(vec![1, 2]).unwrap();
    let _ = model.train_step(&x, &labels, &CrossEntropy, &mut Sgd::new(0.1));
}
