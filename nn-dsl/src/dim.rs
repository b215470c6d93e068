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
    Expr(Rc<(TokenStream, String)>),
}

impl Dim {
    /// The size of a user's expression: its value when it is an integer literal.
    pub fn of_expr(expr: &syn::Expr) -> Dim {
        match literal(expr) {
            Some(n) => Dim::Known(n),
            None => {
                let text = quote!(#expr).to_string();
                Dim::Expr(Rc::new((quote!((#expr)), text)))
            }
        }
    }

    /// A size only rustc knows: the const expression `tokens`, shown as `text`.
    pub fn from_tokens(tokens: TokenStream, text: &str) -> Dim {
        Dim::Expr(Rc::new((quote!((#tokens)), text.to_string())))
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
            Dim::Expr(e) => e.0.clone(),
        }
    }

    /// The size as a const generic argument: `128` or `{ HIDDEN }`.
    pub fn arg(&self) -> TokenStream {
        match self {
            Dim::Known(n) => quote!(#n),
            Dim::Expr(e) => {
                let t = &e.0;
                quote!({ #t })
            }
        }
    }

    /// The size in a message.
    pub fn text(&self) -> String {
        match self {
            Dim::Known(n) => n.to_string(),
            Dim::Expr(e) => e.1.clone(),
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
        if let (Some(a), Some(b)) = (self.value(), other.value()) {
            // An overflow is left for rustc to report while evaluating the expression.
            if let Some(v) = known(a, b) {
                return Dim::Known(v);
            }
        }
        let (a, b) = (self.tokens(), other.tokens());
        let text = format!("{} {symbol} {}", self.operand_text(), other.operand_text());
        Dim::Expr(Rc::new((quote!((#a #op #b)), text)))
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
        Dim::Expr(Rc::new((quote!(usize::#m(#a, #b)), text)))
    }

    pub fn add(&self, other: &Dim) -> Dim {
        self.combine(other, usize::checked_add, quote!(+), "+")
    }

    /// `self − other`; rustc rejects a negative result of an expression.
    pub fn sub(&self, other: &Dim) -> Dim {
        self.combine(other, usize::checked_sub, quote!(-), "-")
    }

    pub fn mul(&self, other: &Dim) -> Dim {
        self.combine(other, usize::checked_mul, quote!(*), "*")
    }

    /// Integer division; callers check `other ≥ 1` first.
    pub fn div(&self, other: &Dim) -> Dim {
        self.combine(other, usize::checked_div, quote!(/), "/")
    }

    pub fn div_ceil(&self, other: &Dim) -> Dim {
        self.call(other, |a, b| (b > 0).then(|| a.div_ceil(b)), "div_ceil")
    }

    pub fn saturating_sub(&self, other: &Dim) -> Dim {
        self.call(other, |a, b| Some(a.saturating_sub(b)), "saturating_sub")
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
        assert_eq!(
            out.arg().to_string(),
            "{ ((((SIZE) - 3usize) / 2usize) + 1usize) }"
        );
        assert!(Cmp::Le.test(&k, &h).unwrap());
        assert!(Cmp::Le.test(&k, &size).is_err());
        assert!(!Cmp::MultipleOf
            .test(&Dim::Known(6), &Dim::Known(0))
            .unwrap());
        // Overflow is left to rustc.
        assert_eq!(Dim::Known(usize::MAX).add(&Dim::Known(1)).value(), None);
    }
}
