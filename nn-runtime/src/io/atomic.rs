//! Files written so that a failure never leaves a half-written one in place.

use crate::error::{Error, Result};
use core::sync::atomic::{AtomicU64, Ordering};
use std::fs::File;
use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` so that `path` holds either its old content or all of the new:
/// the bytes go to a temporary file in the same directory, which is synced and then renamed
/// over `path` (a rename within a directory is atomic). On an error the temporary file is
/// removed and `path` is untouched.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomically_with(path, |file| file.write_all(bytes))
}

/// [`write_atomically`] for content that `write` streams into the temporary file itself
/// (through a wrapping writer that compresses, counts or hashes, say). An error from
/// `write`, the sync or the rename is reported with `path`, and `path` keeps its old
/// content.
pub fn write_atomically_with(
    path: &Path,
    write: impl FnOnce(&mut File) -> std::io::Result<()>,
) -> Result<()> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    // Unique per process and per call, so that threads saving at once never share one.
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let call = CALLS.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.{}.{call}.tmp", std::process::id()));
    let written = (|| {
        let mut file = File::create(&tmp)?;
        write(&mut file)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(e));
    }
    // The rename is durable once the directory is synced (best effort: not every
    // platform lets a directory be opened for this).
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
