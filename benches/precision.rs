//! Workloads W1, W2 and W5 of BENCHMARKS.md in each precision: the f32 network, and the
//! same network converted to int8 (static and dynamic) and bf16; and the training steps of
//! W3 and W6 with f32 and with bf16 products (`#[mixed_precision(bf16)]`). Throughput is in
//! the f32 network's FLOP/s (criterion's "elements"). `TYPED_NN_THREADS=1` or `2` to fix
//! the thread count.
//!
//! cargo bench --bench precision

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use std::time::Duration;
use typed_nn::precision::{Infer, Lower};
use typed_nn::prelude::*;

#[path = "common/networks.rs"]
mod networks;
use networks::{Mlp, SeedCnn};

network! {
    /// W3's MLP with its training products in bf16.
    #[mixed_precision(bf16)]
    pub struct MlpBf16: [784] {
        Dense(128), Relu,
        Dense(64), Relu,
        Dense(10), Softmax,
    }
}

network! {
    /// W6's CNN with its training products in bf16.
    #[mixed_precision(bf16)]
    pub struct SeedCnnBf16: [3, 64, 64] {
        Conv2d(32, 3), Relu,
        MaxPool2d(2),
        Conv2d(64, 3), Relu,
        MaxPool2d(2),
        Flatten,
        Dense(128), Relu,
        Dense(10), Softmax,
    }
}

fn random_batch<S: Sample>(rows: usize, rng: &mut Rng) -> Batch<S> {
    let mut x = Batch::<S>::zeros(rows);
    rng.fill_uniform(x.as_mut_slice(), 1.0);
    // Non-negative, like the pixels the networks were made for.
    x.as_mut_slice().iter_mut().for_each(|v| *v = v.abs());
    x
}

/// Benchmarks `net` on `x` under `name`, with a workspace kept between calls.
fn bench<N: Infer>(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    net: &N,
    x: &Batch<N::In>,
) {
    let (mut ws, mut y) = (N::Workspace::default(), Batch::zeros(x.rows()));
    g.bench_function(name, |b| {
        b.iter(|| {
            net.infer_batch(black_box(x), &mut y, &mut ws);
            black_box(y.rows())
        })
    });
}

/// The network in f32 and converted to each precision, calibrated on `calibration`.
fn each_precision<N>(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    workload: &str,
    net: &N,
    calibration: &Batch<N::In>,
    x: &Batch<N::In>,
) where
    N: Layer + Send + Sync + Lower<Int8> + Lower<Int8Dynamic> + Lower<Bf16>,
{
    bench(g, &format!("{workload} f32"), net, x);
    let int8 = net.to_precision::<Int8>(calibration).unwrap();
    bench(g, &format!("{workload} int8"), &int8, x);
    let dynamic = net.to_precision::<Int8Dynamic>(calibration).unwrap();
    bench(g, &format!("{workload} int8-dynamic"), &dynamic, x);
    let bf16 = net.to_precision::<Bf16>(calibration).unwrap();
    bench(g, &format!("{workload} bf16"), &bf16, x);
}

fn precision_workloads(c: &mut Criterion) {
    let mut rng = Rng::seed(1);
    let mut g = c.benchmark_group("precision");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);

    let mlp = Mlp::init(&mut rng);
    let calibration = random_batch::<Tensor1<784>>(256, &mut rng);
    let mlp_flops = 2 * <Mlp as Layer>::PARAMS as u64;
    g.throughput(Throughput::Elements(mlp_flops));
    each_precision(
        &mut g,
        "W1 mlp-infer-b1",
        &mlp,
        &calibration,
        &random_batch(1, &mut rng),
    );
    g.throughput(Throughput::Elements(64 * mlp_flops));
    each_precision(
        &mut g,
        "W2 mlp-infer-b64",
        &mlp,
        &calibration,
        &random_batch(64, &mut rng),
    );

    let cnn = SeedCnn::init(&mut rng);
    let calibration = random_batch::<Tensor3<3, 64, 64>>(32, &mut rng);
    g.throughput(Throughput::Elements(<SeedCnn as Layer>::FLOPS as u64));
    each_precision(
        &mut g,
        "W5 cnn-infer-b1",
        &cnn,
        &calibration,
        &random_batch(1, &mut rng),
    );
    g.finish();
}

/// One training step (forward, backward, Adam) of `net` on `x`.
fn bench_step<N>(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    net: &mut N,
    x: &Batch<N::In>,
) where
    N: Network<Out = Tensor1<10>, Head = Softmax> + Send,
{
    let labels = Labels::<10>::new((0..x.rows() as u32).map(|i| i % 10).collect()).unwrap();
    let mut adam = Adam::new(1e-3);
    g.bench_function(name, |b| {
        b.iter(|| {
            net.train_step(black_box(x), &labels, &CrossEntropy, &mut adam)
                .unwrap()
        })
    });
}

fn mixed_training(c: &mut Criterion) {
    let mut rng = Rng::seed(2);
    let mut g = c.benchmark_group("precision");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .sample_size(20);
    let x64 = random_batch::<Tensor1<784>>(64, &mut rng);
    g.throughput(Throughput::Elements(
        3 * 64 * 2 * <Mlp as Layer>::PARAMS as u64,
    ));
    bench_step(
        &mut g,
        "W3 mlp-train-b64 f32",
        &mut Mlp::init(&mut Rng::seed(3)),
        &x64,
    );
    bench_step(
        &mut g,
        "W3 mlp-train-b64 bf16 products",
        &mut MlpBf16::init(&mut Rng::seed(3)),
        &x64,
    );
    let x32 = random_batch::<Tensor3<3, 64, 64>>(32, &mut rng);
    g.throughput(Throughput::Elements(
        3 * 32 * <SeedCnn as Layer>::FLOPS as u64,
    ));
    bench_step(
        &mut g,
        "W6 cnn-train-b32 f32",
        &mut SeedCnn::init(&mut Rng::seed(3)),
        &x32,
    );
    bench_step(
        &mut g,
        "W6 cnn-train-b32 bf16 products",
        &mut SeedCnnBf16::init(&mut Rng::seed(3)),
        &x32,
    );
    g.finish();
}

criterion_group!(benches, precision_workloads, mixed_training);
criterion_main!(benches);
