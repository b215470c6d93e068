//! Translation with an encoder–decoder transformer: dates written as people write them
//! ("12 march 1987", "march 12, 1987", "12/03/1987", "mar 12 1987", "1987 march 12") into
//! ISO 8601 ("1987-03-12"), character by character. The network reads two inputs, the
//! source sentence and the target so far, each with its own length (the sources are padded,
//! and the encoder's attention and the decoders' cross-attention mask the padding); the
//! encoder's output is the memory two `TransformerDecoderLayer`s attend to. Trained with teacher forcing (the decoder reads the
//! right answer shifted by one, a start token first), then evaluated as a translator:
//! greedy decoding, one character at a time, on dates it never saw, counting the dates
//! translated exactly.
//!
//! ```text
//! cargo run --release --example translate_dates [-- --epochs 12 --train 20000]
//! ```

use clap::Parser;
use std::time::Instant;
use typed_nn::prelude::*;

/// Characters of both languages; id 0 pads a source, id 1 starts a translation.
const ALPHABET: &str = "\0^0123456789abcdefghijklmnopqrstuvwxyz ,/-";
const VOCAB: usize = 42;
const _: () = assert!(ALPHABET.len() == VOCAB);
const PAD: u32 = 0;
const START: u32 = 1;
/// The longest source ("september 30, 1999" is 18) and the translation's length.
const SOURCE: usize = 20;
const TARGET: usize = 10;
const DIM: usize = 64;

network! {
    /// A two-layer encoder over the source, two pre-norm decoder layers over the target so
    /// far, a distribution over the next character at every target step.
    pub struct DateTranslator: (source: tokens[SOURCE], target: tokens[TARGET]) {
        Zip {
            target: { target, Embedding(VOCAB, DIM), PositionalEmbedding },
            memory: {
                source,
                Embedding(VOCAB, DIM),
                PositionalEmbedding,
                Residual { LayerNorm, MultiHeadAttention(4, DIM) },
                Residual { LayerNorm, Dense(128, per_step = true), Gelu, Dense(DIM, per_step = true) },
                Residual { LayerNorm, MultiHeadAttention(4, DIM) },
                Residual { LayerNorm, Dense(128, per_step = true), Gelu, Dense(DIM, per_step = true) },
                LayerNorm,
            },
        },
        TransformerDecoderLayer(4, DIM, 128, norm_first = true, activation = gelu),
        TransformerDecoderLayer(4, DIM, 128, norm_first = true, activation = gelu),
        target,
        LayerNorm,
        Dense(VOCAB, per_step = true),
        Softmax,
    }
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// A date: year, month (1–12), day.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Date(u32, u32, u32);

impl Date {
    fn random(rng: &mut Rng) -> Date {
        let year = 1900 + rng.below(200) as u32;
        let month = 1 + rng.below(12) as u32;
        let leap =
            year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
        let days = match month {
            2 if leap => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        Date(year, month, 1 + rng.below(days) as u32)
    }

    /// One of the written forms, chosen by `form`.
    fn written(self, form: usize) -> String {
        let Date(y, m, d) = self;
        let month = MONTHS[m as usize - 1];
        match form % 5 {
            0 => format!("{d} {month} {y}"),
            1 => format!("{month} {d}, {y}"),
            2 => format!("{d:02}/{m:02}/{y}"),
            3 => format!("{} {d} {y}", &month[..3]),
            _ => format!("{y} {month} {d}"),
        }
    }

    fn iso(self) -> String {
        format!("{:04}-{:02}-{:02}", self.0, self.1, self.2)
    }
}

fn encode(text: &str) -> Vec<u32> {
    text.chars()
        .map(|c| ALPHABET.chars().position(|a| a == c).unwrap_or(0) as u32)
        .collect()
}

fn decode(ids: &[u32]) -> String {
    ids.iter()
        .map(|&i| ALPHABET.chars().nth(i as usize).unwrap_or('?'))
        .collect()
}

/// The source ids as the values of a sequence of its own length.
fn source_values(text: &str) -> Vec<f32> {
    encode(text).into_iter().map(|id| id as f32).collect()
}

/// What the decoder reads while learning to write `answer`: the start token, then the
/// answer but its last character.
fn teacher_input(answer: &[u32]) -> Tokens<TARGET> {
    let mut ids = [START; TARGET];
    ids[1..].copy_from_slice(&answer[..TARGET - 1]);
    Tokens::new(ids)
}

type Sample = (Vec<f32>, Vec<f32>, StepClasses<TARGET, VOCAB>);

/// `n` dates written in random forms, none of them in `exclude`.
fn dates(
    rng: &mut Rng,
    n: usize,
    exclude: &std::collections::HashSet<(Date, usize)>,
) -> Vec<(Date, usize)> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let pick = (Date::random(rng), rng.below(5));
        if !exclude.contains(&pick) {
            out.push(pick);
        }
    }
    out
}

fn samples(dates: &[(Date, usize)]) -> Result<Vec<Sample>, typed_nn::Error> {
    dates
        .iter()
        .map(|&(date, form)| {
            let answer = encode(&date.iso());
            let classes = StepClasses::new(answer.clone().try_into().expect("ten characters"))?;
            let teacher = teacher_input(&answer).data.to_vec();
            Ok((source_values(&date.written(form)), teacher, classes))
        })
        .collect()
}

/// Greedy translation of a batch of sources (each padded, with its length): the target
/// filled one character at a time, each from the network's distribution at the position
/// before it (later positions hold start tokens, which causal self-attention never lets an
/// earlier position read).
fn translate(net: &DateTranslator, sources: &[String]) -> Result<Vec<Vec<u32>>, typed_nn::Error> {
    let mut source_batch = Batch::<Tokens<SOURCE>>::with_capacity(sources.len());
    for text in sources {
        let values = source_values(text);
        let length = values.len();
        let mut padded = values;
        padded.resize(SOURCE, PAD as f32);
        source_batch.push_with_length(&padded, length)?;
    }
    let mut written = vec![vec![START; TARGET]; sources.len()];
    for step in 0..TARGET {
        let targets: Vec<_> = written
            .iter()
            .map(|w| Tokens::new(core::array::from_fn(|i| w[i])))
            .collect();
        let pairs = Batch::zip(&source_batch, &Batch::from_samples(&targets))?;
        let out = net.predict(&pairs)?;
        for (row, probabilities) in written.iter_mut().zip(out.iter_rows()) {
            let scores = &probabilities[step * VOCAB..(step + 1) * VOCAB];
            let next = typed_nn::kernels::argmax(scores) as u32;
            if step + 1 < TARGET {
                row[step + 1] = next;
            } else {
                row.push(next);
            }
        }
    }
    // The answer is what the decoder read after the start token, and the last character.
    Ok(written.into_iter().map(|w| w[1..].to_vec()).collect())
}

/// Translates dates from their written forms into ISO 8601 with an encoder–decoder
/// transformer.
#[derive(Parser, Debug)]
struct Options {
    /// Passes over the training dates.
    #[arg(long, default_value_t = 12)]
    epochs: usize,
    /// Training dates.
    #[arg(long, default_value_t = 20_000)]
    train: usize,
    /// Held-out dates the translator is evaluated on.
    #[arg(long, default_value_t = 2_000)]
    test: usize,
    /// Dates per training step.
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// Seed of the dates, the weights and the shuffles.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Progress display: auto (a bar on a terminal, lines otherwise), bar, lines or silent.
    #[arg(long, default_value = "auto")]
    progress: Verbosity,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = Options::parse();
    let mut rng = Rng::seed(options.seed);
    let train_dates = dates(&mut rng, options.train, &Default::default());
    let seen = train_dates.iter().copied().collect();
    let test_dates = dates(&mut rng, options.test, &seen);
    let train = Dataset::from_pair_sequences(samples(&train_dates)?)?;
    println!(
        "{} training and {} held-out dates, e.g. {:?} -> {:?}",
        train.len(),
        test_dates.len(),
        test_dates[0].0.written(test_dates[0].1),
        test_dates[0].0.iso()
    );

    let mut net = DateTranslator::init(&mut rng);
    println!("{}", DateTranslator::summary());
    let start = Instant::now();
    Trainer::new(CrossEntropy, Adam::new(1e-3).clip_norm(1.0))
        .epochs(options.epochs)
        .batch_size(options.batch_size)
        .seed(options.seed)
        .verbosity(options.progress)
        .fit(&mut net, &train)?;
    let seconds = start.elapsed().as_secs_f64();

    let start = Instant::now();
    let sources: Vec<_> = test_dates
        .iter()
        .map(|&(d, form)| d.written(form))
        .collect();
    let translated = translate(&net, &sources)?;
    let translating = start.elapsed().as_secs_f64();
    let mut right = [0usize; 5];
    let mut count = [0usize; 5];
    let mut wrong = Vec::new();
    for (&(date, form), ids) in test_dates.iter().zip(&translated) {
        count[form] += 1;
        if decode(ids) == date.iso() {
            right[form] += 1;
        } else if wrong.len() < 5 {
            wrong.push((date.written(form), decode(ids), date.iso()));
        }
    }
    let total: usize = right.iter().sum();
    println!(
        "trained in {seconds:.1} s ({:.1} s per epoch); translated {} held-out dates in {translating:.2} s",
        seconds / options.epochs.max(1) as f64,
        test_dates.len()
    );
    for form in 0..5 {
        println!(
            "  {:<22} {:>6.2} % exact",
            format!("{:?}", Date(1987, 3, 12).written(form)),
            100.0 * right[form] as f64 / count[form].max(1) as f64
        );
    }
    println!(
        "exact sequence accuracy on held-out dates: {:.2} % ({total} of {})",
        100.0 * total as f64 / test_dates.len() as f64,
        test_dates.len()
    );
    for (source, got, want) in wrong {
        println!("  {source:?} -> {got:?}, not {want:?}");
    }
    Ok(())
}
