//! Sizes as the macro sees them: a number it knows (a literal, or arithmetic on literals), or
//! a const expression only rustc can evaluate (a named constant such as `HIDDEN`, or `2 * C`).
//! Shape rules are written once over [`Dim`]: on known sizes they compute numbers and check
//! them here, with errors that name the numbers; on expressions they build the same formula
//! as a const expression, and the checks become const assertions that name the layer.

use proc_macro2::TokenStream;
use quote::quote;
use std::rc::Rc;

/// One size.
#[derive(Clone)]
pub enum Dim {
    Known(usize),
    /// A const expression of type `usize`, and how to show it in messages.
    Expr(Rc<Expr>),
}

/// A size only rustc can evaluate.
pub struct Expr {
    tokens: TokenStream,
    text: String,
    /// `base + offset`, when the size is another expression shifted by a number (`H + 2`,
    /// `H − 2`); `None` when it is its own base.
    shift: Option<(Rc<Expr>, isize)>,
}

impl Dim {
    /// The expression `tokens`, shown as `text`.
    fn expr(tokens: TokenStream, text: String) -> Dim {
        Dim::Expr(Rc::new(Expr {
            tokens,
            text,
            shift: None,
        }))
    }
}

impl Dim {
    /// The size of a user's expression: its value when it is an integer literal.
    pub fn of_expr(expr: &syn::Expr) -> Dim {
        match literal(expr) {
            Some(n) => Dim::Known(n),
            // A name stays bare: a generic parameter is a const argument only as itself.
            None if matches!(expr, syn::Expr::Path(p) if p.path.get_ident().is_some()) => {
                let text = quote!(#expr).to_string();
                Dim::expr(quote!(#expr), text)
            }
            None => {
                let text = quote!(#expr).to_string();
                Dim::expr(quote!((#expr)), text)
            }
        }
    }

    /// A size only rustc knows: the const expression `tokens`, shown as `text`.
    pub fn from_tokens(tokens: TokenStream, text: &str) -> Dim {
        Dim::expr(quote!((#tokens)), text.to_string())
    }

    /// The value, when the macro knows it.
    pub fn value(&self) -> Option<usize> {
        match self {
            Dim::Known(n) => Some(*n),
            Dim::Expr(_) => None,
        }
    }

    /// The size as a `usize` expression.
    pub fn tokens(&self) -> TokenStream {
        match self {
            Dim::Known(n) => quote!(#n),
            Dim::Expr(e) => e.tokens.clone(),
        }
    }

    /// The size as a const generic argument: `128` or `{ HIDDEN }`.
    pub fn arg(&self) -> TokenStream {
        match self {
            Dim::Known(n) => quote!(#n),
            Dim::Expr(e) => {
                let t = &e.tokens;
                quote!({ #t })
            }
        }
    }

    /// The size in a message.
    pub fn text(&self) -> String {
        match self {
            Dim::Known(n) => n.to_string(),
            Dim::Expr(e) => e.text.clone(),
        }
    }

    /// The text of the size as an operand: parenthesised when compound.
    fn operand_text(&self) -> String {
        let text = self.text();
        if text.contains(' ') {
            format!("({text})")
        } else {
            text
        }
    }

    fn combine(
        &self,
        other: &Dim,
        known: impl FnOnce(usize, usize) -> Option<usize>,
        op: TokenStream,
        symbol: &str,
    ) -> Dim {
        // x + 0, x − 0, x·1, x / 1 are x, and 0 + x, 1·x are x: sizes of generic networks
        // stay parameters where they can (a same-padded, stride-1 convolution keeps `H`).
        match (symbol, self.value(), other.value()) {
            ("+" | "-", _, Some(0)) | ("*" | "/", _, Some(1)) => return self.clone(),
            ("+", Some(0), _) | ("*", Some(1), _) => return other.clone(),
            _ => {}
        }
        if let (Some(a), Some(b)) = (self.value(), other.value()) {
            // An overflow is left for rustc to report while evaluating the expression.
            if let Some(v) = known(a, b) {
                return Dim::Known(v);
            }
        }
        let (a, b) = (self.tokens(), other.tokens());
        let text = format!("{} {symbol} {}", self.operand_text(), other.operand_text());
        Dim::expr(quote!((#a #op #b)), text)
    }

    /// `self + by` when `self` is an expression shifted by a number (its own base shifted by
    /// 0): shifts compose, so `((H + 2) − 3) + 1` is `H`, and a padded convolution that keeps
    /// its input's size keeps the size as written. Negative shifts saturate at 0, as the
    /// window rules' subtractions do (a window too large is reported by their assertion,
    /// not again by an overflow).
    fn shift(&self, by: isize) -> Option<Dim> {
        let Dim::Expr(e) = self else { return None };
        let (base, offset) = match &e.shift {
            Some((base, offset)) => (base.clone(), offset + by),
            None => (e.clone(), by),
        };
        if offset == 0 {
            return Some(Dim::Expr(base));
        }
        let (b, n) = (&base.tokens, offset.unsigned_abs());
        let base_text = if base.text.contains(' ') {
            format!("({})", base.text)
        } else {
            base.text.clone()
        };
        let (tokens, text) = if offset > 0 {
            (quote!((#b + #n)), format!("{base_text} + {n}"))
        } else {
            (
                quote!(usize::saturating_sub(#b, #n)),
                format!("{base_text} - {n}"),
            )
        };
        Some(Dim::Expr(Rc::new(Expr {
            tokens,
            text,
            shift: Some((base, offset)),
        })))
    }

    /// The number `d` as a shift, when it is one.
    fn as_shift(d: &Dim) -> Option<isize> {
        d.value().and_then(|n| isize::try_from(n).ok())
    }

    fn call(
        &self,
        other: &Dim,
        known: impl FnOnce(usize, usize) -> Option<usize>,
        method: &str,
    ) -> Dim {
        if let (Some(a), Some(b)) = (self.value(), other.value()) {
            if let Some(v) = known(a, b) {
                return Dim::Known(v);
            }
        }
        let (a, b) = (self.tokens(), other.tokens());
        let m = syn::Ident::new(method, proc_macro2::Span::call_site());
        let text = format!("{}.{method}({})", self.text(), other.text());
        Dim::expr(quote!(usize::#m(#a, #b)), text)
    }

    pub fn add(&self, other: &Dim) -> Dim {
        let shifted = match (Dim::as_shift(other), Dim::as_shift(self)) {
            (Some(n), _) => self.shift(n),
            (None, Some(n)) => other.shift(n),
            _ => None,
        };
        shifted.unwrap_or_else(|| self.combine(other, usize::checked_add, quote!(+), "+"))
    }

    /// `self − other`; rustc rejects a negative result of an expression (a shifted
    /// expression saturates instead: see `shift`).
    pub fn sub(&self, other: &Dim) -> Dim {
        Dim::as_shift(other)
            .and_then(|n| self.shift(-n))
            .unwrap_or_else(|| self.combine(other, usize::checked_sub, quote!(-), "-"))
    }

    pub fn mul(&self, other: &Dim) -> Dim {
        self.combine(other, usize::checked_mul, quote!(*), "*")
    }

    /// Integer division; callers check `other ≥ 1` first.
    pub fn div(&self, other: &Dim) -> Dim {
        self.combine(other, usize::checked_div, quote!(/), "/")
    }

    pub fn div_ceil(&self, other: &Dim) -> Dim {
        if other.value() == Some(1) {
            return self.clone();
        }
        self.call(other, |a, b| (b > 0).then(|| a.div_ceil(b)), "div_ceil")
    }

    pub fn saturating_sub(&self, other: &Dim) -> Dim {
        Dim::as_shift(other)
            .and_then(|n| self.shift(-n))
            .unwrap_or_else(|| self.call(other, |a, b| Some(a.saturating_sub(b)), "saturating_sub"))
    }

    /// The product of several sizes.
    pub fn product<'a>(dims: impl IntoIterator<Item = &'a Dim>) -> Dim {
        dims.into_iter().fold(Dim::Known(1), |acc, d| acc.mul(d))
    }
}

impl From<usize> for Dim {
    fn from(n: usize) -> Dim {
        Dim::Known(n)
    }
}

/// An integer literal's value (through parentheses), `None` for anything else.
pub fn literal(expr: &syn::Expr) -> Option<usize> {
    match expr {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(l),
            ..
        }) => l.base10_parse::<usize>().ok(),
        syn::Expr::Paren(p) => literal(&p.expr),
        syn::Expr::Group(g) => literal(&g.expr),
        _ => None,
    }
}

/// A comparison between sizes that a shape rule requires.
pub enum Cmp {
    Le,
    Eq,
    /// The left side is a multiple of the right (and the right is not zero).
    MultipleOf,
}

impl Cmp {
    /// The outcome when both sides are known, else the condition as a const expression.
    pub fn test(&self, a: &Dim, b: &Dim) -> Result<bool, TokenStream> {
        // Every size is a multiple of 1 (no assertion to emit, and no `x % 1` to lint).
        if matches!(self, Cmp::MultipleOf) && b.value() == Some(1) {
            return Ok(true);
        }
        if let (Some(a), Some(b)) = (a.value(), b.value()) {
            return Ok(match self {
                Cmp::Le => a <= b,
                Cmp::Eq => a == b,
                Cmp::MultipleOf => b != 0 && a % b == 0,
            });
        }
        let (a, b) = (a.tokens(), b.tokens());
        Err(match self {
            Cmp::Le => quote!(#a <= #b),
            Cmp::Eq => quote!(#a == #b),
            Cmp::MultipleOf => quote!(#b != 0 && #a % #b == 0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expr(s: &str) -> Dim {
        Dim::of_expr(&syn::parse_str(s).unwrap())
    }

    #[test]
    fn known_sizes_compute_and_expressions_build() {
        let h = expr("28");
        let k = expr("3");
        assert_eq!(h.sub(&k).add(&Dim::Known(1)).value(), Some(26));
        assert_eq!(h.div_ceil(&Dim::Known(3)).value(), Some(10));
        assert_eq!(k.saturating_sub(&h).value(), Some(0));
        let size = expr("SIZE");
        let out = size.sub(&k).div(&Dim::Known(2)).add(&Dim::Known(1));
        assert_eq!(out.value(), None);
        assert_eq!(out.text(), "((SIZE - 3) / 2) + 1");
        // The subtraction of a number saturates (a too-small SIZE is reported by a rule's
        // assertion, not by an overflow in this expression).
        assert_eq!(
            out.arg().to_string(),
            "{ ((usize :: saturating_sub (SIZE , 3usize) / 2usize) + 1usize) }"
        );
        assert!(Cmp::Le.test(&k, &h).unwrap());
        assert!(Cmp::Le.test(&k, &size).is_err());
        assert!(!Cmp::MultipleOf
            .test(&Dim::Known(6), &Dim::Known(0))
            .unwrap());
        // Overflow is left to rustc.
        assert_eq!(Dim::Known(usize::MAX).add(&Dim::Known(1)).value(), None);
    }

    #[test]
    fn identities_keep_a_size_as_written() {
        let h = expr("H");
        let (zero, one) = (Dim::Known(0), Dim::Known(1));
        for d in [
            h.add(&zero),
            zero.add(&h),
            h.sub(&zero),
            h.mul(&one),
            one.mul(&h),
            h.div(&one),
            h.div_ceil(&one),
        ] {
            assert_eq!(d.tokens().to_string(), "H");
        }
        assert_eq!(h.mul(&Dim::Known(2)).text(), "H * 2");
        // Shifts by numbers compose: a convolution with padding 1 and a 3-tap kernel at
        // stride 1 keeps `H` ((H + 1 + 1) − 3, over 1, plus 1).
        let padded = h.add(&Dim::Known(1)).add(&Dim::Known(1));
        assert_eq!(padded.text(), "H + 2");
        let out = padded.saturating_sub(&Dim::Known(3)).div(&one).add(&one);
        assert_eq!(out.tokens().to_string(), "H");
        let valid = h.saturating_sub(&Dim::Known(3)).add(&one);
        assert_eq!(valid.text(), "H - 2");
        assert_eq!(
            valid.tokens().to_string(),
            "usize :: saturating_sub (H , 2usize)"
        );
    }
}
