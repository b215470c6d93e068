//! Compile-time check, generic: the 20 convolutions of `examples/conv20.rs`, 17 of them
//! through one generic block `Block<C_IN, C_OUT, H, W, KH, KW>` (a same-padded convolution
//! and its activation) instantiated 17 times, and the three of stride 2 written out (a
//! strided `same` convolution's output size is computed from the block's input size, so its
//! output would be a `Shaped` sample, not the `Tensor3` the next block takes). Its rebuild
//! time against the concrete version is in BENCHMARKS.md:
//!
//! ```text
//! cargo build --release --example conv20_generic && touch examples/conv20_generic.rs && time cargo build --release --example conv20_generic
//! ```

use typed_nn::prelude::*;

network! {
    /// A same-padded convolution at any channel counts, image size and kernel, then ReLU.
    pub struct Block<
        const C_IN: usize,
        const C_OUT: usize,
        const H: usize,
        const W: usize,
        const KH: usize,
        const KW: usize,
    >: [C_IN, H, W] {
        Conv2d(C_OUT, (KH, KW), padding = same), Relu,
    }
}

network! {
    /// The layers of `Conv20`, the stride-1 ones as blocks.
    pub struct Conv20Generic: [3, 64, 64] {
        Net(Block::<3, 8, 64, 64, 3, 3>),
        Net(Block::<8, 12, 64, 64, 3, 1>),
        Net(Block::<12, 16, 64, 64, 1, 3>),
        Net(Block::<16, 20, 64, 64, 2, 2>),
        Conv2d(24, 3, stride = 2, padding = same), Relu,
        Net(Block::<24, 28, 32, 32, 5, 5>),
        Net(Block::<28, 32, 32, 32, 5, 3>),
        Net(Block::<32, 9, 32, 32, 3, 3>),
        Net(Block::<9, 13, 32, 32, 1, 1>),
        Conv2d(17, 3, stride = 2, padding = same), Relu,
        Net(Block::<17, 21, 16, 16, 2, 3>),
        Net(Block::<21, 25, 16, 16, 3, 3>),
        Net(Block::<25, 29, 16, 16, 4, 4>),
        Net(Block::<29, 33, 16, 16, 3, 3>),
        Conv2d(10, (3, 2), stride = 2, padding = same), Relu,
        Net(Block::<10, 14, 8, 8, 3, 3>),
        Net(Block::<14, 18, 8, 8, 2, 2>),
        Net(Block::<18, 22, 8, 8, 3, 3>),
        Net(Block::<22, 26, 8, 8, 1, 1>),
        Net(Block::<26, 30, 8, 8, 3, 3>),
        GlobalAvgPool2d,
        Dense(10), Softmax,
    }
}

fn main() {
    let model = Conv20Generic::init(&mut Rng::seed(0));
    print!("{}", Conv20Generic::summary());
    let probs = model.forward_batch(&Batch::zeros(2));
    println!("outputs for two blank images: {:?}", probs.row(0));
}
