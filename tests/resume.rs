//! A run resumed from its checkpoint ends with the same weights, bit for bit, as one that
//! never stopped: optimizer moments and step count, both generators (shuffles, dropout),
//! the epoch, the history, the schedule and the callbacks' memory are all restored. One
//! thread (one test in this binary), so that sums happen in one order.

use typed_nn::fit::{Checkpoint, CosineDecay, EarlyStopping, Monitor, Trainer, Verbosity};
use typed_nn::prelude::*;

network! {
    pub struct Net: [784] {
        Dense(32), Relu,
        BatchNorm1d,
        Dropout(0.2),
        Dense(10), Softmax,
    }
}

fn trainer(epochs: usize, dir: &std::path::Path) -> Trainer<Net, CrossEntropy, Adam> {
    Trainer::new(CrossEntropy, Adam::new(2e-3))
        .epochs(epochs)
        .batch_size(64)
        .seed(11)
        .validation_split(0.1)
        .verbosity(Verbosity::Silent)
        .schedule(CosineDecay::new(2e-3, 4 * 43).warmup(10))
        .callback(EarlyStopping::new(Monitor::min("val_loss")).patience(10))
        .callback(Checkpoint::new(dir))
}

#[test]
fn a_resumed_run_ends_bit_identical_to_one_that_never_stopped() {
    typed_nn::kernels::set_threads(1).unwrap();
    let (train, _) = mnist::load(concat!(env!("CARGO_MANIFEST_DIR"), "/data/mnist")).unwrap();
    let train = train.take(3_000);
    let dir = std::env::temp_dir().join(format!("typed-nn-resume-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);

    let mut straight = Net::init(&mut Rng::seed(1));
    let full = trainer(4, &dir.join("straight"))
        .fit(&mut straight, &train)
        .unwrap();

    // Stop after two epochs; drop everything; resume from the checkpoint for the rest.
    let mut first = Net::init(&mut Rng::seed(1));
    trainer(2, &dir.join("split"))
        .fit(&mut first, &train)
        .unwrap();
    drop(first);
    let mut resumed = Net::init(&mut Rng::seed(99));
    let rest = trainer(4, &dir.join("split"))
        .resume_from(dir.join("split").join("last"))
        .fit(&mut resumed, &train)
        .unwrap();

    assert_eq!(rest, full, "the history continues where it stopped");
    assert_eq!(resumed.layer0.weight_t, straight.layer0.weight_t);
    assert_eq!(resumed.layer4.weight_t, straight.layer4.weight_t);
    assert_eq!(resumed.layer2.running_var, straight.layer2.running_var);
    assert_eq!(
        resumed.to_safetensors_bytes().unwrap(),
        straight.to_safetensors_bytes().unwrap()
    );

    // A corrupt state file is a typed error, and the network is left alone.
    let state = dir.join("split").join("last.state.safetensors");
    let bytes = std::fs::read(&state).unwrap();
    std::fs::write(&state, &bytes[..bytes.len() / 2]).unwrap();
    let mut other = Net::init(&mut Rng::seed(3));
    let before = other.layer0.weight_t.clone();
    let err = trainer(4, &dir.join("split"))
        .resume_from(dir.join("split").join("last"))
        .fit(&mut other, &train)
        .unwrap_err();
    assert!(matches!(err, Error::CorruptCheckpoint { .. }), "{err}");
    assert_eq!(other.layer0.weight_t, before);
    std::fs::remove_dir_all(&dir).unwrap();
}
