//! Networks that read several inputs: named inputs of their own shapes, paths that start
//! with an input's name, `Zip` keeping branches apart as named parts, `Flatten` joining
//! them, and `CrossAttention` reading one sequence's queries over another's keys.

use typed_nn::layers::{Layout, ParamVisitor, Path};
use typed_nn::prelude::*;

const V: usize = 10;

network! {
    /// An image and a token sequence, each read by its own path, then joined.
    pub struct ImageAndText: (image: [1, 6, 6], text: tokens[5]) {
        Zip {
            seen: { image, Conv2d(2, 3), Relu, Flatten, Dense(8) },
            read: { text, Embedding(V, 4), GRU(8) },
        },
        Flatten,
        Dense(3),
        Softmax,
    }
}

network! {
    /// A decoder's target tokens attend to an encoded source sentence.
    pub struct Translator: (source: tokens[6], target: tokens[5]) {
        Zip {
            queries: {
                target,
                Embedding(V, 8),
                PositionalEmbedding,
                Residual { LayerNorm, MultiHeadAttention(2, 8, causal = true, rope = true) },
            },
            memory: {
                source,
                Embedding(V, 8),
                PositionalEmbedding,
                Residual { LayerNorm, MultiHeadAttention(2, 8, rope = true) },
            },
        },
        CrossAttention(2, 8),
        Dense(V, per_step = true),
        Softmax,
    }
}

network! {
    /// Float inputs, so that input gradients can be checked by finite differences too.
    pub struct FloatCross: (a: [4, 6], b: [3, 6]) {
        Zip {
            queries: { a, Dense(6, per_step = true), Tanh },
            keys: { b },
        },
        CrossAttention(3, 6),
        GlobalAvgPool1d,
        Dense(2),
    }
}

fn random_ids<const T: usize>(rng: &mut Rng) -> Tokens<T> {
    Tokens::new(core::array::from_fn(|_| rng.below(V) as u32))
}

fn random<S: Sample>(rng: &mut Rng) -> S {
    let mut s = S::zeros();
    s.as_mut_slice()
        .iter_mut()
        .for_each(|v| *v = rng.uniform(-1.0, 1.0));
    s
}

#[test]
fn paths_read_the_input_they_name() {
    let mut rng = Rng::seed(1);
    let net = ImageAndText::init(&mut rng);
    let (image, text) = (
        random::<Tensor3<1, 6, 6>>(&mut rng),
        random_ids::<5>(&mut rng),
    );
    let y = net.forward(&Pair::new(&image, &text)).unwrap();
    assert!((y.as_slice().iter().sum::<f32>() - 1.0).abs() < 1e-5);
    // Another text changes the output; so does another image.
    let other_text = Tokens::new([(text.data[0] as u32 + 1) % V as u32, 0, 0, 0, 0]);
    assert_ne!(y, net.forward(&Pair::new(&image, &other_text)).unwrap());
    let other_image = random::<Tensor3<1, 6, 6>>(&mut rng);
    assert_ne!(y, net.forward(&Pair::new(&other_image, &text)).unwrap());
}

#[test]
fn token_ids_read_through_a_pair_are_checked() {
    let mut rng = Rng::seed(6);
    let mut net = ImageAndText::init(&mut rng);
    let image = random::<Tensor3<1, 6, 6>>(&mut rng);
    let bad = Tokens::new([1, 2, V as u32, 3, 4]);
    let err = net.forward(&Pair::new(&image, &bad)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::TokenOutOfVocabulary {
                position: 2,
                vocabulary: V,
                ..
            }
        ),
        "{err}"
    );
    // Training reports it too, naming the sample.
    let good = random_ids::<5>(&mut rng);
    let x = Batch::from_samples(&[Pair::new(&image, &good), Pair::new(&image, &bad)]);
    let y = Labels::<3>::new(vec![0, 1]).unwrap();
    let err = net
        .train_step(&x, &y, &CrossEntropy, &mut Sgd::new(0.1))
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::TokenOutOfVocabulary {
                sample: 1,
                position: 2,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn a_network_of_two_inputs_trains_with_fit() {
    let mut rng = Rng::seed(2);
    // The class is the first token's id mod 3; the image is noise.
    let samples: Vec<_> = (0..96)
        .map(|_| {
            let text = random_ids::<5>(&mut rng);
            let class = Class::<3>::new(text.data[0] as usize % 3).unwrap();
            (random::<Tensor3<1, 6, 6>>(&mut rng), text, class)
        })
        .collect();
    let data = Dataset::from_pairs(samples).unwrap();
    let mut net = ImageAndText::init(&mut rng);
    let history = Trainer::new(CrossEntropy, Adam::new(1e-2))
        .epochs(30)
        .batch_size(16)
        .verbosity(Verbosity::Silent)
        .fit(&mut net, &data)
        .unwrap();
    let accuracy = history.get("accuracy").unwrap();
    assert!(
        *accuracy.last().unwrap() > 0.95,
        "accuracy by epoch: {accuracy:?}"
    );
}

#[test]
fn cross_attention_reads_both_sequences_and_trains_per_step() {
    let mut rng = Rng::seed(3);
    let mut net = Translator::init(&mut rng);
    // Copy the source's first 5 tokens: only possible by reading the source.
    let rows: Vec<_> = (0..64)
        .map(|_| {
            let source = random_ids::<6>(&mut rng);
            let ids: [u32; 5] = core::array::from_fn(|i| source.data[i] as u32);
            let target = StepClasses::<5, V>::new(ids).unwrap();
            // The decoder reads a start token (0) and the copy so far.
            let mut shifted = [0u32; 5];
            shifted[1..].copy_from_slice(&ids[..4]);
            (source, Tokens::new(shifted), target)
        })
        .collect();
    let data = Dataset::from_pairs(rows).unwrap();
    let history = Trainer::new(CrossEntropy, Adam::new(1e-2))
        .epochs(60)
        .batch_size(16)
        .verbosity(Verbosity::Silent)
        .fit(&mut net, &data)
        .unwrap();
    let accuracy = history.get("accuracy").unwrap();
    // Guessing without the source gets 1 in 10.
    assert!(
        *accuracy.last().unwrap() > 0.9,
        "accuracy by epoch: {accuracy:?}"
    );
}

#[test]
fn gradients_through_selection_zip_and_cross_attention() {
    let mut rng = Rng::seed(4);
    let mut net = FloatCross::init(&mut rng);
    let x: Batch<Pair<Tensor2<4, 6>, Tensor2<3, 6>>> = Batch::from_samples(&[
        Pair::new(&random(&mut rng), &random(&mut rng)),
        Pair::new(&random(&mut rng), &random(&mut rng)),
    ]);
    typed_nn::check::check_gradients(&mut net, &x, &mut rng).unwrap();
}

#[test]
fn parameters_are_named_by_the_branches() {
    struct Names(Vec<String>);
    impl ParamVisitor for Names {
        fn visit(&mut self, path: &Path<'_>, _: &[usize], _: Layout, _: &mut [f32], _: &mut [f32]) {
            self.0.push(path.to_string());
        }
    }
    let mut net = Translator::init(&mut Rng::seed(5));
    let mut names = Names(Vec::new());
    net.visit_params(&Path::ROOT, &mut names);
    for expected in [
        "0.queries.1.weight",
        "0.queries.3.body.1.in_proj_weight",
        "0.memory.1.weight",
        "1.in_proj_weight",
        "1.out_proj.weight",
    ] {
        assert!(names.0.iter().any(|n| n == expected), "{:?}", names.0);
    }
}

#[test]
fn padded_steps_of_a_part_do_not_reach_the_output() {
    let mut rng = Rng::seed(7);
    let net = FloatCross::init(&mut rng);
    let a = Batch::from_samples(&[random::<Tensor2<4, 6>>(&mut rng)]);
    let b = Batch::from_samples(&[random::<Tensor2<3, 6>>(&mut rng)]);
    let mut changed = b.clone();
    changed.as_mut_slice()[2 * 6..].fill(5.0);
    let out = |b: &Batch<Tensor2<3, 6>>| net.predict(&Batch::zip(&a, b).unwrap());
    // With the keys' length 2, their third step is padding: changing it changes nothing.
    let (b2, changed2) = (
        b.clone().with_lengths(&[2]).unwrap(),
        changed.clone().with_lengths(&[2]).unwrap(),
    );
    assert_eq!(out(&b2).as_slice(), out(&changed2).as_slice());
    // Without lengths it is a key like the others (so the test can fail).
    assert_ne!(out(&b).as_slice(), out(&changed).as_slice());
}

#[test]
fn sequences_of_their_own_lengths_train_with_fit() {
    let mut rng = Rng::seed(8);
    // Sources of 5 or 6 tokens, padded to 6; the target copies the first 5.
    let rows: Vec<_> = (0..64)
        .map(|i| {
            let length = 5 + i % 2;
            let source: Vec<u32> = (0..length).map(|_| 2 + rng.below(V - 2) as u32).collect();
            let answer: [u32; 5] = core::array::from_fn(|t| source[t]);
            let mut shifted = [0u32; 5];
            shifted[1..].copy_from_slice(&answer[..4]);
            let ids = |v: &[u32]| v.iter().map(|&i| i as f32).collect::<Vec<f32>>();
            (
                ids(&source),
                ids(&shifted),
                StepClasses::<5, V>::new(answer).unwrap(),
            )
        })
        .collect();
    let data: Dataset<Pair<Tokens<6>, Tokens<5>>, _> = Dataset::from_pair_sequences(rows).unwrap();
    let (x, _) = data.in_order().batches(4).unwrap().next().unwrap();
    assert_eq!(x.lengths_at(0, 6), Some(&[5, 6, 5, 6][..]));
    assert_eq!(x.lengths_at(6, 5), Some(&[5, 5, 5, 5][..]));
    let mut net = Translator::init(&mut rng);
    let history = Trainer::new(CrossEntropy, Adam::new(1e-2))
        .epochs(60)
        .batch_size(16)
        .verbosity(Verbosity::Silent)
        .fit(&mut net, &data)
        .unwrap();
    let accuracy = history.get("accuracy").unwrap();
    // Guessing gets 1 in 10.
    assert!(*accuracy.last().unwrap() > 0.8, "{accuracy:?}");
}

network! {
    /// A decoder layer over a target and a memory, then the target.
    pub struct Decoding: (target: [3, 8], memory: [4, 8]) {
        TransformerDecoderLayer(2, 8, 16, norm_first = true),
        TransformerDecoderLayer(2, 8, 16),
        target,
        Dense(2, per_step = true),
    }
}

#[test]
fn a_decoder_layer_reads_neither_padded_memory_nor_later_target_steps() {
    let mut rng = Rng::seed(9);
    let net = Decoding::init(&mut rng);
    let target = Batch::from_samples(&[random::<Tensor2<3, 8>>(&mut rng)]);
    let memory = Batch::from_samples(&[random::<Tensor2<4, 8>>(&mut rng)]);
    let run = |t: &Batch<Tensor2<3, 8>>, m: &Batch<Tensor2<4, 8>>| {
        net.predict(&Batch::zip(t, m).unwrap()).as_slice().to_vec()
    };
    let base = run(&target, &memory.clone().with_lengths(&[3]).unwrap());
    // The memory's fourth step is padding.
    let mut padded = memory.clone();
    padded.as_mut_slice()[3 * 8..].fill(-4.0);
    assert_eq!(
        base,
        run(&target, &padded.clone().with_lengths(&[3]).unwrap())
    );
    assert_ne!(run(&target, &memory), run(&target, &padded));
    // The target's last step does not reach the earlier ones (causal self-attention).
    let mut later = target.clone();
    later.as_mut_slice()[2 * 8..].fill(3.0);
    let changed = run(&later, &memory.clone().with_lengths(&[3]).unwrap());
    assert_eq!(base[..2 * 2], changed[..2 * 2]);
    assert_ne!(base[2 * 2..], changed[2 * 2..]);
}

#[test]
fn part_lengths_survive_copies_appends_and_selection() {
    let a = Batch::<Tensor2<2, 3>>::zeros(3)
        .with_lengths(&[1, 2, 1])
        .unwrap();
    let b = Batch::<Tokens<4>>::zeros(3)
        .with_lengths(&[4, 2, 3])
        .unwrap();
    let x = Batch::zip(&a, &b).unwrap();
    assert_eq!(x.firsts().lengths(), Some(&[1, 2, 1][..]));
    assert_eq!(x.seconds().lengths(), Some(&[4, 2, 3][..]));
    let mut shard = Batch::default();
    shard.copy_rows_from(&x, 1..3);
    assert_eq!(shard.seconds().lengths(), Some(&[2, 3][..]));
    let mut both = shard.clone();
    both.append(&x);
    assert_eq!(both.firsts().lengths(), Some(&[2, 1, 1, 2, 1][..]));
    // A pair without lengths appended: its rows have every step.
    let plain = Batch::zip(
        &Batch::<Tensor2<2, 3>>::zeros(1),
        &Batch::<Tokens<4>>::zeros(1),
    )
    .unwrap();
    both.append(&plain);
    assert_eq!(both.seconds().lengths(), Some(&[2, 3, 4, 2, 3, 4][..]));
}
