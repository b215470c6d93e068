use typed_nn::prelude::*;

network! {
    /// Generic over the image size: fine at 28×28, not at 3×3.
    pub struct Cnn<const H: usize, const W: usize>: [1, H, W] {
        conv: Conv2d(4, 5), Relu,
        Flatten,
        Dense(2),
    }
}

fn main() {
    let _fits = Cnn::<28, 28>::init(&mut Rng::seed(0));
    let _too_small = Cnn::<3, 3>::init(&mut Rng::seed(0));
}
