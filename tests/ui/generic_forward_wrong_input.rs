use typed_nn::prelude::*;

network! {
    pub struct Encoder<const IN: usize, const OUT: usize>: [IN] {
        Dense(64), Relu,
        Dense(OUT),
    }
}

fn main() {
    let model = Encoder::<784, 10>::init(&mut Rng::seed(0));
    let _ = model.forward(&Tensor1::<100>::zeros());
}
