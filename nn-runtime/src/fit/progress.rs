//! What `fit` shows while it trains: a live bar per epoch on a terminal (Keras's
//! `verbose=1`), one line per epoch otherwise, nothing when silenced.

#[allow(unused_imports)]
use crate::core_prelude::*;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// How `fit` reports progress.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Verbosity {
    /// A live bar when standard output is a terminal, else one line per epoch.
    #[default]
    Auto,
    /// A live bar per epoch: steps, running loss and metrics, samples/s, time left.
    Bar,
    /// One line per epoch.
    Lines,
    /// Nothing.
    Silent,
}

impl core::str::FromStr for Verbosity {
    type Err = String;

    /// `auto`, `bar`, `lines` or `silent`, as a command-line option would spell it.
    fn from_str(s: &str) -> core::result::Result<Self, String> {
        match s {
            "auto" => Ok(Verbosity::Auto),
            "bar" => Ok(Verbosity::Bar),
            "lines" => Ok(Verbosity::Lines),
            "silent" => Ok(Verbosity::Silent),
            _ => Err(format!(
                "unknown verbosity {s:?}: expected auto, bar, lines or silent"
            )),
        }
    }
}

/// One epoch's display.
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    lines: bool,
    label: String,
    start: Instant,
    /// Seconds spent in the training steps, so samples/s leaves validation out.
    training: f64,
    last_draw: Instant,
}

/// `loss 0.1234 · accuracy 0.9512`
pub(crate) fn figures_text(figures: &[(String, f64)]) -> String {
    figures
        .iter()
        .map(|(n, v)| format!("{n} {v:.4}"))
        .collect::<Vec<_>>()
        .join(" · ")
}

impl Progress {
    pub(crate) fn new(verbosity: Verbosity, epoch: usize, epochs: usize, steps: usize) -> Self {
        let (bar, lines) = match verbosity {
            Verbosity::Silent => (false, false),
            Verbosity::Lines => (false, true),
            Verbosity::Bar => (true, false),
            Verbosity::Auto => {
                let terminal = std::io::stdout().is_terminal();
                (terminal, !terminal)
            }
        };
        let label = format!("Epoch {epoch}/{epochs}");
        let bar = bar.then(|| {
            let style =
                ProgressStyle::with_template("{prefix} {bar:20.cyan/blue} {pos}/{len} · {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> ");
            let bar =
                ProgressBar::with_draw_target(Some(steps as u64), ProgressDrawTarget::stdout())
                    .with_style(style)
                    .with_prefix(label.clone());
            bar.enable_steady_tick(Duration::from_millis(250));
            bar
        });
        let now = Instant::now();
        Progress {
            bar,
            lines,
            label,
            start: now,
            training: 0.0,
            last_draw: now,
        }
    }

    /// After each step: `step` of the epoch done, `samples` seen, the running figures.
    pub(crate) fn step(
        &mut self,
        step: usize,
        steps: usize,
        samples: usize,
        running: impl FnOnce() -> Vec<(String, f64)>,
    ) {
        if step == steps {
            self.training = self.start.elapsed().as_secs_f64();
        }
        let Some(bar) = &self.bar else {
            return;
        };
        // Formatting every step would cost more than a small network's step.
        if self.last_draw.elapsed() < Duration::from_millis(100) && step < steps {
            bar.set_position(step as u64);
            return;
        }
        self.last_draw = Instant::now();
        let seconds = self.start.elapsed().as_secs_f64().max(1e-9);
        let rate = samples as f64 / seconds;
        let left = seconds / step.max(1) as f64 * steps.saturating_sub(step) as f64;
        bar.set_position(step as u64);
        // The loss and the task's main metric: the rest waits for the epoch's line.
        let mut figures = running();
        figures.truncate(2);
        bar.set_message(format!(
            "{:.0} s left · {:.0} samples/s · {}",
            left,
            rate,
            figures_text(&figures)
        ));
    }

    /// At the epoch's end, with all its figures (validation included).
    pub(crate) fn finish(self, steps: usize, samples: usize, figures: &[(String, f64)]) {
        let seconds = self.start.elapsed().as_secs_f64();
        let line = format!(
            "{steps} steps · {seconds:.2} s · {:.0} samples/s · {}",
            samples as f64 / self.training.max(1e-9),
            figures_text(figures)
        );
        // The bar gives way to a plain line: a finished bar leaves the cursor on its own
        // line, where the next epoch's bar would draw over it.
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if self.bar.is_some() || self.lines {
            println!("{} · {line}", self.label);
        }
    }
}
