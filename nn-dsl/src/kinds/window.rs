//! Windows sliding over an input (convolutions and poolings): output sizes, the zeros of
//! `same` padding, and the checks that a window fits.

use crate::args::Padding;
use crate::ctxt::Reported;
use crate::dim::{Cmp, Dim};
use crate::rule::RuleCx;
use proc_macro2::TokenStream;
use quote::{quote, ToTokens};

/// One spatial dimension of a convolution or pooling: its output size and the zeros before.
pub struct Spatial {
    pub out: Dim,
    pub before: Dim,
    /// Whether the padding is `same`'s.
    pub same: bool,
}

impl Spatial {
    /// The zeros before as a const argument; `None` when they are `same`'s and computed from
    /// a generic network's parameters (the layer then computes them from its sizes: see
    /// [`padding_type`]); an error when they are given and computed from parameters.
    fn before_arg(&self, r: &RuleCx<'_>) -> Result<Option<TokenStream>, Reported> {
        if self.same && r.env.sizes.is_derived(&self.before) {
            return Ok(None);
        }
        r.const_args([(&self.before, "padding")]).map(|[p]| Some(p))
    }
}

/// The padding of a convolution as a runtime type: `Pad<top, left>`, or `Same` when `same`
/// padding's zeros depend on a generic network's parameters, which a const argument cannot
/// compute on stable Rust (the layer computes them from its sizes then).
pub fn padding_type(
    r: &RuleCx<'_>,
    rows: &Spatial,
    cols: &Spatial,
) -> Result<TokenStream, Reported> {
    let rt = r.rt();
    match (rows.before_arg(r)?, cols.before_arg(r)?) {
        (Some(top), Some(left)) => Ok(quote!(#rt::layers::Pad<#top, #left>)),
        _ => Ok(quote!(#rt::layers::Same)),
    }
}

/// The output size of `input` under a window of `kernel` taps `dilation` apart, moved by
/// `stride`, with `padding` (`None`: `same`); an error at `at` when the window does not fit.
#[allow(clippy::too_many_arguments)]
pub fn spatial(
    r: &RuleCx<'_>,
    input: &Dim,
    kernel: &Dim,
    stride: &Dim,
    dilation: &Dim,
    padding: Option<&Dim>,
    at: &dyn ToTokens,
    message: &dyn Fn() -> String,
) -> Result<Spatial, Reported> {
    let one = Dim::Known(1);
    // (k − 1)·d + 1 input positions under one window.
    let extent = kernel.sub(&one).mul(dilation).add(&one);
    // `same` fixes the output first (and then it is what the padding makes of it, as the
    // window-size properties check): a generic input size stays a parameter.
    let (before, after, same_out) = match padding {
        Some(p) => (p.clone(), p.clone(), None),
        None => {
            // TensorFlow's `same`: out = ⌈input / stride⌉; the odd zero goes after. At
            // stride 1 that is `extent − 1` zeros whatever the input, which keeps the
            // padding a number when the input size is a generic parameter.
            let out = input.div_ceil(stride);
            let total = if stride.value() == Some(1) {
                extent.sub(&one)
            } else {
                out.sub(&one).mul(stride).add(&extent).saturating_sub(input)
            };
            let before = total.div(&Dim::Known(2));
            let after = total.sub(&before);
            (before, after, Some(out))
        }
    };
    let padded = input.add(&before).add(&after);
    r.require(Cmp::Le, &extent, &padded, at, message)?;
    // Saturating: with named constants a window too large is reported by the assertion
    // above, not again by an overflow in every type that holds this size.
    let same = same_out.is_some();
    let out = same_out.unwrap_or_else(|| padded.saturating_sub(&extent).div(stride).add(&one));
    Ok(Spatial { out, before, same })
}

/// The padding of each dimension: `None` for `same`.
pub fn padding_dims(padding: &Padding) -> (Option<Dim>, Option<Dim>) {
    match padding {
        Padding::Valid => (Some(Dim::Known(0)), Some(Dim::Known(0))),
        Padding::Same => (None, None),
        Padding::Explicit(h, w) => (Some(h.clone()), Some(w.clone())),
    }
}

pub fn padding_words(padding: &Padding) -> String {
    match padding {
        Padding::Valid => "padding `valid`".to_string(),
        Padding::Same => "padding `same`".to_string(),
        Padding::Explicit(h, w) if h.text() == w.text() => format!("padding {}", h.text()),
        Padding::Explicit(h, w) => format!("padding ({}, {})", h.text(), w.text()),
    }
}

/// "3x3"
pub fn pair_text(a: &Dim, b: &Dim) -> String {
    format!("{}x{}", a.text(), b.text())
}

/// Pooling padding: at most half the window, as PyTorch requires (so that no window lies
/// in the padding alone).
pub fn pool_padding(
    r: &RuleCx<'_>,
    padding: &Dim,
    window: &Dim,
    at: &dyn ToTokens,
) -> Result<(), Reported> {
    r.require(Cmp::Le, &padding.mul(&Dim::Known(2)), window, at, || {
        format!(
            "the padding {} is more than half the pooling window {}",
            padding.text(),
            window.text()
        )
    })
}
