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
//!
//! A network with several inputs names them, `pub struct Captioner: (image: [1, 28, 28],
//! text: tokens[8]) { … }`; its paths read one by name (`Zip { { image, Conv2d(…) }, … }`).
//!
//! Joins hold chains of layers in braces: `Residual { … }` optionally followed by
//! `shortcut { … }`, and `Concat { { … }, { … } }` / `Add { … }` whose branches may be named
//! (`a: { … }`).

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{bracketed, parenthesized, Attribute, Expr, Ident, Token, Visibility};

pub struct NetworkDef {
    pub attrs: Vec<Attribute>,
    /// `#[mixed_precision(bf16)]`: the training passes multiply in bf16.
    pub mixed_bf16: bool,
    pub vis: Visibility,
    pub name: Ident,
    /// `<const IN: usize, …>`: sizes the network is generic over.
    pub generics: syn::Generics,
    pub input: InputDef,
    pub layers: Vec<LayerDef>,
    pub body_span: Span,
}

/// What a network reads: one sample, or several named ones.
pub enum InputDef {
    One(InputShape),
    /// `(name: shape, …)` and the parentheses.
    Parts(Vec<(Ident, InputShape)>, Span),
}

/// `[784]`, or `tokens[100]`.
pub struct InputShape {
    pub dims: Vec<Expr>,
    /// `tokens` before the brackets: the input holds token ids (for `Embedding`).
    pub tokens: Option<Ident>,
    /// The brackets.
    pub span: Span,
}

impl Parse for InputShape {
    fn parse(input: ParseStream) -> syn::Result<Self> {
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
        let dims: Punctuated<Expr, Token![,]> = dims.parse_terminated(Expr::parse, Token![,])?;
        Ok(InputShape {
            dims: dims.into_iter().collect(),
            tokens,
            span: bracket.span.join(),
        })
    }
}

impl Parse for InputDef {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if !input.peek(syn::token::Paren) {
            return Ok(InputDef::One(input.parse()?));
        }
        let content;
        let paren = parenthesized!(content in input);
        let mut parts = Vec::new();
        while !content.is_empty() {
            let name: Ident = content.parse()?;
            content.parse::<Token![:]>()?;
            parts.push((name, content.parse()?));
            if content.is_empty() {
                break;
            }
            content.parse::<Token![,]>()?;
        }
        Ok(InputDef::Parts(parts, paren.span.join()))
    }
}

pub struct LayerDef {
    pub name: Option<Ident>,
    pub kind: Ident,
    pub args: Vec<Arg>,
    /// The argument list's parentheses, when written.
    pub paren_span: Option<Span>,
    /// The paths of a join, written in braces after the layer: `Residual { … }`,
    /// `Concat { { … }, { … } }`.
    pub block: Option<Block>,
}

/// What a join holds between braces.
pub struct Block {
    /// The braces.
    pub span: Span,
    pub content: BlockContent,
    /// `shortcut { … }` after the braces (a residual block's projection).
    pub shortcut: Option<Path>,
}

pub enum BlockContent {
    /// A chain of layers: `Residual { Conv2d(16, 3), Relu, … }`.
    Chain(Vec<LayerDef>),
    /// Parallel branches: `Concat { { … }, name: { … } }`.
    Branches(Vec<Path>),
}

/// A chain of layers in braces, optionally named.
pub struct Path {
    pub name: Option<Ident>,
    pub layers: Vec<LayerDef>,
    /// The braces.
    pub span: Span,
}

/// Layers separated by commas (a trailing comma allowed), up to the end of `input`.
fn parse_layers(input: ParseStream) -> syn::Result<Vec<LayerDef>> {
    let mut layers = Vec::new();
    while !input.is_empty() {
        layers.push(input.parse()?);
        if input.is_empty() {
            break;
        }
        input.parse::<Token![,]>()?;
    }
    Ok(layers)
}

/// `[name:] { layers }`
fn parse_path(input: ParseStream) -> syn::Result<Path> {
    let name = if input.peek(Ident) && input.peek2(Token![:]) {
        let name: Ident = input.parse()?;
        input.parse::<Token![:]>()?;
        Some(name)
    } else {
        None
    };
    let content;
    let brace = syn::braced!(content in input);
    Ok(Path {
        name,
        layers: parse_layers(&content)?,
        span: brace.span.join(),
    })
}

impl Parse for Block {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let content;
        let brace = syn::braced!(content in input);
        // Branches start with braces (or `name: {`); anything else is a chain of layers.
        let branches = content.peek(syn::token::Brace)
            || (content.peek(Ident) && content.peek2(Token![:]) && {
                let fork = content.fork();
                fork.parse::<Ident>().is_ok()
                    && fork.parse::<Token![:]>().is_ok()
                    && fork.peek(syn::token::Brace)
            });
        let block_content = if branches {
            let mut paths = Vec::new();
            while !content.is_empty() {
                paths.push(parse_path(&content)?);
                if content.is_empty() {
                    break;
                }
                content.parse::<Token![,]>()?;
            }
            BlockContent::Branches(paths)
        } else {
            BlockContent::Chain(parse_layers(&content)?)
        };
        let shortcut = if input.peek(Ident) && input.peek2(syn::token::Brace) {
            let fork = input.fork();
            match fork.parse::<Ident>() {
                Ok(word) if word == "shortcut" => {
                    input.parse::<Ident>()?;
                    let mut path = parse_path(input)?;
                    path.name = Some(word);
                    Some(path)
                }
                _ => None,
            }
        } else {
            None
        };
        Ok(Block {
            span: brace.span.join(),
            content: block_content,
            shortcut,
        })
    }
}

pub enum Arg {
    Positional(Expr),
    Named { name: Ident, value: Expr },
}

/// Removes `#[mixed_precision(bf16)]` from the network's attributes (it is the macro's,
/// not the struct's): whether it was there.
fn take_mixed_precision(attrs: &mut Vec<Attribute>) -> syn::Result<bool> {
    let mut found = false;
    let mut error = None;
    attrs.retain(|attr| {
        if !attr.path().is_ident("mixed_precision") {
            return true;
        }
        match attr.parse_args::<Ident>() {
            Ok(p) if p == "bf16" => found = true,
            _ => {
                error.get_or_insert_with(|| {
                    syn::Error::new_spanned(
                        attr,
                        "`mixed_precision` takes the precision of the training products: `#[mixed_precision(bf16)]`",
                    )
                });
            }
        }
        false
    });
    match error {
        Some(e) => Err(e),
        None => Ok(found),
    }
}

impl Parse for NetworkDef {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut attrs = input.call(Attribute::parse_outer)?;
        let mixed_bf16 = take_mixed_precision(&mut attrs)?;
        let vis: Visibility = input.parse()?;
        input.parse::<Token![struct]>()?;
        let name: Ident = input.parse()?;
        let generics: syn::Generics = input.parse()?;
        input.parse::<Token![:]>()?;
        let network_input: InputDef = input.parse()?;
        let body;
        let brace = syn::braced!(body in input);
        let layers = parse_layers(&body)?;
        if !input.is_empty() {
            return Err(input.error("unexpected tokens after the network's body"));
        }
        Ok(NetworkDef {
            attrs,
            mixed_bf16,
            vis,
            name,
            generics,
            input: network_input,
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
        let block = if input.peek(syn::token::Brace) {
            Some(input.parse()?)
        } else {
            None
        };
        Ok(LayerDef {
            name,
            kind,
            args,
            paren_span,
            block,
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
