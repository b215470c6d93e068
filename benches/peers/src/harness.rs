//! The timing harness every Rust library runs under (torch_bench.py mirrors it), the records
//! it prints, and the inputs the workloads share.

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// How long to time one workload.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Calls before timing starts: caches, allocator pools and thread pools settle.
    pub warm_up: Duration,
    /// Timing goes on until this much time has passed …
    pub measure: Duration,
    /// … and at least this many samples were taken (slow training steps get this many
    /// even when it takes longer than `measure`).
    pub min_samples: usize,
}

/// A sample lasts at least this long: calls shorter than this are timed in groups, so the
/// clock's own cost (about 20 ns a read) stays under 0.1 % of a sample.
const MIN_SAMPLE: Duration = Duration::from_micros(50);
/// Enough samples for stable percentiles; past this, more time adds nothing.
const MAX_SAMPLES: usize = 100_000;

/// The distribution of one call's duration, in microseconds.
#[derive(Clone, Copy, Debug)]
pub struct Stats {
    pub median_us: f64,
    pub p10_us: f64,
    pub p90_us: f64,
    pub samples: usize,
    /// Calls per sample.
    pub batch: usize,
}

impl Stats {
    /// The figures per step of a call that runs `steps` steps (W11: µs per generated
    /// character).
    pub fn per_call_of(self, steps: usize) -> Stats {
        let n = steps.max(1) as f64;
        Stats {
            median_us: self.median_us / n,
            p10_us: self.p10_us / n,
            p90_us: self.p90_us / n,
            ..self
        }
    }
}

/// Times `f`: warm-up, then samples of `batch` calls each until the budget is spent; the
/// median, 10th and 90th percentiles of the per-call time.
pub fn time<R>(budget: &Budget, mut f: impl FnMut() -> R) -> Stats {
    let start = Instant::now();
    let mut calls = 0u32;
    while calls < 3 || start.elapsed() < budget.warm_up {
        black_box(f());
        calls += 1;
    }
    let per_call = start.elapsed() / calls;
    let batch = (MIN_SAMPLE.as_nanos() / per_call.as_nanos().max(1) + 1) as usize;

    let mut samples = Vec::new();
    let start = Instant::now();
    while samples.len() < budget.min_samples
        || (start.elapsed() < budget.measure && samples.len() < MAX_SAMPLES)
    {
        let t = Instant::now();
        for _ in 0..batch {
            black_box(f());
        }
        samples.push(t.elapsed().as_secs_f64() * 1e6 / batch as f64);
    }
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    Stats {
        median_us: at(0.5),
        p10_us: at(0.1),
        p90_us: at(0.9),
        samples: samples.len(),
        batch,
    }
}

/// What one workload measured.
pub enum Outcome {
    Timed(Stats),
    /// E1–E3: one training epoch's wall time and the test accuracy after it.
    Epoch {
        seconds: f64,
        accuracy: f64,
    },
    /// Not written for this library, and why (the table shows "–").
    Unsupported(String),
}

/// One JSON line: `{"lib": …, "workload": …, "threads": …, …}`.
pub fn record(
    lib: &str,
    workload: &str,
    threads: &str,
    outcome: &Result<Outcome, String>,
) -> String {
    let mut s = format!(
        "{{\"lib\":{},\"workload\":{},\"threads\":{}",
        quote(lib),
        quote(workload),
        quote(threads)
    );
    match outcome {
        Ok(Outcome::Timed(t)) => write!(
            s,
            ",\"median_us\":{:.4},\"p10_us\":{:.4},\"p90_us\":{:.4},\"samples\":{},\"batch\":{}",
            t.median_us, t.p10_us, t.p90_us, t.samples, t.batch
        ),
        Ok(Outcome::Epoch { seconds, accuracy }) => {
            write!(s, ",\"seconds\":{seconds:.4},\"accuracy\":{accuracy:.5}")
        }
        Ok(Outcome::Unsupported(why)) => write!(s, ",\"unsupported\":{}", quote(why)),
        Err(e) => write!(s, ",\"error\":{}", quote(e)),
    }
    .expect("writing to a String");
    s.push('}');
    s
}

/// A JSON string literal.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => write!(out, "\\u{:04x}", c as u32).expect("String"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A flat JSON object of strings and numbers (what `record` and torch_bench.py print), as
/// key–value pairs; `None` for anything else.
pub fn parse_flat(line: &str) -> Option<Vec<(String, Value)>> {
    let mut chars = line.trim().chars().peekable();
    let mut fields = Vec::new();
    let skip_ws = |c: &mut std::iter::Peekable<std::str::Chars>| {
        while c.peek().is_some_and(|c| c.is_whitespace()) {
            c.next();
        }
    };
    if chars.next()? != '{' {
        return None;
    }
    loop {
        skip_ws(&mut chars);
        match chars.peek()? {
            '}' => return Some(fields),
            ',' => {
                chars.next();
                continue;
            }
            _ => {}
        }
        let key = parse_string(&mut chars)?;
        skip_ws(&mut chars);
        if chars.next()? != ':' {
            return None;
        }
        skip_ws(&mut chars);
        let value = if *chars.peek()? == '"' {
            Value::Str(parse_string(&mut chars)?)
        } else {
            let mut n = String::new();
            while let Some(&c) = chars.peek() {
                if c == ',' || c == '}' || c.is_whitespace() {
                    break;
                }
                n.push(c);
                chars.next();
            }
            Value::Num(n.parse().ok()?)
        };
        fields.push((key, value));
    }
}

fn parse_string(chars: &mut std::iter::Peekable<std::str::Chars>) -> Option<String> {
    if chars.next()? != '"' {
        return None;
    }
    let mut s = String::new();
    loop {
        match chars.next()? {
            '"' => return Some(s),
            '\\' => match chars.next()? {
                'n' => s.push('\n'),
                't' => s.push('\t'),
                'u' => {
                    let hex: String = (0..4).filter_map(|_| chars.next()).collect();
                    s.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                c => s.push(c),
            },
            c => s.push(c),
        }
    }
}

/// A JSON value of a flat record.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Str(String),
    Num(f64),
}

/// `n` values uniform in [0, 1) from a seeded generator: every Rust library times the same
/// inputs (candle's CPU generator cannot be seeded).
pub fn uniform(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = typed_nn::Rng::seed(seed);
    (0..n).map(|_| rng.next_f32()).collect()
}

/// Class labels 0, 1, …, 9, 0, … for a batch of `n`.
pub fn class_labels(n: usize) -> Vec<u32> {
    (0..n as u32).map(|i| i % 10).collect()
}

/// Binary targets 0, 1, 0, … for a batch of `n`.
pub fn binary_targets(n: usize) -> Vec<f32> {
    (0..n).map(|i| (i % 2) as f32).collect()
}

/// MNIST as flat arrays: the training and test images (784 values in [0, 1] each) and labels.
pub struct MnistArrays {
    pub train_x: Vec<f32>,
    pub train_y: Vec<u32>,
    pub test_x: Vec<f32>,
    pub test_y: Vec<u32>,
}

impl MnistArrays {
    /// Reads the IDX files with typed-nn's loader; the peers turn these arrays into their
    /// own tensors before any timing starts.
    pub fn load(dir: &std::path::Path) -> Result<Self, String> {
        let (train, test) = typed_nn::mnist::load(dir).map_err(|e| e.to_string())?;
        let flat = |d: &typed_nn::mnist::Mnist| {
            let x = (0..d.len())
                .flat_map(|i| d.input_slice(i).iter().copied())
                .collect();
            let y = (0..d.len()).map(|i| d.target(i).index() as u32).collect();
            (x, y)
        };
        let (train_x, train_y) = flat(&train);
        let (test_x, test_y) = flat(&test);
        Ok(MnistArrays {
            train_x,
            train_y,
            test_x,
            test_y,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_parse_back() {
        let stats = Stats {
            median_us: 4.5,
            p10_us: 4.25,
            p90_us: 5.0,
            samples: 10,
            batch: 12,
        };
        let line = record("candle", "W1", "1", &Ok(Outcome::Timed(stats)));
        let fields = parse_flat(&line).unwrap();
        assert_eq!(fields[0], ("lib".into(), Value::Str("candle".into())));
        assert_eq!(fields[3], ("median_us".into(), Value::Num(4.5)));
        let line = record("burn", "W9", "2", &Err("a \"quoted\"\nerror".into()));
        let fields = parse_flat(&line).unwrap();
        assert_eq!(
            fields[3],
            ("error".into(), Value::Str("a \"quoted\"\nerror".into()))
        );
    }

    #[test]
    fn the_median_of_a_constant_is_the_constant() {
        let budget = Budget {
            warm_up: Duration::ZERO,
            measure: Duration::ZERO,
            min_samples: 5,
        };
        let s = time(&budget, || std::thread::sleep(Duration::from_micros(200)));
        assert_eq!(s.samples, 5);
        assert!(s.p10_us <= s.median_us && s.median_us <= s.p90_us);
        assert!(s.median_us >= 200.0);
    }
}
