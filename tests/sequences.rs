//! Sequence models: per-step outputs, targets and losses, variable lengths, bidirectional
//! recurrences and stateful inference one step at a time.

use typed_nn::prelude::*;

const V: usize = 11;

network! {
    /// A character language model: every step predicts the next token.
    pub struct CharModel: tokens[7] {
        Embedding(V, 6),
        LSTM(9, return_sequences = true),
        LayerNorm,
        Dense(V, per_step = true),
        Softmax,
    }
}

network! {
    pub struct GruStack: [6, 3] {
        GRU(5, return_sequences = true),
        Dense(4, per_step = true), Tanh,
        SimpleRNN(4),
    }
}

fn random_tokens<const T: usize>(rng: &mut Rng, rows: usize) -> Batch<Tokens<T>> {
    let ids: Vec<u32> = (0..rows * T)
        .map(|_| (rng.uniform(0.0, V as f32) as u32).min(V as u32 - 1))
        .collect();
    Batch::from_ids(&ids).unwrap()
}

fn random_batch<S: Sample>(rng: &mut Rng, rows: usize) -> Batch<S> {
    Batch::from_vec((0..rows * S::LEN).map(|_| rng.uniform(-1.0, 1.0)).collect()).unwrap()
}

fn assert_close(a: &[f32], b: &[f32], tol: f32, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol * (1.0 + y.abs()),
            "{what}[{i}]: {x} vs {y}"
        );
    }
}

#[test]
fn stepping_a_token_model_gives_the_sequence_pass_step_by_step() {
    let mut rng = Rng::seed(3);
    let net = CharModel::init(&mut rng);
    let x = random_tokens::<7>(&mut rng, 1);
    let whole = net.forward(&x.sample(0)).unwrap();
    let mut state = CharModelState::default();
    for t in 0..7 {
        let id = x.sample(0).data[t] as u32;
        let y = net.step(&Tokens::new([id]), &mut state).unwrap();
        assert_close(
            &y.data,
            &whole.as_slice()[t * V..(t + 1) * V],
            1e-5,
            &format!("step {t}"),
        );
        let sum: f32 = y.data.iter().sum();
        assert!((sum - 1.0).abs() < 1e-5, "step {t} sums to {sum}");
    }
}

#[test]
fn stepping_a_float_model_ends_in_the_last_state() {
    let mut rng = Rng::seed(4);
    let net = GruStack::init(&mut rng);
    let x = random_batch::<Tensor2<6, 3>>(&mut rng, 1).sample(0);
    let whole = net.forward(&x);
    let mut state = GruStackState::default();
    let mut last = Tensor1::<4>::zeros();
    for t in 0..6 {
        let step = Tensor1::new(x.data[t]);
        last = net.step(&step, &mut state).unwrap();
    }
    assert_close(&last.data, &whole.data, 1e-5, "last state");
}

// Variable lengths: a padded sequence with its length gives what the same network gives on
// the sequence cut to that length (the same weights, a shorter compile-time length), as
// PyTorch's packed sequences do.

network! {
    pub struct LongBi: [6, 3] {
        rnn: Bidirectional(LSTM(4, return_sequences = true)),
    }
}
network! {
    pub struct ShortBi: [3, 3] {
        rnn: Bidirectional(LSTM(4, return_sequences = true)),
    }
}
network! {
    pub struct LongGruLast: [6, 3] {
        rnn: Bidirectional(GRU(4), merge = sum),
        head: Dense(2),
    }
}
network! {
    pub struct ShortGruLast: [3, 3] {
        rnn: Bidirectional(GRU(4), merge = sum),
        head: Dense(2),
    }
}
network! {
    pub struct LongPooled: [6, 3] {
        attention: MultiHeadAttention(1, 3),
        rnn: SimpleRNN(5, return_sequences = true),
        GlobalAvgPool1d,
    }
}
network! {
    pub struct ShortPooled: [3, 3] {
        attention: MultiHeadAttention(1, 3),
        rnn: SimpleRNN(5, return_sequences = true),
        GlobalAvgPool1d,
    }
}
network! {
    pub struct LongMax: [6, 3] {
        rnn: LSTM(5, return_sequences = true),
        GlobalMaxPool1d,
    }
}
network! {
    pub struct ShortMax: [3, 3] {
        rnn: LSTM(5, return_sequences = true),
        GlobalMaxPool1d,
    }
}

/// Two padded sequences, lengths 3 and 6; the first also cut to its 3 steps.
fn padded_pair(rng: &mut Rng) -> (Batch<Tensor2<6, 3>>, Batch<Tensor2<3, 3>>) {
    let mut x = random_batch::<Tensor2<6, 3>>(rng, 2);
    // Garbage in the padding: it must not matter.
    for v in &mut x.row_mut(0)[9..] {
        *v = 1e3;
    }
    let short = Batch::from_vec(x.row(0)[..9].to_vec()).unwrap();
    (x.with_lengths(&[3, 6]).unwrap(), short)
}

#[test]
fn lengths_give_the_cut_sequence_bidirectional_recurrences() {
    let mut rng = Rng::seed(5);
    let (x, short_x) = padded_pair(&mut rng);
    let long = LongBi::init(&mut rng);
    let short = ShortBi::from_safetensors_bytes(&long.to_safetensors_bytes().unwrap()).unwrap();
    let y = long.predict(&x);
    let want = short.predict(&short_x);
    // Valid steps agree (the reverse direction starts at step 2, not 5); padded steps are
    // zero, as `pad_packed_sequence` gives.
    assert_close(&y.row(0)[..3 * 8], want.row(0), 1e-5, "valid steps");
    assert!(y.row(0)[3 * 8..].iter().all(|&v| v == 0.0), "padded steps");
    // The batch's lengths reach the output.
    assert_eq!(y.lengths(), Some(&[3u32, 6][..]));

    let long = LongGruLast::init(&mut rng);
    let short =
        ShortGruLast::from_safetensors_bytes(&long.to_safetensors_bytes().unwrap()).unwrap();
    assert_close(
        long.predict(&x).row(0),
        short.predict(&short_x).row(0),
        1e-5,
        "last state",
    );
}

#[test]
fn lengths_give_the_cut_sequence_attention_and_pooling_over_time() {
    let mut rng = Rng::seed(6);
    let (x, short_x) = padded_pair(&mut rng);
    let long = LongPooled::init(&mut rng);
    let short = ShortPooled::from_safetensors_bytes(&long.to_safetensors_bytes().unwrap()).unwrap();
    assert_close(
        long.predict(&x).row(0),
        short.predict(&short_x).row(0),
        1e-5,
        "masked keys, mean",
    );
    let long = LongMax::init(&mut rng);
    let short = ShortMax::from_safetensors_bytes(&long.to_safetensors_bytes().unwrap()).unwrap();
    assert_close(
        long.predict(&x).row(0),
        short.predict(&short_x).row(0),
        1e-6,
        "max over steps",
    );
    // Without lengths the padding counts: the outputs differ.
    let unmasked = Batch::from_vec(x.as_slice().to_vec()).unwrap();
    let y = long.predict(&unmasked);
    assert!(y.row(0) != short.predict(&short_x).row(0));
}

#[test]
fn softmax_and_log_softmax_normalise_each_step() {
    network! {
        struct Probs: [4, 3] { Dense(5, per_step = true), Softmax }
    }
    network! {
        struct LogProbs: [4, 3] { Dense(5, per_step = true), LogSoftmax }
    }
    let mut rng = Rng::seed(7);
    let p = Probs::init(&mut rng);
    let q = LogProbs::from_safetensors_bytes(&p.to_safetensors_bytes().unwrap()).unwrap();
    let x = random_batch::<Tensor2<4, 3>>(&mut rng, 3);
    let (probs, logs) = (p.predict(&x), q.predict(&x));
    for (step, log) in probs.as_slice().chunks(5).zip(logs.as_slice().chunks(5)) {
        let sum: f32 = step.iter().sum();
        assert!((sum - 1.0).abs() < 1e-5, "a step sums to {sum}");
        let exp: Vec<f32> = log.iter().map(|v| v.exp()).collect();
        assert_close(&exp, step, 1e-5, "exp(log_softmax)");
    }
}

/// The mean of −log p(class) over the steps that count, computed by hand.
fn hand_cross_entropy(probs: &Batch<Tensor2<4, 5>>, classes: &[[Option<usize>; 4]]) -> f32 {
    let (mut total, mut n) = (0.0f64, 0);
    for (r, row) in classes.iter().enumerate() {
        for (t, class) in row.iter().enumerate() {
            if let Some(c) = class {
                total -= (probs.row(r)[t * 5 + c] as f64).ln();
                n += 1;
            }
        }
    }
    (total / n as f64) as f32
}

network! {
    pub struct Tagger: [4, 3] {
        LSTM(6, return_sequences = true),
        Dense(5, per_step = true),
        Softmax,
    }
}

#[test]
fn per_step_cross_entropy_is_the_mean_over_steps_not_ignored() {
    let mut rng = Rng::seed(8);
    let mut net = Tagger::init(&mut rng);
    let x = random_batch::<Tensor2<4, 3>>(&mut rng, 2)
        .with_lengths(&[4, 2])
        .unwrap();
    let targets = StepLabels::new(&[
        StepClasses::<4, 5>::ignoring([1, 4, 9, 0], 9).unwrap(),
        StepClasses::padded(&[3, 2]).unwrap(),
    ]);
    let probs = net.predict(&x);
    let want = hand_cross_entropy(
        &probs,
        &[
            [Some(1), Some(4), None, Some(0)],
            [Some(3), Some(2), None, None],
        ],
    );
    let loss = net
        .train_step(&x, &targets, &CrossEntropy, &mut Sgd::new(0.0))
        .unwrap();
    assert!((loss - want).abs() < 1e-5, "{loss} vs {want}");
    // A class at a padded step does not count either: the length masks it.
    let beyond = StepLabels::new(&[
        StepClasses::<4, 5>::ignoring([1, 4, 9, 0], 9).unwrap(),
        StepClasses::new([3, 2, 4, 4]).unwrap(),
    ]);
    let loss = net
        .train_step(&x, &beyond, &CrossEntropy, &mut Sgd::new(0.0))
        .unwrap();
    assert!((loss - want).abs() < 1e-5, "{loss} vs {want}");
    let eval = net
        .evaluate(
            &Dataset::new(
                x.as_slice().to_vec(),
                vec![StepClasses::padded(&[1]).unwrap(); 2],
            )
            .unwrap(),
            &CrossEntropy,
        )
        .unwrap();
    assert!(eval.loss.is_finite() && (0.0..=1.0).contains(&eval.accuracy));
}

/// Sequences of 2 to 6 steps whose every step is tagged with whether its value is above the
/// running mean so far: a per-step task a recurrence learns.
fn tagging_data(rng: &mut Rng, n: usize) -> Dataset<Tensor2<6, 1>, StepClasses<6, 2>> {
    let samples = (0..n).map(|_| {
        let len = 2 + (rng.uniform(0.0, 5.0) as usize).min(4);
        let values: Vec<f32> = (0..len).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let mut sum = 0.0;
        let tags: Vec<u32> = values
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                sum += v;
                (v > sum / (i + 1) as f32) as u32
            })
            .collect();
        (values, StepClasses::padded(&tags).unwrap())
    });
    Dataset::from_sequences(samples).unwrap()
}

network! {
    pub struct RunningTagger: [6, 1] {
        GRU(12, return_sequences = true),
        Dense(2, per_step = true),
        Softmax,
    }
}

#[test]
fn fit_trains_a_per_step_tagger_on_variable_lengths_and_reports_step_metrics() {
    let mut rng = Rng::seed(9);
    let train = tagging_data(&mut rng, 1_500);
    let test = tagging_data(&mut rng, 300);
    let mut net = RunningTagger::init(&mut rng);
    let before = net.evaluate(&test, &CrossEntropy).unwrap();
    let history = Trainer::new(CrossEntropy, Adam::new(1e-2))
        .epochs(6)
        .batch_size(32)
        .validation_split(0.1)
        .verbosity(Verbosity::Silent)
        .fit(&mut net, &train)
        .unwrap();
    let names: Vec<&str> = history.names().collect();
    assert_eq!(
        names,
        [
            "loss",
            "accuracy",
            "perplexity",
            "val_loss",
            "val_accuracy",
            "val_perplexity"
        ]
    );
    let after = net.evaluate(&test, &CrossEntropy).unwrap();
    assert!(
        after.accuracy > 0.85,
        "per-step accuracy {} (before {})",
        after.accuracy,
        before.accuracy
    );
    // Perplexity is e^(cross-entropy).
    let (loss, ppl) = (
        history.get("val_loss").unwrap(),
        history.get("val_perplexity").unwrap(),
    );
    assert!(
        (loss[5].exp() - ppl[5]).abs() < 1e-3 * ppl[5],
        "{} vs {}",
        loss[5].exp(),
        ppl[5]
    );
}

network! {
    pub struct Encoder: [5, 3] {
        GRU(6, return_sequences = true),
        LayerNorm,
    }
}

network! {
    /// A layer after a sub-network reads its sizes off the sub-network's output type.
    pub struct AfterSubnetwork: [5, 3] {
        encoder: Net(Encoder),
        Dense(4, per_step = true), Relu,
        Dense(2, per_step = true),
        Softmax,
    }
}

#[test]
fn a_per_step_dense_after_a_subnetwork() {
    let mut rng = Rng::seed(10);
    let net = AfterSubnetwork::init(&mut rng);
    let y: Tensor2<5, 2> = net.forward(&random_batch::<Tensor2<5, 3>>(&mut rng, 1).sample(0));
    for step in y.data {
        assert!((step[0] + step[1] - 1.0).abs() < 1e-5);
    }
}

#[test]
fn stepping_checks_token_ids_and_starts_over_from_the_default_state() {
    let mut rng = Rng::seed(11);
    let net = CharModel::init(&mut rng);
    let mut state = CharModelState::default();
    let err = net.step(&Tokens::new([V as u32]), &mut state).unwrap_err();
    assert!(
        matches!(err, Error::TokenOutOfVocabulary { id, vocabulary: V, .. } if id == V as f32),
        "{err}"
    );
    let first = net
        .step(&Tokens::new([3]), &mut CharModelState::default())
        .unwrap();
    let mut state = CharModelState::default();
    let again = net.step(&Tokens::new([3]), &mut state).unwrap();
    assert_eq!(first.data, again.data);
    let next = net.step(&Tokens::new([3]), &mut state).unwrap();
    assert_ne!(first.data, next.data, "the state carries the history");
}

#[test]
fn samplers_follow_the_distribution_temperature_and_top_k() {
    use typed_nn::sampling::Sampler;
    let mut rng = Rng::seed(12);
    let p = [0.1f32, 0.6, 0.3, 0.0];
    let frequencies = |sampler: Sampler, rng: &mut Rng| {
        let mut counts = [0usize; 4];
        for _ in 0..20_000 {
            counts[sampler.pick(&p, rng).unwrap()] += 1;
        }
        counts.map(|c| c as f64 / 20_000.0)
    };
    let f = frequencies(Sampler::with_temperature(1.0).unwrap(), &mut rng);
    for (got, want) in f.iter().zip([0.1, 0.6, 0.3, 0.0]) {
        assert!((got - want).abs() < 0.015, "{f:?}");
    }
    // Temperature 0.5 squares the ratios: 1 : 36 : 9.
    let f = frequencies(Sampler::with_temperature(0.5).unwrap(), &mut rng);
    assert!(
        (f[1] - 36.0 / 46.0).abs() < 0.015 && (f[0] - 1.0 / 46.0).abs() < 0.01,
        "{f:?}"
    );
    // Top-2 drops the least likely class: 0.6 : 0.3.
    let f = frequencies(
        Sampler::with_temperature(1.0).unwrap().top_k(2).unwrap(),
        &mut rng,
    );
    assert!(f[0] == 0.0 && (f[1] - 2.0 / 3.0).abs() < 0.015, "{f:?}");
    assert_eq!(
        frequencies(Sampler::greedy(), &mut rng),
        [0.0, 1.0, 0.0, 0.0]
    );
    // Ties at the k-th score: the lower classes fill the room k leaves.
    let tied = Sampler::with_temperature(1.0).unwrap().top_k(2).unwrap();
    let mut seen = [0usize; 4];
    for _ in 0..2_000 {
        seen[tied.pick(&[0.3, 0.3, 0.3, 0.1], &mut rng).unwrap()] += 1;
    }
    assert!(
        seen[0] > 800 && seen[1] > 800 && seen[2] == 0 && seen[3] == 0,
        "{seen:?}"
    );
    // Logits give the same distribution as their softmax.
    let logits = [0.1f32.ln(), 0.6f32.ln(), 0.3f32.ln()];
    let mut counts = [0usize; 3];
    let sampler = Sampler::with_temperature(1.0).unwrap();
    for _ in 0..20_000 {
        counts[sampler.pick_from_logits(&logits, &mut rng).unwrap()] += 1;
    }
    assert!(
        (counts[1] as f64 / 20_000.0 - 0.6).abs() < 0.015,
        "{counts:?}"
    );
    // Bad scores and settings are typed errors.
    assert!(matches!(
        sampler.pick(&[0.5, f32::NAN], &mut rng),
        Err(Error::InvalidScores { .. })
    ));
    assert!(matches!(
        sampler.pick(&[0.0, 0.0], &mut rng),
        Err(Error::InvalidScores { .. })
    ));
    assert!(matches!(
        sampler.pick(&[], &mut rng),
        Err(Error::InvalidScores { .. })
    ));
    assert!(matches!(
        Sampler::with_temperature(-1.0),
        Err(Error::InvalidHyperparameter { .. })
    ));
    assert!(matches!(
        Sampler::greedy().top_k(0),
        Err(Error::InvalidHyperparameter { .. })
    ));
}

network! {
    /// A generic network steps too: its state is generic over the same sizes.
    pub struct GenericSteps<const H: usize, const V: usize>: tokens[6] {
        Embedding(V, 4),
        GRU(H, return_sequences = true),
        Dense(V, per_step = true),
        LogSoftmax,
    }
}

#[test]
fn a_generic_network_steps_with_a_generic_state() {
    let mut rng = Rng::seed(13);
    let net = GenericSteps::<5, 9>::init(&mut rng);
    let ids = [3, 1, 4, 1, 5, 8];
    let whole = net.forward(&Tokens::new(ids)).unwrap();
    let mut state = GenericStepsState::<5, 9>::default();
    for (t, id) in ids.into_iter().enumerate() {
        let y = net.step(&Tokens::new([id]), &mut state).unwrap();
        assert_close(&y.data, &whole.data[t], 1e-5, &format!("step {t}"));
    }
}
