//! The per-epoch figures of a training run, as Keras's `History`: `loss`, each metric, and
//! their `val_` twins, with a plot of them.

#[allow(unused_imports)]
use crate::core_prelude::*;

use crate::error::{Error, Result};
use std::path::Path;

/// Every epoch's figures, by name (`loss`, `accuracy`, `val_loss`, …), in the order they
/// were first recorded.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    series: Vec<(String, Vec<f64>)>,
}

impl History {
    /// Appends one epoch's figures.
    pub fn push(&mut self, figures: &[(String, f64)]) {
        for (name, value) in figures {
            match self.series.iter_mut().find(|(n, _)| n == name) {
                Some((_, values)) => values.push(*value),
                None => self.series.push((name.clone(), vec![*value])),
            }
        }
    }

    /// The figure `name` of every epoch (`history.get("val_loss")`).
    pub fn get(&self, name: &str) -> Option<&[f64]> {
        self.series
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// The names recorded, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.series.iter().map(|(n, _)| n.as_str())
    }

    /// Epochs recorded.
    pub fn epochs(&self) -> usize {
        self.series.first().map_or(0, |(_, v)| v.len())
    }

    /// The history as text: a header of names, then one line of figures per epoch (what a
    /// checkpoint stores).
    pub fn to_text(&self) -> String {
        let mut s = self.names().collect::<Vec<_>>().join(",");
        for e in 0..self.epochs() {
            s.push('\n');
            let row: Vec<String> = self
                .series
                .iter()
                .map(|(_, v)| v.get(e).map_or(String::new(), |x| format!("{x:e}")))
                .collect();
            s += &row.join(",");
        }
        s
    }

    /// Reads [`History::to_text`] back.
    pub fn from_text(text: &str) -> Result<Self> {
        let mut lines = text.lines();
        let bad = |reason: String| Error::CorruptCheckpoint { reason };
        let names: Vec<String> = match lines.next() {
            Some("") | None => return Ok(History::default()),
            Some(header) => header.split(',').map(str::to_string).collect(),
        };
        let mut series: Vec<(String, Vec<f64>)> =
            names.into_iter().map(|n| (n, Vec::new())).collect();
        for (i, line) in lines.enumerate() {
            let fields: Vec<&str> = line.split(',').collect();
            if fields.len() != series.len() {
                return Err(bad(format!(
                    "history line {} has {} fields",
                    i + 2,
                    fields.len()
                )));
            }
            for ((_, values), field) in series.iter_mut().zip(fields) {
                let x = field
                    .parse::<f64>()
                    .map_err(|_| bad(format!("history value {field:?} on line {}", i + 2)))?;
                values.push(x);
            }
        }
        Ok(History { series })
    }

    /// Draws the loss and every metric against the epoch, training and validation side by
    /// side, as an SVG file (`path` should end in `.svg`).
    pub fn plot(&self, path: impl AsRef<Path>) -> Result<()> {
        use plotters::prelude::*;
        let path = path.as_ref();
        let io = |e: &dyn core::fmt::Display| Error::Io {
            path: path.to_path_buf(),
            source: std::io::Error::other(e.to_string()),
        };
        // One panel per figure that has a training series (its `val_` twin drawn with it).
        let panels: Vec<&str> = self.names().filter(|n| !n.starts_with("val_")).collect();
        if panels.is_empty() {
            return Err(Error::EmptyDataset);
        }
        let root = SVGBackend::new(path, (480 * panels.len() as u32, 360)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| io(&e))?;
        let areas = root.split_evenly((1, panels.len()));
        for (area, name) in areas.iter().zip(&panels) {
            let train = self.get(name).unwrap_or(&[]);
            let val_name = format!("val_{name}");
            let val = self.get(&val_name).unwrap_or(&[]);
            let values = train.iter().chain(val).copied().filter(|v| v.is_finite());
            let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
            let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
            let pad = ((hi - lo) * 0.05).max(1e-9);
            let epochs = train.len().max(val.len()).max(1);
            let mut chart = ChartBuilder::on(area)
                .caption(*name, ("sans-serif", 18))
                .margin(10)
                .x_label_area_size(30)
                .y_label_area_size(50)
                .build_cartesian_2d(1f64..epochs.max(2) as f64, (lo - pad)..(hi + pad))
                .map_err(|e| io(&e))?;
            chart
                .configure_mesh()
                .x_desc("epoch")
                .x_labels(epochs.clamp(2, 10))
                .x_label_formatter(&|x| format!("{x:.0}"))
                .draw()
                .map_err(|e| io(&e))?;
            for (series, label, color) in [(train, "train", BLUE), (val, "validation", RED)] {
                if series.is_empty() {
                    continue;
                }
                chart
                    .draw_series(LineSeries::new(
                        series.iter().enumerate().map(|(e, &v)| (e as f64 + 1.0, v)),
                        color.stroke_width(2),
                    ))
                    .map_err(|e| io(&e))?
                    .label(label)
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
            }
            chart
                .configure_series_labels()
                .border_style(BLACK)
                .background_style(WHITE.mix(0.8))
                .draw()
                .map_err(|e| io(&e))?;
        }
        root.present().map_err(|e| io(&e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_round_trip_through_text_and_plot() {
        let mut h = History::default();
        for e in 0..3 {
            let e = e as f64;
            h.push(&[
                ("loss".into(), 1.0 / (e + 1.0)),
                ("accuracy".into(), 0.5 + e / 10.0),
                ("val_loss".into(), 1.1 / (e + 1.0)),
                ("val_accuracy".into(), 0.45 + e / 10.0),
            ]);
        }
        assert_eq!(h.epochs(), 3);
        assert_eq!(h.get("val_loss").unwrap().len(), 3);
        assert_eq!(History::from_text(&h.to_text()).unwrap(), h);
        assert!(History::from_text("loss\n0.5,1").is_err());
        let path =
            std::env::temp_dir().join(format!("typed-nn-history-{}.svg", std::process::id()));
        h.plot(&path).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert!(svg.contains("<svg") && svg.contains("accuracy") && svg.contains("validation"));
    }
}
