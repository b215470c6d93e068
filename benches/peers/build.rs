//! Records, for the table's header, the versions this binary was built with: the locked
//! versions of typed-nn, candle, burn and tract (from the workspace's Cargo.lock) and rustc's.

use std::path::Path;
use std::process::Command;

fn main() {
    let lock = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    let text = std::fs::read_to_string(&lock).unwrap_or_default();
    for (package, var) in [
        ("typed-nn", "PEERS_TYPED_NN_VERSION"),
        ("candle-core", "PEERS_CANDLE_VERSION"),
        ("burn", "PEERS_BURN_VERSION"),
        ("tract-onnx", "PEERS_TRACT_VERSION"),
    ] {
        let version = locked_version(&text, package).unwrap_or_else(|| "unknown".into());
        println!("cargo:rustc-env={var}={version}");
    }

    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "rustc (unknown version)".into());
    println!("cargo:rustc-env=PEERS_RUSTC_VERSION={version}");
}

/// The `version` of the `[[package]]` entry named `name` in a Cargo.lock.
fn locked_version(lock: &str, name: &str) -> Option<String> {
    let wanted = format!("name = \"{name}\"");
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == wanted {
            let version = lines.next()?.trim();
            return Some(
                version
                    .strip_prefix("version = \"")?
                    .strip_suffix('"')?
                    .to_string(),
            );
        }
    }
    None
}
