//! Any bytes given to the IDX reader, and any pair of IDX streams given to the MNIST split
//! builder, give an array (or a data set) consistent with its header, or a typed error:
//! never a panic, an abort or an allocation out of proportion to the input.
//!
//! Input layout: byte 0 is the dimension count announced to the generic reader; bytes 1–2
//! (big-endian) say where the rest is cut into an MNIST image stream and a label stream.
//! The whole rest is also read as one IDX stream of that dimension count. Streams starting
//! with the gzip magic bytes are inflated first, as on disk.
//!
//! cargo +nightly fuzz run load_idx -- -max_total_time=600

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;
use typed_nn::data::{idx, mnist};
use typed_nn::prelude::*;

fuzz_target!(|data: &[u8]| {
    let [ndims, cut_hi, cut_lo, rest @ ..] = data else {
        return;
    };
    let path = Path::new("fuzz.idx");
    if let Ok(array) = idx::decode_u8(path, rest, *ndims) {
        assert_eq!(array.dims.len(), *ndims as usize);
        let len = array.dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        assert_eq!(len, Some(array.data.len()));
    }

    let cut = (u16::from_be_bytes([*cut_hi, *cut_lo]) as usize).min(rest.len());
    let (images, labels) = rest.split_at(cut);
    let (images_path, labels_path) = (Path::new("images.idx"), Path::new("labels.idx"));
    let (Ok(image_file), Ok(label_file)) = (
        idx::decode_u8(images_path, images, 3),
        idx::decode_u8(labels_path, labels, 1),
    ) else {
        return;
    };
    let count = image_file.dims[0];
    if let Ok(set) = mnist::split_from_idx::<Tensor1<{ mnist::PIXELS }>>(
        images_path,
        image_file,
        labels_path,
        label_file,
    ) {
        assert_eq!(set.len(), count);
    }
});
