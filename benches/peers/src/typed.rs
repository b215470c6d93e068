//! W1–W13 and E1–E3 in typed-nn: the networks and calls of benches/workloads.rs and
//! examples/mnist_{mlp,cnn}.rs and seq_mnist_lstm.rs, under this crate's harness so every
//! library is timed alike.

use crate::harness::{self, Budget, MnistArrays, Outcome};
use std::path::Path;
use std::time::Instant;
use typed_nn::prelude::*;

#[path = "../../common/networks.rs"]
mod networks;
use networks::{
    generate_gpt, generate_greedy, CharLm, Gpt, Mlp, SeedCnn, SeedRnn, SeqLstm, Tiny, CHAR_VOCAB,
    CHAR_WINDOW, GENERATED, GPT_GENERATED, GPT_VOCAB, GPT_WINDOW,
};

network! {
    /// E2: the CNN of examples/mnist_cnn.rs on [1, 28, 28].
    pub struct MnistCnn: [1, 28, 28] {
        Conv2d(32, 3), Relu,
        MaxPool2d(2),
        Conv2d(64, 3), Relu,
        MaxPool2d(2),
        Flatten,
        Dense(128), Relu,
        Dense(10), Softmax,
    }
}

fn batch<S: Sample>(rows: usize, seed: u64) -> Batch<S> {
    Batch::from_vec(harness::uniform(rows * S::LEN, seed)).expect("rows × sample length")
}

fn labels<const C: usize>(rows: usize) -> Labels<C> {
    Labels::new(harness::class_labels(rows)).expect("labels below 10")
}

pub fn run(workload: &str, budget: &Budget, data: &Path) -> Result<Outcome, String> {
    let mut rng = Rng::seed(0);
    let e = |e: typed_nn::Error| e.to_string();
    Ok(match workload {
        "W1" => {
            let mlp = Mlp::init(&mut rng);
            let x: Tensor1<784> = batch::<Tensor1<784>>(1, 1).sample(0);
            Outcome::Timed(harness::time(budget, || mlp.forward(&x)))
        }
        "W2" => {
            let mlp = Mlp::init(&mut rng);
            let x: Batch<Tensor1<784>> = batch(64, 1);
            Outcome::Timed(harness::time(budget, || mlp.predict(&x).rows()))
        }
        "W3" => {
            let mut mlp = Mlp::init(&mut rng);
            let (x, y) = (batch::<Tensor1<784>>(64, 1), labels::<10>(64));
            let mut adam = Adam::new(1e-3);
            Outcome::Timed(harness::time(budget, || {
                mlp.train_step(&x, &y, &CrossEntropy, &mut adam)
            }))
        }
        "W4" => {
            let tiny = Tiny::init(&mut rng);
            let x: Tensor1<4> = batch::<Tensor1<4>>(1, 1).sample(0);
            Outcome::Timed(harness::time(budget, || tiny.forward(&x)))
        }
        "W5" => {
            let cnn = SeedCnn::init(&mut rng);
            let x: Tensor3<3, 64, 64> = batch::<Tensor3<3, 64, 64>>(1, 1).sample(0);
            Outcome::Timed(harness::time(budget, || cnn.forward(&x)))
        }
        "W6" => {
            let mut cnn = SeedCnn::init(&mut rng);
            let (x, y) = (batch::<Tensor3<3, 64, 64>>(32, 1), labels::<10>(32));
            let mut adam = Adam::new(1e-3);
            Outcome::Timed(harness::time(budget, || {
                cnn.train_step(&x, &y, &CrossEntropy, &mut adam)
            }))
        }
        "W7" => {
            let rnn = SeedRnn::init(&mut rng);
            let x: Tensor2<100, 1> = batch::<Tensor2<100, 1>>(1, 1).sample(0);
            Outcome::Timed(harness::time(budget, || rnn.forward(&x)))
        }
        "W8" => {
            let mut rnn = SeedRnn::init(&mut rng);
            let x: Batch<Tensor2<100, 1>> = batch(32, 1);
            let t = Batch::<Tensor1<1>>::from_vec(harness::binary_targets(32)).map_err(e)?;
            let mut adam = Adam::new(1e-3);
            Outcome::Timed(harness::time(budget, || {
                rnn.train_step(&x, &t, &BinaryCrossEntropy, &mut adam)
            }))
        }
        "W9" => {
            let mut lstm = SeqLstm::init(&mut rng);
            let (x, y) = (batch::<Tensor2<28, 28>>(32, 1), labels::<10>(32));
            let mut adam = Adam::new(1e-3);
            Outcome::Timed(harness::time(budget, || {
                lstm.train_step(&x, &y, &CrossEntropy, &mut adam)
            }))
        }
        "W10" => {
            let mut model = CharLm::init(&mut rng);
            let ids = |seed| -> Vec<u32> {
                harness::uniform(32 * CHAR_WINDOW, seed)
                    .iter()
                    .map(|&u| ((u * CHAR_VOCAB as f32) as u32).min(CHAR_VOCAB as u32 - 1))
                    .collect()
            };
            let x = Batch::<Tokens<CHAR_WINDOW>>::from_ids(&ids(1)).map_err(e)?;
            let rows = ids(2)
                .chunks_exact(CHAR_WINDOW)
                .map(|row| StepClasses::new(row.try_into().expect("one window")))
                .collect::<Result<Vec<StepClasses<CHAR_WINDOW, CHAR_VOCAB>>, _>>()
                .map_err(e)?;
            let y = StepLabels::new(&rows);
            let mut adam = Adam::new(1e-3);
            Outcome::Timed(harness::time(budget, || {
                model.train_step(&x, &y, &CrossEntropy, &mut adam)
            }))
        }
        "W11" => {
            let model = CharLm::init(&mut rng);
            let stats = harness::time(budget, || generate_greedy(&model));
            Outcome::Timed(stats.per_call_of(GENERATED))
        }
        "W12" => {
            let mut model = Gpt::<GPT_WINDOW>::init(&mut rng);
            let ids = |seed| -> Vec<u32> {
                harness::uniform(16 * GPT_WINDOW, seed)
                    .iter()
                    .map(|&u| ((u * GPT_VOCAB as f32) as u32).min(GPT_VOCAB as u32 - 1))
                    .collect()
            };
            let x = Batch::<Tokens<GPT_WINDOW>>::from_ids(&ids(1)).map_err(e)?;
            let rows = ids(2)
                .chunks_exact(GPT_WINDOW)
                .map(|row| StepClasses::new(row.try_into().expect("one window")))
                .collect::<Result<Vec<StepClasses<GPT_WINDOW, GPT_VOCAB>>, _>>()
                .map_err(e)?;
            let y = StepLabels::new(&rows);
            let mut adam = Adam::new(1e-3);
            Outcome::Timed(harness::time(budget, || {
                model.train_step(&x, &y, &CrossEntropy, &mut adam)
            }))
        }
        "W13" => {
            let model = Gpt::<GPT_GENERATED>::init(&mut rng);
            let stats = harness::time(budget, || generate_gpt(&model));
            Outcome::Timed(stats.per_call_of(GPT_GENERATED))
        }
        "E1" => epoch(Mlp::init, data)?,
        "E2" => epoch(MnistCnn::init, data)?,
        "E3" => epoch(SeqLstm::init, data)?,
        other => return Err(format!("unknown workload {other}")),
    })
}

/// One epoch of `model` (E1: the W1 network, E2: the CNN, E3: the LSTM) over MNIST's 60,000
/// training images in shuffled batches of 64, as examples/mnist_mlp.rs trains, then the test
/// accuracy. Each image is its 784 pixels in the network's input shape ([784], [1, 28, 28] or
/// 28 rows of 28).
fn epoch<N>(init: impl FnOnce(&mut Rng) -> N, data: &Path) -> Result<Outcome, String>
where
    N: Network<Out = Tensor1<10>> + Send,
    CrossEntropy: typed_nn::loss::Loss<N::Head, Tensor1<10>, Labels<10>>,
{
    // The same arrays the peers get, turned into typed-nn's data set.
    let arrays = MnistArrays::load(data)?;
    let to_set = |x: Vec<f32>, y: &[u32]| {
        let classes = y
            .iter()
            .map(|&c| Class::new(c as usize))
            .collect::<Result<_, _>>();
        classes.and_then(|c| Dataset::<N::In, Class<10>>::new(x, c))
    };
    let e = |e: typed_nn::Error| e.to_string();
    let train = to_set(arrays.train_x, &arrays.train_y).map_err(e)?;
    let test = to_set(arrays.test_x, &arrays.test_y).map_err(e)?;

    let mut rng = Rng::seed(0);
    let mut model = init(&mut rng);
    let mut opt = Adam::new(1e-3);
    let start = Instant::now();
    for (x, y) in train.shuffled(&mut rng).batches(64).map_err(e)? {
        typed_nn::train::train_step(&mut model, &x, &y, &CrossEntropy, &mut opt).map_err(e)?;
    }
    let seconds = start.elapsed().as_secs_f64();
    let accuracy = typed_nn::train::accuracy(&model, &test).map_err(e)? as f64;
    Ok(Outcome::Epoch { seconds, accuracy })
}
