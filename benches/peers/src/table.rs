//! `peers table`: every library at every thread count, each in child processes, and one
//! markdown table of the medians with each peer's ratio to typed-nn.

use crate::harness::{parse_flat, Value};
use crate::{default_data_dir, onnx_workload, Flags, WORKLOADS, ZOO_DIR};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Libraries in column order: the key torch_bench.py, ort_bench.py and `run` print, and the
/// header.
const LIBS: [(&str, &str); 6] = [
    ("typed-nn", "typed-nn"),
    ("torch", "PyTorch"),
    ("candle", "candle"),
    ("burn", "burn"),
    ("tract", "tract"),
    ("onnxruntime", "onnxruntime"),
];

/// The libraries run from Python: the script beside this crate, and the module it imports.
const PYTHON_LIBS: [(&str, &str, &str); 2] = [
    ("torch", "torch_bench.py", "torch"),
    ("onnxruntime", "ort_bench.py", "onnxruntime"),
];

/// Whether `lib` has any of `workloads` to run: candle and burn have no ONNX workloads, tract
/// and onnxruntime nothing else. The default `--libs` leaves out a library with none.
fn runs_any(lib: &str, workloads: &[String]) -> bool {
    let onnx = workloads
        .iter()
        .filter(|w| onnx_workload(w).is_some())
        .count();
    match lib {
        "candle" | "burn" => onnx < workloads.len(),
        "tract" | "onnxruntime" => onnx > 0,
        _ => true,
    }
}

/// What a cell of the table holds.
#[derive(Clone, Debug)]
enum Cell {
    Time { median_us: f64 },
    Epoch { seconds: f64, accuracy: f64 },
    Unsupported(String),
    Failed(String),
    NotRun,
}

type Key = (String, usize, String); // library, threads, workload

struct Run {
    cells: HashMap<Key, Cell>,
    /// Lines for under the table: why a library did not run, what failed.
    notes: Vec<String>,
    /// The versions the Python libraries report (PyTorch, onnxruntime).
    versions: HashMap<String, String>,
}

pub fn table(args: &[String]) -> Result<(), String> {
    let started = Instant::now();
    let flags = Flags::parse(
        args,
        &[
            "threads",
            "torch",
            "ort",
            "seconds",
            "workloads",
            "libs",
            "data",
        ],
    )?;
    let threads: Vec<usize> = flags
        .list("threads", &["1", "2"])
        .iter()
        .map(|t| t.parse().map_err(|e| format!("--threads {t}: {e}")))
        .collect::<Result<_, _>>()?;
    if threads.contains(&0) {
        return Err("--threads: counts start at 1".into());
    }
    let seconds = flags.seconds()?;
    let workloads = flags.workloads()?;
    let default_libs: Vec<&str> = LIBS
        .iter()
        .map(|l| l.0)
        .filter(|l| runs_any(l, &workloads))
        .collect();
    let libs = flags.list("libs", &default_libs);
    if let Some(l) = libs
        .iter()
        .find(|l| !LIBS.iter().any(|k| k.0 == l.as_str()))
    {
        return Err(format!("unknown library {l}"));
    }
    let data = flags
        .get("data")
        .map_or_else(default_data_dir, PathBuf::from);
    let exe = std::env::current_exe().map_err(|e| format!("own path: {e}"))?;
    let taskset = Command::new("taskset")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());

    let mut run = Run {
        cells: HashMap::new(),
        notes: Vec::new(),
        versions: HashMap::new(),
    };
    if !taskset {
        run.notes
            .push("`taskset` was not found: the one-thread runs were not pinned to a core.".into());
    }
    // The Python of each Python library: `--torch`, `--ort` (by default the same as `--torch`).
    let pythons: HashMap<&str, String> = PYTHON_LIBS
        .iter()
        .filter(|(lib, _, _)| libs.iter().any(|l| l == lib))
        .filter_map(|&(lib, _, module)| {
            let flag = if lib == "torch" { "torch" } else { "ort" };
            let given = flags.get(flag).or(flags.get("torch"));
            let found = find_python(given, flag, module, &mut run.notes)?;
            Some((lib, found))
        })
        .collect();

    let peak = |t: usize| -> Option<(f64, String)> {
        let mut cmd = spawn_command(&exe, &["peak", "--threads", &t.to_string()], t, taskset);
        let out = cmd.output().ok()?;
        let line = String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()?
            .to_string();
        let fields = parse_flat(&line)?;
        let num = |k: &str| {
            fields.iter().find_map(|(n, v)| match v {
                Value::Num(x) if n == k => Some(*x),
                _ => None,
            })
        };
        let isa = fields.iter().find_map(|(n, v)| match v {
            Value::Str(s) if n == "isa" => Some(s.clone()),
            _ => None,
        })?;
        Some((num("peak_gflops")?, isa))
    };
    let peaks: Vec<(usize, Option<(f64, String)>)> =
        threads.iter().map(|&t| (t, peak(t))).collect();

    let seconds_arg = seconds.to_string();
    let data_arg = data.display().to_string();
    for &t in &threads {
        for lib in LIBS
            .iter()
            .map(|l| l.0)
            .filter(|l| libs.iter().any(|x| x == l))
        {
            let (program, mut base): (PathBuf, Vec<String>) =
                if let Some(&(_, script, _)) = PYTHON_LIBS.iter().find(|p| p.0 == lib) {
                    let Some(python) = pythons.get(lib) else {
                        for w in &workloads {
                            run.cells.insert((lib.into(), t, w.clone()), Cell::NotRun);
                        }
                        continue;
                    };
                    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(script);
                    let mut args = vec![
                        script.display().to_string(),
                        "--threads".into(),
                        t.to_string(),
                    ];
                    if lib == "onnxruntime" {
                        args.extend(["--zoo".into(), ZOO_DIR.into()]);
                    }
                    (PathBuf::from(python), args)
                } else {
                    (exe.clone(), vec!["run".into(), "--lib".into(), lib.into()])
                };
            base.extend(
                ["--seconds", &seconds_arg, "--data", &data_arg]
                    .iter()
                    .map(|s| s.to_string()),
            );
            run_library(&mut run, lib, t, &program, &base, &workloads, taskset);
        }
    }

    print!(
        "{}",
        render(&run, &threads, &workloads, &libs, &peaks, taskset, seconds)
    );
    eprintln!(
        "peers: the whole run took {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The Python to run a Python library's script with (`--torch` for torch_bench.py, `--ort`
/// for ort_bench.py): `given`, else `python3`, if it can import `module`.
fn find_python(
    given: Option<&str>,
    flag: &str,
    module: &str,
    notes: &mut Vec<String>,
) -> Option<String> {
    let candidate = given.unwrap_or("python3");
    let name = if module == "torch" { "PyTorch" } else { module };
    let install = if module == "torch" {
        "`pip install torch==2.15.0 torchvision` in a venv"
    } else {
        "`pip install onnxruntime numpy` in a venv"
    };
    let check = Command::new(candidate)
        .args(["-c", &format!("import {module}")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output();
    match check {
        Ok(out) if out.status.success() => Some(candidate.to_string()),
        Ok(out) => {
            let err = String::from_utf8_lossy(&out.stderr);
            let last = err.lines().last().unwrap_or("").trim().to_string();
            notes.push(format!(
                "{name} not run: `{}` cannot import {module} ({last}); pass `--{flag} PYTHON` \
                 with a Python that has it ({install}).",
                if given.is_some() {
                    candidate
                } else {
                    "python3"
                }
            ));
            None
        }
        Err(e) => {
            notes.push(format!(
                "{name} not run: cannot start `{candidate}` ({e}); pass `--{flag} PYTHON`."
            ));
            None
        }
    }
}

/// A child process with the thread count in every variable the libraries read, pinned to
/// core 0 with taskset for one thread.
fn spawn_command(program: &Path, args: &[&str], threads: usize, taskset: bool) -> Command {
    let mut cmd = if threads == 1 && taskset {
        let mut c = Command::new("taskset");
        c.args(["-c", "0"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    cmd.args(args);
    let t = threads.to_string();
    // typed-nn (and tract's pool, which `run` sizes from it); rayon's pool (typed-nn, candle,
    // burn-flex, gemm); candle's own pool; PyTorch's OpenMP and MKL pools (torch_bench.py
    // also calls torch.set_num_threads; ort_bench.py sizes onnxruntime's pool itself).
    for var in [
        "TYPED_NN_THREADS",
        "RAYON_NUM_THREADS",
        "CANDLE_NUM_THREADS",
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
    ] {
        cmd.env(var, &t);
    }
    cmd
}

/// Runs one library at one thread count, each workload in a process of its own: a fresh
/// process per workload keeps one workload's allocations (and the allocator thresholds they
/// move) from changing the next one's times, and a crash fails only its own workload.
fn run_library(
    run: &mut Run,
    lib: &str,
    threads: usize,
    program: &Path,
    base: &[String],
    workloads: &[String],
    taskset: bool,
) {
    for workload in workloads {
        let mut args: Vec<&str> = base.iter().map(String::as_str).collect();
        args.extend(["--workloads", workload]);
        let key = (lib.to_string(), threads, workload.clone());
        let out = spawn_command(program, &args, threads, taskset)
            .stdin(Stdio::null())
            .output();
        let out = match out {
            Ok(out) => out,
            Err(e) => {
                let why = format!("could not start {}: {e}", program.display());
                eprintln!("peers: {lib} t{threads} {workload}: {why}");
                run.cells.insert(key, Cell::Failed(why));
                continue;
            }
        };
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let Some(fields) = parse_flat(line) else {
                continue;
            };
            let get = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
            let num = |k: &str| match get(k) {
                Some(Value::Num(x)) => Some(x),
                _ => None,
            };
            let text = |k: &str| match get(k) {
                Some(Value::Str(s)) => Some(s),
                _ => None,
            };
            if let Some(v) = text("version") {
                run.versions.insert(lib.to_string(), v);
                continue;
            }
            if text("workload").as_deref() != Some(workload.as_str()) {
                continue;
            }
            let cell = if let Some(median_us) = num("median_us") {
                Cell::Time { median_us }
            } else if let (Some(seconds), Some(accuracy)) = (num("seconds"), num("accuracy")) {
                Cell::Epoch { seconds, accuracy }
            } else if let Some(why) = text("unsupported") {
                Cell::Unsupported(why)
            } else {
                Cell::Failed(text("error").unwrap_or_else(|| "no result".into()))
            };
            eprintln!("peers: t{threads} {line}");
            run.cells.insert(key.clone(), cell);
        }
        run.cells.entry(key).or_insert_with(|| {
            // The child ended without a record: say how, with the end of what it printed.
            let stderr = String::from_utf8_lossy(&out.stderr);
            let tail: Vec<&str> = stderr.lines().rev().take(3).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            let why = format!(
                "the process ended ({}) without a result: {}",
                out.status,
                tail.join(" / ")
            );
            eprintln!("peers: {lib} t{threads} {workload} failed: {why}");
            Cell::Failed(why)
        });
    }
}

#[allow(clippy::too_many_arguments)]
fn render(
    run: &Run,
    threads: &[usize],
    workloads: &[String],
    libs: &[String],
    peaks: &[(usize, Option<(f64, String)>)],
    taskset: bool,
    seconds: f64,
) -> String {
    let mut out = String::new();
    let libs: Vec<(&str, &str)> = LIBS
        .iter()
        .copied()
        .filter(|l| libs.iter().any(|x| x == l.0))
        .collect();

    // The header: what ran where.
    let command: Vec<String> = {
        let mut args: Vec<String> = std::env::args().skip(1).collect();
        // The Pythons' paths are this machine's; the version line says what they ran.
        for flag in ["--torch", "--ort"] {
            if let Some(i) = args.iter().position(|a| a == flag) {
                if let Some(p) = args.get_mut(i + 1) {
                    *p = "PYTHON".into();
                }
            }
        }
        args
    };
    let _ = writeln!(
        out,
        "- command: `cargo run --release -p peers{} -- {}`",
        if cfg!(feature = "onnx-zoo") {
            " --features onnx-zoo"
        } else {
            ""
        },
        command.join(" ")
    );
    let _ = writeln!(out, "- date: {} (UTC)", today());
    let shown = |lib: &str| libs.iter().any(|l| l.0 == lib);
    let mut versions = format!("versions: typed-nn {}", env!("PEERS_TYPED_NN_VERSION"));
    if shown("candle") {
        let _ = write!(
            versions,
            ", candle {} (candle-core, candle-nn; CPU)",
            env!("PEERS_CANDLE_VERSION")
        );
    }
    if shown("burn") {
        let _ = write!(
            versions,
            ", burn {} (flex backend, autodiff)",
            env!("PEERS_BURN_VERSION")
        );
    }
    if shown("tract") {
        let _ = write!(versions, ", tract-onnx {}", env!("PEERS_TRACT_VERSION"));
    }
    for (lib, name, what) in [
        ("torch", "PyTorch", " (CPU)"),
        ("onnxruntime", "onnxruntime", " (CPU execution provider)"),
    ] {
        let ran = run
            .cells
            .iter()
            .any(|(k, c)| k.0 == lib && !matches!(c, Cell::NotRun));
        if shown(lib) && ran {
            let v = run.versions.get(lib).map_or("unknown", String::as_str);
            let _ = write!(versions, ", {name} {v}{what}");
        }
    }
    let _ = writeln!(out, "- {versions}, {}", env!("PEERS_RUSTC_VERSION"));
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let _ = writeln!(out, "- machine: {}, {cores} logical CPUs", cpu_model());
    let peak_text: Vec<String> = peaks
        .iter()
        .map(|(t, p)| match p {
            Some((g, isa)) => format!("{g:.0} GFLOP/s on {} ({isa})", threads_text(*t)),
            None => format!("not measured on {}", threads_text(*t)),
        })
        .collect();
    let _ = writeln!(
        out,
        "- peak (typed-nn's FMA probe, best of 20 rounds): {}",
        peak_text.join(", ")
    );
    let _ = writeln!(
        out,
        "- threads: t1 = 1 thread{}, t2 = 2 threads, unpinned; every library's thread-count variable set (TYPED_NN_THREADS, RAYON_NUM_THREADS, CANDLE_NUM_THREADS, OMP_NUM_THREADS, MKL_NUM_THREADS; torch.set_num_threads; tract: a rayon pool of N above one thread; onnxruntime: intra_op_num_threads = N, inter_op_num_threads = 1)",
        if taskset { " pinned to CPU 0 (taskset -c 0)" } else { ", not pinned (no taskset)" }
    );
    // Allocator settings change the peers' times (they allocate every step's tensors), so a
    // run made with any says so.
    let allocator: Vec<String> = [
        "GLIBC_TUNABLES",
        "MALLOC_ARENA_MAX",
        "MALLOC_MMAP_THRESHOLD_",
        "MALLOC_TRIM_THRESHOLD_",
        "LD_PRELOAD",
    ]
    .iter()
    .filter_map(|v| std::env::var(v).ok().map(|x| format!("{v}={x}")))
    .collect();
    if !allocator.is_empty() {
        let _ = writeln!(
            out,
            "- environment (every child inherits it): {}",
            allocator.join(" ")
        );
    }
    let _ = writeln!(
        out,
        "- timing: median per call in µs, {seconds} s of samples per workload after warm-up, at least 10 samples; E1–E3: one epoch's wall time in s and the test accuracy after it"
    );
    out.push('\n');

    // The medians.
    let cols: Vec<(usize, &str, &str)> = threads
        .iter()
        .flat_map(|&t| libs.iter().map(move |&(k, name)| (t, k, name)))
        .collect();
    let _ = write!(out, "| workload |");
    for (t, _, name) in &cols {
        let _ = write!(out, " {name} t{t} |");
    }
    let _ = write!(out, "\n|---|");
    for _ in &cols {
        out.push_str("---:|");
    }
    out.push('\n');
    for w in workloads {
        let _ = write!(out, "| {} |", label(w));
        for (t, k, _) in &cols {
            let _ = write!(
                out,
                " {} |",
                show(run.cells.get(&(k.to_string(), *t, w.clone())))
            );
        }
        out.push('\n');
    }

    // The ratios: peer time over typed-nn time (> 1: typed-nn is faster), and typed-nn's
    // speed-up from the first thread count to each other one.
    let has_typed = libs.iter().any(|l| l.0 == "typed-nn");
    let peers: Vec<(&str, &str)> = libs.iter().copied().filter(|l| l.0 != "typed-nn").collect();
    if has_typed && (!peers.is_empty() || threads.len() > 1) {
        out.push_str(
            "\nEach peer's time over typed-nn's at the same thread count (> 1: typed-nn is \
             faster)",
        );
        if threads.len() > 1 {
            let first = threads[0];
            let _ = write!(
                out,
                "; typed-nn t{first}/tN: its speed-up from {} to N threads",
                threads_text(first)
            );
        }
        out.push_str(":\n\n| workload |");
        for &t in threads {
            for (_, name) in &peers {
                let _ = write!(out, " {name} / typed-nn t{t} |");
            }
        }
        for &t in &threads[1..] {
            let _ = write!(out, " typed-nn t{}/t{t} |", threads[0]);
        }
        let n = threads.len() * peers.len() + threads.len() - 1;
        let _ = write!(out, "\n|---|{}\n", "---:|".repeat(n));
        for w in workloads {
            let _ = write!(out, "| {} |", label(w));
            let value = |k: &str, t: usize| {
                run.cells
                    .get(&(k.to_string(), t, w.clone()))
                    .and_then(seconds_of)
            };
            for &t in threads {
                let base = value("typed-nn", t);
                for (k, _) in &peers {
                    let _ = write!(out, " {} |", ratio(value(k, t), base));
                }
            }
            for &t in &threads[1..] {
                let _ = write!(
                    out,
                    " {} |",
                    ratio(value("typed-nn", threads[0]), value("typed-nn", t))
                );
            }
            out.push('\n');
        }
    }

    // Notes: what could not run and why.
    let mut notes = run.notes.clone();
    let mut keys: Vec<&Key> = run.cells.keys().collect();
    keys.sort();
    for key in keys {
        let (lib, t, w) = key;
        match &run.cells[key] {
            Cell::Unsupported(why) => {
                // Once per library and workload, whatever the thread count.
                let note = format!("{lib} {w}: –: {why}");
                if !notes.contains(&note) {
                    notes.push(note);
                }
            }
            Cell::Failed(why) => notes.push(format!("{lib} {w} (t{t}) failed: {why}")),
            _ => {}
        }
    }
    if !notes.is_empty() {
        out.push('\n');
        for n in notes {
            let _ = writeln!(out, "- {n}");
        }
    }
    out
}

fn threads_text(t: usize) -> String {
    if t == 1 {
        "1 thread".into()
    } else {
        format!("{t} threads")
    }
}

fn label(w: &str) -> String {
    let name = WORKLOADS.iter().find(|x| x.0 == w).map_or("", |x| x.1);
    format!("{w} {name}")
}

fn show(cell: Option<&Cell>) -> String {
    match cell {
        Some(Cell::Time { median_us }) => micros(*median_us),
        Some(Cell::Epoch { seconds, accuracy }) => {
            format!("{seconds:.2} s ({:.1} %)", 100.0 * accuracy)
        }
        Some(Cell::Unsupported(_)) => "–".into(),
        Some(Cell::Failed(_)) => "failed".into(),
        Some(Cell::NotRun) | None => "not run".into(),
    }
}

/// A cell's time in seconds, for ratios.
fn seconds_of(cell: &Cell) -> Option<f64> {
    match cell {
        Cell::Time { median_us } => Some(median_us * 1e-6),
        Cell::Epoch { seconds, .. } => Some(*seconds),
        _ => None,
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
        _ => "–".into(),
    }
}

/// Microseconds with three significant digits, thousands grouped.
fn micros(us: f64) -> String {
    // Thresholds on the rounded value, so 99.96 prints as 100, not 100.0.
    if us < 9.995 {
        format!("{us:.2}")
    } else if us < 99.95 {
        format!("{us:.1}")
    } else {
        let n = us.round() as u64;
        let digits = n.to_string();
        let mut grouped = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(c);
        }
        grouped
    }
}

fn cpu_model() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |name: &str| {
        info.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split(':').nth(1))
            .map(|s| s.trim().to_string())
    };
    let model = field("model name").unwrap_or_else(|| "unknown CPU".into());
    let flags = field("flags").unwrap_or_default();
    let mut details: Vec<String> = [("cpu family", "family"), ("model\t", "model")]
        .into_iter()
        .filter_map(|(field_name, label)| field(field_name).map(|v| format!("{label} {v}")))
        .collect();
    details.extend(
        ["avx2", "fma", "avx512f"]
            .into_iter()
            .filter(|f| flags.split_whitespace().any(|x| x == *f))
            .map(String::from),
    );
    if details.is_empty() {
        model
    } else {
        format!("{model} ({})", details.join(", "))
    }
}

/// Today's date, from the system clock (days since 1970 to a civil date).
fn today() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    // Howard Hinnant's days-from-civil, inverted.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micros_group_thousands() {
        assert_eq!(micros(4.456), "4.46");
        assert_eq!(micros(23.31), "23.3");
        assert_eq!(micros(51_023.4), "51,023");
        assert_eq!(micros(133.0), "133");
        assert_eq!(micros(99.97), "100");
        assert_eq!(micros(9.999), "10.0");
        assert_eq!(micros(1_234_567.0), "1,234,567");
    }

    #[test]
    fn ratios_need_both_times() {
        assert_eq!(ratio(Some(3.0), Some(1.5)), "2.00");
        assert_eq!(ratio(None, Some(1.0)), "–");
    }
}
