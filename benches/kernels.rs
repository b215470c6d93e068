//! The machine's FMA peak, and the GEMM shapes of the performance goals, on our register-tiled
//! kernels and on the `gemm` crate, one and two threads. Throughput is in FLOP/s
//! (criterion's "elements" are FLOPs). Figures and the switch point: BENCHMARKS.md.
//!
//! cargo bench --bench kernels
//!
//! The `lowp` group times the int8 and bf16 products (`kernels::lowp`) on each path this
//! machine has against the f32 product on the same shapes, weights packed and activations
//! converted beforehand; their "elements" are the same 2·m·k·n operations.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use std::time::Duration;
use typed_nn::kernels::lowp::{
    gemm_bf16, gemm_u8i8, round_up, to_bf16, Bf16Arch, Int8Arch, PackedBf16, PackedI8, ACT_MAX,
    BF16_GROUP, I8_GROUP, WEIGHT_MAX,
};
use typed_nn::kernels::{
    fma_peak_probe, gemm, gemm_nt_split, gemm_with, transpose, Arch, Backend, MatMul, MatMulNt,
};
use typed_nn::Rng;

/// M×K×N, the shapes the performance goals name.
const SHAPES: [(usize, usize, usize); 10] = [
    (1, 784, 128),
    (64, 128, 64),
    (32, 50, 50),
    (64, 128, 128),
    (64, 256, 128),
    (64, 512, 128),
    (64, 784, 128),
    (256, 784, 128),
    (256, 784, 1024),
    (1024, 1024, 1024),
];

fn peak(c: &mut Criterion) {
    let mut g = c.benchmark_group("peak");
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    const ITERS: usize = 100_000;
    for arch in Arch::available() {
        let Some(flops) = fma_peak_probe(arch, ITERS) else {
            continue;
        };
        let isa = arch.isa();
        g.throughput(Throughput::Elements(flops));
        g.bench_function(format!("{isa:?} 1 thread"), |b| {
            b.iter(|| fma_peak_probe(arch, black_box(ITERS)))
        });
        g.throughput(Throughput::Elements(2 * flops));
        g.bench_function(format!("{isa:?} 2 threads"), |b| {
            b.iter(|| {
                rayon::join(
                    || fma_peak_probe(arch, black_box(ITERS)),
                    || fma_peak_probe(arch, black_box(ITERS)),
                )
            })
        });
    }
    g.finish();
}

fn gemm_shapes(c: &mut Criterion) {
    let mut rng = Rng::seed(0);
    let arch = Arch::detect();
    let mut g = c.benchmark_group("gemm");
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    for (m, k, n) in SHAPES {
        let a: Vec<f32> = (0..m * k).map(|_| rng.next_f32()).collect();
        let b: Vec<f32> = (0..k * n).map(|_| rng.next_f32()).collect();
        let mut out = vec![0.0f32; m * n];
        let p = MatMul::new(m, n, k);
        g.throughput(Throughput::Elements(p.flops() as u64));
        let big = m * n * k >= 64 * 128 * 64;
        for (backend, threads) in [
            (Backend::Own, 1),
            (Backend::Library, 1),
            (Backend::Own, 2),
            (Backend::Library, 2),
        ] {
            if threads == 2 && !big {
                continue;
            }
            let id = BenchmarkId::new(format!("{backend:?} {threads}t"), format!("{m}x{k}x{n}"));
            g.bench_function(id, |bch| {
                bch.iter(|| {
                    gemm_with(
                        arch,
                        backend,
                        threads,
                        &p,
                        black_box(&a),
                        black_box(&b),
                        None,
                        &mut out,
                    )
                })
            });
        }
    }
    g.finish();
}

/// The weight-gradient product of W3's first layer: ∂W_t[784×128] = Xᵀ · dZ over a batch
/// of 64, A read transposed through its strides.
fn weight_gradient(c: &mut Criterion) {
    let mut rng = Rng::seed(1);
    let arch = Arch::detect();
    let (rows, n_in, n_out) = (64, 784, 128);
    let x: Vec<f32> = (0..rows * n_in).map(|_| rng.next_f32()).collect();
    let dz: Vec<f32> = (0..rows * n_out).map(|_| rng.next_f32()).collect();
    let mut dw = vec![0.0f32; n_in * n_out];
    let p = MatMul {
        rsa: 1,
        csa: n_in,
        ..MatMul::new(n_in, n_out, rows)
    };
    let mut g = c.benchmark_group("gemm");
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    g.throughput(Throughput::Elements(p.flops() as u64));
    for threads in [1, 2] {
        let id = BenchmarkId::new(format!("Own {threads}t"), "dW 784x64x128 (Aᵀ)");
        g.bench_function(id, |b| {
            b.iter(|| {
                gemm_with(
                    arch,
                    Backend::Own,
                    threads,
                    &p,
                    black_box(&x),
                    black_box(&dz),
                    None,
                    &mut dw,
                )
            })
        });
    }
    g.finish();
}

/// The input gradient of W6's Dense layer, dX[32×12544] = dZ[32×128] · W_tᵀ (W_t
/// `[12544, 128]` as stored): as dot products along 128 (what the layer runs), and through
/// a transposed copy of the weight and a product (what it ran before). On the process-wide
/// thread count (`TYPED_NN_THREADS`).
fn input_gradient(c: &mut Criterion) {
    let mut rng = Rng::seed(2);
    let (rows, n_in, n_out) = (32, 12544, 128);
    let dz: Vec<f32> = (0..rows * n_out).map(|_| rng.next_f32()).collect();
    let weight_t: Vec<f32> = (0..n_in * n_out).map(|_| rng.next_f32()).collect();
    let (mut dx, mut weight) = (vec![0.0f32; rows * n_in], vec![0.0f32; n_in * n_out]);
    let mut g = c.benchmark_group("gemm");
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    g.throughput(Throughput::Elements((2 * rows * n_in * n_out) as u64));
    g.bench_function("dX 32x128x12544 (dot products)", |b| {
        let p = MatMulNt::new(rows, n_in, n_out);
        b.iter(|| gemm_nt_split(&p, black_box(&dz), black_box(&weight_t), &mut dx))
    });
    g.bench_function("dX 32x128x12544 (transpose + product)", |b| {
        let p = MatMul::new(rows, n_in, n_out);
        b.iter(|| {
            transpose(black_box(&weight_t), n_in, n_out, &mut weight);
            gemm(&p, black_box(&dz), &weight, None, &mut dx)
        })
    });
    g.finish();
}

/// M×K×N of the low-precision comparison: MLP layers at batch 1 and 64, the 9216→128 layer
/// of the MNIST CNN at batch 1, and the im2col product of a 3×3 convolution 32→32 on a 28×28
/// map (784 positions × 288 taps × 32 filters).
const LOWP_SHAPES: [(usize, usize, usize); 4] = [
    (1, 784, 128),
    (64, 784, 128),
    (1, 9216, 128),
    (784, 288, 32),
];

fn lowp(c: &mut Criterion) {
    let mut rng = Rng::seed(2);
    let arch = Arch::detect();
    let mut g = c.benchmark_group("lowp");
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    for (m, k, n) in LOWP_SHAPES {
        let shape = format!("{m}x{k}x{n}");
        g.throughput(Throughput::Elements((2 * m * k * n) as u64));

        let a: Vec<f32> = (0..m * k).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let b: Vec<f32> = (0..k * n).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let mut out = vec![0.0f32; m * n];
        let p = MatMul::new(m, n, k);
        g.bench_function(
            BenchmarkId::new(format!("f32 {:?}", arch.isa()), &shape),
            |bch| {
                bch.iter(|| {
                    gemm_with(
                        arch,
                        Backend::Own,
                        1,
                        &p,
                        black_box(&a),
                        black_box(&b),
                        None,
                        &mut out,
                    )
                })
            },
        );

        let kp = round_up(k, I8_GROUP);
        let mut a8 = vec![0u8; m * kp];
        for r in 0..m {
            for v in &mut a8[r * kp..r * kp + k] {
                *v = rng.below(ACT_MAX as usize + 1) as u8;
            }
        }
        let span = 2 * WEIGHT_MAX as usize + 1;
        let w8: Vec<i8> = (0..n * k)
            .map(|_| (rng.below(span) as i32 - WEIGHT_MAX as i32) as i8)
            .collect();
        let b8 = PackedI8::pack(&w8, n, k);
        let mut out8 = vec![0i32; m * n];
        for arch8 in Int8Arch::available() {
            let id = BenchmarkId::new(format!("int8 {:?}", arch8.isa()), &shape);
            g.bench_function(id, |bch| {
                bch.iter(|| gemm_u8i8(arch8, m, black_box(&a8), black_box(&b8), &mut out8))
            });
        }

        let kp = round_up(k, BF16_GROUP);
        let mut a16 = vec![0u16; m * kp];
        for r in 0..m {
            for (v, &x) in a16[r * kp..r * kp + k]
                .iter_mut()
                .zip(&a[r * k..(r + 1) * k])
            {
                *v = to_bf16(x);
            }
        }
        // B is k × n (the f32 layout); the packing takes [out, in].
        let w16: Vec<u16> = (0..n * k)
            .map(|i| to_bf16(b[(i % k) * n + i / k]))
            .collect();
        let b16 = PackedBf16::pack(&w16, n, k);
        let mut out16 = vec![0f32; m * n];
        for arch16 in Bf16Arch::available() {
            let id = BenchmarkId::new(format!("bf16 {:?}", arch16.isa()), &shape);
            g.bench_function(id, |bch| {
                bch.iter(|| gemm_bf16(arch16, m, black_box(&a16), black_box(&b16), &mut out16))
            });
        }
    }
    g.finish();
}

criterion_group!(
    benches,
    peak,
    gemm_shapes,
    weight_gradient,
    input_gradient,
    lowp
);
criterion_main!(benches);
