//! Compile-time check: a network of 20 convolutions, each of a distinct shape. Every
//! distinct const-generic layer is monomorphised separately; the layer types are thin over
//! the non-generic kernels, so this builds in seconds (figure in BENCHMARKS.md):
//!
//! ```text
//! cargo build --release --example conv20 && touch examples/conv20.rs && time cargo build --release --example conv20
//! ```

use typed_nn::prelude::*;

network! {
    /// 20 convolutions of distinct shapes (filters, kernels, strides), then a classifier.
    pub struct Conv20: [3, 64, 64] {
        Conv2d(8, 3, padding = same), Relu,
        Conv2d(12, (3, 1), padding = same), Relu,
        Conv2d(16, (1, 3), padding = same), Relu,
        Conv2d(20, 2, padding = same), Relu,
        Conv2d(24, 3, stride = 2, padding = same), Relu,
        Conv2d(28, 5, padding = same), Relu,
        Conv2d(32, (5, 3), padding = same), Relu,
        Conv2d(9, 3, padding = same), Relu,
        Conv2d(13, 1, padding = same), Relu,
        Conv2d(17, 3, stride = 2, padding = same), Relu,
        Conv2d(21, (2, 3), padding = same), Relu,
        Conv2d(25, 3, padding = same), Relu,
        Conv2d(29, 4, padding = same), Relu,
        Conv2d(33, 3, padding = same), Relu,
        Conv2d(10, (3, 2), stride = 2, padding = same), Relu,
        Conv2d(14, 3, padding = same), Relu,
        Conv2d(18, 2, padding = same), Relu,
        Conv2d(22, 3, padding = same), Relu,
        Conv2d(26, 1, padding = same), Relu,
        Conv2d(30, 3, padding = same), Relu,
        GlobalAvgPool2d,
        Dense(10), Softmax,
    }
}

fn main() {
    let model = Conv20::init(&mut Rng::seed(0));
    print!("{}", Conv20::summary());
    let probs = model.forward_batch(&Batch::zeros(2));
    println!("outputs for two blank images: {:?}", probs.row(0));
}
