//! The grammar of `network!`, parsed into a small AST that keeps spans.
//!
//! ```text
//! network! {
//!     #[attributes] /// docs
//!     pub struct Name: [784] {
//!         fc1: Dense(64), Relu,          // `name:` is optional
//!         Dense(10), Softmax,
//!     }
//! }
//! ```

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{bracketed, parenthesized, Attribute, Expr, Ident, LitInt, Token, Visibility};

pub struct NetworkDef {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub name: Ident,
    pub input: Vec<LitInt>,
    /// `tokens` before the input shape: the input holds token ids (for `Embedding`).
    pub tokens: Option<Ident>,
    pub input_span: Span,
    pub layers: Vec<LayerDef>,
    pub body_span: Span,
}

pub struct LayerDef {
    pub name: Option<Ident>,
    pub kind: Ident,
    pub args: Vec<Arg>,
    /// The argument list's parentheses, when written.
    pub paren_span: Option<Span>,
}

pub enum Arg {
    Positional(Expr),
    Named { name: Ident, value: Expr },
}

impl Parse for NetworkDef {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        input.parse::<Token![struct]>()?;
        let name: Ident = input.parse()?;
        input.parse::<Token![:]>()?;
        let tokens = if input.peek(Ident) {
            let word: Ident = input.parse()?;
            if word != "tokens" {
                return Err(syn::Error::new(
                    word.span(),
                    "expected an input shape such as `[784]`, or `tokens[100]` for token ids",
                ));
            }
            Some(word)
        } else {
            None
        };
        let dims;
        let bracket = bracketed!(dims in input);
        let input_dims: Punctuated<LitInt, Token![,]> =
            dims.parse_terminated(LitInt::parse, Token![,])?;
        let body;
        let brace = syn::braced!(body in input);
        let mut layers = Vec::new();
        while !body.is_empty() {
            layers.push(body.parse()?);
            if body.is_empty() {
                break;
            }
            body.parse::<Token![,]>()?;
        }
        if !input.is_empty() {
            return Err(input.error("unexpected tokens after the network's body"));
        }
        Ok(NetworkDef {
            attrs,
            vis,
            name,
            input: input_dims.into_iter().collect(),
            tokens,
            input_span: bracket.span.join(),
            layers,
            body_span: brace.span.join(),
        })
    }
}

impl Parse for LayerDef {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let name = if input.peek(Ident) && input.peek2(Token![:]) && !input.peek2(Token![::]) {
            let name: Ident = input.parse()?;
            input.parse::<Token![:]>()?;
            Some(name)
        } else {
            None
        };
        let kind: Ident = input.parse().map_err(|e| {
            syn::Error::new(e.span(), "expected a layer, such as `Dense(64)` or `Relu`")
        })?;
        let (args, paren_span) = if input.peek(syn::token::Paren) {
            let content;
            let paren = parenthesized!(content in input);
            let args: Punctuated<Arg, Token![,]> =
                content.parse_terminated(Arg::parse, Token![,])?;
            (args.into_iter().collect(), Some(paren.span.join()))
        } else {
            (Vec::new(), None)
        };
        Ok(LayerDef {
            name,
            kind,
            args,
            paren_span,
        })
    }
}

impl Parse for Arg {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(Ident) && input.peek2(Token![=]) && !input.peek2(Token![==]) {
            let name = input.parse()?;
            input.parse::<Token![=]>()?;
            Ok(Arg::Named {
                name,
                value: input.parse()?,
            })
        } else {
            Ok(Arg::Positional(input.parse()?))
        }
    }
}
