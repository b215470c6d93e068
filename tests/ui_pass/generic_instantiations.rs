//! A generic network instantiated at several sizes builds and runs (and makes the ui suite
//! build rather than only check, so that a shape rule failing for one instantiation — a
//! post-monomorphization error — is reported).

use typed_nn::prelude::*;

network! {
    pub struct Cnn<const H: usize, const W: usize>: [1, H, W] {
        Conv2d(4, 5), Relu,
        Flatten,
        Dense(2),
    }
}

fn main() {
    let small = Cnn::<5, 5>::init(&mut Rng::seed(0));
    let large = Cnn::<28, 20>::init(&mut Rng::seed(0));
    assert_eq!(small.forward(&Tensor3::zeros()).data.len(), 2);
    assert_eq!(large.forward(&Tensor3::zeros()).data.len(), 2);
}
