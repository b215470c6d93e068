//! safetensors weights: round trips, PyTorch names, and every kind of bad file.

use typed_nn::prelude::*;

network! {
    pub struct Mlp: [784] {
        fc1: Dense(64), Relu,
        fc2: Dense(32), Relu,
        out: Dense(10), Softmax,
    }
}

network! {
    /// One of every parameterised layer kind.
    pub struct Mixed: [1, 12, 12] {
        conv: Conv2d(4, 3), Relu,
        MaxPool2d(2),
        Flatten,
        Dense(10), Relu,
    }
}

network! {
    pub struct Recurrent: [6, 3] {
        lstm: LSTM(4, return_sequences = true),
        gru: GRU(3, return_sequences = true),
        rnn: SimpleRNN(2),
        Dense(1),
    }
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("weights");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn save_and_load_round_trip_every_layer_kind() {
    let mut rng = Rng::seed(1);
    let mlp = Mlp::init(&mut rng);
    let path = scratch("mlp.safetensors");
    mlp.save(&path).unwrap();
    let loaded = Mlp::load(&path).unwrap();
    let x = Tensor1::<784>::from_slice(&(0..784).map(|i| (i % 7) as f32 / 7.0).collect::<Vec<_>>())
        .unwrap();
    assert_eq!(mlp.forward(&x), loaded.forward(&x));

    let mixed = Mixed::init(&mut rng);
    let bytes = mixed.to_safetensors_bytes().unwrap();
    let back = Mixed::from_safetensors_bytes(&bytes).unwrap();
    let img =
        Tensor3::<1, 12, 12>::from_slice(&(0..144).map(|i| (i % 5) as f32).collect::<Vec<_>>())
            .unwrap();
    assert_eq!(mixed.forward(&img), back.forward(&img));

    let rec = Recurrent::init(&mut rng);
    let bytes = rec.to_safetensors_bytes().unwrap();
    let back = Recurrent::from_safetensors_bytes(&bytes).unwrap();
    let seq =
        Tensor2::<6, 3>::from_slice(&(0..18).map(|i| (i as f32 * 0.37).sin()).collect::<Vec<_>>())
            .unwrap();
    assert_eq!(rec.forward(&seq), back.forward(&seq));
}

#[test]
fn files_use_pytorch_names_shapes_and_the_split_bias() {
    let rec = Recurrent::init(&mut Rng::seed(2));
    let bytes = rec.to_safetensors_bytes().unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut names = file.names();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "3.bias",
            "3.weight",
            "gru.bias_hh_l0",
            "gru.bias_ih_l0",
            "gru.weight_hh_l0",
            "gru.weight_ih_l0",
            "lstm.bias_hh_l0",
            "lstm.bias_ih_l0",
            "lstm.weight_hh_l0",
            "lstm.weight_ih_l0",
            "rnn.bias_hh_l0",
            "rnn.bias_ih_l0",
            "rnn.weight_hh_l0",
            "rnn.weight_ih_l0",
        ]
    );
    assert_eq!(file.tensor("lstm.weight_ih_l0").unwrap().shape(), &[16, 3]);
    assert_eq!(file.tensor("gru.weight_hh_l0").unwrap().shape(), &[9, 3]);
    // Export writes the one LSTM bias to bias_ih and zeros to bias_hh...
    let zeros = file.tensor("lstm.bias_hh_l0").unwrap();
    assert!(zeros.data().iter().all(|&b| b == 0));
    // ...and import sums a PyTorch file's two biases.
    let mut split = std::collections::BTreeMap::new();
    for name in file.names() {
        let t = file.tensor(name).unwrap();
        let mut data = t.data().to_vec();
        if name == "lstm.bias_ih_l0" || name == "lstm.bias_hh_l0" {
            // bias_ih = 1.0 everywhere, bias_hh = 0.5 everywhere: the layer's bias must be 1.5.
            let v: f32 = if name.ends_with("ih_l0") { 1.0 } else { 0.5 };
            data = std::iter::repeat_n(v.to_le_bytes(), t.shape()[0])
                .flatten()
                .collect();
        }
        split.insert(name.to_string(), (t.shape().to_vec(), data));
    }
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = split
        .iter()
        .map(|(n, (s, d))| {
            (
                n.clone(),
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), d)
                    .unwrap(),
            )
        })
        .collect();
    let bytes = safetensors::serialize(views, None).unwrap();
    let loaded = Recurrent::from_safetensors_bytes(&bytes).unwrap();
    assert!(loaded.lstm.params.bias_ih.iter().all(|&b| b == 1.5));
}

#[test]
fn a_file_for_another_network_lists_every_mismatch() {
    network! {
        pub struct Other: [784] {
            fc1: Dense(64), Relu,
            fc2: Dense(16), Relu,
            head: Dense(10), Softmax,
        }
    }
    let bytes = Other::init(&mut Rng::seed(3))
        .to_safetensors_bytes()
        .unwrap();
    match Mlp::from_safetensors_bytes(&bytes) {
        Err(Error::WeightsMismatch { problems }) => {
            use typed_nn::WeightProblem::*;
            assert!(problems.contains(&WrongShape {
                name: "fc2.weight".into(),
                expected: vec![32, 64],
                found: vec![16, 64]
            }));
            assert!(problems.contains(&WrongShape {
                name: "fc2.bias".into(),
                expected: vec![32],
                found: vec![16]
            }));
            assert!(problems.contains(&Missing {
                name: "out.weight".into(),
                shape: vec![10, 32]
            }));
            assert!(problems.contains(&Unexpected {
                name: "head.weight".into()
            }));
            assert_eq!(problems.len(), 6, "{problems:?}");
            let message = Error::WeightsMismatch { problems }.to_string();
            assert!(
                message.contains("fc2.weight") && message.contains("[16, 64]"),
                "{message}"
            );
        }
        other => panic!("expected WeightsMismatch, got {:?}", other.err()),
    }
}

#[test]
fn wrong_dtype_truncated_corrupt_and_missing_files_are_errors() {
    let mlp = Mlp::init(&mut Rng::seed(4));
    let bytes = mlp.to_safetensors_bytes().unwrap();
    for cut in [0, 4, 8, 20, bytes.len() / 2, bytes.len() - 1] {
        assert!(
            matches!(
                Mlp::from_safetensors_bytes(&bytes[..cut]),
                Err(Error::CorruptWeights { .. })
            ),
            "cut at {cut}"
        );
    }
    let mut hostile = bytes.clone();
    hostile[..8].copy_from_slice(&u64::MAX.to_le_bytes()); // header length of 2^64 − 1
    assert!(matches!(
        Mlp::from_safetensors_bytes(&hostile),
        Err(Error::CorruptWeights { .. })
    ));
    let mut garbled = bytes.clone();
    for b in &mut garbled[8..40] {
        *b = b'{';
    }
    assert!(matches!(
        Mlp::from_safetensors_bytes(&garbled),
        Err(Error::CorruptWeights { .. })
    ));
    assert!(matches!(
        Mlp::load(scratch("does-not-exist.safetensors")),
        Err(Error::MissingFile { .. })
    ));

    // Same names and shapes in f64: a dtype error for every tensor.
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let doubled: Vec<(String, Vec<usize>, Vec<u8>)> = file
        .names()
        .into_iter()
        .map(|n| {
            let t = file.tensor(n).unwrap();
            let data = t
                .data()
                .chunks_exact(4)
                .flat_map(|b| (f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64).to_le_bytes())
                .collect();
            (n.to_string(), t.shape().to_vec(), data)
        })
        .collect();
    let views: Vec<_> = doubled
        .iter()
        .map(|(n, s, d)| {
            (
                n.as_str(),
                safetensors::tensor::TensorView::new(safetensors::Dtype::F64, s.clone(), d)
                    .unwrap(),
            )
        })
        .collect();
    let f64_file = safetensors::serialize(views, None).unwrap();
    match Mlp::from_safetensors_bytes(&f64_file) {
        Err(Error::WeightsMismatch { problems }) => {
            assert_eq!(problems.len(), 6);
            assert!(problems
                .iter()
                .all(|p| matches!(p, typed_nn::WeightProblem::WrongDtype { .. })));
        }
        other => panic!("expected dtype errors, got {:?}", other.err()),
    }
}
