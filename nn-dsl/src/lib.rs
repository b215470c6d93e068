//! The language of typed-nn's `network!` macro, on `proc_macro2` tokens, so that it runs —
//! and is tested and fuzzed — outside a compiler; the `nn-macros` crate is only its
//! proc-macro entry point.
//!
//! # Map
//!
//! The input goes through three passes, each a module of its own, over one table of layer
//! kinds:
//!
//! - `ast.rs`: the grammar, parsed into a small AST that keeps spans.
//! - The table: `kinds/` holds one declaration per layer kind (a type implementing
//!   `kind::Kind`: name, one-line doc, example, accepted inputs, flags, typed arguments and
//!   shape rule), grouped in files by family; `kinds/mod.rs` lists them. `args.rs` is how
//!   arguments are declared (`args!`: a typed struct whose defaults are written once) and
//!   matched; `kind.rs` what a declaration holds; `rule.rs` what a shape rule gets and
//!   gives. Everything else — argument checks, "did you mean", the known-layer message, the
//!   reference documentation ([`reference()`]) and the never-panics property — reads the table.
//! - Resolution (`resolve.rs`, with `joins.rs` for the paths of joins): every layer checked
//!   against the table and its rule applied to its input; the result is the network as
//!   `ir.rs` describes it.
//! - Fusion (`fuse.rs`): activations and poolings merged into the layer before, as the
//!   declarations' flags allow.
//! - Expansion (`expand/`): the code, one function per generated item.
//! - ONNX (`onnx/`): a second front end, `network! { … : onnx("model.onnx") }`, that maps an
//!   ONNX graph's nodes to the table (folding the shape computations exporters write,
//!   following self-attention as a region) and writes `network!` text for the same passes.
//!
//! Sizes are `Dim`s: numbers the macro computes, or const expressions left to rustc
//! as assertions that name the layer (`dim.rs`); a generic network's size parameters and the
//! shape types its computed sizes need are explicit context (`sizes.rs`), passed to every
//! pass with the path to the runtime (`shape::Env`). Errors go to a `Ctxt` (`ctxt.rs`) that
//! collects them all.
//!
//! [`network`] never panics: any input yields either the network's items or spanned
//! `compile_error!`s (plus a placeholder struct, so that later uses of the name do not bury
//! the real error).

mod args;
mod ast;
mod ctxt;
mod decl;
mod dim;
mod expand;
mod fuse;
mod ir;
mod joins;
mod kind;
mod kinds;
pub mod onnx;
mod reference;
mod resolve;
mod rule;
mod shape;
mod sizes;
mod suggest;

pub use reference::{kinds, reference, ArgDefault, ArgKind, KindInfo, ParamInfo, Range};

use proc_macro2::{TokenStream, TokenTree};
use quote::quote;
use shape::Env;
use sizes::SizeParams;

/// The one path through which generated code reaches the runtime: a hidden module of the
/// `typed-nn` facade that re-exports everything the expansion names.
fn runtime_path() -> TokenStream {
    quote!(::typed_nn::__private)
}

/// Expands `network! { … }`'s input into the network's items, or into its errors.
pub fn network(input: TokenStream) -> TokenStream {
    if onnx::OnnxDef::peek(&input) {
        return match syn::parse2::<onnx::OnnxDef>(input.clone()) {
            Ok(def) => onnx::network(&def, &runtime_path()),
            Err(error) => parse_fallback(&input, error),
        };
    }
    if let Some(span) = nested_too_deep(&input) {
        let message = format!("groups nested more than {MAX_NESTING} deep");
        return parse_fallback(&input, syn::Error::new(span, message));
    }
    let def = match syn::parse2::<ast::NetworkDef>(input.clone()) {
        Ok(def) => def,
        Err(error) => return parse_fallback(&input, error),
    };
    let cx = ctxt::Ctxt::new();
    let rt = runtime_path();
    let sizes = SizeParams::new(size_params(&def, &cx), def.name.clone());
    let env = Env {
        rt: &rt,
        sizes: &sizes,
    };
    let resolved = resolve::network(&def, resolve::Resolver { cx: &cx, env });
    let const_checks = cx.take_const_checks();
    match (cx.check(), resolved) {
        (Err(error), _) => expand::fallback(&def, error),
        (Ok(()), Ok((input, layers))) => {
            let layers = fuse::chain(layers, env);
            expand::network(&def, &input, &layers, &const_checks, env)
        }
        // A failed resolution holds the proof (`Reported`) that an error was recorded, so
        // `check` failed above; the message is a safeguard, not a path taken.
        (Ok(()), Err(_)) => expand::fallback(
            &def,
            syn::Error::new(def.body_span, "this network could not be resolved"),
        ),
    }
}

/// Expands `network! { pub struct Imported: onnx(…) }` for the ONNX file whose bytes are
/// `bytes` (what the fuzz target and tests drive): the network's items, or its errors.
pub fn onnx_network_from_bytes(bytes: &[u8]) -> TokenStream {
    let def = onnx::OnnxDef {
        attrs: Vec::new(),
        vis: syn::Visibility::Inherited,
        name: proc_macro2::Ident::new("Imported", proc_macro2::Span::call_site()),
        path: syn::LitStr::new("model.onnx", proc_macro2::Span::call_site()),
    };
    onnx::network_from_bytes(
        &def,
        bytes,
        None,
        &runtime_path(),
        proc_macro2::Span::call_site(),
    )
}

/// The network's generic parameters, which must be sizes (`const N: usize`); errors go to
/// `cx`.
fn size_params(def: &ast::NetworkDef, cx: &ctxt::Ctxt) -> Vec<syn::Ident> {
    let mut params = Vec::new();
    for param in &def.generics.params {
        match param {
            syn::GenericParam::Const(c) => {
                let ty = &c.ty;
                if quote!(#ty).to_string() != "usize" {
                    cx.error_spanned_by(
                        ty,
                        format_args!(
                            "a network's parameters are sizes: `const {}: usize`",
                            c.ident
                        ),
                    );
                }
                params.push(c.ident.clone());
            }
            syn::GenericParam::Type(t) => {
                cx.error_spanned_by(
                    t,
                    format_args!(
                        "a network is generic over sizes only: `const {}: usize`",
                        t.ident
                    ),
                );
            }
            syn::GenericParam::Lifetime(l) => {
                cx.error_spanned_by(l, "a network takes no lifetime parameters");
            }
        }
    }
    params
}

/// The deepest nesting of delimited groups accepted. Parsing, resolution and expansion each
/// recurse once per level (joins inside joins, parentheses inside arguments), so input
/// nested a few hundred deep would overflow the stack; no real network comes near this.
const MAX_NESTING: usize = 64;

/// The span of the first group nested deeper than [`MAX_NESTING`], found without recursion.
fn nested_too_deep(input: &TokenStream) -> Option<proc_macro2::Span> {
    let mut stack = vec![input.clone().into_iter()];
    while let Some(tokens) = stack.last_mut() {
        match tokens.next() {
            Some(TokenTree::Group(group)) => {
                if stack.len() > MAX_NESTING {
                    return Some(group.span());
                }
                stack.push(group.stream().into_iter());
            }
            Some(_) => {}
            None => {
                stack.pop();
            }
        }
    }
    None
}

/// The names of every layer kind `network!` knows, in the order of the table.
pub fn layer_kinds() -> impl Iterator<Item = &'static str> {
    kinds::all().map(kind::KindEntry::name)
}

/// After a syntax error, the error and — when the input still says `struct Name` — an empty
/// struct of that name, as after any other error.
fn parse_fallback(input: &TokenStream, error: syn::Error) -> TokenStream {
    let error = error.to_compile_error();
    let mut tokens = input.clone().into_iter();
    let mut visibility = TokenStream::new();
    while let Some(token) = tokens.next() {
        match &token {
            TokenTree::Ident(word) if word == "pub" => visibility = quote!(pub),
            TokenTree::Ident(word) if word == "struct" => {
                // A keyword in the name's place is no name (syn's `Ident` rejects it).
                let name = tokens
                    .next()
                    .and_then(|t| syn::parse2::<syn::Ident>(t.into()).ok());
                if let Some(name) = name {
                    return quote! {
                        #error
                        #visibility struct #name {}
                    };
                }
                break;
            }
            _ => {}
        }
    }
    error
}
