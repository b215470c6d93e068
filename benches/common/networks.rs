//! The networks of workloads W1–W11 (BENCHMARKS.md), in one place for every benchmark that
//! runs them: `benches/workloads.rs`, `benches/steps.rs` and `benches/peers` include this
//! file with `#[path]`.

// Each benchmark runs a subset of the workloads.
#![allow(dead_code)]

use typed_nn::prelude::*;

network! {
    /// W1–W3, E1: Dense 784→128 relu, Dense 128→64 relu, Dense 64→10 softmax.
    pub struct Mlp: [784] {
        Dense(128), Relu,
        Dense(64), Relu,
        Dense(10), Softmax,
    }
}

network! {
    /// W4: Dense 4→16 tanh, Dense 16→16 tanh, Dense 16→2 linear.
    pub struct Tiny: [4] {
        Dense(16), Tanh,
        Dense(16), Tanh,
        Dense(2),
    }
}

network! {
    /// W5–W6: the seed CNN on [3, 64, 64].
    pub struct SeedCnn: [3, 64, 64] {
        Conv2d(32, 3), Relu,
        MaxPool2d(2),
        Conv2d(64, 3), Relu,
        MaxPool2d(2),
        Flatten,
        Dense(128), Relu,
        Dense(10), Softmax,
    }
}

network! {
    /// W7–W8: SimpleRNN(50, tanh) over 100 steps, last state → Dense 50→1 sigmoid.
    pub struct SeedRnn: [100, 1] {
        SimpleRNN(50), Dense(1), Sigmoid,
    }
}

network! {
    /// W9, E3: LSTM(128) over 28 rows of 28 features → Dense 128→10.
    pub struct SeqLstm: [28, 28] {
        LSTM(128), Dense(10),
    }
}

/// W10–W11: the character language model's vocabulary and window.
pub const CHAR_VOCAB: usize = 100;
pub const CHAR_WINDOW: usize = 64;
/// W11: characters generated per call.
pub const GENERATED: usize = 200;

network! {
    /// W10–W11: Embedding(100, 64), LSTM(256) returning every step, per-step Dense 256→100,
    /// Softmax (the head per-step cross-entropy fuses with).
    pub struct CharLm: tokens[CHAR_WINDOW] {
        Embedding(CHAR_VOCAB, 64),
        LSTM(256, return_sequences = true),
        Dense(CHAR_VOCAB, per_step = true),
        Softmax,
    }
}

/// W11: `GENERATED` characters, greedily, one step at a time from the start state (token 0
/// first); the last one.
pub fn generate_greedy(model: &CharLm) -> u32 {
    let mut state = CharLmState::default();
    let mut token = 0u32;
    for _ in 0..GENERATED {
        let probabilities = model
            .step(&Tokens::new([token]), &mut state)
            .expect("ids below the vocabulary");
        token = typed_nn::kernels::argmax(&probabilities.data) as u32;
    }
    token
}

/// W12–W13: the small GPT's vocabulary, width and the tokens W13 generates.
pub const GPT_VOCAB: usize = 100;
pub const GPT_WINDOW: usize = 128;
pub const GPT_GENERATED: usize = 256;

network! {
    /// W12–W13: Embedding(100, 128) and learnt positions over a window of `T` tokens, two
    /// pre-norm blocks (causal attention with 4 heads, MLP 128→512 GELU→128), LayerNorm,
    /// per-step Dense 128→100 and the Softmax per-step cross-entropy fuses with. W12 trains
    /// it at T = 128; W13 generates 256 tokens, so its cache (and position table) is 256.
    pub struct Gpt<const T: usize>: tokens[T] {
        Embedding(GPT_VOCAB, 128),
        PositionalEmbedding,
        Residual { LayerNorm, MultiHeadAttention(4, 128, causal = true) },
        Residual { LayerNorm, Dense(512, per_step = true), Gelu, Dense(128, per_step = true) },
        Residual { LayerNorm, MultiHeadAttention(4, 128, causal = true) },
        Residual { LayerNorm, Dense(512, per_step = true), Gelu, Dense(128, per_step = true) },
        LayerNorm,
        Dense(GPT_VOCAB, per_step = true),
        Softmax,
    }
}

/// W13: `GPT_GENERATED` tokens, greedily, one step at a time with the key-value cache from
/// an empty state (token 0 first); the last one.
pub fn generate_gpt(model: &Gpt<GPT_GENERATED>) -> u32 {
    let mut state = GptState::<GPT_GENERATED>::default();
    let mut token = 0u32;
    for _ in 0..GPT_GENERATED {
        let probabilities = model
            .step(&Tokens::new([token]), &mut state)
            .expect("ids below the vocabulary, steps within the cache");
        token = typed_nn::kernels::argmax(&probabilities.data) as u32;
    }
    token
}

/// FLOPs of one W12 sample's forward pass at `t` tokens: per token the projections
/// (2·4·128² for Q, K, V and the output), the MLP (2·2·128·512) and the read-out
/// (2·128·100) of both blocks; per block the scores and weighted sums (4·t²·128), counted
/// whole although the causal half of them is masked.
pub const fn gpt_forward_flops(t: u64) -> u64 {
    let per_token = 2 * (2 * 4 * 128 * 128 + 2 * 2 * 128 * 512) + 2 * 128 * 100;
    t * per_token + 2 * 4 * t * t * 128
}
