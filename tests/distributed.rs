//! Data-parallel training over MPI, run as `mpirun -np 2` jobs of `examples/mnist_mpi`
//! (the `mpi` feature; `.ci/run` builds the example first):
//!
//! ```text
//! cargo build --features mpi --example mnist_mpi && cargo test --features mpi --test distributed
//! ```

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The example's binary, beside this test's in the target directory.
fn example() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target/<profile>");
    let path = dir.join("examples").join("mnist_mpi");
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --features mpi --example mnist_mpi` first",
        path.display()
    );
    path
}

/// Runs `mpirun -np 2 mnist_mpi args…`, failing the test if it runs past `limit` (a hang).
fn mpirun(args: &[&str], limit: Duration) -> (Output, Duration) {
    let mut child = Command::new("mpirun")
        // CI runs as root; Open MPI refuses to unless told.
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .args(["-np", "2", "--oversubscribe"])
        .arg(example())
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mpirun (Debian's openmpi-bin) on the PATH");
    let start = Instant::now();
    loop {
        if child.try_wait().expect("waiting for mpirun").is_some() {
            break;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("mpirun {args:?} still running after {limit:?}: a hang");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().expect("mpirun's output");
    (out, start.elapsed())
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn two_ranks_give_the_weights_of_one_process_on_the_same_global_batches() {
    let (out, _) = mpirun(
        &[
            "--check-equivalence",
            "30",
            "--limit",
            "1920",
            "--batch-size",
            "64",
            // Buckets of 1,000 values: the last two layers' 2,410 gradients start their
            // all-reduce while the first layer's backward pass runs.
            "--bucket-len",
            "1000",
        ],
        Duration::from_secs(300),
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let max: f32 = stdout
        .lines()
        .find_map(|l| l.split("max |Δw| = ").nth(1))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no comparison in:\n{stdout}\n{stderr}"));
    // Thirty Adam steps of 1e-3: the two runs differ only in the order the gradients'
    // partial sums are added.
    assert!(max < 1e-5, "weights differ by up to {max}");
}

#[test]
fn a_rank_with_another_network_stops_every_rank_with_a_clear_error() {
    let (out, took) = mpirun(
        &["--mismatch", "--limit", "256", "--epochs", "1"],
        Duration::from_secs(120),
    );
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "the job succeeded: {stderr}");
    assert!(stderr.contains("built a different network"), "{stderr}");
    assert!(took < Duration::from_secs(120));
}

#[test]
fn a_rank_that_dies_stops_the_job_and_the_run_resumes_from_the_last_epoch() {
    let dir = std::env::temp_dir().join(format!("typed-nn-mpi-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let dir_arg = dir.to_str().expect("a UTF-8 temporary directory");
    let common = [
        "--limit",
        "1280",
        "--checkpoint",
        dir_arg,
        "--timeout",
        "10",
    ];
    let (out, took) = mpirun(
        &[&common[..], &["--epochs", "3", "--exit-after-epoch", "1"]].concat(),
        Duration::from_secs(180),
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        !out.status.success(),
        "the job succeeded:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("Epoch 1/3"), "{stdout}\n{stderr}");
    assert!(!stdout.contains("Epoch 2/3"), "{stdout}\n{stderr}");
    eprintln!("the job stopped {took:?} after it started");
    // Both ranks resume from rank 0's checkpoint of epoch 1, and finish.
    let (out, _) = mpirun(
        &[&common[..], &["--epochs", "3", "--resume"]].concat(),
        Duration::from_secs(180),
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("Epoch 3/3") && !stdout.contains("Epoch 1/3"),
        "{stdout}\n{stderr}"
    );
    assert!(stdout.contains("test accuracy"), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_rank_that_hangs_makes_the_others_stop_after_the_timeout() {
    let (out, took) = mpirun(
        &[
            "--limit",
            "640",
            "--epochs",
            "3",
            "--hang-after-epoch",
            "1",
            "--timeout",
            "5",
        ],
        Duration::from_secs(120),
    );
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "the job succeeded: {stderr}");
    assert!(
        stderr.contains("did not finish exchanging the gradients"),
        "{stderr}"
    );
    assert!(took < Duration::from_secs(60), "stopped after {took:?}");
}

#[test]
fn a_rank_that_hangs_before_the_start_makes_the_others_stop_after_the_timeout() {
    let (out, took) = mpirun(
        &["--limit", "640", "--hang-at-start", "--timeout", "5"],
        Duration::from_secs(120),
    );
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "the job succeeded: {stderr}");
    assert!(
        stderr.contains("did not finish comparing the network types"),
        "{stderr}"
    );
    assert!(took < Duration::from_secs(60), "stopped after {took:?}");
}
