//! Workloads W1–W4 of shared/bench/WORKLOADS.md: the MLP and the tiny network, inference
//! and training. Throughput is reported in FLOP/s (criterion's "elements" are FLOPs here).
//!
//! cargo bench --bench workloads

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use std::time::Duration;
use typed_nn::prelude::*;

network! {
    /// W1–W3: Dense 784→128 relu, Dense 128→64 relu, Dense 64→10 softmax.
    pub struct Mlp: [784] {
        Dense(128), Relu,
        Dense(64), Relu,
        Dense(10), Softmax,
    }
}

network! {
    /// W4: Dense 4→16 tanh, Dense 16→16 tanh, Dense 16→2 linear.
    pub struct Tiny: [4] {
        Dense(16), Tanh,
        Dense(16), Tanh,
        Dense(2),
    }
}

/// Multiply-adds of one sample through dense layers of these (in, out) sizes, as FLOPs.
fn dense_flops(layers: &[(usize, usize)]) -> u64 {
    layers.iter().map(|&(i, o)| 2 * (i * o) as u64).sum()
}

const MLP: [(usize, usize); 3] = [(784, 128), (128, 64), (64, 10)];
const TINY: [(usize, usize); 3] = [(4, 16), (16, 16), (16, 2)];

fn random_batch<S: Sample>(rows: usize, rng: &mut Rng) -> Batch<S> {
    Batch::from_vec((0..rows * S::LEN).map(|_| rng.next_f32()).collect()).unwrap()
}

fn workloads(c: &mut Criterion) {
    let mut rng = Rng::seed(0);
    let mut mlp = Mlp::init(&mut rng);
    let tiny = Tiny::init(&mut rng);

    let mut g = c.benchmark_group("workloads");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));

    let x1: Tensor1<784> = random_batch::<Tensor1<784>>(1, &mut rng).sample(0);
    g.throughput(Throughput::Elements(dense_flops(&MLP)));
    g.bench_function("W1 mlp-infer-b1", |b| {
        b.iter(|| mlp.forward(black_box(&x1)))
    });

    let x64: Batch<Tensor1<784>> = random_batch(64, &mut rng);
    g.throughput(Throughput::Elements(64 * dense_flops(&MLP)));
    g.bench_function("W2 mlp-infer-b64", |b| {
        b.iter(|| black_box(mlp.predict(black_box(&x64)).rows()))
    });
    g.bench_function("W2 mlp-infer-b64 (allocating forward_batch)", |b| {
        b.iter(|| mlp.forward_batch(black_box(&x64)))
    });

    // Forward, weight gradients of every layer, input gradients of all but the first.
    let train_flops = 64 * (3 * dense_flops(&MLP) - dense_flops(&MLP[..1]));
    let labels = Labels::<10>::new((0..64).map(|i| i % 10).collect()).unwrap();
    let mut adam = Adam::new(1e-3);
    g.throughput(Throughput::Elements(train_flops));
    g.bench_function("W3 mlp-train-b64", |b| {
        b.iter(|| {
            mlp.train_step(black_box(&x64), &labels, &CrossEntropy, &mut adam)
                .unwrap()
        })
    });

    let t1: Tensor1<4> = random_batch::<Tensor1<4>>(1, &mut rng).sample(0);
    g.throughput(Throughput::Elements(dense_flops(&TINY)));
    g.bench_function("W4 tiny-infer-b1", |b| {
        b.iter(|| tiny.forward(black_box(&t1)))
    });
    g.finish();
}

criterion_group!(benches, workloads);
criterion_main!(benches);
