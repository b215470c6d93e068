//! The static memory plan: `forward_in` computes what `forward` does, in an arena whose size
//! is a const, with large feature maps off the stack (a 224 × 224 CNN on a default thread).

use typed_nn::prelude::*;
use typed_nn::Arena;

network! {
    pub struct Mlp: [784] {
        fc1: Dense(64), Relu,
        fc2: Dense(32), Relu,
        out: Dense(10), Softmax,
    }
}

network! {
    /// Convolutions with pooling, batch normalisation and a residual block: every arena
    /// pass of the layer kinds a CNN is made of.
    pub struct Cnn: [1, 28, 28] {
        conv1: Conv2d(8, 3), bn1: BatchNorm2d, Relu,
        MaxPool2d(2),
        Residual {
            Conv2d(8, 3, padding = 1, bias = false), BatchNorm2d, Relu,
            Conv2d(8, 1),
        },
        conv2: Conv2d(16, 3, stride = 2), Relu,
        AvgPool2d(2),
        Flatten,
        fc: Dense(32), Gelu,
        Dropout(0.25),
        out: Dense(10), Softmax,
    }
}

network! {
    /// The first block of an ImageNet-sized CNN: one 64 × 222 × 222 map is 12.6 MB, more
    /// than a thread's default stack.
    pub struct Imagenet: [3, 224, 224] {
        conv1: Conv2d(64, 3), Relu,
        MaxPool2d(4),
        conv2: Conv2d(16, 3, stride = 2), Relu,
        GlobalAvgPool2d,
        Flatten,
        out: Dense(10),
    }
}

network! {
    /// Every recurrence, returning sequences and the last state; one simple RNN over one
    /// sequence takes its single-kernel path.
    pub struct Recurrent: [12, 3] {
        GRU(8, return_sequences = true),
        SimpleRNN(6, activation = relu, return_sequences = true),
        LSTM(5, return_sequences = true),
        SimpleRNN(7),
        Dense(2),
    }
}

network! {
    /// Token ids through an embedding and an LSTM: `forward_in` checks the ids first.
    pub struct TokenClassifier: tokens[6] {
        embed: Embedding(20, 4),
        LSTM(8),
        Dense(1), Sigmoid,
    }
}

fn close(a: &[f32], b: &[f32], tol: f32) {
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol * (1.0 + y.abs()),
            "value {i}: {x} vs {y}"
        );
    }
}

#[test]
fn the_plan_is_const_and_forward_in_matches_forward() {
    // Two regions for the 64- and 32-wide outputs (the last layer writes the caller's).
    assert_eq!(Mlp::ARENA_FLOATS, 64 + 32);
    assert_eq!(Mlp::ARENA_BYTES, 4 * 96);
    assert_eq!(Mlp::PARAM_BYTES, 4 * 52_650);
    // Two per parameter (a multiply-add per weight, an add per bias).
    assert_eq!(Mlp::FLOPS, 2 * 52_650);
    const _: () = assert!(Mlp::ARENA_BYTES < 1024);

    let mut rng = Rng::seed(1);
    let mlp = Mlp::init(&mut rng);
    let mut arena = Arena::<{ Mlp::ARENA_FLOATS }>::new();
    for _ in 0..3 {
        let x = Tensor1::<784>::new(core::array::from_fn(|_| rng.next_f32()));
        assert_eq!(mlp.forward_in(&mut arena, &x), mlp.forward(&x));
    }
}

#[test]
fn a_cnn_with_joins_and_norms_computes_the_same_in_its_arena() {
    let mut rng = Rng::seed(2);
    let mut cnn = Cnn::init(&mut rng);
    // Running statistics away from their initial values, so that inference uses them.
    let x = Batch::<Tensor3<1, 28, 28>>::from_vec((0..8 * 784).map(|_| rng.next_f32()).collect())
        .unwrap();
    let y = Labels::<10>::new((0..8).collect()).unwrap();
    cnn.train_step(&x, &y, &CrossEntropy, &mut Sgd::new(0.01))
        .unwrap();
    let mut arena = Arena::<{ Cnn::ARENA_FLOATS }>::boxed();
    for i in 0..4 {
        let sample = x.sample(i);
        // im2col + GEMM in the arena, whichever algorithm `forward` picked: rounding only.
        close(
            cnn.forward_in(&mut arena, &sample).as_slice(),
            cnn.forward(&sample).as_slice(),
            1e-5,
        );
    }
    let mut out = Batch::default();
    cnn.predict_in(&mut arena, &x, &mut out);
    close(out.as_slice(), cnn.predict(&x).as_slice(), 1e-5);
    // Larger than any one map, smaller than keeping them all.
    const { assert!(Cnn::ARENA_FLOATS >= 8 * 26 * 26) };
}

#[test]
fn a_224_by_224_cnn_runs_on_a_default_thread() {
    let mut rng = Rng::seed(3);
    let net = Imagenet::init(&mut rng);
    let x = Tensor3::<3, 224, 224>::from_slice(
        &(0..3 * 224 * 224)
            .map(|_| rng.next_f32())
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let x = Box::new(x);
    // `forward` keeps every map on the stack: the reference runs on a thread with room.
    let reference = std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(256 << 20)
            .spawn_scoped(s, || net.forward(&x))
            .unwrap()
            .join()
            .unwrap()
    });
    // A thread with Rust's default stack (2 MiB), the arena on the heap.
    let in_arena = std::thread::scope(|s| {
        s.spawn(|| {
            let mut arena = Arena::<{ Imagenet::ARENA_FLOATS }>::boxed();
            net.forward_in(&mut arena, &x)
        })
        .join()
        .unwrap()
    });
    close(in_arena.as_slice(), reference.as_slice(), 1e-4);
    // The two largest maps and the first convolution's columns.
    const { assert!(Imagenet::ARENA_BYTES > 12 << 20) };
}

#[test]
fn recurrences_and_embeddings_run_in_the_arena() {
    let mut rng = Rng::seed(4);
    let net = Recurrent::init(&mut rng);
    let mut arena = Arena::<{ Recurrent::ARENA_FLOATS }>::new();
    for _ in 0..3 {
        let x = Tensor2::<12, 3> {
            data: core::array::from_fn(|_| core::array::from_fn(|_| rng.next_f32())),
        };
        close(
            net.forward_in(&mut arena, &x).as_slice(),
            net.forward(&x).as_slice(),
            1e-5,
        );
    }
    let tokens = TokenClassifier::init(&mut rng);
    let mut arena = Arena::<{ TokenClassifier::ARENA_FLOATS }>::new();
    let ids = Tokens::<6>::new([1, 4, 19, 0, 7, 7]);
    close(
        tokens.forward_in(&mut arena, &ids).unwrap().as_slice(),
        tokens.forward(&ids).unwrap().as_slice(),
        1e-5,
    );
    let out_of_vocabulary = Tokens::<6>::new([1, 4, 20, 0, 7, 7]);
    assert!(matches!(
        tokens.forward_in(&mut arena, &out_of_vocabulary),
        Err(typed_nn::Error::TokenOutOfVocabulary { position: 2, .. })
    ));
}
