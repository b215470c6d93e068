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
