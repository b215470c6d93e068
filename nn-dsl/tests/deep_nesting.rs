//! Inputs nested far deeper than any network (found by the `network_dsl` fuzz target) get
//! a spanned error, not a stack overflow: parsing, resolution and expansion recurse once
//! per level of nesting.

use proc_macro2::TokenStream;

fn expand(source: &str) -> String {
    let tokens: TokenStream = source.parse().unwrap();
    let output = nn_dsl::network(tokens);
    let text = output.to_string();
    syn::parse2::<syn::File>(output).unwrap_or_else(|e| panic!("unparsable items ({e}): {text}"));
    text
}

fn nested(depth: usize, open: &str, inner: &str, close: &str) -> String {
    format!("{}{inner}{}", open.repeat(depth), close.repeat(depth))
}

#[test]
fn residuals_nested_a_thousand_deep_are_an_error() {
    let body = nested(1000, "Residual { ", "Relu", " }");
    let text = expand(&format!("pub struct Net: [4] {{ {body} }}"));
    assert!(text.contains("nested more than 64 deep"), "{text}");
    // The placeholder struct keeps later uses of the name from burying the error.
    assert!(text.contains("pub struct Net"), "{text}");
}

#[test]
fn arguments_nested_a_thousand_deep_are_an_error() {
    let arg = nested(1000, "(", "3", ")");
    let text = expand(&format!("pub struct Net: [4] {{ Dense({arg}) }}"));
    assert!(text.contains("nested more than 64 deep"), "{text}");
}

#[test]
fn joins_nested_moderately_still_expand() {
    let body = nested(8, "Residual { ", "Dense(4), Relu", " }");
    let text = expand(&format!("pub struct Net: [4] {{ {body} }}"));
    assert!(!text.contains("compile_error"), "{text}");
}
