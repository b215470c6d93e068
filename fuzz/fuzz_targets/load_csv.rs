//! Any bytes given to the CSV loader, under any options, give a data set of finite numbers
//! with one valid target per record, or a typed error: never a panic.
//!
//! Input layout: byte 0 picks the options (header or not, delimiter, label column, class
//! names or indices), the rest is the CSV text. Every input is read twice: with class
//! labels (2 features, 3 classes) and with regression targets (3 features, 1 value).
//!
//! cargo +nightly fuzz run load_csv -- -max_total_time=600

#![no_main]

use libfuzzer_sys::fuzz_target;
use typed_nn::data::csv::{CsvOptions, LabelColumn};
use typed_nn::prelude::*;

fn options(bits: u8) -> CsvOptions {
    let mut options = CsvOptions::default();
    options.has_header = bits & 1 == 0;
    options.delimiter = match (bits >> 1) & 3 {
        0 => b',',
        1 => b';',
        2 => b'\t',
        _ => b' ',
    };
    options.label = match (bits >> 3) & 3 {
        0 => LabelColumn::Last,
        1 => LabelColumn::Index(0),
        2 => LabelColumn::Index((bits >> 5) as usize),
        _ => LabelColumn::Named(if bits & 0x20 == 0 { "label" } else { "y" }.to_string()),
    };
    if bits & 0x80 != 0 {
        options.class_names = Some(vec![
            "setosa".into(),
            "versicolor".into(),
            "virginica".into(),
        ]);
    }
    options
}

fuzz_target!(|data: &[u8]| {
    let Some((&bits, text)) = data.split_first() else {
        return;
    };
    let options = options(bits);

    if let Ok(set) = Dataset::<Tensor1<2>, Class<3>>::from_csv_reader("fuzz.csv", text, &options) {
        for i in 0..set.len() {
            assert!(set.input_slice(i).iter().all(|v| v.is_finite()));
        }
    }
    if let Ok(set) = Dataset::<Tensor1<3>, Tensor1<1>>::from_csv_reader("fuzz.csv", text, &options)
    {
        for i in 0..set.len() {
            assert!(set.input_slice(i).iter().all(|v| v.is_finite()));
            assert!(set.target(i).data[0].is_finite());
        }
    }
});
