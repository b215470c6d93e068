//! `Trainer::fit` as a Keras user drives it: validation, metrics by task, callbacks,
//! schedules, divergence, the confusion matrix, the plot; and CSV data.

use std::path::PathBuf;
use typed_nn::fit::{
    confusion_matrix, Checkpoint, EarlyStopping, Monitor, ReduceOnPlateau, StepDecay, Trainer,
    Verbosity,
};
use typed_nn::prelude::*;
use typed_nn::{CsvOptions, Standardizer};

network! {
    pub struct Mlp: [784] {
        Dense(32), Relu,
        Dropout(0.1),
        Dense(10), Softmax,
    }
}

fn mnist(
    n: usize,
) -> (
    Dataset<Tensor1<784>, Class<10>>,
    Dataset<Tensor1<784>, Class<10>>,
) {
    let (train, test) = mnist::load(concat!(env!("CARGO_MANIFEST_DIR"), "/data/mnist")).unwrap();
    (train.take(n), test.take(2_000))
}

/// A fresh directory under the system's temporary one.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("typed-nn-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn fit_validates_reports_class_metrics_and_checkpoints_the_best() {
    let (train, test) = mnist(6_000);
    let mut model = Mlp::init(&mut Rng::seed(0));
    let dir = scratch("fit");
    let checkpoints = Checkpoint::new(&dir).best(Monitor::max("val_accuracy"));
    let history = Trainer::new(CrossEntropy, Adam::new(2e-3))
        .epochs(3)
        .batch_size(64)
        .validation_split(0.2)
        .verbosity(Verbosity::Silent)
        .callback(checkpoints.clone())
        .fit(&mut model, &train)
        .unwrap();
    let names: Vec<&str> = history.names().collect();
    assert_eq!(
        names,
        [
            "loss",
            "accuracy",
            "top5_accuracy",
            "val_loss",
            "val_accuracy",
            "val_top5_accuracy"
        ]
    );
    assert_eq!(history.epochs(), 3);
    let val = history.get("val_accuracy").unwrap();
    assert!(val[2] > 0.85, "validation accuracy {val:?}");
    assert!(history.get("loss").unwrap()[2] < history.get("loss").unwrap()[0]);
    // Both checkpoints load as ordinary weight files; the best is the best epoch's.
    let best = Mlp::load(checkpoints.best_path().with_extension("safetensors")).unwrap();
    let last = Mlp::load(checkpoints.last_path().with_extension("safetensors")).unwrap();
    let best_epoch = val.iter().cloned().fold(f64::MIN, f64::max);
    let (_, held_out) = train.split_at(4_800);
    assert!((best.accuracy(&held_out).unwrap() as f64 - best_epoch).abs() < 1e-6);
    assert!(last.accuracy(&test).unwrap() > 0.85);

    let matrix = confusion_matrix(&model, &test).unwrap();
    assert!((matrix.accuracy() - model.accuracy(&test).unwrap() as f64).abs() < 1e-6);
    assert!(matrix.to_string().contains("recall"));

    history.plot(dir.join("history.svg")).unwrap();
    let svg = std::fs::read_to_string(dir.join("history.svg")).unwrap();
    assert!(svg.contains("val") || svg.contains("validation"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn early_stopping_stops_and_puts_back_the_best_weights() {
    let (train, _) = mnist(2_000);
    // "Higher loss is better" never improves after the first epoch: training stops after
    // `patience` more, with the first epoch's weights put back.
    let run = |epochs: usize, stop: bool| {
        let mut model = Mlp::init(&mut Rng::seed(4));
        let mut trainer = Trainer::new(CrossEntropy, Adam::new(1e-3))
            .epochs(epochs)
            .batch_size(100)
            .verbosity(Verbosity::Silent);
        if stop {
            trainer = trainer.callback(
                EarlyStopping::new(Monitor::max("loss"))
                    .patience(2)
                    .restore_best_weights(),
            );
        }
        let history = trainer.fit(&mut model, &train).unwrap();
        (model.layer0.weight(), history.epochs())
    };
    let (after_one, _) = run(1, false);
    let (stopped, epochs) = run(10, true);
    assert_eq!(epochs, 3, "best at 1, then two epochs without improvement");
    assert_eq!(stopped, after_one);
}

#[test]
fn a_diverging_run_stops_with_the_epoch_and_step_and_keeps_the_last_good_weights() {
    let mut rng = Rng::seed(5);
    let samples: Vec<(Tensor1<3>, Tensor1<1>)> = (0..200)
        .map(|_| {
            let x = [
                rng.uniform(-1.0, 1.0),
                rng.uniform(-1.0, 1.0),
                rng.uniform(-1.0, 1.0),
            ];
            (Tensor1::new(x), Tensor1::new([100.0 * x[0]]))
        })
        .collect();
    let data = Dataset::from_samples(&samples);
    let mut model = Regressor::init(&mut Rng::seed(5));
    let result = Trainer::new(Mse, Sgd::new(1e3))
        .epochs(5)
        .batch_size(20)
        .verbosity(Verbosity::Silent)
        .fit(&mut model, &data);
    match result {
        Err(err @ Error::Diverged { .. }) => {
            let text = err.to_string();
            let Error::Diverged { epoch, step, cause } = err else {
                unreachable!()
            };
            assert!(epoch >= 1 && step >= 1);
            assert!(
                text.contains(&format!("epoch {epoch}, step {step}")),
                "{text}"
            );
            assert!(
                matches!(*cause, Error::NonFiniteLoss { loss } if !loss.is_finite()),
                "{cause}"
            );
            // The last good weights are kept: finite, and they save and load.
            assert!(model.layer2.weight().iter().all(|w| w.is_finite()));
            let bytes = model.to_safetensors_bytes().unwrap();
            assert!(Regressor::from_safetensors_bytes(&bytes).is_ok());
        }
        other => panic!("expected divergence, got {other:?}"),
    }
}

#[test]
fn schedules_drive_the_learning_rate() {
    let (train, _) = mnist(500);
    let mut model = Mlp::init(&mut Rng::seed(6));
    let mut trainer = Trainer::new(CrossEntropy, Adam::new(1.0))
        .epochs(2)
        .batch_size(100)
        .verbosity(Verbosity::Silent)
        .schedule(StepDecay::new(1e-2, 5, 0.1));
    trainer.fit(&mut model, &train).unwrap();
    // 10 steps: the rate of the last one (step 9) is 1e-2 · 0.1.
    assert!((trainer.optimizer().learning_rate() - 1e-3).abs() < 1e-9);
    let mut plateau = Trainer::new(CrossEntropy, Adam::new(1e-3))
        .epochs(3)
        .batch_size(100)
        .verbosity(Verbosity::Silent)
        .schedule(ReduceOnPlateau::new(1e-3).patience(0).min_delta(1e9));
    plateau.fit(&mut model, &train).unwrap();
    assert!(
        plateau.optimizer().learning_rate() < 1e-3,
        "halved without improvement"
    );
}

network! {
    /// Binary classification of tabular data: metrics are accuracy, precision, recall, F1.
    pub struct Tabular: [3] {
        Dense(8), Tanh,
        Dense(1), Sigmoid,
    }
}

network! {
    /// Regression: metrics are MAE and RMSE.
    pub struct Regressor: [3] {
        Dense(8), Tanh,
        Dense(1),
    }
}

#[test]
fn csv_data_splits_standardises_and_trains_with_the_tasks_metrics() {
    let dir = scratch("csv");
    let path = dir.join("points.csv");
    let mut text = String::from("a,b,c,label\n");
    let mut rng = Rng::seed(7);
    for _ in 0..400 {
        let (a, b, c) = (
            rng.uniform(0.0, 100.0),
            rng.uniform(-1.0, 1.0),
            rng.next_f32(),
        );
        let label = u8::from(a / 100.0 + b > 0.5);
        text += &format!("{a},{b},{c},{label}\n");
    }
    std::fs::write(&path, text).unwrap();
    let data =
        Dataset::<Tensor1<3>, Tensor1<1>>::from_csv(&path, &CsvOptions::default().label("label"))
            .unwrap();
    assert_eq!(data.len(), 400);
    let (mut train, mut val, mut test) = data.split_random(0.6, 0.2, 1).unwrap();
    assert_eq!((train.len(), val.len(), test.len()), (240, 80, 80));
    // Fitted on the training part only, applied to all three.
    let scaler = Standardizer::fit(&train).unwrap();
    assert!(scaler.mean[0] > 20.0 && scaler.std[0] > 10.0);
    for part in [&mut train, &mut val, &mut test] {
        scaler.apply(part);
    }
    let mut model = Tabular::init(&mut Rng::seed(8));
    let history = Trainer::new(BinaryCrossEntropy, Adam::new(1e-2))
        .epochs(30)
        .batch_size(16)
        .verbosity(Verbosity::Silent)
        .fit_validated(&mut model, &train, Some(&val))
        .unwrap();
    assert_eq!(
        history.names().collect::<Vec<_>>(),
        [
            "loss",
            "accuracy",
            "precision",
            "recall",
            "f1",
            "val_loss",
            "val_accuracy",
            "val_precision",
            "val_recall",
            "val_f1"
        ]
    );
    assert!(history.get("val_accuracy").unwrap()[29] > 0.9);

    let mut regressor = Regressor::init(&mut Rng::seed(9));
    let history = Trainer::new(Mse, Adam::new(1e-2))
        .epochs(3)
        .batch_size(16)
        .verbosity(Verbosity::Silent)
        .fit(&mut regressor, &train)
        .unwrap();
    assert_eq!(history.names().collect::<Vec<_>>(), ["loss", "mae", "rmse"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_csv_files_are_errors_that_name_the_line() {
    let dir = scratch("bad-csv");
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let ragged = write("ragged.csv", "x,y,class\n1,2,0\n3,4\n5,6,1\n");
    match Dataset::<Tensor1<2>, Class<3>>::from_csv(&ragged, &CsvOptions::default()) {
        Err(Error::CsvColumns {
            line,
            expected,
            found,
            ..
        }) => assert_eq!((line, expected, found), (3, 3, 2)),
        other => panic!("{other:?}"),
    }
    let garbled = write("garbled.csv", "x,y,class\n1,2,0\n3,four,1\n");
    match Dataset::<Tensor1<2>, Class<3>>::from_csv(&garbled, &CsvOptions::default()) {
        Err(Error::CsvValue {
            line,
            column,
            value,
            ..
        }) => assert_eq!((line, column.as_str(), value.as_str()), (3, "y", "four")),
        other => panic!("{other:?}"),
    }
    let label = write("label.csv", "x,y,class\n1,2,7\n");
    let err =
        Dataset::<Tensor1<2>, Class<3>>::from_csv(&label, &CsvOptions::default()).unwrap_err();
    assert!(err.to_string().contains("line 2"), "{err}");
    let named = write("named.csv", "x,y,species\n1,2,setosa\n3,4,virginica\n");
    let iris = Dataset::<Tensor1<2>, Class<3>>::from_csv(
        &named,
        &CsvOptions::default().class_names(&["setosa", "versicolor", "virginica"]),
    )
    .unwrap();
    assert_eq!(iris.target(1).index(), 2);
    let missing =
        Dataset::<Tensor1<2>, Class<3>>::from_csv(&named, &CsvOptions::default().label("label"));
    assert!(matches!(missing, Err(Error::Csv { .. })));
    assert!(matches!(
        Dataset::<Tensor1<2>, Class<3>>::from_csv(dir.join("absent.csv"), &CsvOptions::default()),
        Err(Error::MissingFile { .. })
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}
