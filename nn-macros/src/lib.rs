//! The `network!` macro of typed-nn. The language itself (grammar, layer table, shape rules,
//! code generation) lives in `nn-dsl`, on proc-macro2, so that it can be tested and fuzzed
//! outside a compiler; this crate is only the entry point.
//!
//! Use it through the `typed-nn` crate, which documents the grammar.

use proc_macro::TokenStream;

/// Declares a network type. See the `typed_nn` crate documentation for the grammar.
#[proc_macro]
pub fn network(input: TokenStream) -> TokenStream {
    nn_dsl::network(input.into()).into()
}
