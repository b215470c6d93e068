//! Matching what the user wrote to a kind's parameters.

use super::param::{usage, ArgCx, ArgType, Param, Spanned};
use crate::ast::{Arg, LayerDef};
use crate::ctxt::{Ctxt, Reported};
use crate::suggest::closest;
use proc_macro2::{Span, TokenStream};
use syn::Expr;

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

/// A layer's arguments as written, matched to its kind's parameters: positional ones in
/// order, named ones by name. Unknown names, arguments beyond the last parameter and
/// arguments given twice are reported while matching; the values are parsed by the kind's
/// [`Args::parse`].
pub struct Slots<'a> {
    kind: &'static str,
    params: &'static [Param],
    /// Aligned with `params`: the expression given, if any.
    given: Vec<Option<&'a Expr>>,
    /// Where a missing argument is reported: the argument list, or the layer's name.
    at: Span,
    /// An error while matching.
    failed: Option<Reported>,
}

impl<'a> Slots<'a> {
    /// Matches `layer`'s arguments to `params`, the parameters of the kind `kind`.
    pub fn new(
        kind: &'static str,
        params: &'static [Param],
        layer: &'a LayerDef,
        cx: &Ctxt,
    ) -> Self {
        let mut failed: Option<Reported> = None;
        let mut given: Vec<Option<&'a Expr>> = vec![None; params.len()];
        let mut position = 0;
        for arg in &layer.args {
            let (slot, expr) = match arg {
                Arg::Positional(expr) => {
                    position += 1;
                    if position > params.len() {
                        failed = Some(too_many(kind, params, expr, cx));
                        continue;
                    }
                    (position - 1, expr)
                }
                Arg::Named { name, value } => match params.iter().position(|p| name == p.name) {
                    Some(slot) => (slot, value),
                    None => {
                        failed = Some(unknown_argument(kind, params, name, cx));
                        continue;
                    }
                },
            };
            if given[slot].is_some() {
                failed = Some(cx.error_spanned_by(
                    arg_tokens(arg),
                    format_args!(
                        "`{}` of {kind} is given twice; {kind} takes `{}`",
                        params[slot].name,
                        usage(kind, params),
                    ),
                ));
                continue;
            }
            given[slot] = Some(expr);
        }
        Slots {
            kind,
            params,
            given,
            at: layer.paren_span.unwrap_or(layer.kind.span()),
            failed,
        }
    }

    /// The error of matching, if there was one: the values were parsed, but the layer is
    /// not resolved.
    pub fn failed(&self) -> Option<Reported> {
        self.failed
    }

    fn parse<T: ArgType>(
        &self,
        slot: usize,
        expr: &Expr,
        a: &ArgCx<'_>,
    ) -> Result<Spanned<T::Value>, Reported> {
        T::parse(expr, &self.params[slot], a).map(|value| Spanned {
            value,
            expr: Some(expr.clone()),
        })
    }

    /// A required argument; an error naming it when left out.
    pub fn required<T: ArgType>(
        &self,
        slot: usize,
        a: &ArgCx<'_>,
    ) -> Result<Spanned<T::Value>, Reported> {
        match self.given[slot] {
            Some(expr) => self.parse::<T>(slot, expr, a),
            None => Err(a.cx.error_at(
                self.at,
                format_args!(
                    "{} needs {}: `{}`",
                    self.kind,
                    self.params[slot].what,
                    usage(self.kind, self.params)
                ),
            )),
        }
    }

    /// An argument with a default, written as a user would (`"true"`, `"valid"`).
    pub fn or_default<T: ArgType>(
        &self,
        slot: usize,
        default: &'static str,
        a: &ArgCx<'_>,
    ) -> Result<Spanned<T::Value>, Reported> {
        if let Some(expr) = self.given[slot] {
            return self.parse::<T>(slot, expr, a);
        }
        let param = &self.params[slot];
        // The declarations' unit test parses every default; this error is its safeguard.
        let expr = syn::parse_str::<Expr>(default).map_err(|_| {
            a.cx.error_at(
                self.at,
                format_args!(
                    "nn-dsl: the default `{default}` of `{}` does not parse",
                    param.name
                ),
            )
        })?;
        T::parse(&expr, param, a).map(|value| Spanned { value, expr: None })
    }

    /// An argument whose absence means something the layer works out.
    pub fn optional<T: ArgType>(
        &self,
        slot: usize,
        a: &ArgCx<'_>,
    ) -> Result<Option<Spanned<T::Value>>, Reported> {
        self.given[slot]
            .map(|expr| self.parse::<T>(slot, expr, a))
            .transpose()
    }
}

fn arg_tokens(arg: &Arg) -> TokenStream {
    match arg {
        Arg::Positional(e) => quote::quote!(#e),
        Arg::Named { name, value } => quote::quote!(#name = #value),
    }
}

fn too_many(kind: &str, params: &[Param], expr: &Expr, cx: &Ctxt) -> Reported {
    if params.is_empty() {
        return cx.error_spanned_by(expr, format_args!("{kind} takes no arguments"));
    }
    cx.error_spanned_by(
        expr,
        format_args!(
            "{kind} takes at most {} argument{}: `{}`",
            params.len(),
            if params.len() == 1 { "" } else { "s" },
            usage(kind, params)
        ),
    )
}

fn unknown_argument(kind: &str, params: &[Param], name: &syn::Ident, cx: &Ctxt) -> Reported {
    let written = name.to_string();
    if params.is_empty() {
        return cx.error_spanned_by(
            name,
            format_args!("unknown argument `{written}`: {kind} takes no arguments"),
        );
    }
    let hint = match closest(&written, params.iter().map(|p| p.name)) {
        Some(p) => format!("did you mean `{p}`? "),
        None => String::new(),
    };
    cx.error_spanned_by(
        name,
        format_args!(
            "unknown argument `{written}` of {kind}; {hint}{kind} takes `{}`",
            usage(kind, params)
        ),
    )
}
