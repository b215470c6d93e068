//! MNIST from its four IDX files (gzipped or raw), inputs scaled to [0, 1].

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::idx;
use super::{Class, Dataset};
use crate::error::{Error, Result};
use crate::tensor::{Sample, Tensor1};
use std::path::{Path, PathBuf};

/// Side of an MNIST image.
pub const SIDE: usize = 28;
/// Pixels per image.
pub const PIXELS: usize = SIDE * SIDE;

/// MNIST images as flat 784-vectors with their digit.
pub type Mnist = Dataset<Tensor1<PIXELS>, Class<10>>;

/// The training (60,000) and test (10,000) sets from `dir`, as flat vectors.
pub fn load(dir: impl AsRef<Path>) -> Result<(Mnist, Mnist)> {
    load_as(dir)
}

/// The training and test sets with each image shaped as `X` (any sample of 784 values, e.g.
/// 28 rows of 28 features for a recurrent network).
pub fn load_as<X: Sample>(
    dir: impl AsRef<Path>,
) -> Result<(Dataset<X, Class<10>>, Dataset<X, Class<10>>)> {
    let dir = dir.as_ref();
    let train = load_split(
        &find(dir, "train-images-idx3-ubyte")?,
        &find(dir, "train-labels-idx1-ubyte")?,
    )?;
    let test = load_split(
        &find(dir, "t10k-images-idx3-ubyte")?,
        &find(dir, "t10k-labels-idx1-ubyte")?,
    )?;
    Ok((train, test))
}

/// One split from an image file and a label file.
pub fn load_split<X: Sample>(images: &Path, labels: &Path) -> Result<Dataset<X, Class<10>>> {
    // Also checked by `split_from_idx`; here so that a wrong shape fails before reading.
    if X::LEN != PIXELS {
        return Err(Error::LengthMismatch {
            what: "MNIST sample shape",
            expected: PIXELS,
            found: X::LEN,
        });
    }
    let image_file = idx::read_u8(images, 3)?;
    let label_file = idx::read_u8(labels, 1)?;
    split_from_idx(images, image_file, labels, label_file)
}

/// One split from an image array and a label array already read (e.g. with
/// [`idx::decode_u8`] from memory); `images` and `labels` name them in errors.
pub fn split_from_idx<X: Sample>(
    images: &Path,
    image_file: idx::IdxU8,
    labels: &Path,
    label_file: idx::IdxU8,
) -> Result<Dataset<X, Class<10>>> {
    if X::LEN != PIXELS {
        return Err(Error::LengthMismatch {
            what: "MNIST sample shape",
            expected: PIXELS,
            found: X::LEN,
        });
    }
    if image_file.dims.len() != 3 || image_file.dims[1..] != [SIDE, SIDE] {
        return Err(Error::WrongDimensions {
            path: images.to_path_buf(),
            expected: format!("[n, {SIDE}, {SIDE}]"),
            found: format!("{:?}", image_file.dims),
        });
    }
    if label_file.dims.len() != 1 {
        return Err(Error::WrongDimensions {
            path: labels.to_path_buf(),
            expected: "[n]".to_string(),
            found: format!("{:?}", label_file.dims),
        });
    }
    let (image_count, label_count) = (image_file.dims[0], label_file.dims[0]);
    if image_count != label_count {
        return Err(Error::CountMismatch {
            images: images.to_path_buf(),
            image_count,
            labels: labels.to_path_buf(),
            label_count,
        });
    }
    let targets = label_file
        .data
        .iter()
        .enumerate()
        .map(|(index, &label)| {
            Class::new(label as usize).map_err(|_| Error::LabelOutOfRange {
                index,
                label: label as u64,
                classes: 10,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let inputs = image_file.data.iter().map(|&p| p as f32 / 255.0).collect();
    Dataset::new(inputs, targets)
}

/// `dir/name` if it exists uncompressed, else `dir/name.gz` (which may then be missing).
fn find(dir: &Path, name: &str) -> Result<PathBuf> {
    let raw = dir.join(name);
    if raw.is_file() {
        return Ok(raw);
    }
    let gz = dir.join(format!("{name}.gz"));
    if gz.is_file() {
        Ok(gz)
    } else {
        Err(Error::MissingFile { path: gz })
    }
}
