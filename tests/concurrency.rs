//! Networks are `Send + Sync`; many threads running inference on one shared network get
//! bit for bit what one thread gets; training and inference of different networks on
//! different threads at once do not affect each other.

use typed_nn::prelude::*;

network! {
    pub struct Mlp: [20] {
        Dense(32), Relu,
        BatchNorm1d,
        Dropout(0.3),
        Dense(5), Softmax,
    }
}

network! {
    pub struct Cnn: [2, 12, 12] {
        Conv2d(6, 3, padding = 1), BatchNorm2d, Relu,
        MaxPool2d(2),
        Residual { Conv2d(6, 3, padding = 1), Relu },
        Flatten,
        Dense(5), Softmax,
    }
}

network! {
    pub struct Sequence: [9, 6] {
        LSTM(8, return_sequences = true),
        Residual { LayerNorm, MultiHeadAttention(2, 8) },
        GRU(8),
        Dense(5), Softmax,
    }
}

fn assert_send_sync<T: Send + Sync + 'static>() {}

#[test]
fn networks_are_send_and_sync() {
    assert_send_sync::<Mlp>();
    assert_send_sync::<Cnn>();
    assert_send_sync::<Sequence>();
}

fn inputs<S: Sample>(rows: usize, seed: u64) -> Batch<S> {
    let mut rng = Rng::seed(seed);
    Batch::from_vec((0..rows * S::LEN).map(|_| rng.uniform(-1.0, 1.0)).collect()).unwrap()
}

fn bits<S: Sample>(b: &Batch<S>) -> Vec<u32> {
    b.as_slice().iter().map(|v| v.to_bits()).collect()
}

/// A network trained a few steps (so that running statistics are not the initial ones).
fn trained<N: Network + Send>(mut net: N, labels: usize) -> N
where
    CrossEntropy: typed_nn::loss::Loss<N::Head, N::Out, Labels<5>>,
{
    let x = inputs::<N::In>(24, 7);
    let y = Labels::<5>::new((0..24).map(|i| (i % labels) as u32).collect()).unwrap();
    let mut adam = Adam::new(1e-2);
    for _ in 0..3 {
        typed_nn::train::train_step(&mut net, &x, &y, &CrossEntropy, &mut adam).unwrap();
    }
    net
}

/// Every thread count from 2 to 8 runs batch and one-sample inference on the same network
/// many times at once; every result must equal one thread's, bit for bit.
fn shared_inference_matches_one_thread<N>(net: &N)
where
    N: Network + Sync,
    N::In: Sync,
{
    let x = inputs::<N::In>(13, 11);
    let whole = bits(&typed_nn::train::forward_batch(net, &x));
    let single: Vec<Vec<u32>> = x
        .iter_rows()
        .map(|row| {
            let sample = N::In::from_slice(row).unwrap();
            typed_nn::train::forward(net, &sample)
                .as_slice()
                .iter()
                .map(|v| v.to_bits())
                .collect()
        })
        .collect();
    for threads in 2..=8 {
        std::thread::scope(|scope| {
            for t in 0..threads {
                let (x, whole, single) = (&x, &whole, &single);
                scope.spawn(move || {
                    for round in 0..4 {
                        let out = typed_nn::train::forward_batch(net, x);
                        assert_eq!(&bits(&out), whole, "{threads} threads, thread {t}");
                        let row = (t + round) % x.rows();
                        let sample = N::In::from_slice(x.row(row)).unwrap();
                        let one: Vec<u32> = typed_nn::train::forward(net, &sample)
                            .as_slice()
                            .iter()
                            .map(|v| v.to_bits())
                            .collect();
                        assert_eq!(one, single[row], "{threads} threads, row {row}");
                    }
                });
            }
        });
    }
}

#[test]
fn threads_sharing_a_network_get_what_one_thread_gets() {
    shared_inference_matches_one_thread(&trained(Mlp::init(&mut Rng::seed(1)), 5));
    shared_inference_matches_one_thread(&trained(Cnn::init(&mut Rng::seed(2)), 5));
    shared_inference_matches_one_thread(&trained(Sequence::init(&mut Rng::seed(3)), 5));
}

/// Trains `Cnn` for `steps` steps and returns its weight file's bytes.
fn train_cnn(steps: usize) -> Vec<u8> {
    let mut net = Cnn::init(&mut Rng::seed(4));
    let x = inputs::<Tensor3<2, 12, 12>>(32, 5);
    let y = Labels::<5>::new((0..32).map(|i| i % 5).collect()).unwrap();
    let mut adam = Adam::new(1e-3);
    for _ in 0..steps {
        net.train_step(&x, &y, &CrossEntropy, &mut adam).unwrap();
    }
    net.to_safetensors_bytes().unwrap()
}

/// Trains `Sequence` for `steps` steps with dropout-free SGD and returns its weights.
fn train_sequence(steps: usize) -> Vec<u8> {
    let mut net = Sequence::init(&mut Rng::seed(6));
    let x = inputs::<Tensor2<9, 6>>(16, 8);
    let y = Labels::<5>::new((0..16).map(|i| (i * 3) % 5).collect()).unwrap();
    let mut sgd = Sgd::new(0.05).momentum(0.9);
    for _ in 0..steps {
        net.train_step(&x, &y, &CrossEntropy, &mut sgd).unwrap();
    }
    net.to_safetensors_bytes().unwrap()
}

#[test]
fn training_and_inference_on_different_threads_are_independent() {
    // Each piece of work alone first, then all at once, twice over.
    let cnn = train_cnn(6);
    let sequence = train_sequence(6);
    let mlp = trained(Mlp::init(&mut Rng::seed(9)), 5);
    let x = inputs::<Tensor1<20>>(40, 10);
    let inferred = bits(&mlp.forward_batch(&x));
    for _ in 0..2 {
        std::thread::scope(|scope| {
            let a = scope.spawn(|| train_cnn(6));
            let b = scope.spawn(|| train_sequence(6));
            let c = scope.spawn(|| {
                (0..50)
                    .map(|_| bits(&mlp.forward_batch(&x)))
                    .all(|out| out == inferred)
            });
            assert!(a.join().unwrap() == cnn, "CNN training was disturbed");
            assert!(
                b.join().unwrap() == sequence,
                "sequence training was disturbed"
            );
            assert!(c.join().unwrap(), "inference was disturbed");
        });
    }
}
