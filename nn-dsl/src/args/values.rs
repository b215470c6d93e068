//! The kinds of arguments: how a user's expression becomes a checked value of each.

use super::param::{ArgCx, ArgKind, ArgType, Param, Range};
use crate::ctxt::{Ctxt, Reported};
use crate::dim::{self, Cmp, Dim};
use syn::{Expr, Lit};

/// A positive size.
pub struct Count;
/// A positive size, or a pair `(h, w)` of them.
pub struct Pair;
/// `valid`, `same`, or a number of zeros on each side of a 1-D input.
pub struct Padding1;
/// `valid`, `same`, a number of zeros, or a pair `(h, w)` of them.
pub struct Padding2;
/// A number of zeros, 0 included.
pub struct Zeros1;
/// A number of zeros, or a pair `(h, w)` of them.
pub struct Zeros2;
/// `true` or `false`.
pub struct Flag;
/// A list `[a, b, c]` of one to three positive sizes.
pub struct Sizes;
/// A list `[1, 0]` of dimensions, 0-based integer literals.
pub struct Axes;
/// A number above 0 (`eps`).
pub struct Positive;
/// A number in [0, 1) (a dropout rate).
pub struct Fraction;
/// A number in [0, 1] (a momentum).
pub struct UnitInterval;
/// Any finite number (a slope).
pub struct Real;
/// The path of a type (`Net(Encoder)`).
pub struct TypePath;

/// Zeros around a convolution's input.
#[derive(Clone)]
pub enum Padding {
    /// None: every window lies inside the input.
    Valid,
    /// As much as keeps the output at ⌈input / stride⌉, split as TensorFlow does (the odd
    /// one after); PyTorch's `padding="same"` at stride 1.
    Same,
    /// This many on each side (top and bottom, left and right): PyTorch's integer padding.
    Explicit(Dim, Dim),
}

impl ArgType for Count {
    type Value = Dim;
    const KIND: ArgKind = ArgKind::Count;
    fn parse(expr: &Expr, param: &Param, a: &ArgCx<'_>) -> Result<Dim, Reported> {
        size_value(expr, param.what, a.label, a.cx)
    }
}

impl ArgType for Pair {
    type Value = (Dim, Dim);
    const KIND: ArgKind = ArgKind::Size;
    fn parse(expr: &Expr, param: &Param, a: &ArgCx<'_>) -> Result<(Dim, Dim), Reported> {
        let what = param.what;
        match expr {
            Expr::Tuple(t) if t.elems.len() == 2 => Ok((
                size_value(&t.elems[0], what, a.label, a.cx)?,
                size_value(&t.elems[1], what, a.label, a.cx)?,
            )),
            Expr::Tuple(_) | Expr::Array(_) => Err(a.cx.error_spanned_by(
                expr,
                format_args!("{what} must be a positive integer or a pair such as `(3, 5)`"),
            )),
            e => size_value(e, what, a.label, a.cx).map(|d| (d.clone(), d)),
        }
    }
}

fn parse_padding(
    expr: &Expr,
    param: &Param,
    a: &ArgCx<'_>,
    pair: bool,
) -> Result<Padding, Reported> {
    if let Expr::Path(p) = expr {
        if p.path.is_ident("valid") {
            return Ok(Padding::Valid);
        }
        if p.path.is_ident("same") {
            return Ok(Padding::Same);
        }
    }
    match zeros_value(expr, pair) {
        Some((h, w)) => Ok(Padding::Explicit(h, w)),
        None => Err(a.cx.error_spanned_by(
            expr,
            format_args!(
                "`{}` is {}",
                param.name,
                if pair {
                    "`valid`, `same`, a number of zeros or a pair such as `(1, 2)`"
                } else {
                    "`valid`, `same` or a number of zeros"
                }
            ),
        )),
    }
}

impl ArgType for Padding1 {
    type Value = Padding;
    const KIND: ArgKind = ArgKind::Padding { pair: false };
    fn parse(expr: &Expr, param: &Param, a: &ArgCx<'_>) -> Result<Padding, Reported> {
        parse_padding(expr, param, a, false)
    }
}

impl ArgType for Padding2 {
    type Value = Padding;
    const KIND: ArgKind = ArgKind::Padding { pair: true };
    fn parse(expr: &Expr, param: &Param, a: &ArgCx<'_>) -> Result<Padding, Reported> {
        parse_padding(expr, param, a, true)
    }
}

fn zeros_error(expr: &Expr, param: &Param, a: &ArgCx<'_>, pair: bool) -> Reported {
    a.cx.error_spanned_by(
        expr,
        format_args!(
            "{} must be a number of zeros{}",
            param.what,
            if pair {
                " or a pair such as `(1, 0)`"
            } else {
                ""
            }
        ),
    )
}

impl ArgType for Zeros1 {
    type Value = Dim;
    const KIND: ArgKind = ArgKind::Zeros { pair: false };
    fn parse(expr: &Expr, param: &Param, a: &ArgCx<'_>) -> Result<Dim, Reported> {
        match zeros_value(expr, false) {
            Some((n, _)) => Ok(n),
            None => Err(zeros_error(expr, param, a, false)),
        }
    }
}

impl ArgType for Zeros2 {
    type Value = (Dim, Dim);
    const KIND: ArgKind = ArgKind::Zeros { pair: true };
    fn parse(expr: &Expr, param: &Param, a: &ArgCx<'_>) -> Result<(Dim, Dim), Reported> {
        zeros_value(expr, true).ok_or_else(|| zeros_error(expr, param, a, true))
    }
}

impl ArgType for Flag {
    type Value = bool;
    const KIND: ArgKind = ArgKind::Bool;
    fn parse(expr: &Expr, param: &Param, a: &ArgCx<'_>) -> Result<bool, Reported> {
        match expr {
            Expr::Lit(syn::ExprLit {
                lit: Lit::Bool(b), ..
            }) => Ok(b.value),
            _ => Err(a
                .cx
                .error_spanned_by(expr, format_args!("`{}` is `true` or `false`", param.name))),
        }
    }
}

/// Number argument types: each a range.
macro_rules! numbers {
    ($($ty:ident: $min:expr, $min_inclusive:literal, $max:expr, $max_inclusive:literal;)*) => {$(
        impl $ty {
            const RANGE: Range = Range {
                min: $min,
                min_inclusive: $min_inclusive,
                max: $max,
                max_inclusive: $max_inclusive,
            };
        }

        impl ArgType for $ty {
            type Value = f64;
            const KIND: ArgKind = ArgKind::Number(Self::RANGE);
            fn parse(expr: &Expr, param: &Param, a: &ArgCx<'_>) -> Result<f64, Reported> {
                parse_number(expr, param, a, Self::RANGE)
            }
        }
    )*};
}

numbers! {
    Positive: 0.0, false, f64::INFINITY, true;
    Fraction: 0.0, true, 1.0, false;
    UnitInterval: 0.0, true, 1.0, true;
    Real: f64::NEG_INFINITY, true, f64::INFINITY, true;
}

fn parse_number(expr: &Expr, param: &Param, a: &ArgCx<'_>, range: Range) -> Result<f64, Reported> {
    let what = param.what;
    match number_literal(expr) {
        Some(v) if range.contains(v) => Ok(v),
        Some(v) => Err(a.cx.error_spanned_by(
            expr,
            format_args!("{what} must be {}, found {v}", range.describe()),
        )),
        None => Err(a
            .cx
            .error_spanned_by(expr, format_args!("{what} must be a number literal"))),
    }
}

impl ArgType for TypePath {
    type Value = syn::Path;
    const KIND: ArgKind = ArgKind::Type;
    fn parse(expr: &Expr, param: &Param, a: &ArgCx<'_>) -> Result<syn::Path, Reported> {
        match expr {
            Expr::Path(p) if p.qself.is_none() => Ok(p.path.clone()),
            _ => Err(a.cx.error_spanned_by(
                expr,
                format_args!("expected {}, such as `Net(Encoder)`", param.what),
            )),
        }
    }
}

fn number_literal(expr: &Expr) -> Option<f64> {
    match expr {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Int(l), ..
        }) => l.base10_parse::<f64>().ok(),
        Expr::Lit(syn::ExprLit {
            lit: Lit::Float(l), ..
        }) => l.base10_parse::<f64>().ok(),
        Expr::Unary(syn::ExprUnary {
            op: syn::UnOp::Neg(_),
            expr,
            ..
        }) => number_literal(expr).map(|v| -v),
        Expr::Paren(p) => number_literal(&p.expr),
        Expr::Group(g) => number_literal(&g.expr),
        _ => None,
    }
    .filter(|v| v.is_finite())
}

/// Whether `expr` can be a const expression of type `usize`: not a literal of another type,
/// a tuple, an array, a string, a closure…
fn may_be_size(expr: &Expr) -> bool {
    match expr {
        Expr::Lit(_) => false,
        Expr::Paren(p) => may_be_size(&p.expr),
        Expr::Group(g) => may_be_size(&g.expr),
        // `2 * C`: arithmetic on constants and integer literals.
        Expr::Binary(b) => [&b.left, &b.right]
            .iter()
            .all(|e| dim::literal(e).is_some() || may_be_size(e)),
        // Constants are named in upper case; a lower-case word (`full`, `units`) is a
        // misspelt keyword or value, better reported here than as an unknown name.
        Expr::Path(p) => match p.path.get_ident() {
            Some(word) => word.to_string().chars().any(|c| c.is_ascii_uppercase()),
            None => true,
        },
        Expr::Call(_)
        | Expr::MethodCall(_)
        | Expr::Field(_)
        | Expr::Index(_)
        | Expr::Macro(_)
        | Expr::Block(_)
        | Expr::Cast(_) => true,
        _ => false,
    }
}

/// A positive size: a literal above 0, or a const expression whose positivity rustc checks
/// (a const assertion naming `label`).
pub fn size_value(expr: &Expr, what: &str, label: &str, cx: &Ctxt) -> Result<Dim, Reported> {
    match dim::literal(expr) {
        Some(n) if n > 0 => Ok(Dim::Known(n)),
        Some(_) => Err(cx.error_spanned_by(expr, format_args!("{what} must be at least 1"))),
        None if may_be_size(expr) => {
            let size = Dim::of_expr(expr);
            cx.require(label, Cmp::Le, &Dim::Known(1), &size, expr, || {
                format!("{what} must be at least 1, found {}", size.text())
            })?;
            Ok(size)
        }
        None => Err(cx.error_spanned_by(
            expr,
            format_args!("{what} must be a positive integer or a constant such as `HIDDEN`"),
        )),
    }
}

/// A number of zeros (0 is one) or, when `pair`, a pair `(h, w)` of them; `None` for
/// anything else. An expression is any usize, so needs no check.
fn zeros_value(expr: &Expr, pair: bool) -> Option<(Dim, Dim)> {
    let zeros = |e: &Expr| match dim::literal(e) {
        Some(n) => Some(Dim::Known(n)),
        None => may_be_size(e).then(|| Dim::of_expr(e)),
    };
    match expr {
        Expr::Tuple(t) if pair && t.elems.len() == 2 => zeros(&t.elems[0]).zip(zeros(&t.elems[1])),
        e => zeros(e).map(|d| (d.clone(), d)),
    }
}

/// The elements of a list written `[a, b]` or `(a, b)`; `None` for anything else.
fn list_elements(expr: &Expr) -> Option<Vec<&Expr>> {
    match expr {
        Expr::Array(a) => Some(a.elems.iter().collect()),
        Expr::Tuple(t) => Some(t.elems.iter().collect()),
        Expr::Paren(p) => list_elements(&p.expr),
        Expr::Group(g) => list_elements(&g.expr),
        _ => None,
    }
}

impl ArgType for Sizes {
    type Value = Vec<Dim>;
    const KIND: ArgKind = ArgKind::Sizes;
    fn parse(expr: &Expr, param: &Param, a: &ArgCx<'_>) -> Result<Vec<Dim>, Reported> {
        let what = param.what;
        match list_elements(expr) {
            Some(elems) if (1..=3).contains(&elems.len()) => elems
                .into_iter()
                .map(|e| size_value(e, what, a.label, a.cx))
                .collect(),
            _ => Err(a.cx.error_spanned_by(
                expr,
                format_args!("{what} must be a list of one to three sizes such as `[4, 7]`"),
            )),
        }
    }
}

impl ArgType for Axes {
    type Value = Vec<usize>;
    const KIND: ArgKind = ArgKind::Axes;
    fn parse(expr: &Expr, param: &Param, a: &ArgCx<'_>) -> Result<Vec<usize>, Reported> {
        let what = param.what;
        let axes = list_elements(expr).and_then(|elems| {
            elems
                .into_iter()
                .map(dim::literal)
                .collect::<Option<Vec<_>>>()
        });
        match axes {
            Some(axes) if (2..=3).contains(&axes.len()) => Ok(axes),
            _ => Err(a.cx.error_spanned_by(
                expr,
                format_args!(
                    "{what} must be a list of two or three dimensions, numbered from 0, such as `[1, 0]`"
                ),
            )),
        }
    }
}
