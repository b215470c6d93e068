//! Soak: thousands of training steps and inference calls, with the counting allocator: after
//! warm-up no step allocates (see the two-thread case below), and resident memory does not
//! grow. One test in this binary, so that no other test's allocations are counted.

use typed_nn::prelude::*;

use typed_nn::{allocations, CountingAllocator};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

network! {
    pub struct Cnn: [1, 12, 12] {
        Conv2d(4, 3, padding = 1), BatchNorm2d, Relu,
        MaxPool2d(2),
        Residual { Conv2d(4, 3, padding = 1), Relu },
        Flatten,
        Dropout(0.2),
        Dense(5), Softmax,
    }
}

network! {
    pub struct Sequence: [8, 4] {
        LSTM(8, return_sequences = true),
        LayerNorm,
        GRU(8),
        Dense(5), Softmax,
    }
}

/// Resident set size in bytes, from /proc (Linux).
fn resident_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

fn batch<S: Sample>(rows: usize, rng: &mut Rng) -> Batch<S> {
    Batch::from_vec((0..rows * S::LEN).map(|_| rng.uniform(-1.0, 1.0)).collect()).unwrap()
}

const STEPS: usize = 3_000;

/// Counts the allocations and the growth of resident memory over `STEPS` rounds of training
/// and inference, after a warm-up (buffers grow to the largest batch, optimizer state is
/// allocated, the thread pool starts).
fn soak() -> (usize, usize) {
    let mut rng = Rng::seed(0);
    let mut cnn = Cnn::init(&mut rng);
    let mut sequence = Sequence::init(&mut rng);
    let x_cnn: Vec<Batch<Tensor3<1, 12, 12>>> = (0..4).map(|_| batch(32, &mut rng)).collect();
    let x_seq: Vec<Batch<Tensor2<8, 4>>> = (0..4).map(|_| batch(32, &mut rng)).collect();
    let y = Labels::<5>::new((0..32).map(|i| i % 5).collect()).unwrap();
    let y_small = Labels::<5>::new((0..7).map(|i| i % 5).collect()).unwrap();
    let x_small = batch::<Tensor3<1, 12, 12>>(7, &mut rng);
    let mut adam = Adam::new(1e-3);
    let mut sgd = Sgd::new(1e-2).momentum(0.9);

    let (mut cnn_out, mut sequence_out) = (Batch::default(), Batch::default());
    let mut round = |i: usize| {
        let k = i % 4;
        cnn.train_step(&x_cnn[k], &y, &CrossEntropy, &mut adam)
            .unwrap();
        if i.is_multiple_of(5) {
            // A short last batch reuses the buffers of the long ones.
            cnn.train_step(&x_small, &y_small, &CrossEntropy, &mut adam)
                .unwrap();
        }
        sequence
            .train_step(&x_seq[k], &y, &CrossEntropy, &mut sgd)
            .unwrap();
        cnn.predict_into(&x_cnn[k], &mut cnn_out);
        sequence.predict_into(&x_seq[k], &mut sequence_out);
    };
    for i in 0..20 {
        round(i);
    }
    let resident_before = resident_bytes();
    let before = allocations();
    for i in 0..STEPS {
        round(i);
    }
    let allocations = allocations() - before;
    let grew = resident_bytes().saturating_sub(resident_before);
    (allocations, grew)
}

/// Resident memory may move by a page or two (the stack, the allocator's own pages); a leak
/// of even a few bytes per step would show as tens of kilobytes.
const RESIDENT_SLACK: usize = 64 * 1024;

#[test]
fn thousands_of_steps_allocate_nothing_and_memory_stays_flat() {
    // One thread: nothing at all.
    typed_nn::kernels::set_threads(1).unwrap();
    let (allocations, grew) = soak();
    assert_eq!(allocations, 0, "{allocations} allocations on one thread");
    assert!(
        grew <= RESIDENT_SLACK,
        "resident memory grew by {grew} bytes"
    );

    // Two threads, the loop on one of the library's threads (as `fit` runs): each step
    // hands its second share straight to the other worker; nothing at all.
    typed_nn::kernels::set_threads(2).unwrap();
    let (allocations, grew) = typed_nn::kernels::on_pool(soak);
    assert_eq!(allocations, 0, "{allocations} allocations on two threads");
    assert!(
        grew <= RESIDENT_SLACK,
        "resident memory grew by {grew} bytes"
    );

    // Two threads, the loop on a thread of its own: the hand-off goes through rayon's job
    // injector, which takes a new block of job slots every few dozen hand-offs and frees the
    // old one. Bounded, and returned: memory stays flat.
    let (allocations, grew) = soak();
    assert!(
        allocations <= STEPS / 10,
        "{allocations} allocations in {STEPS} rounds on two threads"
    );
    assert!(
        grew <= RESIDENT_SLACK,
        "resident memory grew by {grew} bytes"
    );
}
