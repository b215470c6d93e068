//! The `network!` language on arbitrary token streams: whatever it is given, nn-dsl
//! returns Rust items — the network, or spanned `compile_error!`s beside a placeholder
//! struct — and never panics. The same property as nn-dsl's `tests/never_panics.rs`,
//! reached by coverage instead of by a grammar.
//!
//! Input layout: if byte 0 is even, the rest is source text (skipped unless it is UTF-8
//! that lexes, as rustc never calls a macro on anything else). If it is odd, every further
//! byte picks a token from a vocabulary of the language's words, or opens or closes a
//! group, so that mutations move through well-formed token trees.
//!
//! cargo +nightly fuzz run network_dsl -- -max_total_time=600

#![no_main]

use libfuzzer_sys::fuzz_target;
use proc_macro2::TokenStream;

/// Words of the grammar and of its usual mistakes; the layer kinds come from nn-dsl.
const WORDS: &[&str] = &[
    "pub",
    "struct",
    "Net",
    ":",
    "tokens",
    "floats",
    ",",
    "=",
    "#",
    "!",
    "::",
    "-",
    "*",
    "/",
    "+",
    "'a",
    "\"s\"",
    "///doc\n",
    "self",
    "r#Dense",
    "Dence",
    "units",
    "filters",
    "kernel",
    "stride",
    "padding",
    "dilation",
    "groups",
    "bias",
    "return_sequences",
    "activation",
    "shortcut",
    "valid",
    "same",
    "true",
    "false",
    "K",
    "SIZE",
    "u8",
    "0",
    "1",
    "2",
    "3",
    "5",
    "28",
    "64",
    "99999999999999999999999",
    "0.5",
    "1e400",
    "-1",
    "1.0",
];

/// Source text from a byte program: 0, 1 and 2 open a group (parentheses, brackets,
/// braces), 3 closes the innermost one, anything else is a word or a layer kind. Groups
/// left open are closed at the end, so the text always lexes.
fn token_soup(program: &[u8]) -> String {
    let kinds: Vec<&str> = nn_dsl::layer_kinds().collect();
    let (mut text, mut open) = (String::new(), Vec::new());
    for &b in program {
        match b {
            0..=2 => {
                let (opening, closing) = [("(", ')'), ("[", ']'), ("{", '}')][b as usize];
                text.push(' ');
                text.push_str(opening);
                open.push(closing);
            }
            3 => {
                if let Some(close) = open.pop() {
                    text.push(close);
                }
            }
            _ => {
                let i = (b - 4) as usize % (WORDS.len() + kinds.len());
                text.push(' ');
                text.push_str(
                    WORDS
                        .get(i)
                        .copied()
                        .unwrap_or_else(|| kinds[i - WORDS.len()]),
                );
            }
        }
    }
    while let Some(close) = open.pop() {
        text.push(close);
    }
    text
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let source = if mode % 2 == 0 {
        match std::str::from_utf8(rest) {
            Ok(text) => text.to_string(),
            Err(_) => return,
        }
    } else {
        token_soup(rest)
    };
    let Ok(tokens) = source.parse::<TokenStream>() else {
        return;
    };
    // A panic here is the finding itself; libFuzzer reports it with the input.
    let output = nn_dsl::network(tokens);
    let text = output.to_string();
    let file = match syn::parse2::<syn::File>(output) {
        Ok(file) => file,
        Err(e) => panic!("`{source}` gave unparsable items ({e}): {text}"),
    };
    let has_error = text.contains("compile_error");
    let has_impl = file.items.iter().any(|i| matches!(i, syn::Item::Impl(_)));
    assert!(
        has_error != has_impl,
        "`{source}` must give either errors or the network: {text}"
    );
});
