//! Collects every error of one invocation so the user sees them all at once (serde_derive's
//! `Ctxt`). A `Ctxt` must be consumed by [`Ctxt::check`]: dropping one unchecked is a bug in
//! this crate, and panics (outside of an unwinding panic) so that tests catch it.

use crate::dim::{Cmp, Dim};
use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use std::cell::RefCell;
use std::fmt::Display;

pub struct Ctxt {
    /// `None` once checked.
    errors: RefCell<Option<Vec<syn::Error>>>,
    /// Requirements on sizes only rustc can evaluate (named constants), to be emitted as
    /// const assertions.
    const_checks: RefCell<Vec<ConstCheck>>,
}

/// `assert!(cond, message)` in a const item, spanned at the argument it is about.
pub struct ConstCheck {
    pub span: Span,
    pub cond: TokenStream,
    pub message: String,
}

/// Proof that an error was recorded: what a rule returns instead of its result, so that a
/// rule cannot give up without telling the user why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reported(());

impl Ctxt {
    pub fn new() -> Self {
        Ctxt {
            errors: RefCell::new(Some(Vec::new())),
            const_checks: RefCell::new(Vec::new()),
        }
    }

    /// Records an error at the span of `tokens`.
    pub fn error_spanned_by<T: quote::ToTokens, M: Display>(
        &self,
        tokens: T,
        message: M,
    ) -> Reported {
        self.push(syn::Error::new_spanned(tokens, message))
    }

    /// Records an error at `span`.
    pub fn error_at<M: Display>(&self, span: proc_macro2::Span, message: M) -> Reported {
        self.push(syn::Error::new(span, message))
    }

    /// Requires `a cmp b`: checked now when both sizes are known (an error at `at` if it
    /// fails), else left to rustc as a const assertion with the same message, prefixed with
    /// `layer` (the span alone may sit in a long list).
    pub fn require<T: ToTokens>(
        &self,
        layer: &str,
        cmp: Cmp,
        a: &Dim,
        b: &Dim,
        at: T,
        message: impl FnOnce() -> String,
    ) -> Result<(), Reported> {
        match cmp.test(a, b) {
            Ok(true) => Ok(()),
            Ok(false) => Err(self.error_spanned_by(at, message())),
            Err(cond) => {
                let span = at
                    .into_token_stream()
                    .into_iter()
                    .next()
                    .map_or_else(Span::call_site, |t| t.span());
                self.const_checks.borrow_mut().push(ConstCheck {
                    span,
                    cond,
                    message: format!("{layer}: {}", message()),
                });
                Ok(())
            }
        }
    }

    /// The requirements left to rustc.
    pub fn take_const_checks(&self) -> Vec<ConstCheck> {
        std::mem::take(&mut self.const_checks.borrow_mut())
    }

    fn push(&self, error: syn::Error) -> Reported {
        self.errors
            .borrow_mut()
            .as_mut()
            .expect("Ctxt used after check")
            .push(error);
        Reported(())
    }

    /// All errors combined into one, if there were any. Consumes the context.
    pub fn check(self) -> Result<(), syn::Error> {
        let errors = self.errors.borrow_mut().take().unwrap_or_default();
        let mut errors = errors.into_iter();
        let Some(mut combined) = errors.next() else {
            return Ok(());
        };
        for e in errors {
            combined.combine(e);
        }
        Err(combined)
    }
}

impl Drop for Ctxt {
    fn drop(&mut self) {
        if !std::thread::panicking() && self.errors.borrow().is_some() {
            panic!("nn-dsl bug: a Ctxt was dropped without checking its errors");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_every_error() {
        let cx = Ctxt::new();
        cx.error_at(proc_macro2::Span::call_site(), "first");
        cx.error_at(proc_macro2::Span::call_site(), "second");
        let messages: Vec<String> = cx
            .check()
            .unwrap_err()
            .into_iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(messages, ["first", "second"]);
    }

    #[test]
    #[should_panic(expected = "without checking")]
    fn dropping_unchecked_is_caught() {
        let _cx = Ctxt::new();
    }
}
