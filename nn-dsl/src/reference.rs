//! The table as documentation and tests read it: every kind's name, signature, inputs, doc
//! line and example, and its arguments. The layer reference in the README and the crate
//! docs is [`reference`]'s output (a test fails when they differ), and the never-panics
//! property draws its layers and arguments from [`KindInfo`].

use crate::kind::{Body, KindEntry};
use crate::shape::Input;

pub use crate::args::{ArgKind, Default as ArgDefault, Param as ParamInfo, Range};

/// A layer kind as documentation and tests see it.
pub struct KindInfo {
    pub name: &'static str,
    /// One line: what it computes, and its PyTorch counterpart.
    pub doc: &'static str,
    /// A use of it (`Dense(64)`).
    pub example: &'static str,
    /// Its signature as a user writes it.
    pub usage: String,
    pub params: &'static [ParamInfo],
    /// The samples it takes, as the grammar writes shapes (`[c, h, w]`).
    pub inputs: Vec<&'static str>,
    /// What it takes in words, as messages say it after "takes" ("a 1-D").
    pub input_words: &'static str,
    /// Whether its paths follow in braces (a join).
    pub join: bool,
}

impl KindInfo {
    fn of(entry: &KindEntry) -> KindInfo {
        KindInfo {
            name: entry.decl.name,
            doc: entry.decl.doc,
            example: entry.decl.example,
            usage: entry.usage(),
            params: entry.params,
            inputs: entry
                .decl
                .accepts
                .iter()
                .map(|input| match input {
                    Input::Vector => "[n]",
                    Input::Matrix => "[a, b]",
                    Input::Image => "[c, h, w]",
                    Input::Tokens => "tokens[t]",
                    Input::Parts => "(a: …, b: …)",
                })
                .collect(),
            input_words: entry.decl.input_words,
            join: matches!(entry.body, Body::Join(..)),
        }
    }
}

/// Every layer kind, in the order of the table.
pub fn kinds() -> impl Iterator<Item = KindInfo> {
    crate::kinds::all().map(KindInfo::of)
}

/// The layer reference: a Markdown table of every kind with its signature, the samples it
/// takes, what it computes and an example.
pub fn reference() -> String {
    let cell = |text: &str| text.replace('|', "\\|");
    let mut out = String::from("| Layer | Takes | What | Example |\n|---|---|---|---|\n");
    for kind in kinds() {
        let usage = if kind.join {
            // A join's signature is already in backticks, as messages show it.
            kind.usage.clone()
        } else {
            format!("`{}`", kind.usage)
        };
        out += &format!(
            "| {} | {} | {} | `{}` |\n",
            cell(&usage),
            // Brackets escaped: rustdoc would read `[features]` as a link.
            cell(&format!("{} input", kind.input_words))
                .replace('[', "\\[")
                .replace(']', "\\]"),
            cell(kind.doc),
            cell(kind.example)
        );
    }
    out
}
