//! After warm-up, a training step and a one-sample inference allocate nothing.
//! A counting global allocator proves it; this file holds one test so no other test's
//! allocations run concurrently.

use typed_nn::prelude::*;

use typed_nn::{allocations, CountingAllocator};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

network! {
    pub struct Mlp: [784] {
        fc1: Dense(64), Relu,
        fc2: Dense(32), Relu,
        out: Dense(10), Softmax,
    }
}

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = allocations();
    f();
    allocations() - before
}

#[test]
fn training_steps_and_inference_allocate_nothing_after_warm_up() {
    let mut rng = Rng::seed(0);
    let mut model = Mlp::init(&mut rng);
    let x64 =
        Batch::<Tensor1<784>>::from_vec((0..64 * 784).map(|_| rng.next_f32()).collect()).unwrap();
    let y64 = Labels::<10>::new((0..64).map(|i| i % 10).collect()).unwrap();
    let x17 = Batch::<Tensor1<784>>::from_vec(x64.as_slice()[..17 * 784].to_vec()).unwrap();
    let y17 = Labels::<10>::new(y64.as_slice()[..17].to_vec()).unwrap();
    let mut adam = Adam::new(1e-3);
    let mut sgd = Sgd::new(0.01).momentum(0.9);

    // Warm-up: buffers grow to the largest batch, optimizer state is allocated.
    model
        .train_step(&x64, &y64, &CrossEntropy, &mut adam)
        .unwrap();
    model
        .train_step(&x64, &y64, &CrossEntropy, &mut sgd)
        .unwrap();

    let n = allocations_during(|| {
        for _ in 0..3 {
            model
                .train_step(&x64, &y64, &CrossEntropy, &mut adam)
                .unwrap();
            // A smaller last batch reuses the same buffers.
            model
                .train_step(&x17, &y17, &CrossEntropy, &mut adam)
                .unwrap();
            model
                .train_step(&x64, &y64, &CrossEntropy, &mut sgd)
                .unwrap();
        }
    });
    assert_eq!(n, 0, "allocations in warm training steps");

    let sample = x64.sample(0);
    let n = allocations_during(|| {
        let probs = model.forward(&sample);
        assert!((probs.data.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    });
    assert_eq!(n, 0, "allocations in one-sample inference");

    let mut out = Batch::default();
    model.predict_into(&x64, &mut out);
    let n = allocations_during(|| {
        model.predict_into(&x17, &mut out);
        assert_eq!(out.rows(), 17);
        model.predict_into(&x64, &mut out);
        assert_eq!(out.rows(), 64);
    });
    assert_eq!(n, 0, "allocations in warm batch inference");

    // A trained model embedded in the binary (examples/embedded_inference.rs) runs without
    // allocating, and is the trained one.
    let trained =
        Mlp::from_safetensors_bytes(include_bytes!("../examples/weights/mnist_mlp.safetensors"))
            .unwrap();
    let (_, test) = mnist::load(concat!(env!("CARGO_MANIFEST_DIR"), "/data/mnist")).unwrap();
    let images: Vec<Tensor1<784>> = (0..200).map(|i| test.input(i)).collect();
    let mut correct = 0;
    let n = allocations_during(|| {
        for (i, image) in images.iter().enumerate() {
            correct += usize::from(trained.forward(image).argmax() == test.target(i).index());
        }
    });
    assert_eq!(n, 0, "allocations in embedded-model inference");
    assert!(correct >= 190, "{correct} of 200 right");

    // The counter does see allocations: the check above could fail.
    assert!(allocations_during(|| drop(model.forward_batch(&x17))) > 0);

    joined_networks_train_and_infer_without_allocating();
    generic_networks_train_and_infer_without_allocating();
}

network! {
    /// Generic over the image size: every size after the first convolution is computed, so
    /// its samples are `Shaped` (heap-backed) ones.
    pub struct AnySize<const H: usize, const W: usize>: [1, H, W] {
        Conv2d(3, 3), Relu, MaxPool2d(2),
        Concat { { Conv2d(2, 1) }, {} },
        Flatten,
        Dense(4), Softmax,
    }
}

/// Run from the one test above, so that no other test allocates concurrently.
fn generic_networks_train_and_infer_without_allocating() {
    let mut rng = Rng::seed(4);
    let mut net = AnySize::<9, 11>::init(&mut rng);
    let x = Batch::<Tensor3<1, 9, 11>>::from_vec((0..8 * 99).map(|_| rng.next_f32()).collect())
        .unwrap();
    let y = Labels::<4>::new((0..8).map(|i| i % 4).collect()).unwrap();
    let mut adam = Adam::new(1e-3);
    let mut out = Batch::default();
    for _ in 0..2 {
        net.train_step(&x, &y, &CrossEntropy, &mut adam).unwrap();
        net.predict_into(&x, &mut out);
    }
    let n = allocations_during(|| {
        for _ in 0..3 {
            net.train_step(&x, &y, &CrossEntropy, &mut adam).unwrap();
            net.predict_into(&x, &mut out);
            assert_eq!(out.rows(), 8);
        }
    });
    assert_eq!(
        n, 0,
        "allocations in warm steps of a network with computed shapes"
    );
}

network! {
    /// Every join kind, BatchNorm, Dropout and attention, to prove their buffers are reused.
    pub struct Joined: [2, 6, 6] {
        Conv2d(4, 3, padding = 1, bias = false), BatchNorm2d, Relu,
        Residual { Conv2d(4, 3, padding = 1), Relu } shortcut { Conv2d(4, 1) },
        Concat { { Conv2d(2, 1) }, {} },
        Add { { Conv2d(6, 1) }, {} },
        Flatten,
        Dropout(0.3),
        Dense(10), Softmax,
    }
}

network! {
    pub struct Attending: [5, 8] {
        Residual { LayerNorm, MultiHeadAttention(2, 8) },
        Residual { LayerNorm, Dense(16, per_step = true), Gelu, Dense(8, per_step = true) },
        Flatten,
        Dropout(0.1),
        Dense(3),
    }
}

/// Run from the one test above, so that no other test allocates concurrently.
fn joined_networks_train_and_infer_without_allocating() {
    let mut rng = Rng::seed(3);
    let mut joined = Joined::init(&mut rng);
    let x = Batch::<Tensor3<2, 6, 6>>::from_vec((0..16 * 72).map(|_| rng.next_f32()).collect())
        .unwrap();
    let y = Labels::<10>::new((0..16).map(|i| i % 10).collect()).unwrap();
    let mut attending = Attending::init(&mut rng);
    let xs =
        Batch::<Tensor2<5, 8>>::from_vec((0..16 * 40).map(|_| rng.next_f32()).collect()).unwrap();
    let ys = Labels::<3>::new((0..16).map(|i| i % 3).collect()).unwrap();
    let mut adam = Adam::new(1e-3);
    let mut adam2 = Adam::new(1e-3);
    let (mut out, mut outs) = (Batch::default(), Batch::default());
    for _ in 0..2 {
        joined.train_step(&x, &y, &CrossEntropy, &mut adam).unwrap();
        joined.predict_into(&x, &mut out);
        attending
            .train_step(&xs, &ys, &CrossEntropy, &mut adam2)
            .unwrap();
        attending.predict_into(&xs, &mut outs);
    }
    let n = allocations_during(|| {
        for _ in 0..3 {
            joined.train_step(&x, &y, &CrossEntropy, &mut adam).unwrap();
            joined.predict_into(&x, &mut out);
            assert_eq!(out.rows(), 16);
            attending
                .train_step(&xs, &ys, &CrossEntropy, &mut adam2)
                .unwrap();
            attending.predict_into(&xs, &mut outs);
            assert_eq!(outs.rows(), 16);
        }
    });
    assert_eq!(
        n, 0,
        "allocations in warm steps through joins, BatchNorm, Dropout, attention"
    );
}
