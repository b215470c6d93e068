//! The IDX/MNIST loader on valid and corrupt files: every kind of damage is a typed error.

use flate2::write::GzEncoder;
use flate2::Compression;
use std::io::Write;
use std::path::{Path, PathBuf};
use typed_nn::data::idx;
use typed_nn::prelude::*;

/// A fresh directory for one test, under cargo's per-target scratch space.
fn scratch(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("idx-tests")
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn idx_bytes(ndims: u8, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, idx::UBYTE, ndims];
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v.extend_from_slice(data);
    v
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn images(n: u32) -> Vec<u8> {
    idx_bytes(
        3,
        &[n, 28, 28],
        &(0..n * 784).map(|i| (i % 256) as u8).collect::<Vec<_>>(),
    )
}

fn labels(values: &[u8]) -> Vec<u8> {
    idx_bytes(1, &[values.len() as u32], values)
}

/// Writes the four MNIST files (gzipped) into `dir` and returns it.
fn write_set(dir: &Path, train_images: &[u8], train_labels: &[u8]) {
    std::fs::write(dir.join("train-images-idx3-ubyte.gz"), gzip(train_images)).unwrap();
    std::fs::write(dir.join("train-labels-idx1-ubyte.gz"), gzip(train_labels)).unwrap();
    std::fs::write(dir.join("t10k-images-idx3-ubyte.gz"), gzip(&images(2))).unwrap();
    std::fs::write(
        dir.join("t10k-labels-idx1-ubyte.gz"),
        gzip(&labels(&[0, 9])),
    )
    .unwrap();
}

#[test]
fn gzipped_and_raw_files_load_and_scale_to_unit_range() {
    let dir = scratch("valid");
    write_set(&dir, &images(3), &labels(&[7, 0, 9]));
    let (train, test) = mnist::load(&dir).unwrap();
    assert_eq!((train.len(), test.len()), (3, 2));
    assert_eq!(train.target(0).index(), 7);
    let x = train.input(0);
    assert_eq!(x[1], 1.0 / 255.0);
    assert_eq!(x[255], 1.0);

    // The raw file is preferred when both exist, and decodes the same.
    std::fs::write(dir.join("train-images-idx3-ubyte"), images(3)).unwrap();
    let (raw, _) = mnist::load(&dir).unwrap();
    assert_eq!(raw.input(2).data, train.input(2).data);
}

#[test]
fn the_shipped_mnist_files_load() {
    let (train, test) = mnist::load(concat!(env!("CARGO_MANIFEST_DIR"), "/data/mnist")).unwrap();
    assert_eq!((train.len(), test.len()), (60_000, 10_000));
    assert_eq!(
        train.target(0).index(),
        5,
        "the first training digit is a 5"
    );
    assert_eq!(test.target(0).index(), 7, "the first test digit is a 7");
}

#[test]
fn missing_file() {
    let dir = scratch("missing");
    match mnist::load(&dir) {
        Err(Error::MissingFile { path }) => assert!(path.ends_with("train-images-idx3-ubyte.gz")),
        other => panic!("expected MissingFile, got {other:?}"),
    }
}

#[test]
fn wrong_magic() {
    let dir = scratch("magic");
    let mut bad = images(1);
    bad[2] = 0x0D; // float elements, not bytes
    write_set(&dir, &bad, &labels(&[1]));
    assert!(matches!(
        mnist::load(&dir),
        Err(Error::WrongMagic {
            expected: 0x0803,
            found: 0x0D03,
            ..
        })
    ));
    // A label file where an image file belongs: wrong number of dimensions.
    write_set(&dir, &labels(&[1]), &labels(&[1]));
    assert!(matches!(
        mnist::load(&dir),
        Err(Error::WrongMagic {
            expected: 0x0803,
            found: 0x0801,
            ..
        })
    ));
}

#[test]
fn truncated_files() {
    let dir = scratch("truncated");
    // Data shorter than the header announces.
    let short = &images(2)[..16 + 784 + 100];
    write_set(&dir, short, &labels(&[1, 2]));
    match mnist::load(&dir) {
        Err(Error::Truncated {
            expected, found, ..
        }) => assert_eq!((expected, found), (1568, 884)),
        other => panic!("expected Truncated, got {other:?}"),
    }
    // Header cut in the middle of the dimensions.
    write_set(&dir, &images(1)[..10], &labels(&[1]));
    assert!(matches!(
        mnist::load(&dir),
        Err(Error::Truncated {
            expected: 12,
            found: 10,
            ..
        })
    ));
    // A gzip stream cut short.
    let gz = gzip(&images(2));
    std::fs::write(dir.join("train-images-idx3-ubyte.gz"), &gz[..gz.len() / 2]).unwrap();
    std::fs::write(
        dir.join("train-labels-idx1-ubyte.gz"),
        gzip(&labels(&[1, 2])),
    )
    .unwrap();
    assert!(
        matches!(mnist::load(&dir), Err(Error::Truncated { .. })),
        "{:?}",
        mnist::load(&dir).err()
    );
}

#[test]
fn corrupt_gzip() {
    let dir = scratch("corrupt");
    write_set(&dir, &images(1), &labels(&[1]));
    let mut gz = gzip(&images(1));
    for b in &mut gz[12..40] {
        *b ^= 0x5a;
    }
    std::fs::write(dir.join("train-images-idx3-ubyte.gz"), gz).unwrap();
    let err = mnist::load(&dir).unwrap_err();
    assert!(matches!(err, Error::CorruptGzip { .. }), "{err:?}");
    assert!(
        err.to_string().contains("train-images-idx3-ubyte.gz"),
        "the message names the file: {err}"
    );
}

#[test]
fn count_mismatch_and_trailing_data() {
    let dir = scratch("count");
    write_set(&dir, &images(3), &labels(&[1, 2]));
    assert!(matches!(
        mnist::load(&dir),
        Err(Error::CountMismatch {
            image_count: 3,
            label_count: 2,
            ..
        })
    ));
    let mut long = labels(&[1, 2, 3]);
    long.extend_from_slice(&[0; 5]);
    write_set(&dir, &images(3), &long);
    assert!(matches!(
        mnist::load(&dir),
        Err(Error::TrailingData {
            expected: 3,
            extra: 5,
            ..
        })
    ));
}

#[test]
fn wrong_dimensions_and_labels_out_of_range() {
    let dir = scratch("dims");
    write_set(
        &dir,
        &idx_bytes(3, &[1, 27, 28], &[0; 27 * 28]),
        &labels(&[1]),
    );
    assert!(matches!(
        mnist::load(&dir),
        Err(Error::WrongDimensions { .. })
    ));
    write_set(&dir, &images(2), &labels(&[3, 10]));
    assert!(matches!(
        mnist::load(&dir),
        Err(Error::LabelOutOfRange {
            index: 1,
            label: 10,
            classes: 10
        })
    ));
}

#[test]
fn hostile_header_does_not_allocate_what_it_announces() {
    // 4 billion images of 28×28 announced, 10 bytes present: an error, not an OOM abort.
    let dir = scratch("hostile");
    write_set(
        &dir,
        &idx_bytes(3, &[u32::MAX, 28, 28], &[0; 10]),
        &labels(&[1]),
    );
    assert!(matches!(
        mnist::load(&dir),
        Err(Error::Truncated { found: 10, .. })
    ));
    // Dimensions whose product overflows u64 cannot be read at all.
    let err = idx::parse_u8(
        Path::new("x"),
        &idx_bytes(3, &[u32::MAX, u32::MAX, u32::MAX], &[])[..],
        3,
    )
    .unwrap_err();
    assert!(matches!(err, Error::WrongDimensions { .. }), "{err:?}");
}
