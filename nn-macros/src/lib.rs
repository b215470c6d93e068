//! The `network!` macro of typed-nn. It parses a declarative layer list, infers and checks
//! every intermediate shape, and writes the glue (struct, forward, backward, parameter
//! visiting, summary) that chains the layers of `nn-runtime`. It does no arithmetic.
//!
//! Use it through the `typed-nn` crate, which documents the grammar.

mod ast;
mod ctxt;
mod expand;
mod shape;

use proc_macro::TokenStream;

/// Declares a network type. See the `typed_nn` crate documentation for the grammar.
#[proc_macro]
pub fn network(input: TokenStream) -> TokenStream {
    let def = syn::parse_macro_input!(input as ast::NetworkDef);
    expand::network(def).into()
}
