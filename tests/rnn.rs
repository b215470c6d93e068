//! Recurrent networks: the seed's RNN and Keras's parameter counts, sequence-to-sequence
//! stacking, and learning.

use typed_nn::prelude::*;

network! {
    /// The seed's RNN: 100 steps of 1 feature, SimpleRNN(50, tanh), Dense(1, sigmoid).
    pub struct SeedRnn: [100, 1] {
        SimpleRNN(50), Dense(1), Sigmoid,
    }
}

network! {
    /// Row-wise MNIST: 28 steps of 28 features.
    pub struct SeqMnist: [28, 28] {
        LSTM(128),
        Dense(10), Softmax,
    }
}

network! {
    /// Stacked recurrent layers, sequence to sequence then to a label.
    pub struct Stacked: [12, 3] {
        GRU(8, return_sequences = true),
        SimpleRNN(6, activation = relu, return_sequences = true),
        LSTM(5),
        Dense(2),
    }
}

#[test]
fn parameter_counts_match_keras() {
    assert_eq!(SeedRnn::PARAMS, 2_600 + 51);
    assert!(SeedRnn::summary().contains("Total params: 2,651"));
    assert_eq!(
        SeqMnist::PARAMS - 1_290,
        80_384,
        "LSTM(128) on 28 features, one bias as Keras"
    );
    // GRU keeps both biases (Keras's reset_after): 3·8·(3 + 8) + 2·3·8.
    assert_eq!(
        Stacked::PARAMS,
        (3 * 8 * 11 + 48) + (6 * 14 + 6) + (4 * 5 * 11 + 20) + 12
    );
    let s = Stacked::summary();
    assert!(
        s.contains("(None, 12, 8)") && s.contains("(None, 12, 6)") && s.contains("(None, 5)"),
        "{s}"
    );
}

network! {
    /// Token ids through an embedding and an LSTM.
    pub struct TokenClassifier: tokens[6] {
        embed: Embedding(20, 4),
        LSTM(8),
        Dense(1), Sigmoid,
    }
}

#[test]
fn embedding_learns_a_token_task_and_flags_bad_ids() {
    assert_eq!(TokenClassifier::PARAMS, 20 * 4 + (4 * 8 * 12 + 32) + 9);
    assert!(TokenClassifier::summary().contains("embed (Embedding)"));
    let mut rng = Rng::seed(3);
    let mut model = TokenClassifier::init(&mut rng);
    // Label: does token 7 occur in the sequence?
    let make = |rng: &mut Rng, n: usize| {
        let mut ids = Vec::new();
        let mut labels = Vec::new();
        for _ in 0..n {
            let seq: Vec<u32> = (0..6).map(|_| rng.below(20) as u32).collect();
            labels.push(if seq.contains(&7) { 1.0 } else { 0.0 });
            ids.extend(seq);
        }
        (
            Batch::<Tokens<6>>::from_ids(&ids).unwrap(),
            Batch::<Tensor1<1>>::from_vec(labels).unwrap(),
        )
    };
    let mut opt = Adam::new(1e-2);
    let (x_test, y_test) = make(&mut rng, 200);
    for _ in 0..300 {
        let (x, y) = make(&mut rng, 32);
        model
            .train_step(&x, &y, &BinaryCrossEntropy, &mut opt)
            .unwrap();
    }
    let out = model.forward_batch(&x_test).unwrap();
    let correct = out
        .iter_rows()
        .zip(y_test.iter_rows())
        .filter(|(o, t)| (o[0] > 0.5) == (t[0] > 0.5))
        .count();
    assert!(correct >= 180, "{correct} of 200 right");

    // Ids outside the vocabulary or not integers are an error naming where they are
    // (tests/numeric_edges.rs: in training too).
    for (at, id) in [(0, 25.0), (1, 1.5), (2, -1.0)] {
        let mut bad = Tokens::<6>::new([1, 2, 3, 4, 5, 6]);
        bad.data[at] = id;
        let err = model.forward(&bad).unwrap_err();
        assert!(
            matches!(err, Error::TokenOutOfVocabulary { sample: 0, position, .. } if position == at),
            "id {id}: {err}"
        );
    }
}
