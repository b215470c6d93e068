//! Workloads W1–W13 of BENCHMARKS.md: the MLP, the tiny network, the seed CNN and RNN, the
//! row-wise MNIST LSTM, the character language model and the small GPT, inference,
//! training and generation one step at a time. Throughput is reported in FLOP/s
//! (criterion's "elements" are FLOPs here).
//!
//! cargo bench --bench workloads

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use std::time::Duration;
use typed_nn::kernels::conv::{set_direct, set_fused_pooling, set_winograd};
use typed_nn::prelude::*;

#[path = "common/networks.rs"]
mod networks;
use networks::{
    generate_gpt, generate_greedy, gpt_forward_flops, CharLm, Gpt, Mlp, SeedCnn, SeedRnn, SeqLstm,
    Tiny, CHAR_VOCAB, CHAR_WINDOW, GENERATED, GPT_GENERATED, GPT_VOCAB, GPT_WINDOW,
};

network! {
    /// W5/W6's network generic over its image size: at 64×64 every size after the first
    /// convolution is computed from the parameters (`Shaped` samples).
    pub struct AnySizeCnn<const H: usize, const W: usize>: [3, H, W] {
        Conv2d(32, 3), Relu,
        MaxPool2d(2),
        Conv2d(64, 3), Relu,
        MaxPool2d(2),
        Flatten,
        Dense(128), Relu,
        Dense(10), Softmax,
    }
}

network! {
    /// W5's first convolution alone, for its GFLOP/s.
    pub struct Conv1: [3, 64, 64] {
        Conv2d(32, 3), Relu,
    }
}

network! {
    /// W6's first convolution with the pooling after it, which the macro fuses into it.
    pub struct Conv1Pool: [3, 64, 64] {
        Conv2d(32, 3), Relu,
        MaxPool2d(2),
    }
}

network! {
    /// W6's first pooling alone.
    pub struct Pool1: [32, 62, 62] {
        MaxPool2d(2),
    }
}

network! {
    /// W5's second convolution alone.
    pub struct Conv2: [32, 31, 31] {
        Conv2d(64, 3), Relu,
    }
}

network! {
    /// A ResNet block's convolution at 16 channels (examples/mnist_resnet.rs), for the
    /// choice between Winograd and im2col.
    pub struct Conv16: [16, 14, 14] {
        Conv2d(16, 3, padding = 1), Relu,
    }
}

network! {
    /// The same at 32 channels on 7×7.
    pub struct Conv32: [32, 7, 7] {
        Conv2d(32, 3, padding = 1), Relu,
    }
}

/// FLOPs of one sample: input projections, recurrent products (4 gates for the LSTM), read-out.
const RNN_FLOPS: u64 = 2 * (100 * 50 + 100 * 50 * 50 + 50);
const LSTM_FLOPS: u64 = 2 * (28 * 28 * 512 + 28 * 128 * 512 + 128 * 10);
/// FLOPs of one step of W10/W11's network: the LSTM's input and recurrent products (4 gates
/// of 256) and the per-step read-out to 100 classes.
const CHAR_STEP_FLOPS: u64 = 2 * (64 * 1024 + 256 * 1024 + 256 * 100);

/// FLOPs of one sample through W5's layers: two convolutions and two dense layers.
const CONV1_FLOPS: u64 = 2 * 32 * 27 * 62 * 62;
const CONV2_FLOPS: u64 = 2 * 64 * 288 * 29 * 29;
const CNN_FLOPS: u64 = CONV1_FLOPS + CONV2_FLOPS + 2 * (12544 * 128 + 128 * 10);

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
    // The same in an arena planned at compile time (`forward_in`).
    g.bench_function("W1 mlp-infer-b1 (forward_in)", |b| {
        let mut arena = Arena::<{ Mlp::ARENA_FLOATS }>::new();
        b.iter(|| mlp.forward_in(&mut arena, black_box(&x1)))
    });

    let x64: Batch<Tensor1<784>> = random_batch(64, &mut rng);
    g.throughput(Throughput::Elements(64 * dense_flops(&MLP)));
    g.bench_function("W2 mlp-infer-b64", |b| {
        let mut out = Batch::default();
        b.iter(|| {
            mlp.predict_into(black_box(&x64), &mut out);
            black_box(out.rows())
        })
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

fn cnn_workloads(c: &mut Criterion) {
    let mut rng = Rng::seed(1);
    let mut cnn = SeedCnn::init(&mut rng);
    let mut g = c.benchmark_group("workloads");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .sample_size(20);

    let x1: Tensor3<3, 64, 64> = random_batch::<Tensor3<3, 64, 64>>(1, &mut rng).sample(0);
    g.throughput(Throughput::Elements(CNN_FLOPS));
    g.bench_function("W5 cnn-infer-b1", |b| {
        b.iter(|| cnn.forward(black_box(&x1)))
    });
    // In an arena planned at compile time: convolutions as im2col + GEMM on the own kernels
    // (what `forward` picks by shape, direct or Winograd, and the fused pooling keep
    // buffers of their own).
    g.bench_function("W5 cnn-infer-b1 (forward_in)", |b| {
        let mut arena = Arena::<{ SeedCnn::ARENA_FLOATS }>::boxed();
        b.iter(|| cnn.forward_in(&mut arena, black_box(&x1)))
    });
    // The same network written generic over its image size, instantiated at 64×64: the
    // same kernels, with heap-backed intermediate samples.
    let generic = AnySizeCnn::<64, 64>::init(&mut Rng::seed(1));
    g.bench_function("W5 cnn-infer-b1 (generic network)", |b| {
        b.iter(|| generic.forward(black_box(&x1)))
    });
    // The same with each pooling run after its convolution's whole output.
    g.bench_function("W5 cnn-infer-b1 (pooling not fused)", |b| {
        set_fused_pooling(false);
        b.iter(|| cnn.forward(black_box(&x1)));
        set_fused_pooling(true);
    });

    let conv1 = Conv1::init(&mut rng);
    g.throughput(Throughput::Elements(CONV1_FLOPS));
    g.bench_function("W5 conv1 3->32 forward b1", |b| {
        b.iter(|| conv1.forward(black_box(&x1)))
    });
    // The same with the direct convolution off: im2col + GEMM.
    g.bench_function("W5 conv1 3->32 forward b1 (im2col)", |b| {
        set_direct(false);
        b.iter(|| conv1.forward(black_box(&x1)));
        set_direct(true);
    });
    let conv2 = Conv2::init(&mut rng);
    let x2: Tensor3<32, 31, 31> = random_batch::<Tensor3<32, 31, 31>>(1, &mut rng).sample(0);
    g.throughput(Throughput::Elements(CONV2_FLOPS));
    g.bench_function("W5 conv2 32->64 forward b1", |b| {
        b.iter(|| conv2.forward(black_box(&x2)))
    });
    // The same with Winograd's algorithm off: im2col + GEMM, what every other shape uses.
    g.bench_function("W5 conv2 32->64 forward b1 (im2col)", |b| {
        set_winograd(false);
        b.iter(|| conv2.forward(black_box(&x2)));
        set_winograd(true);
    });

    let mut train_rng = Rng::seed(4);
    // The two convolutions' share of a W6 step: forward, weight and (second only) input
    // gradients at batch 32.
    use typed_nn::layers::Layer;
    let mut conv1 = conv1;
    let x32_1: Batch<Tensor3<3, 64, 64>> = random_batch(32, &mut rng);
    let (mut y1, mut c1, dy1) = (
        Batch::default(),
        Default::default(),
        random_batch::<Tensor3<32, 62, 62>>(32, &mut rng),
    );
    // Each pass alone: forward (bias and relu fused), backward (weight and bias gradients,
    // and the input gradient for the second), each backward after a forward pass.
    conv1.forward_train(&x32_1, &mut y1, &mut c1, &mut train_rng);
    g.throughput(Throughput::Elements(32 * CONV1_FLOPS));
    g.bench_function("W6 conv1 forward b32", |b| {
        b.iter(|| conv1.forward_train(black_box(&x32_1), &mut y1, &mut c1, &mut train_rng))
    });
    g.bench_function("W6 conv1 forward b32 (im2col)", |b| {
        set_direct(false);
        b.iter(|| conv1.forward_train(black_box(&x32_1), &mut y1, &mut c1, &mut train_rng));
        set_direct(true);
    });
    g.bench_function("W6 conv1 backward b32", |b| {
        b.iter(|| conv1.backward(black_box(&x32_1), &y1, &mut c1, &dy1, None))
    });
    g.bench_function("W6 conv1 backward b32 (im2col)", |b| {
        set_direct(false);
        b.iter(|| conv1.backward(black_box(&x32_1), &y1, &mut c1, &dy1, None));
        set_direct(true);
    });
    g.throughput(Throughput::Elements(32 * 2 * CONV1_FLOPS));
    g.bench_function("W6 conv1 train b32", |b| {
        b.iter(|| {
            conv1.forward_train(black_box(&x32_1), &mut y1, &mut c1, &mut train_rng);
            conv1.backward(&x32_1, &y1, &mut c1, &dy1, None);
        })
    });
    // The same convolution with its pooling, as W6 runs it: fused, the training pass keeps
    // the pooled output and its choices only, and the backward pass builds each sample's
    // gradient from them in cache; not fused, it keeps the convolution's whole output and
    // runs the pooling's and the convolution's backward passes over the batch.
    let mut conv1_pool = Conv1Pool::init(&mut rng);
    let (mut yq, mut cq, dyq) = (
        Batch::default(),
        Default::default(),
        random_batch::<Tensor3<32, 31, 31>>(32, &mut rng),
    );
    for fused in [true, false] {
        let name = if fused {
            "W6 conv1+pool train b32"
        } else {
            "W6 conv1+pool train b32 (pooling not fused)"
        };
        g.bench_function(name, |b| {
            set_fused_pooling(fused);
            b.iter(|| {
                conv1_pool.forward_train(black_box(&x32_1), &mut yq, &mut cq, &mut train_rng);
                conv1_pool.backward(&x32_1, &yq, &mut cq, &dyq, None);
            });
            set_fused_pooling(true);
        });
    }
    let mut conv2 = conv2;
    let x32_2: Batch<Tensor3<32, 31, 31>> = random_batch(32, &mut rng);
    let (mut y2, mut c2, dy2, mut dx2) = (
        Batch::default(),
        Default::default(),
        random_batch::<Tensor3<64, 29, 29>>(32, &mut rng),
        Batch::default(),
    );
    conv2.forward_train(&x32_2, &mut y2, &mut c2, &mut train_rng);
    g.throughput(Throughput::Elements(32 * CONV2_FLOPS));
    g.bench_function("W6 conv2 forward b32", |b| {
        b.iter(|| conv2.forward_train(black_box(&x32_2), &mut y2, &mut c2, &mut train_rng))
    });
    g.bench_function("W6 conv2 forward b32 (im2col)", |b| {
        set_winograd(false);
        b.iter(|| conv2.forward_train(black_box(&x32_2), &mut y2, &mut c2, &mut train_rng));
        set_winograd(true);
    });
    // Smaller 3×3 convolutions, where the transforms weigh more against the products.
    let conv16 = Conv16::init(&mut rng);
    let x16: Batch<Tensor3<16, 14, 14>> = random_batch(32, &mut rng);
    g.throughput(Throughput::Elements(32 * 2 * 16 * 144 * 196));
    for winograd in [true, false] {
        let name = if winograd {
            "conv 16->16 14x14 infer b32"
        } else {
            "conv 16->16 14x14 infer b32 (im2col)"
        };
        g.bench_function(name, |b| {
            set_winograd(winograd);
            b.iter(|| conv16.forward_batch(black_box(&x16)));
            set_winograd(true);
        });
    }
    let conv32 = Conv32::init(&mut rng);
    let x32c: Batch<Tensor3<32, 7, 7>> = random_batch(32, &mut rng);
    g.throughput(Throughput::Elements(32 * 2 * 32 * 288 * 49));
    for winograd in [true, false] {
        let name = if winograd {
            "conv 32->32 7x7 infer b32"
        } else {
            "conv 32->32 7x7 infer b32 (im2col)"
        };
        g.bench_function(name, |b| {
            set_winograd(winograd);
            b.iter(|| conv32.forward_batch(black_box(&x32c)));
            set_winograd(true);
        });
    }
    g.throughput(Throughput::Elements(32 * 2 * CONV2_FLOPS));
    g.bench_function("W6 conv2 backward b32", |b| {
        b.iter(|| conv2.backward(black_box(&x32_2), &y2, &mut c2, &dy2, Some(&mut dx2)))
    });
    // The input gradient by a product and col2im instead of Winograd's algorithm.
    g.bench_function("W6 conv2 backward b32 (im2col)", |b| {
        set_winograd(false);
        b.iter(|| conv2.backward(black_box(&x32_2), &y2, &mut c2, &dy2, Some(&mut dx2)));
        set_winograd(true);
    });
    g.throughput(Throughput::Elements(32 * 3 * CONV2_FLOPS));
    g.bench_function("W6 conv2 train b32", |b| {
        b.iter(|| {
            conv2.forward_train(black_box(&x32_2), &mut y2, &mut c2, &mut train_rng);
            conv2.backward(&x32_2, &y2, &mut c2, &dy2, Some(&mut dx2));
        })
    });

    let mut pool1 = Pool1::init(&mut rng);
    let xp: Batch<Tensor3<32, 62, 62>> = random_batch(32, &mut rng);
    let (mut yp, mut cp, dyp, mut dxp) = (
        Batch::default(),
        Default::default(),
        random_batch::<Tensor3<32, 31, 31>>(32, &mut rng),
        Batch::default(),
    );
    g.throughput(Throughput::Elements(32 * 32 * 62 * 62));
    g.bench_function("W6 pool1 infer b32 (elements)", |b| {
        let mut wsp = Default::default();
        b.iter(|| pool1.forward_batch_into(black_box(&xp), &mut yp, &mut wsp))
    });
    g.bench_function("W6 pool1 forward_train b32 (elements)", |b| {
        b.iter(|| pool1.forward_train(black_box(&xp), &mut yp, &mut cp, &mut train_rng))
    });
    g.bench_function("W6 pool1 train b32 (elements)", |b| {
        b.iter(|| {
            pool1.forward_train(black_box(&xp), &mut yp, &mut cp, &mut train_rng);
            pool1.backward(&xp, &yp, &mut cp, &dyp, Some(&mut dxp));
        })
    });

    // Forward, weight gradients everywhere, input gradients everywhere but the first layer.
    let x32: Batch<Tensor3<3, 64, 64>> = random_batch(32, &mut rng);
    let labels = Labels::<10>::new((0..32).map(|i| i % 10).collect()).unwrap();
    let mut adam = Adam::new(1e-3);
    g.throughput(Throughput::Elements(32 * (3 * CNN_FLOPS - CONV1_FLOPS)));
    g.sample_size(10);
    g.bench_function("W6 cnn-train-b32", |b| {
        b.iter(|| {
            cnn.train_step(black_box(&x32), &labels, &CrossEntropy, &mut adam)
                .unwrap()
        })
    });
    g.bench_function("W6 cnn-train-b32 (pooling not fused)", |b| {
        set_fused_pooling(false);
        b.iter(|| {
            cnn.train_step(black_box(&x32), &labels, &CrossEntropy, &mut adam)
                .unwrap()
        });
        set_fused_pooling(true);
    });
    let mut generic = AnySizeCnn::<64, 64>::init(&mut Rng::seed(1));
    let mut adam_generic = Adam::new(1e-3);
    g.bench_function("W6 cnn-train-b32 (generic network)", |b| {
        b.iter(|| {
            generic
                .train_step(black_box(&x32), &labels, &CrossEntropy, &mut adam_generic)
                .unwrap()
        })
    });
    g.finish();
}

fn rnn_workloads(c: &mut Criterion) {
    let mut rng = Rng::seed(2);
    let mut g = c.benchmark_group("workloads");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30);

    let mut rnn = SeedRnn::init(&mut rng);
    let x1: Tensor2<100, 1> = random_batch::<Tensor2<100, 1>>(1, &mut rng).sample(0);
    g.throughput(Throughput::Elements(RNN_FLOPS));
    g.bench_function("W7 rnn-infer-b1", |b| {
        b.iter(|| rnn.forward(black_box(&x1)))
    });

    // Training: forward, then weight and hidden-state gradients (about twice the forward).
    let x32: Batch<Tensor2<100, 1>> = random_batch(32, &mut rng);
    let t32 = Batch::<Tensor1<1>>::from_vec((0..32).map(|i| (i % 2) as f32).collect()).unwrap();
    let mut adam = Adam::new(1e-3);
    g.throughput(Throughput::Elements(32 * 3 * RNN_FLOPS));
    g.bench_function("W8 rnn-train-b32", |b| {
        b.iter(|| {
            rnn.train_step(black_box(&x32), &t32, &BinaryCrossEntropy, &mut adam)
                .unwrap()
        })
    });

    let mut lstm = SeqLstm::init(&mut rng);
    let xl: Batch<Tensor2<28, 28>> = random_batch(32, &mut rng);
    let labels = Labels::<10>::new((0..32).map(|i| i % 10).collect()).unwrap();
    let mut adam = Adam::new(1e-3);
    // The forward pass alone (the recurrence's products and cells), as inference.
    g.throughput(Throughput::Elements(32 * LSTM_FLOPS));
    g.bench_function("W9 lstm-infer-b32", |b| {
        let mut out = Batch::default();
        b.iter(|| {
            lstm.predict_into(black_box(&xl), &mut out);
            black_box(out.rows())
        })
    });
    g.throughput(Throughput::Elements(32 * 3 * LSTM_FLOPS));
    g.bench_function("W9 lstm-train-b32", |b| {
        b.iter(|| {
            lstm.train_step(black_box(&xl), &labels, &CrossEntropy, &mut adam)
                .unwrap()
        })
    });
    g.finish();
}

fn sequence_workloads(c: &mut Criterion) {
    let mut rng = Rng::seed(3);
    let mut g = c.benchmark_group("workloads");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .sample_size(20);

    let mut model = CharLm::init(&mut rng);
    let ids = |rng: &mut Rng| -> Vec<u32> {
        (0..32 * CHAR_WINDOW)
            .map(|_| rng.below(CHAR_VOCAB) as u32)
            .collect()
    };
    let x = Batch::<Tokens<CHAR_WINDOW>>::from_ids(&ids(&mut rng)).unwrap();
    let next = ids(&mut rng);
    let rows: Vec<StepClasses<CHAR_WINDOW, CHAR_VOCAB>> = next
        .chunks_exact(CHAR_WINDOW)
        .map(|row| StepClasses::new(row.try_into().unwrap()).unwrap())
        .collect();
    let targets = StepLabels::new(&rows);
    let mut adam = Adam::new(1e-3);
    g.throughput(Throughput::Elements(
        32 * CHAR_WINDOW as u64 * 3 * CHAR_STEP_FLOPS,
    ));
    g.bench_function("W10 charlm-train-b32", |b| {
        b.iter(|| {
            model
                .train_step(black_box(&x), &targets, &CrossEntropy, &mut adam)
                .unwrap()
        })
    });

    g.throughput(Throughput::Elements(GENERATED as u64 * CHAR_STEP_FLOPS));
    g.bench_function("W11 charlm-generate (200 steps)", |b| {
        b.iter(|| generate_greedy(black_box(&model)))
    });

    let mut gpt = Gpt::<GPT_WINDOW>::init(&mut rng);
    let ids = |rng: &mut Rng| -> Vec<u32> {
        (0..16 * GPT_WINDOW)
            .map(|_| rng.below(GPT_VOCAB) as u32)
            .collect()
    };
    let x = Batch::<Tokens<GPT_WINDOW>>::from_ids(&ids(&mut rng)).unwrap();
    let rows: Vec<StepClasses<GPT_WINDOW, GPT_VOCAB>> = ids(&mut rng)
        .chunks_exact(GPT_WINDOW)
        .map(|row| StepClasses::new(row.try_into().unwrap()).unwrap())
        .collect();
    let targets = StepLabels::new(&rows);
    let mut adam = Adam::new(1e-3);
    g.throughput(Throughput::Elements(
        16 * 3 * gpt_forward_flops(GPT_WINDOW as u64),
    ));
    g.bench_function("W12 gpt-train-b16", |b| {
        b.iter(|| {
            gpt.train_step(black_box(&x), &targets, &CrossEntropy, &mut adam)
                .unwrap()
        })
    });

    let generator = Gpt::<GPT_GENERATED>::init(&mut rng);
    // Step t attends to t + 1 keys: the products per token plus 4·(t + 1)·128 per block.
    let per_token = gpt_forward_flops(1) - 2 * 4 * 128;
    let attended = (1..=GPT_GENERATED as u64).sum::<u64>() * 2 * 4 * 128;
    g.throughput(Throughput::Elements(
        GPT_GENERATED as u64 * per_token + attended,
    ));
    g.bench_function("W13 gpt-generate (256 steps)", |b| {
        b.iter(|| generate_gpt(black_box(&generator)))
    });
    g.finish();
}

criterion_group!(
    benches,
    workloads,
    cnn_workloads,
    rnn_workloads,
    sequence_workloads
);
criterion_main!(benches);
