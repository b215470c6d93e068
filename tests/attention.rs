//! Attention for language models: the causal mask (no position sees the future), rotary
//! positions, and generation one token at a time with a key-value cache that equals the
//! sequence pass and reports a full cache.

use typed_nn::layers::{Layout, ParamVisitor, Path};
use typed_nn::prelude::*;

const V: usize = 13;
const T: usize = 12;

network! {
    /// A two-block causal transformer language model (pre-norm, rotary positions).
    pub struct TinyLm: tokens[T] {
        Embedding(V, 8),
        Residual { LayerNorm, MultiHeadAttention(2, 8, causal = true, rope = true) },
        Residual { LayerNorm, Dense(16, per_step = true), Gelu, Dense(8, per_step = true) },
        Residual { LayerNorm, MultiHeadAttention(2, 8, causal = true, rope = true) },
        Residual { LayerNorm, Dense(16, per_step = true), Gelu, Dense(8, per_step = true) },
        LayerNorm,
        Dense(V, per_step = true),
        Softmax,
    }
}

network! {
    /// The same with a learnt position table instead of rotations, and no mask.
    pub struct Bidirectional: tokens[T] {
        Embedding(V, 8),
        PositionalEmbedding,
        Residual { LayerNorm, MultiHeadAttention(2, 8) },
        Dense(V, per_step = true),
        Softmax,
    }
}

fn tokens(ids: [u32; T]) -> Tokens<T> {
    Tokens::new(ids)
}

fn step_rows(y: &Tensor2<T, V>, t: usize) -> &[f32] {
    &y.as_slice()[t * V..(t + 1) * V]
}

fn max_difference(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn a_causal_model_does_not_see_the_future() {
    let mut rng = Rng::seed(1);
    let net = TinyLm::init(&mut rng);
    let ids: [u32; T] = core::array::from_fn(|i| (i * 5 % V) as u32);
    let mut changed = ids;
    changed[11] = (ids[11] + 3) % V as u32;
    let (a, b) = (
        net.forward(&tokens(ids)).unwrap(),
        net.forward(&tokens(changed)).unwrap(),
    );
    for t in 0..11 {
        assert_eq!(
            step_rows(&a, t),
            step_rows(&b, t),
            "position {t} moved when only token 11 changed"
        );
    }
    assert!(max_difference(step_rows(&a, 11), step_rows(&b, 11)) > 1e-4);

    // Without the mask the same change reaches every position: the test can fail.
    let open = Bidirectional::init(&mut rng);
    let (a, b) = (
        open.forward(&tokens(ids)).unwrap(),
        open.forward(&tokens(changed)).unwrap(),
    );
    assert!(max_difference(step_rows(&a, 0), step_rows(&b, 0)) > 1e-6);
}

#[test]
fn training_a_causal_model_gives_no_gradient_from_the_future() {
    // The loss at the first step only: no parameter or input reached through a later
    // token can change it, so a model trained on it keeps earlier outputs independent of
    // later tokens. Checked through the training pass (not only inference): the gradient of
    // the embedding rows of tokens that occur only after step 0 is zero.
    let mut rng = Rng::seed(2);
    let mut net = TinyLm::init(&mut rng);
    let ids: [u32; T] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
    let x = Batch::from_ids(&ids).unwrap();
    let mut steps = [None; T];
    steps[0] = Some(4);
    let y = StepLabels::new(&[StepClasses::<T, V>::from_steps(steps).unwrap()]);
    net.train_step(&x, &y, &CrossEntropy, &mut Sgd::new(0.0))
        .unwrap();
    struct EmbeddingGrad(Vec<f32>);
    impl ParamVisitor for EmbeddingGrad {
        fn visit(&mut self, path: &Path<'_>, _: &[usize], _: Layout, _: &mut [f32], g: &mut [f32]) {
            if path.to_string() == "0.weight" {
                self.0 = g.to_vec();
            }
        }
    }
    let mut found = EmbeddingGrad(Vec::new());
    net.visit_params(&Path::ROOT, &mut found);
    let grads = found.0;
    assert_eq!(grads.len(), V * 8);
    assert!(
        grads[..8].iter().any(|&g| g != 0.0),
        "token 0 gets a gradient"
    );
    for id in 1..T {
        assert!(
            grads[id * 8..(id + 1) * 8].iter().all(|&g| g == 0.0),
            "token {id}, after the step the loss reads, got a gradient"
        );
    }
}

#[test]
fn generation_with_the_cache_equals_the_sequence_pass() {
    let mut rng = Rng::seed(3);
    let net = TinyLm::init(&mut rng);
    let ids: [u32; T] = core::array::from_fn(|i| ((i * 7 + 2) % V) as u32);
    let whole = net.forward(&tokens(ids)).unwrap();
    let mut state = TinyLmState::default();
    for (t, &id) in ids.iter().enumerate() {
        let y = net.step(&Tokens::new([id]), &mut state).unwrap();
        let gap = max_difference(&y.data, step_rows(&whole, t));
        assert!(gap < 1e-5, "step {t}: {gap}");
    }
    // The cache holds T steps: one more is an error, and the state is left as it was.
    let err = net.step(&Tokens::new([0]), &mut state).unwrap_err();
    assert!(matches!(err, Error::CacheFull { capacity: T }), "{err}");
    // A new state starts a new sequence.
    let mut fresh = TinyLmState::default();
    let first = net.step(&Tokens::new([ids[0]]), &mut fresh).unwrap();
    assert!(max_difference(&first.data, step_rows(&whole, 0)) < 1e-5);
}

network! {
    /// Llama's layout: RMSNorm, rotary causal attention, SwiGLU.
    pub struct TinyLlama: tokens[T] {
        Embedding(V, 8),
        Residual { RMSNorm, MultiHeadAttention(2, 8, causal = true, rope = true) },
        Residual { RMSNorm, SwiGLU(20) },
        RMSNorm,
        Dense(V, per_step = true, bias = false),
        Softmax,
    }
}

#[test]
fn a_llama_style_model_steps_as_it_runs_the_sequence() {
    let mut rng = Rng::seed(4);
    let net = TinyLlama::init(&mut rng);
    let ids: [u32; T] = core::array::from_fn(|i| ((i * 3 + 1) % V) as u32);
    let whole = net.forward(&tokens(ids)).unwrap();
    let mut state = TinyLlamaState::default();
    for (t, &id) in ids.iter().enumerate() {
        let y = net.step(&Tokens::new([id]), &mut state).unwrap();
        let gap = max_difference(&y.data, step_rows(&whole, t));
        assert!(gap < 1e-5, "step {t}: {gap}");
    }
}
