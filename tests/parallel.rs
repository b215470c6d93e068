//! Data-parallel training steps and flushed subnormals. One test, so that the process-wide
//! thread count and flushing it changes cannot affect another test running at the same time.

use typed_nn::kernels::{set_flush_denormals, set_threads};
use typed_nn::prelude::*;

network! {
    /// A network whose steps are worth splitting (its LSTM reuses each weight at every
    /// step: about 20 FLOPs per parameter and sample).
    pub struct Sequence: [12, 6] {
        LSTM(16),
        Dense(10), Softmax,
    }
}

/// The weights after `steps` SGD steps (momentum 0.9) on batches of 32 random sequences. (Adam would magnify the rounding of a different summation order in its sign-like
/// steps on tiny gradients; plain SGD keeps it at rounding size.)
fn train(seed: u64, steps: usize) -> Vec<f32> {
    let mut rng = Rng::seed(seed);
    let mut net = Sequence::init(&mut rng);
    let mut adam = Sgd::new(0.05).momentum(0.9);
    for _ in 0..steps {
        let x = Batch::<Tensor2<12, 6>>::from_vec((0..32 * 72).map(|_| rng.next_f32()).collect())
            .unwrap();
        let y = Labels::<10>::new((0..32).map(|_| rng.below(10) as u32).collect()).unwrap();
        net.train_step(&x, &y, &CrossEntropy, &mut adam).unwrap();
    }
    let mut w = net.layer0.params.weight_hh_t.clone();
    w.extend(net.layer1.weight());
    w
}

fn max_relative_difference(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / x.abs().max(y.abs()).max(1e-3))
        .fold(0.0, f32::max)
}

#[test]
fn split_steps_agree_with_one_thread_and_flushing_changes_nothing_that_matters() {
    // One thread: the reference.
    set_threads(1).unwrap();
    let single = train(1, 30);
    // Two threads, each on half of every batch, gradients summed in a fixed order: the same
    // weights up to the rounding of a different summation order, and bit-identical from
    // one run to the next.
    set_threads(2).unwrap();
    let split = train(1, 30);
    assert_eq!(split, train(1, 30), "a split run is reproducible");
    let difference = max_relative_difference(&single, &split);
    assert!(difference < 1e-4, "split vs one thread: {difference}");
    assert_ne!(single, split, "the batch was split (sums in another order)");

    // Subnormals: flushed (the default) or kept, training ends in the same place within
    // rounding (they only ever hold values below 1.2e-38).
    set_flush_denormals(false);
    let kept = train(2, 30);
    set_flush_denormals(true);
    let flushed = train(2, 30);
    let difference = max_relative_difference(&kept, &flushed);
    assert!(
        difference < 1e-4,
        "flushed vs kept subnormals: {difference}"
    );

    // The caller's thread gets its floating-point mode back after every call.
    let tiny = std::hint::black_box(f32::MIN_POSITIVE);
    assert!(tiny * std::hint::black_box(0.5f32) > 0.0);
}
