//! The distribution of training-step times (p10, median, p90) of W3, W6, W8 and W9, where
//! criterion's median alone hides a bimodal distribution (subnormal arithmetic made W3's
//! median 2.9× its p10).
//!
//! cargo bench --bench steps                              # both cores, subnormals flushed
//! TYPED_NN_THREADS=1 cargo bench --bench steps           # one thread
//! TYPED_NN_FLUSH_DENORMALS=0 cargo bench --bench steps   # IEEE subnormals kept
//! cargo bench --bench steps -- W3                        # only the workloads named
//! cargo bench --bench steps -- E2                        # E2's step, plain and with BatchNorm
//! cargo bench --bench steps -- infer                     # W2's and W5's inference calls

use std::time::{Duration, Instant};
use typed_nn::data::TargetBatch;
use typed_nn::loss::Loss;
use typed_nn::prelude::*;

#[path = "common/networks.rs"]
mod networks;
use networks::{Mlp, SeedCnn, SeedRnn, SeqLstm};

network! {
    /// E2's network (examples/mnist_cnn.rs): convolution, ReLU and pooling fuse.
    pub struct MnistCnn: [1, 28, 28] {
        Conv2d(32, 3), Relu, MaxPool2d(2),
        Conv2d(64, 3), Relu, MaxPool2d(2),
        Flatten, Dense(128), Relu, Dense(10), Softmax,
    }
}

network! {
    /// [`MnistCnnBn`] with its ReLUs named, which keeps them out of the normalisations: each
    /// then runs as a pass of its own over the batch.
    pub struct MnistCnnBnUnfused: [1, 28, 28] {
        Conv2d(32, 3, bias = false), BatchNorm2d, relu1: Relu, MaxPool2d(2),
        Conv2d(64, 3, bias = false), BatchNorm2d, relu2: Relu, MaxPool2d(2),
        Flatten, Dense(128), Relu, Dropout(0.5), Dense(10), Softmax,
    }
}

network! {
    /// `mnist_cnn --bn`'s network: Conv-BatchNorm-ReLU blocks, Dropout before the classifier.
    pub struct MnistCnnBn: [1, 28, 28] {
        Conv2d(32, 3, bias = false), BatchNorm2d, Relu, MaxPool2d(2),
        Conv2d(64, 3, bias = false), BatchNorm2d, Relu, MaxPool2d(2),
        Flatten, Dense(128), Relu, Dropout(0.5), Dense(10), Softmax,
    }
}

fn random_batch<S: Sample>(rows: usize, rng: &mut Rng) -> Batch<S> {
    Batch::from_vec((0..rows * S::LEN).map(|_| rng.next_f32()).collect()).unwrap()
}

/// Times training steps for about `budget` after a warm-up and prints p10/p50/p90.
fn steps<N, T, L>(name: &str, net: &mut N, x: &Batch<N::In>, y: &T, loss: &L, budget: Duration)
where
    N: Network + Send,
    T: TargetBatch + 'static,
    L: Loss<N::Head, N::Out, T> + Sync,
{
    let mut adam = Adam::new(1e-3);
    distribution(name, "steps", budget, || {
        typed_nn::train::train_step(net, x, y, loss, &mut adam).unwrap();
    });
}

/// Times calls of `f` for about `budget` after a warm-up of a quarter of it (and at least
/// 11 calls) and prints p10/p50/p90; `what` names a call in the line.
fn distribution(name: &str, what: &str, budget: Duration, mut f: impl FnMut()) {
    let warm = Instant::now();
    while warm.elapsed() < budget / 4 {
        f();
    }
    let mut times = Vec::new();
    let start = Instant::now();
    while start.elapsed() < budget || times.len() < 11 {
        let t = Instant::now();
        f();
        times.push(t.elapsed().as_secs_f64() * 1e6);
    }
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    println!(
        "{name:<18} {what} {:>6}   p10 {:>10.1} µs   median {:>10.1} µs   p90 {:>10.1} µs   median/p10 {:.2}",
        times.len(),
        at(0.1),
        at(0.5),
        at(0.9),
        at(0.5) / at(0.1)
    );
}

fn main() {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let wanted = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f));
    println!(
        "threads {}, subnormals {}",
        typed_nn::kernels::threads(),
        if typed_nn::kernels::flush_denormals() {
            "flushed"
        } else {
            "kept"
        }
    );
    let mut rng = Rng::seed(0);
    if wanted("W3 mlp-train-b64") {
        let mut net = Mlp::init(&mut rng);
        let x = random_batch::<Tensor1<784>>(64, &mut rng);
        let y = Labels::<10>::new((0..64).map(|i| i % 10).collect()).unwrap();
        steps(
            "W3 mlp-train-b64",
            &mut net,
            &x,
            &y,
            &CrossEntropy,
            Duration::from_secs(3),
        );
    }
    if wanted("W6 cnn-train-b32") {
        let mut net = SeedCnn::init(&mut rng);
        let x = random_batch::<Tensor3<3, 64, 64>>(32, &mut rng);
        let y = Labels::<10>::new((0..32).map(|i| i % 10).collect()).unwrap();
        steps(
            "W6 cnn-train-b32",
            &mut net,
            &x,
            &y,
            &CrossEntropy,
            Duration::from_secs(6),
        );
    }
    if wanted("W8 rnn-train-b32") {
        let mut net = SeedRnn::init(&mut rng);
        let x = random_batch::<Tensor2<100, 1>>(32, &mut rng);
        let y = Batch::<Tensor1<1>>::from_vec((0..32).map(|i| (i % 2) as f32).collect()).unwrap();
        steps(
            "W8 rnn-train-b32",
            &mut net,
            &x,
            &y,
            &BinaryCrossEntropy,
            Duration::from_secs(3),
        );
    }
    if wanted("W9 lstm-train-b32") {
        let mut net = SeqLstm::init(&mut rng);
        let x = random_batch::<Tensor2<28, 28>>(32, &mut rng);
        let y = Labels::<10>::new((0..32).map(|i| i % 10).collect()).unwrap();
        steps(
            "W9 lstm-train-b32",
            &mut net,
            &x,
            &y,
            &CrossEntropy,
            Duration::from_secs(3),
        );
    }
    let e2 = [
        "E2 cnn-train-b64",
        "E2 cnn-bn-train-b64",
        "E2 cnn-bn-train-b64 (ReLU not fused)",
    ];
    for (k, name) in e2.into_iter().enumerate() {
        if !wanted(name) {
            continue;
        }
        let x = random_batch::<Tensor3<1, 28, 28>>(64, &mut rng);
        let y = Labels::<10>::new((0..64).map(|i| i % 10).collect()).unwrap();
        let budget = Duration::from_secs(3);
        match k {
            0 => steps(
                name,
                &mut MnistCnn::init(&mut rng),
                &x,
                &y,
                &CrossEntropy,
                budget,
            ),
            1 => steps(
                name,
                &mut MnistCnnBn::init(&mut rng),
                &x,
                &y,
                &CrossEntropy,
                budget,
            ),
            _ => {
                let mut net = MnistCnnBnUnfused::init(&mut rng);
                steps(name, &mut net, &x, &y, &CrossEntropy, budget)
            }
        }
    }
    if wanted("W2 mlp-infer-b64") {
        let net = Mlp::init(&mut rng);
        let x = random_batch::<Tensor1<784>>(64, &mut rng);
        let mut out = Batch::default();
        distribution("W2 mlp-infer-b64", "calls", Duration::from_secs(2), || {
            net.predict_into(&x, &mut out);
            std::hint::black_box(out.rows());
        });
    }
    if wanted("W5 cnn-infer-b1") {
        let net = SeedCnn::init(&mut rng);
        let x = random_batch::<Tensor3<3, 64, 64>>(1, &mut rng).sample(0);
        distribution("W5 cnn-infer-b1", "calls", Duration::from_secs(2), || {
            std::hint::black_box(net.forward(&x));
        });
    }
}
