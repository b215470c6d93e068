//! Layer arguments: what each kind of argument may be ([`ArgType`]), a kind's arguments
//! declared once as a typed struct ([`args!`]), and the matching of what the user wrote to
//! them ([`Slots`]).
//!
//! A declaration names each argument, its type and, where it has one, its default written
//! as the user would write it (`bias: Flag = "true"`); the default goes through the same
//! parser as the user's value, so it is typed and checked the same way, and the signature in
//! messages shows it as written. An argument that only has a meaning when given is
//! `name: Type or "what it is otherwise"` and reads as an `Option`. Shape rules receive the
//! typed struct: a required argument the user left out is an error before any rule runs,
//! never a value made up in its place.

mod slots;
mod values;

pub use slots::Slots;
pub use values::*;

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

/// One of a few words, as an enum: `choice! { pub enum Act { Tanh = "tanh", Relu = "relu" } }`.
macro_rules! choice {
    ($(#[$attr:meta])* $vis:vis enum $name:ident { $($variant:ident = $word:literal),+ $(,)? }) => {
        $(#[$attr])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        $vis enum $name { $($variant),+ }

        impl $crate::args::ArgType for $name {
            type Value = $name;
            const KIND: $crate::args::ArgKind = $crate::args::ArgKind::Choice(&[$($word),+]);
            fn parse(
                expr: &syn::Expr,
                param: &$crate::args::Param,
                a: &$crate::args::ArgCx<'_>,
            ) -> Result<$name, $crate::ctxt::Reported> {
                let word = $crate::args::word(expr);
                $(if word.as_deref() == Some($word) {
                    return Ok($name::$variant);
                })+
                Err($crate::args::choice_error(expr, param, &[$($word),+], a))
            }
        }
    };
}
pub(crate) use choice;

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

/// A kind's arguments as a typed struct, with their declarations.
pub trait Args: Sized {
    const PARAMS: &'static [Param];
    /// The values of the arguments matched in `slots`; every problem is reported.
    fn parse(slots: &Slots<'_>, a: &ArgCx<'_>) -> Result<Self, Reported>;
}

/// The arguments of a kind that takes none.
pub struct NoArgs;

impl Args for NoArgs {
    const PARAMS: &'static [Param] = &[];
    fn parse(_: &Slots<'_>, _: &ArgCx<'_>) -> Result<Self, Reported> {
        Ok(NoArgs)
    }
}

/// Declares a kind's arguments once: the typed struct, its [`Param`]s and its parser.
///
/// ```text
/// args! {
///     pub struct DenseArgs {
///         /// the number of units
///         units: Count,
///         /// whether a bias is added
///         bias: Flag = "true",
///         /// the stride
///         stride: Pair or "window",
///     }
/// }
/// ```
///
/// Each field's doc comment is the argument in words, for messages; a field with `= "…"` has
/// that default; one with `or "…"` is an `Option`, `None` when left out.
macro_rules! args {
    (
        $(#[$attr:meta])*
        pub struct $name:ident {
            $(
                #[doc = $what:literal]
                $field:ident : $ty:ident $(= $default:literal)? $(or $derived:literal)?
            ),* $(,)?
        }
    ) => {
        $(#[$attr])*
        pub struct $name {
            $(pub $field: $crate::args::args!(@type $ty [$($default)?] [$($derived)?]),)*
        }

        impl $crate::args::Args for $name {
            const PARAMS: &'static [$crate::args::Param] = &[$(
                $crate::args::Param {
                    name: stringify!($field),
                    kind: <$ty as $crate::args::ArgType>::KIND,
                    default: $crate::args::args!(@default [$($default)?] [$($derived)?]),
                    what: $crate::args::trim_doc($what),
                },
            )*];

            #[allow(unused_assignments, unused_variables, unused_mut)]
            fn parse(
                slots: &$crate::args::Slots<'_>,
                a: &$crate::args::ArgCx<'_>,
            ) -> Result<Self, $crate::ctxt::Reported> {
                let mut slot = 0;
                $(
                    let $field = $crate::args::args!(
                        @read slots, a, slot, $ty [$($default)?] [$($derived)?]
                    );
                    slot += 1;
                )*
                Ok($name { $($field: $field?,)* })
            }
        }
    };
    (@type $ty:ident [] []) => { $crate::args::Spanned<<$ty as $crate::args::ArgType>::Value> };
    (@type $ty:ident [$default:literal] []) => { $crate::args::Spanned<<$ty as $crate::args::ArgType>::Value> };
    (@type $ty:ident [] [$derived:literal]) => {
        ::core::option::Option<$crate::args::Spanned<<$ty as $crate::args::ArgType>::Value>>
    };
    (@default [] []) => { $crate::args::Default::Required };
    (@default [$default:literal] []) => { $crate::args::Default::Value($default) };
    (@default [] [$derived:literal]) => { $crate::args::Default::Derived($derived) };
    (@read $slots:ident, $a:ident, $slot:ident, $ty:ident [] []) => {
        $slots.required::<$ty>($slot, $a)
    };
    (@read $slots:ident, $a:ident, $slot:ident, $ty:ident [$default:literal] []) => {
        $slots.or_default::<$ty>($slot, $default, $a)
    };
    (@read $slots:ident, $a:ident, $slot:ident, $ty:ident [] [$derived:literal]) => {
        $slots.optional::<$ty>($slot, $a)
    };
}
pub(crate) use args;

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
