//! Training and inference are different calls: `train_step` always runs the training pass
//! (dropout masks, batch statistics), every inference call the inference pass (identity,
//! running statistics). Buffers are state, not parameters; a run is reproducible from its
//! seed.

use typed_nn::layers::{Buffer, BufferVisitor, Layer, Path};
use typed_nn::prelude::*;

network! {
    /// Dense, BatchNorm1d, ReLU, Dropout: the usual regularised block.
    pub struct Regularised: [6] {
        fc: Dense(8, bias = false),
        bn: BatchNorm1d(momentum = 0.2),
        Relu,
        drop: Dropout(0.5),
        out: Dense(3), Softmax,
    }
}

fn batch(rows: usize, rng: &mut Rng) -> Batch<Tensor1<6>> {
    Batch::from_vec((0..rows * 6).map(|_| rng.uniform(-1.0, 1.0)).collect()).unwrap()
}

fn labels(rows: usize) -> Labels<3> {
    Labels::new((0..rows as u32).map(|i| i % 3).collect()).unwrap()
}

#[test]
fn inference_is_deterministic_and_uses_running_statistics() {
    let mut rng = Rng::seed(1);
    let mut net = Regularised::init(&mut rng);
    let x = batch(16, &mut rng);
    for _ in 0..3 {
        net.train_step(&x, &labels(16), &CrossEntropy, &mut Adam::new(1e-2))
            .unwrap();
    }
    // No dropout and no batch statistics at inference: the same input gives the same
    // output, alone or in any batch.
    let a = net.forward_batch(&x);
    let b = net.predict(&x).as_slice().to_vec();
    assert_eq!(a.as_slice(), b.as_slice());
    let one = net.forward(&x.sample(3));
    for (p, q) in one.data.iter().zip(a.row(3)) {
        assert!((p - q).abs() < 1e-6);
    }
    // By hand: fc, then (x − running mean)/√(running var + ε)·γ + β, ReLU, out.
    let mut h = [0.0f32; 8];
    let w = net.fc.weight();
    for (j, hj) in h.iter_mut().enumerate() {
        let z: f32 = (0..6).map(|i| w[j * 6 + i] * x.row(3)[i]).sum();
        let bn = &net.bn;
        let n = (z - bn.running_mean[j]) / (bn.running_var[j] + bn.eps).sqrt() * bn.weight[j]
            + bn.bias[j];
        *hj = n.max(0.0);
    }
    let mut logits = [0.0f32; 3];
    let wo = net.out.weight();
    for (k, l) in logits.iter_mut().enumerate() {
        *l = net.out.bias[k] + (0..8).map(|j| wo[k * 8 + j] * h[j]).sum::<f32>();
    }
    let max = logits.iter().cloned().fold(f32::MIN, f32::max);
    let sum: f32 = logits.iter().map(|l| (l - max).exp()).sum();
    for (l, &got) in logits.iter().zip(&one.data) {
        let p = (l - max).exp() / sum;
        assert!((p - got).abs() < 1e-5, "{p} vs {got}");
    }
}

#[test]
fn running_statistics_follow_pytorch_and_optimizers_never_touch_them() {
    let mut rng = Rng::seed(2);
    let mut net = Regularised::init(&mut rng);
    // Seven rows stay on one thread (a step splits batches of 8 rows or more; a shard's
    // variance is its own, so split steps track a slightly different running variance).
    let x = batch(7, &mut rng);
    // The batch's statistics of the BatchNorm's input (fc has no bias).
    let w = net.fc.weight();
    let z: Vec<[f32; 8]> = (0..7)
        .map(|r| std::array::from_fn(|j| (0..6).map(|i| w[j * 6 + i] * x.row(r)[i]).sum()))
        .collect();
    // A huge learning rate, with clipping: buffers must move by the momentum rule alone.
    let mut sgd = Sgd::new(100.0).clip_norm(0.5);
    net.train_step(&x, &labels(7), &CrossEntropy, &mut sgd)
        .unwrap();
    for j in 0..8 {
        let mean = z.iter().map(|r| r[j] as f64).sum::<f64>() / 7.0;
        let unbiased = z.iter().map(|r| (r[j] as f64 - mean).powi(2)).sum::<f64>() / 6.0;
        let expected_mean = 0.2 * mean;
        let expected_var = 0.8 + 0.2 * unbiased;
        assert!((net.bn.running_mean[j] as f64 - expected_mean).abs() < 1e-5);
        assert!((net.bn.running_var[j] as f64 - expected_var).abs() < 1e-4);
    }
    assert_eq!(net.bn.num_batches_tracked, 1);
    assert_eq!(Regularised::PARAMS, 6 * 8 + 2 * 8 + 8 * 3 + 3);
    assert_eq!(<Regularised as Layer>::BUFFERS, 2 * 8);
}

#[test]
fn a_failed_step_changes_no_buffer() {
    let mut rng = Rng::seed(3);
    let mut net = Regularised::init(&mut rng);
    let mut x = batch(4, &mut rng);
    x.as_mut_slice()[0] = f32::NAN;
    let before = (net.bn.running_mean.clone(), net.bn.num_batches_tracked);
    assert!(net
        .train_step(&x, &labels(4), &CrossEntropy, &mut Sgd::new(0.1))
        .is_err());
    assert_eq!(
        (net.bn.running_mean.clone(), net.bn.num_batches_tracked),
        before
    );
}

#[test]
fn dropout_masks_come_from_the_networks_seed() {
    let train = |seed: u64| {
        let mut rng = Rng::seed(seed);
        let mut net = Regularised::init(&mut rng);
        let mut data = Rng::seed(99);
        let mut adam = Adam::new(1e-2);
        for _ in 0..5 {
            let x = batch(8, &mut data);
            net.train_step(&x, &labels(8), &CrossEntropy, &mut adam)
                .unwrap();
        }
        net.out.weight()
    };
    assert_eq!(train(7), train(7), "same seed, same run");
    assert_ne!(train(7), train(8));
}

#[test]
fn dropout_zeroes_at_its_rate_in_training_only() {
    let layer = Dropout::<Tensor1<1000>>::new(0.3);
    let x = Batch::<Tensor1<1000>>::from_vec(vec![1.0; 4000]).unwrap();
    let (mut y, mut mask) = (Batch::default(), Vec::new());
    layer.forward_train(&x, &mut y, &mut mask, &mut Rng::seed(5));
    let zeros = y.as_slice().iter().filter(|&&v| v == 0.0).count();
    assert!(
        (1050..=1350).contains(&zeros),
        "{zeros} of 4000 dropped at rate 0.3"
    );
    let kept = 1.0 / 0.7;
    assert!(y
        .as_slice()
        .iter()
        .all(|&v| v == 0.0 || (v - kept).abs() < 1e-6));
    let mut inferred = Batch::default();
    layer.forward_batch_into(&x, &mut inferred, &mut ());
    assert_eq!(inferred.as_slice(), x.as_slice());
}

/// Collects buffer names and values.
struct Buffers(Vec<(String, Vec<f32>)>);

impl BufferVisitor for Buffers {
    fn visit(&mut self, path: &Path<'_>, _shape: &[usize], buffer: Buffer<'_>) {
        let values = match buffer {
            Buffer::Values(v) => v.to_vec(),
            Buffer::Count(c) => vec![*c as f32],
        };
        self.0.push((path.to_string(), values));
    }
}

#[test]
fn buffers_are_saved_and_loaded_under_pytorchs_names() {
    let mut rng = Rng::seed(4);
    let mut net = Regularised::init(&mut rng);
    let x = batch(12, &mut rng);
    for _ in 0..2 {
        net.train_step(&x, &labels(12), &CrossEntropy, &mut Adam::new(1e-2))
            .unwrap();
    }
    let bytes = net.to_safetensors_bytes().unwrap();
    let mut loaded = Regularised::from_safetensors_bytes(&bytes).unwrap();
    let (mut a, mut b) = (Buffers(Vec::new()), Buffers(Vec::new()));
    net.visit_buffers(&Path::ROOT, &mut a);
    loaded.visit_buffers(&Path::ROOT, &mut b);
    let names: Vec<&str> = a.0.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "bn.running_mean",
            "bn.running_var",
            "bn.num_batches_tracked"
        ]
    );
    assert_eq!(a.0, b.0);
    assert_eq!(b.0[2].1, [2.0], "num_batches_tracked");
    assert_eq!(
        net.forward_batch(&x).as_slice(),
        loaded.forward_batch(&x).as_slice()
    );
    // No bias tensor for `fc` (bias = false), as in PyTorch's state_dict.
    let tensors = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut names = tensors.names();
    names.sort();
    assert_eq!(
        names,
        [
            "bn.bias",
            "bn.num_batches_tracked",
            "bn.running_mean",
            "bn.running_var",
            "bn.weight",
            "fc.weight",
            "out.bias",
            "out.weight"
        ]
    );
    assert_eq!(
        tensors.tensor("bn.num_batches_tracked").unwrap().dtype(),
        safetensors::Dtype::I64
    );
}

#[test]
fn summary_counts_running_statistics_as_non_trainable() {
    network! {
        pub struct Bn2d: [3, 8, 8] {
            Conv2d(16, 3, padding = 1, bias = false),
            BatchNorm2d,
            Relu,
            GlobalAvgPool2d,
            Dense(4),
        }
    }
    let summary = Bn2d::summary();
    // Keras's BatchNormalization: 4 × channels parameters, 2 × channels non-trainable.
    let bn_row = summary
        .lines()
        .find(|l| l.starts_with("1 (BatchNorm2d)"))
        .unwrap_or_default();
    assert!(
        bn_row.contains("(None, 16, 8, 8)") && bn_row.ends_with(" 64"),
        "{summary}"
    );
    assert!(summary.contains("Total params: 564\n"), "{summary}");
    assert!(summary.contains("Trainable params: 532\n"), "{summary}");
    assert!(summary.contains("Non-trainable params: 32\n"), "{summary}");
}

network! {
    /// Dropout on every step of sequences, between recurrent layers and after the last.
    pub struct SequenceDropout: [6, 3] {
        LSTM(8, return_sequences = true),
        Dropout(0.3),
        GRU(5),
        Dropout(0.3),
        Dense(2),
    }
}

#[test]
fn dropout_works_inside_sequences() {
    let mut rng = Rng::seed(6);
    let mut net = SequenceDropout::init(&mut rng);
    let x =
        Batch::<Tensor2<6, 3>>::from_vec((0..8 * 18).map(|_| rng.next_f32()).collect()).unwrap();
    let t = Batch::<Tensor1<2>>::from_vec(vec![0.5; 16]).unwrap();
    let mut adam = Adam::new(1e-2);
    let first = net.train_step(&x, &t, &Mse, &mut adam).unwrap();
    let mut last = first;
    for _ in 0..40 {
        last = net.train_step(&x, &t, &Mse, &mut adam).unwrap();
    }
    assert!(last < first, "loss {first} -> {last}");
    assert_eq!(
        net.forward_batch(&x).as_slice(),
        net.forward_batch(&x).as_slice(),
        "no dropout at inference"
    );
}
