//! Checkpoints never corrupt: a save that fails part-way leaves the previous checkpoint
//! loadable and reports the error; a save that fails between its two files never pairs one
//! save's training state with another's weights; threads saving one path at once leave one
//! whole file.

use std::io::Write;
use std::path::{Path, PathBuf};
use typed_nn::fit::checkpoint::{self, TrainingState};
use typed_nn::fit::{Checkpoint, Trainer, Verbosity};
use typed_nn::io::{write_atomically, write_atomically_with};
use typed_nn::prelude::*;

network! {
    pub struct Net: [8] {
        Dense(6), Relu,
        BatchNorm1d,
        Dense(3), Softmax,
    }
}

/// A writer that passes on `left` bytes and then fails, as a full disk or a lost mount would.
struct FailAfter<W> {
    inner: W,
    left: usize,
}

impl<W: Write> Write for FailAfter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Err(std::io::Error::other("device failed"));
        }
        let n = buf.len().min(self.left);
        let written = self.inner.write(&buf[..n])?;
        self.left -= written;
        Ok(written)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("typed-nn-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn data() -> Dataset<Tensor1<8>, Class<3>> {
    let mut rng = Rng::seed(5);
    let xs: Vec<f32> = (0..96 * 8).map(|_| rng.uniform(-1.0, 1.0)).collect();
    let ys = xs
        .chunks(8)
        .map(|x| Class::new(usize::from(x[0] > 0.0) * 2).unwrap())
        .collect();
    Dataset::new(xs, ys).unwrap()
}

/// Trains `epochs` epochs with a checkpoint of the last epoch in `dir`; returns the network.
fn train(epochs: usize, dir: &Path) -> Net {
    let mut net = Net::init(&mut Rng::seed(1));
    Trainer::new(CrossEntropy, Adam::new(1e-2))
        .epochs(epochs)
        .batch_size(16)
        .seed(3)
        .verbosity(Verbosity::Silent)
        .callback(Checkpoint::new(dir))
        .fit(&mut net, &data())
        .unwrap();
    net
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect()
}

#[test]
fn a_save_that_fails_part_way_leaves_the_previous_checkpoint() {
    let dir = scratch("failing-save");
    let base = dir.join("last");
    let after_one = train(1, &dir);
    let mut probe = Net::init(&mut Rng::seed(7));
    let saved = checkpoint::load(&base, &mut probe).unwrap();
    assert_eq!(saved.epoch, 1);

    // A later save's state file, written through a device that fails after `n` bytes.
    let later = train(2, &scratch("failing-save-later"));
    let state = TrainingState {
        epoch: 2,
        ..saved.clone()
    };
    let bytes = checkpoint::state_bytes(&later.to_safetensors_bytes().unwrap(), &state).unwrap();
    let (_, state_path) = checkpoint::paths(&base);
    for n in [0, 1, 7, bytes.len() / 2, bytes.len() - 1] {
        let err = write_atomically_with(&state_path, |file| {
            FailAfter {
                inner: file,
                left: n,
            }
            .write_all(&bytes)
        })
        .unwrap_err();
        match &err {
            Error::Io { path, source } => {
                assert_eq!(path, &state_path);
                assert_eq!(source.to_string(), "device failed");
            }
            other => panic!("expected an I/O error naming the file, got {other}"),
        }
        assert!(leftovers(&dir).is_empty(), "temporary files are removed");

        let mut resumed = Net::init(&mut Rng::seed(8));
        let loaded = checkpoint::load(&base, &mut resumed).unwrap();
        // Debug text, since a callback's memory may hold NaN (no best figure yet).
        assert_eq!(
            format!("{loaded:?}"),
            format!("{saved:?}"),
            "after failing at byte {n}"
        );
        assert_eq!(
            resumed.to_safetensors_bytes().unwrap(),
            after_one.to_safetensors_bytes().unwrap()
        );
    }
}

#[test]
fn state_and_weights_always_come_from_one_save() {
    let dir = scratch("half-save");
    let base = dir.join("last");
    let after_one = train(1, &dir);
    let mut probe = Net::init(&mut Rng::seed(7));
    let saved = checkpoint::load(&base, &mut probe).unwrap();

    // The state file of a later save lands; the weight file beside it does not (the second
    // write failed), so it still holds the first save's weights.
    let later = train(3, &scratch("half-save-later"));
    let state = TrainingState { epoch: 3, ..saved };
    let (weights_path, state_path) = checkpoint::paths(&base);
    write_atomically(
        &state_path,
        &checkpoint::state_bytes(&later.to_safetensors_bytes().unwrap(), &state).unwrap(),
    )
    .unwrap();
    assert_eq!(
        std::fs::read(&weights_path).unwrap(),
        after_one.to_safetensors_bytes().unwrap()
    );

    let mut resumed = Net::init(&mut Rng::seed(8));
    assert_eq!(checkpoint::load(&base, &mut resumed).unwrap().epoch, 3);
    assert_eq!(
        resumed.to_safetensors_bytes().unwrap(),
        later.to_safetensors_bytes().unwrap(),
        "the state's epoch comes with that epoch's weights"
    );
}

#[test]
fn a_truncated_or_corrupt_state_file_is_an_error_and_changes_nothing() {
    let dir = scratch("corrupt-state");
    let base = dir.join("last");
    train(1, &dir);
    let (_, state_path) = checkpoint::paths(&base);
    let whole = std::fs::read(&state_path).unwrap();
    let fresh = Net::init(&mut Rng::seed(8)).to_safetensors_bytes().unwrap();
    let mut garbled = whole.clone();
    garbled[8..16].copy_from_slice(b"{[{[{[{["); // the header's JSON
    for bad in [
        &whole[..whole.len() / 2],
        &whole[..9],
        &garbled[..],
        &[][..],
    ] {
        std::fs::write(&state_path, bad).unwrap();
        let mut net = Net::init(&mut Rng::seed(8));
        assert!(checkpoint::load(&base, &mut net).is_err());
        assert_eq!(net.to_safetensors_bytes().unwrap(), fresh);
    }
}

#[test]
fn threads_saving_one_path_at_once_leave_one_whole_file() {
    let dir = scratch("racing-saves");
    let path = dir.join("model.safetensors");
    let mut nets: Vec<Net> = (0..6).map(|s| Net::init(&mut Rng::seed(s))).collect();
    let versions: Vec<Vec<u8>> = nets
        .iter_mut()
        .map(|n| n.to_safetensors_bytes().unwrap())
        .collect();
    std::thread::scope(|scope| {
        for net in nets {
            let path = &path;
            scope.spawn(move || {
                for _ in 0..20 {
                    net.save(path).unwrap();
                }
            });
        }
    });
    let last = std::fs::read(&path).unwrap();
    assert!(versions.contains(&last), "the file is one save, whole");
    assert!(leftovers(&dir).is_empty());
}
