//! The loaders' in-memory entries (what the fuzz targets drive): CSV from any reader, IDX
//! streams from any buffered reader, MNIST splits from arrays already read. Errors name the
//! source the caller gives.

use std::path::Path;
use typed_nn::data::csv::CsvOptions;
use typed_nn::data::idx::{self, IdxU8};
use typed_nn::data::mnist;
use typed_nn::prelude::*;

#[test]
fn csv_from_a_reader_reads_like_a_file_and_names_the_source() {
    let text = "x,y,class\n1,2,0\n3,4,2\n";
    let set = Dataset::<Tensor1<2>, Class<3>>::from_csv_reader(
        "<memory>",
        text.as_bytes(),
        &CsvOptions::default(),
    )
    .unwrap();
    assert_eq!(set.len(), 2);
    assert_eq!(set.input_slice(1), [3.0, 4.0]);
    assert_eq!(set.target(1).index(), 2);

    let err = Dataset::<Tensor1<2>, Class<3>>::from_csv_reader(
        "<memory>",
        "x,y,class\n1,two,0\n".as_bytes(),
        &CsvOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::CsvValue { line: 2, .. }), "{err:?}");
    assert!(err.to_string().starts_with("<memory>, line 2"), "{err}");
}

#[test]
fn idx_streams_decode_from_memory_raw_or_gzipped() {
    let raw = [0, 0, idx::UBYTE, 1, 0, 0, 0, 3, 7, 8, 9];
    let array = idx::decode_u8(Path::new("raw.idx"), &raw[..], 1).unwrap();
    assert_eq!((array.dims, array.data), (vec![3], vec![7, 8, 9]));

    let mut gzipped = Vec::new();
    {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(&mut gzipped, flate2::Compression::fast());
        e.write_all(&raw).unwrap();
        e.finish().unwrap();
    }
    let array = idx::decode_u8(Path::new("raw.idx.gz"), &gzipped[..], 1).unwrap();
    assert_eq!(array.data, [7, 8, 9]);

    let err = idx::decode_u8(Path::new("short.idx"), &raw[..9], 1).unwrap_err();
    assert!(matches!(err, Error::Truncated { .. }), "{err:?}");
    assert!(err.to_string().starts_with("short.idx"), "{err}");
}

#[test]
fn mnist_splits_from_arrays_check_ranks_and_counts() {
    let (images, labels) = (Path::new("images"), Path::new("labels"));
    let image = |n: usize| IdxU8 {
        dims: vec![n, 28, 28],
        data: vec![255; n * 784],
    };
    let label = |values: &[u8]| IdxU8 {
        dims: vec![values.len()],
        data: values.to_vec(),
    };
    let set =
        mnist::split_from_idx::<Tensor1<784>>(images, image(2), labels, label(&[3, 9])).unwrap();
    assert_eq!(set.len(), 2);
    assert_eq!(set.target(1).index(), 9);
    assert!(set.input_slice(0).iter().all(|&p| p == 1.0));

    // Arrays built by hand may have any rank: an error, not an out-of-bounds index.
    let flat = IdxU8 {
        dims: vec![],
        data: vec![],
    };
    let err = mnist::split_from_idx::<Tensor1<784>>(images, flat.clone(), labels, label(&[1]))
        .unwrap_err();
    assert!(matches!(err, Error::WrongDimensions { .. }), "{err:?}");
    let err = mnist::split_from_idx::<Tensor1<784>>(images, image(1), labels, flat).unwrap_err();
    assert!(matches!(err, Error::WrongDimensions { .. }), "{err:?}");

    let err =
        mnist::split_from_idx::<Tensor1<784>>(images, image(2), labels, label(&[1])).unwrap_err();
    assert!(matches!(err, Error::CountMismatch { .. }), "{err:?}");
    let err =
        mnist::split_from_idx::<Tensor1<784>>(images, image(1), labels, label(&[10])).unwrap_err();
    assert!(
        matches!(err, Error::LabelOutOfRange { label: 10, .. }),
        "{err:?}"
    );
}
