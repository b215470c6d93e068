//! Tabular data: CSV files into data sets, seeded train/validation/test splits, and feature
//! standardisation fitted on the training part only.

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::{Class, Dataset, Target};
use crate::error::{Error, Result};
use crate::tensor::Tensor1;
use crate::Rng;
use std::io::Read;
use std::path::Path;

/// Which column holds the target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LabelColumn {
    /// The column with this header.
    Named(String),
    /// The column at this index (from 0).
    Index(usize),
    /// The last column.
    Last,
}

/// How to read a CSV file: where the label is, whether the first line is a header, the
/// delimiter, and (for class labels written as names) the class names in class order.
#[derive(Clone, Debug)]
pub struct CsvOptions {
    pub label: LabelColumn,
    pub has_header: bool,
    pub delimiter: u8,
    pub class_names: Option<Vec<String>>,
}

impl Default for CsvOptions {
    /// Label in the last column, a header line, commas.
    fn default() -> Self {
        CsvOptions {
            label: LabelColumn::Last,
            has_header: true,
            delimiter: b',',
            class_names: None,
        }
    }
}

impl CsvOptions {
    /// The label is the column with header `name`.
    pub fn label(mut self, name: &str) -> Self {
        self.label = LabelColumn::Named(name.to_string());
        self
    }

    /// The label is column `index` (from 0).
    pub fn label_index(mut self, index: usize) -> Self {
        self.label = LabelColumn::Index(index);
        self
    }

    /// The file has no header line.
    pub fn no_header(mut self) -> Self {
        self.has_header = false;
        self
    }

    pub fn delimiter(mut self, delimiter: u8) -> Self {
        self.delimiter = delimiter;
        self
    }

    /// Labels are these names (class `i` is `names[i]`), not class indices.
    pub fn class_names(mut self, names: &[&str]) -> Self {
        self.class_names = Some(names.iter().map(|n| n.to_string()).collect());
        self
    }
}

/// A target read from a CSV field.
pub trait CsvTarget: Target {
    /// What the field must be, in an error message.
    fn expected(names: Option<&[String]>) -> String;
    fn parse(field: &str, names: Option<&[String]>) -> Option<Self>;
}

impl<const N: usize> CsvTarget for Class<N> {
    fn expected(names: Option<&[String]>) -> String {
        match names {
            Some(names) => format!("one of {}", names.join(", ")),
            None => format!("a class index below {N}"),
        }
    }

    fn parse(field: &str, names: Option<&[String]>) -> Option<Self> {
        let field = field.trim();
        let index = match names {
            Some(names) => names.iter().position(|n| n == field)?,
            None => field.parse::<usize>().ok()?,
        };
        Class::new(index).ok()
    }
}

impl CsvTarget for Tensor1<1> {
    fn expected(_names: Option<&[String]>) -> String {
        "a number".to_string()
    }

    fn parse(field: &str, _names: Option<&[String]>) -> Option<Self> {
        let v = field.trim().parse::<f32>().ok()?;
        v.is_finite().then(|| Tensor1::new([v]))
    }
}

impl<const F: usize, Y: CsvTarget> Dataset<Tensor1<F>, Y> {
    /// Reads a CSV file of `F` feature columns and one label column. A record with another
    /// number of fields, or a field that is not a finite number (or a valid label), is an
    /// error that names its line; nothing is returned then.
    pub fn from_csv(path: impl AsRef<Path>, options: &CsvOptions) -> Result<Self> {
        let path = path.as_ref();
        let file = std::fs::File::open(path).map_err(Error::reading(path))?;
        Self::from_csv_reader(path, file, options)
    }

    /// Reads CSV data from any reader, as [`from_csv`](Self::from_csv) reads a file;
    /// `source` names the data in errors (a file name, or e.g. `<stdin>`).
    pub fn from_csv_reader(
        source: impl AsRef<Path>,
        reader: impl Read,
        options: &CsvOptions,
    ) -> Result<Self> {
        let path = source.as_ref();
        let mut reader = ::csv::ReaderBuilder::new()
            .has_headers(options.has_header)
            .delimiter(options.delimiter)
            // Ragged records are reported by this loader, with the line.
            .flexible(true)
            .from_reader(reader);
        let malformed = |reason: String| Error::Csv {
            path: path.to_path_buf(),
            reason,
        };
        let headers: Vec<String> = if options.has_header {
            reader
                .headers()
                .map_err(|e| malformed(e.to_string()))?
                .iter()
                .map(str::to_string)
                .collect()
        } else {
            Vec::new()
        };
        let columns = F + 1;
        if options.has_header && headers.len() != columns {
            return Err(Error::CsvColumns {
                path: path.to_path_buf(),
                line: 1,
                expected: columns,
                found: headers.len(),
            });
        }
        let label = match &options.label {
            LabelColumn::Last => columns - 1,
            LabelColumn::Index(i) if *i < columns => *i,
            LabelColumn::Index(i) => {
                return Err(malformed(format!(
                    "label column {i} does not exist: the file has {columns} columns"
                )))
            }
            LabelColumn::Named(name) => {
                headers.iter().position(|h| h == name).ok_or_else(|| {
                    malformed(format!(
                        "no column named `{name}`; the columns are {}",
                        headers.join(", ")
                    ))
                })?
            }
        };
        let column_name = |i: usize| headers.get(i).cloned().unwrap_or_else(|| i.to_string());
        let names = options.class_names.as_deref();
        let (mut inputs, mut targets) = (Vec::new(), Vec::new());
        for record in reader.records() {
            let record = record.map_err(|e| malformed(e.to_string()))?;
            let line = record.position().map_or(0, |p| p.line());
            if record.len() != columns {
                return Err(Error::CsvColumns {
                    path: path.to_path_buf(),
                    line,
                    expected: columns,
                    found: record.len(),
                });
            }
            for (i, field) in record.iter().enumerate() {
                let value_error = |expected: String| Error::CsvValue {
                    path: path.to_path_buf(),
                    line,
                    column: column_name(i),
                    value: field.to_string(),
                    expected,
                };
                if i == label {
                    targets.push(
                        Y::parse(field, names).ok_or_else(|| value_error(Y::expected(names)))?,
                    );
                } else {
                    match field.trim().parse::<f32>() {
                        Ok(v) if v.is_finite() => inputs.push(v),
                        _ => return Err(value_error("a finite number".to_string())),
                    }
                }
            }
        }
        Dataset::new(inputs, targets)
    }
}

impl<X: crate::tensor::Sample, Y: Target> Dataset<X, Y> {
    /// A seeded random split into training, validation and test parts holding the
    /// fractions `train` and `validation` of the samples (the test part the rest).
    pub fn split_random(
        &self,
        train: f32,
        validation: f32,
        seed: u64,
    ) -> Result<(Self, Self, Self)> {
        if !(train > 0.0 && validation >= 0.0 && train + validation <= 1.0) {
            return Err(Error::InvalidHyperparameter {
                name: "split fractions",
                value: (train + validation) as f64,
                expected: "train > 0, validation ≥ 0, train + validation ≤ 1",
            });
        }
        let mut order: Vec<usize> = (0..self.len()).collect();
        Rng::seed(seed).shuffle(&mut order);
        let n_train = (self.len() as f64 * train as f64).round() as usize;
        let n_val =
            ((self.len() as f64 * validation as f64).round() as usize).min(self.len() - n_train);
        let pick = |ids: &[usize]| self.select(ids);
        Ok((
            pick(&order[..n_train]),
            pick(&order[n_train..n_train + n_val]),
            pick(&order[n_train + n_val..]),
        ))
    }
}

/// Per-feature standardisation `(x − mean) / std`, fitted on a training set and applied to
/// every set (so nothing of the validation or test data leaks into training).
#[derive(Clone, Debug, PartialEq)]
pub struct Standardizer<const F: usize> {
    pub mean: [f32; F],
    /// Features that never vary get 1, so they are centred but not blown up.
    pub std: [f32; F],
}

impl<const F: usize> Standardizer<F> {
    /// The mean and (population) standard deviation of every feature of `data`.
    pub fn fit<Y: Target>(data: &Dataset<Tensor1<F>, Y>) -> Result<Self> {
        if data.is_empty() {
            return Err(Error::EmptyDataset);
        }
        let n = data.len() as f64;
        let (mut mean, mut std) = ([0.0f32; F], [1.0f32; F]);
        for j in 0..F {
            let column = || (0..data.len()).map(|i| data.input_slice(i)[j] as f64);
            let m = column().sum::<f64>() / n;
            let var = column().map(|v| (v - m) * (v - m)).sum::<f64>() / n;
            mean[j] = m as f32;
            if var > 0.0 {
                std[j] = var.sqrt() as f32;
            }
        }
        Ok(Standardizer { mean, std })
    }

    /// Standardises every sample of `data`.
    pub fn apply<Y: Target>(&self, data: &mut Dataset<Tensor1<F>, Y>) {
        for row in data.inputs.chunks_exact_mut(F) {
            for ((v, m), s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
                *v = (*v - m) / s;
            }
        }
    }

    /// Standardises one sample (for inference on new data).
    pub fn apply_sample(&self, x: &mut Tensor1<F>) {
        for ((v, m), s) in x.data.iter_mut().zip(&self.mean).zip(&self.std) {
            *v = (*v - m) / s;
        }
    }
}
