//! Keras-style summaries: the rows layers write, and the table.

#[allow(unused_imports)]
use crate::core_prelude::*;

/// One line of a Keras-style summary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SummaryRow {
    pub name: String,
    pub kind: String,
    pub output_shape: Vec<usize>,
    /// Trainable scalars.
    pub params: usize,
    /// Non-trainable scalars (running statistics).
    pub non_trainable: usize,
    /// The rows whose outputs feed this one (Keras's "Connected to"); `input` for the
    /// network's input.
    pub connected_to: Vec<String>,
}

/// `prefix.name`, or `name` at the top (summary rows of joins' paths).
pub fn child_name(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// The row of a join (a sum or a concatenation): no parameters of its own, connected to the
/// rows that end its paths. Returns its name.
pub fn join_row(
    name: &str,
    kind: &str,
    output_shape: &[usize],
    ends: Vec<String>,
    rows: &mut Vec<SummaryRow>,
) -> String {
    rows.push(SummaryRow {
        name: name.to_string(),
        kind: kind.to_string(),
        output_shape: output_shape.to_vec(),
        params: 0,
        non_trainable: 0,
        connected_to: ends,
    });
    name.to_string()
}

/// Formats a Keras-style summary table. A network whose layers form a chain gets Keras's
/// Sequential table; one with joins gets the functional table's "Connected to" column.
pub fn format_summary(model: &str, rows: &[SummaryRow]) -> String {
    let chain = rows.iter().enumerate().all(|(i, r)| {
        let previous = if i == 0 {
            "input"
        } else {
            rows[i - 1].name.as_str()
        };
        r.connected_to.len() == 1 && r.connected_to[0] == previous
    });
    let columns = if chain { 3 } else { 4 };
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let mut cells = vec![
                format!("{} ({})", r.name, r.kind),
                crate::tensor::keras_shape(&r.output_shape),
                group_thousands(r.params + r.non_trainable),
            ];
            if !chain {
                cells.push(r.connected_to.join(", "));
            }
            cells
        })
        .collect();
    let header: Vec<String> = ["Layer (type)", "Output Shape", "Param #", "Connected to"]
        [..columns]
        .iter()
        .map(|h| h.to_string())
        .collect();
    let mut w = vec![0usize; columns];
    for row in cells.iter().chain(core::iter::once(&header)) {
        for (k, c) in row.iter().enumerate() {
            w[k] = w[k].max(c.chars().count());
        }
    }
    let total_width = w.iter().sum::<usize>() + 3 * (columns - 1);
    let line = |c: char| c.to_string().repeat(total_width) + "\n";
    let fmt_row = |r: &[String]| {
        let mut s = format!(
            "{:<w0$}   {:<w1$}   {:>w2$}",
            r[0],
            r[1],
            r[2],
            w0 = w[0],
            w1 = w[1],
            w2 = w[2]
        );
        if columns == 4 {
            s += &format!("   {:<w3$}", r[3], w3 = w[3]);
        }
        s.trim_end().to_string() + "\n"
    };
    let trainable: usize = rows.iter().map(|r| r.params).sum();
    let non_trainable: usize = rows.iter().map(|r| r.non_trainable).sum();
    let mut s = format!("Model: \"{model}\"\n");
    s += &line('_');
    s += &fmt_row(&header);
    s += &line('=');
    for (i, r) in cells.iter().enumerate() {
        s += &fmt_row(r);
        if i + 1 < cells.len() {
            s += &line('-');
        }
    }
    s += &line('=');
    s += &format!(
        "Total params: {}\n",
        group_thousands(trainable + non_trainable)
    );
    s += &format!("Trainable params: {}\n", group_thousands(trainable));
    s += &format!("Non-trainable params: {}\n", group_thousands(non_trainable));
    s += &line('_');
    s
}

/// 52650 → "52,650"
pub fn group_thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}
