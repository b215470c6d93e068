//! The table of layer kinds: each family's file holds its kinds' declarations, arguments and
//! rules, and lists them in its `KINDS`. Parsing, checks, "did you mean", the known-layer list, the
//! reference documentation (`nn_dsl::reference`) and the never-panics property read it.
//!
//! Adding a kind: its declaration and rule (a type implementing `Kind`, its arguments in an
//! `args!` struct) in its family's file, listed in that file's `KINDS`; its runtime layer
//! and kernel.

mod activation;
mod conv;
mod dense;
mod joins;
mod norm;
mod pool;
mod recurrent;
mod reshape;
mod subnetwork;
mod tokens;
mod upsample;
mod window;

use crate::kind::KindEntry;
use crate::suggest::closest;

/// Every family of layer kinds, each file's `KINDS` in the order the documentation lists
/// them: a kind added to a family's file is in the table.
static FAMILIES: &[&[KindEntry]] = &[
    dense::KINDS,
    conv::KINDS,
    upsample::KINDS,
    pool::KINDS,
    reshape::KINDS,
    norm::KINDS,
    recurrent::KINDS,
    tokens::KINDS,
    activation::KINDS,
    joins::KINDS,
    subnetwork::KINDS,
];

/// Every layer kind, family by family.
pub fn all() -> impl Iterator<Item = &'static KindEntry> {
    FAMILIES.iter().flat_map(|family| family.iter())
}

/// Names users of other libraries reach for, and the layer they mean.
const ALIASES: &[(&str, &str)] = &[
    ("linear", "Dense"),
    ("fullyconnected", "Dense"),
    ("fc", "Dense"),
    ("rnn", "SimpleRNN"),
];

/// The table entry called `name`.
pub fn find(name: &str) -> Option<&'static KindEntry> {
    all().find(|k| k.name() == name)
}

/// Every known layer name, for messages.
pub fn known_names() -> String {
    all().map(KindEntry::name).collect::<Vec<_>>().join(", ")
}

/// The known layer closest to `name`, if one is close enough to be a likely typo (case is
/// ignored: `Conv2D` means `Conv2d`, `Lstm` means `LSTM`).
pub fn suggest_layer(name: &str) -> Option<&'static str> {
    let lower = name.to_lowercase();
    if let Some(&(_, known)) = ALIASES.iter().find(|(alias, _)| *alias == lower) {
        if known != name {
            return Some(known);
        }
    }
    closest(&lower, all().map(KindEntry::name).filter(|k| *k != name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_suggestions_come_from_the_table() {
        let kinds: Vec<&KindEntry> = all().collect();
        for (i, k) in kinds.iter().enumerate() {
            assert!(
                kinds[i + 1..].iter().all(|o| o.name() != k.name()),
                "{}",
                k.name()
            );
            assert_eq!(find(k.name()).map(|f| f.name()), Some(k.name()));
        }
        assert_eq!(suggest_layer("Conv2D"), Some("Conv2d"));
        assert_eq!(suggest_layer("conv1d"), Some("Conv1d"));
        assert_eq!(suggest_layer("RNN"), Some("SimpleRNN"));
        assert_eq!(suggest_layer("Lstm"), Some("LSTM"));
        assert_eq!(suggest_layer("Dence"), Some("Dense"));
        assert_eq!(suggest_layer("Linear"), Some("Dense"));
        assert_eq!(suggest_layer("Embeding"), Some("Embedding"));
        assert_eq!(suggest_layer("Transformer"), None);
        assert_eq!(
            find("Conv2d").unwrap().usage(),
            "Conv2d(filters, kernel, stride = 1, padding = valid, dilation = 1, groups = 1, bias = true)"
        );
        assert_eq!(
            find("MaxPool2d").unwrap().usage(),
            "MaxPool2d(window, stride = window, padding = 0)"
        );
        assert!(known_names().contains("GRU"));
    }

    /// Every kind's example, on an input it takes, expands without errors. The example
    /// leaves most arguments to their defaults, so this also parses every default (written
    /// as a user would write it) with the kind's own parser.
    #[test]
    fn every_example_expands() {
        use crate::shape::Input;
        for kind in all() {
            let input = match kind.decl.accepts[0] {
                Input::Vector => "[64]",
                Input::Matrix => "[8, 64]",
                Input::Image => "[4, 16, 16]",
                Input::Tokens => "tokens[16]",
                Input::Parts => "(queries: [8, 64], memory: [6, 64])",
            };
            // Not the only layer: a network that is only its output activation is an error.
            let before = if input.starts_with("tokens") || input.starts_with('(') {
                ""
            } else {
                "Dropout(0.5),"
            };
            let source = format!(
                "pub struct Example: {input} {{ {before} {} }}",
                kind.decl.example
            );
            let output = crate::network(source.parse().unwrap()).to_string();
            assert!(
                !output.contains("compile_error"),
                "{}: `{source}` gave {output}",
                kind.name()
            );
        }
    }
}
