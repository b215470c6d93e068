//! The vocabulary of argument declarations: what a parameter is, what kind of value it
//! takes, its default, and the traits a kind's arguments and each kind of value implement.

use crate::ctxt::{Ctxt, Reported};
use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::Expr;

/// What an argument must be, as messages, the reference and the never-panics property see
/// it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ArgKind {
    /// A positive size: an integer literal, or a const expression (`HIDDEN`, `2 * C`) whose
    /// positivity rustc checks (units, filters, a 1-D kernel).
    Count,
    /// A positive size or a pair `(h, w)` of them (a 2-D kernel, stride or window).
    Size,
    /// `valid`, `same`, a size, or (when `pair`) a pair of sizes: zeros around the input.
    Padding { pair: bool },
    /// A number of zeros, 0 included, or (when `pair`) a pair of them: a pooling's padding,
    /// which has no `valid` or `same`.
    Zeros { pair: bool },
    /// `true` or `false`.
    Bool,
    /// A number literal, possibly negative, within a range.
    Number(Range),
    /// One of these words.
    Choice(&'static [&'static str]),
    /// The path of a type.
    Type,
    /// A layer of one of these kinds, written as it is on its own (`LSTM(64)`).
    Layer(&'static [&'static str]),
    /// A list `[a, b, c]` of one to three positive sizes: a sample's shape.
    Sizes,
    /// A list `[1, 0]` of a sample's dimensions, 0-based: an order of them.
    Axes,
}

/// Bounds of a number argument.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Range {
    pub min: f64,
    pub min_inclusive: bool,
    pub max: f64,
    pub max_inclusive: bool,
}

impl Range {
    pub fn contains(&self, v: f64) -> bool {
        let above = if self.min_inclusive {
            v >= self.min
        } else {
            v > self.min
        };
        let below = if self.max_inclusive {
            v <= self.max
        } else {
            v < self.max
        };
        above && below
    }

    /// `in [0, 1)`, `> 0`, …
    pub fn describe(&self) -> String {
        match (self.min.is_finite(), self.max.is_finite()) {
            (true, true) => format!(
                "in {}{}, {}{}",
                if self.min_inclusive { "[" } else { "(" },
                self.min,
                self.max,
                if self.max_inclusive { "]" } else { ")" }
            ),
            (true, false) => format!(
                "{} {}",
                if self.min_inclusive { ">=" } else { ">" },
                self.min
            ),
            (false, true) => format!(
                "{} {}",
                if self.max_inclusive { "<=" } else { "<" },
                self.max
            ),
            (false, false) => "a number".to_string(),
        }
    }
}

/// One argument of a layer kind.
#[derive(Debug)]
pub struct Param {
    pub name: &'static str,
    pub kind: ArgKind,
    pub default: Default,
    /// The argument in words, for messages ("the number of units").
    pub what: &'static str,
}

/// What an argument is when the user leaves it out.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Default {
    /// Nothing: it must be given.
    Required,
    /// This value, as a user would write it (`true`, `valid`, `1e-5`).
    Value(&'static str),
    /// Something the layer works out, in words (`window`, `inferred`).
    Derived(&'static str),
}

impl Param {
    /// `name`, or `name = default` as the signature shows it.
    pub fn usage(&self) -> String {
        match self.default {
            Default::Required => self.name.to_string(),
            Default::Value(d) | Default::Derived(d) => format!("{} = {d}", self.name),
        }
    }
}

/// The signature as a user writes it: `Conv2d(filters, kernel, stride = 1, padding = valid)`.
pub fn usage(name: &str, params: &[Param]) -> String {
    if params.is_empty() {
        return name.to_string();
    }
    let params: Vec<String> = params.iter().map(Param::usage).collect();
    format!("{name}({})", params.join(", "))
}

/// A checked value and the expression it came from (`None` for a default), where errors
/// about it point.
#[derive(Clone)]
pub struct Spanned<V> {
    pub value: V,
    pub expr: Option<Expr>,
}

impl<V> ToTokens for Spanned<V> {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        if let Some(expr) = &self.expr {
            expr.to_tokens(tokens);
        }
    }
}

/// What parsing a value needs: where errors go, and the layer as const assertions name it.
pub struct ArgCx<'a> {
    pub cx: &'a Ctxt,
    /// "Conv2d `conv1`", or "Conv2d".
    pub label: &'a str,
}

/// A kind of argument: how a user's expression becomes a checked value.
pub trait ArgType {
    type Value: Clone;
    const KIND: ArgKind;
    fn parse(expr: &Expr, param: &Param, a: &ArgCx<'_>) -> Result<Self::Value, Reported>;
}

/// The word `expr` is, if it is one.
pub fn word(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Path(p) => p.path.get_ident().map(|i| i.to_string()),
        _ => None,
    }
}

pub fn choice_error(expr: &Expr, param: &Param, words: &[&str], a: &ArgCx<'_>) -> Reported {
    let words: Vec<String> = words.iter().map(|w| format!("`{w}`")).collect();
    a.cx.error_spanned_by(
        expr,
        format_args!("`{}` is {}", param.name, words.join(" or ")),
    )
}

/// A doc comment's text without the space `///` leaves before it.
pub const fn trim_doc(doc: &'static str) -> &'static str {
    match doc.as_bytes() {
        [b' ', ..] => {
            let (_, rest) = doc.split_at(1);
            rest
        }
        _ => doc,
    }
}
