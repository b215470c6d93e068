//! `forward_in` allocates nothing, not even at its first call, for a CNN and an MLP (the
//! counting allocator the library exposes proves it). One test in this binary, so that no
//! other test's allocations are counted.

use typed_nn::prelude::*;
use typed_nn::{allocations_during, Arena, CountingAllocator};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

network! {
    pub struct Mlp: [784] {
        fc1: Dense(64), Relu,
        fc2: Dense(32), Relu,
        out: Dense(10), Softmax,
    }
}

network! {
    pub struct Cnn: [1, 28, 28] {
        conv1: Conv2d(32, 3), bn1: BatchNorm2d, Relu,
        MaxPool2d(2),
        Residual {
            Conv2d(32, 3, padding = 1), Relu,
        },
        conv2: Conv2d(64, 3), Relu,
        MaxPool2d(2),
        Flatten,
        fc: Dense(128), Relu,
        out: Dense(10), Softmax,
    }
}

#[test]
fn forward_in_allocates_nothing_from_the_first_call() {
    let mut rng = Rng::seed(0);
    let cnn = Cnn::init(&mut rng);
    let mlp = Mlp::init(&mut rng);
    let image = Tensor3::<1, 28, 28>::from_slice(&[0.5; 784]).unwrap();
    let vector = Tensor1::<784>::new([0.5; 784]);
    let mut cnn_arena = Arena::<{ Cnn::ARENA_FLOATS }>::boxed();
    let mut mlp_arena = Arena::<{ Mlp::ARENA_FLOATS }>::new();

    let (probs, n) = allocations_during(|| cnn.forward_in(&mut cnn_arena, &image));
    assert_eq!(n, 0, "allocations in the CNN's first forward_in");
    assert!((probs.data.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    let (_, n) = allocations_during(|| mlp.forward_in(&mut mlp_arena, &vector));
    assert_eq!(n, 0, "allocations in the MLP's first forward_in");

    // What forward_in replaces: `forward` grows the network's workspace at its first call.
    let (_, n) = allocations_during(|| cnn.forward(&image));
    assert!(
        n > 0,
        "the CNN's first forward allocated nothing: the check above proves little"
    );
    let (_, n) = allocations_during(|| cnn.forward_in(&mut cnn_arena, &image));
    assert_eq!(n, 0);
}
