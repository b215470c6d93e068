//! Poolings: `MaxPool2d`, `AvgPool2d`, `MaxPool1d` over windows, the global ones over
//! whole planes (PyTorch's semantics), and the ones over the steps of a sequence.

use super::window::{pair_text, pool_padding, spatial};
use crate::args::{args, Count, NoArgs, Pair, Zeros1, Zeros2};
use crate::ctxt::Reported;
use crate::decl::{Decl, Flags};
use crate::dim::Dim;
use crate::kind::{Kind, KindEntry};
use crate::rule::{Rule, RuleCx};
use crate::shape::{Input, Shape};
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

args! {
    /// The arguments of a 2-D pooling.
    pub struct Pool2dArgs {
        /// the pooling window
        window: Pair,
        /// the stride
        stride: Pair or "window",
        /// the padding
        padding: Zeros2 = "0",
    }
}

args! {
    /// The arguments of a 1-D pooling.
    pub struct Pool1dArgs {
        /// the pooling window
        window: Count,
        /// the stride
        stride: Count or "window",
        /// the padding
        padding: Zeros1 = "0",
    }
}

const POOLING: Flags = Flags {
    pooling: true,
    ..Flags::NONE
};
const IMAGE_WORDS: &str = "a [channels, height, width]";

/// How a pooling combines a window, as its runtime type names it.
#[derive(Clone, Copy)]
enum Op {
    Max,
    Avg,
}

impl Op {
    fn ty(self, rt: &TokenStream) -> TokenStream {
        match self {
            Op::Max => quote!(#rt::layers::PoolMax),
            Op::Avg => quote!(#rt::layers::PoolAvg),
        }
    }
}

pub struct MaxPool2d;
pub struct AvgPool2d;

impl Kind for MaxPool2d {
    type Args = Pool2dArgs;
    const DECL: Decl = Decl {
        name: "MaxPool2d",
        doc: "the maximum of each window (PyTorch's `nn.MaxPool2d`, padding with −∞); `window` and `stride` a number or a pair, `stride` the window unless given, `padding` at most half the window",
        example: "MaxPool2d(2)",
        accepts: &[Input::Image],
        input_words: IMAGE_WORDS,
        flags: POOLING,
    };

    fn rule(r: &RuleCx<'_>, args: &Pool2dArgs, input: &Shape) -> Result<Rule, Reported> {
        pool2d(r, args, input, Op::Max)
    }
}

impl Kind for AvgPool2d {
    type Args = Pool2dArgs;
    const DECL: Decl = Decl {
        name: "AvgPool2d",
        doc: "the mean of each window (PyTorch's `nn.AvgPool2d`, zero padding counted: `count_include_pad`); the arguments of `MaxPool2d`",
        example: "AvgPool2d(2)",
        accepts: &[Input::Image],
        input_words: IMAGE_WORDS,
        flags: POOLING,
    };

    fn rule(r: &RuleCx<'_>, args: &Pool2dArgs, input: &Shape) -> Result<Rule, Reported> {
        pool2d(r, args, input, Op::Avg)
    }
}

fn pool2d(r: &RuleCx<'_>, a: &Pool2dArgs, input: &Shape, op: Op) -> Result<Rule, Reported> {
    let Shape::Image(c, h, w) = input else {
        return Err(r.unexpected(input));
    };
    let (kh, kw) = &a.window.value;
    let (sh, sw) = a.stride.as_ref().map_or(&a.window.value, |s| &s.value);
    let (ph, pw) = &a.padding.value;
    pool_padding(r, ph, kh, &a.padding)?;
    pool_padding(r, pw, kw, &a.padding)?;
    let message = || {
        format!(
            "the pooling window {} is larger than its input {}",
            pair_text(kh, kw),
            pair_text(h, w)
        )
    };
    let one = Dim::Known(1);
    let rows = spatial(r, h, kh, sh, &one, Some(ph), &a.window, &message)?;
    let cols = spatial(r, w, kw, sw, &one, Some(pw), &a.window, &message)?;
    let window = r.const_args([
        (kh, "window height"),
        (kw, "window width"),
        (sh, "vertical stride"),
        (sw, "horizontal stride"),
        (ph, "padding above"),
        (pw, "padding to the left"),
    ])?;
    let rt = r.rt();
    pooling(
        r,
        input,
        Shape::Image(c.clone(), rows.out, cols.out),
        op,
        quote!(#rt::layers::PoolWindow<#(#window),*>),
    )
}

pub struct MaxPool1d;

impl Kind for MaxPool1d {
    type Args = Pool1dArgs;
    const DECL: Decl = Decl {
        name: "MaxPool1d",
        doc: "the maximum of each window along a `[channels, length]` input (PyTorch's `nn.MaxPool1d`)",
        example: "MaxPool1d(2)",
        accepts: &[Input::Matrix],
        input_words: "a [channels, length]",
        flags: POOLING,
    };

    fn rule(r: &RuleCx<'_>, a: &Pool1dArgs, input: &Shape) -> Result<Rule, Reported> {
        pool1d(r, a, input, Op::Max)
    }
}

pub struct AvgPool1d;

impl Kind for AvgPool1d {
    type Args = Pool1dArgs;
    const DECL: Decl = Decl {
        name: "AvgPool1d",
        doc: "the mean of each window along a `[channels, length]` input (PyTorch's `nn.AvgPool1d`, zero padding counted); the arguments of `MaxPool1d`",
        example: "AvgPool1d(2)",
        accepts: &[Input::Matrix],
        input_words: "a [channels, length]",
        flags: POOLING,
    };

    fn rule(r: &RuleCx<'_>, a: &Pool1dArgs, input: &Shape) -> Result<Rule, Reported> {
        pool1d(r, a, input, Op::Avg)
    }
}

/// A pooling `op` of windows along a `[channels, length]` input.
fn pool1d(r: &RuleCx<'_>, a: &Pool1dArgs, input: &Shape, op: Op) -> Result<Rule, Reported> {
    let Shape::Matrix(c, l) = input else {
        return Err(r.unexpected(input));
    };
    let k = &a.window.value;
    let s = a.stride.as_ref().map_or(k, |s| &s.value);
    let p = &a.padding.value;
    pool_padding(r, p, k, &a.padding)?;
    let along = spatial(r, l, k, s, &Dim::Known(1), Some(p), &a.window, &|| {
        format!(
            "the pooling window {} is larger than its input length {}",
            k.text(),
            l.text()
        )
    })?;
    let [k, s, p] = r.const_args([(k, "window"), (s, "stride"), (p, "padding")])?;
    let (rt, one, zero) = (r.rt(), Dim::Known(1).arg(), Dim::Known(0).arg());
    pooling(
        r,
        input,
        Shape::Matrix(c.clone(), along.out),
        op,
        quote!(#rt::layers::PoolWindow<#one, #k, #one, #s, #zero, #p>),
    )
}

pub struct GlobalAvgPool2d;
pub struct GlobalMaxPool2d;

impl Kind for GlobalAvgPool2d {
    type Args = NoArgs;
    const DECL: Decl = Decl {
        name: "GlobalAvgPool2d",
        doc: "the mean of each channel, `[C, H, W]` to `[C]` (Keras's `GlobalAveragePooling2D`)",
        example: "GlobalAvgPool2d",
        accepts: &[Input::Image],
        input_words: IMAGE_WORDS,
        flags: POOLING,
    };

    fn rule(r: &RuleCx<'_>, _: &NoArgs, input: &Shape) -> Result<Rule, Reported> {
        global(r, input, Op::Avg)
    }
}

impl Kind for GlobalMaxPool2d {
    type Args = NoArgs;
    const DECL: Decl = Decl {
        name: "GlobalMaxPool2d",
        doc: "the maximum of each channel, `[C, H, W]` to `[C]` (Keras's `GlobalMaxPooling2D`)",
        example: "GlobalMaxPool2d",
        accepts: &[Input::Image],
        input_words: IMAGE_WORDS,
        flags: POOLING,
    };

    fn rule(r: &RuleCx<'_>, _: &NoArgs, input: &Shape) -> Result<Rule, Reported> {
        global(r, input, Op::Max)
    }
}

fn global(r: &RuleCx<'_>, input: &Shape, op: Op) -> Result<Rule, Reported> {
    let Shape::Image(c, _, _) = input else {
        return Err(r.unexpected(input));
    };
    let rt = r.rt();
    pooling(
        r,
        input,
        Shape::Vector(c.clone()),
        op,
        quote!(#rt::layers::PoolGlobal),
    )
}

pub struct GlobalAvgPool1d;
pub struct GlobalMaxPool1d;

const SEQUENCE_WORDS: &str = "a sequence [time steps, features]";

impl Kind for GlobalAvgPool1d {
    type Args = NoArgs;
    const DECL: Decl = Decl {
        name: "GlobalAvgPool1d",
        doc: "the mean of each feature over the steps of a `[T, F]` sequence, to `[F]` (PyTorch's `x.mean(1)` on batch-first sequences, Keras's `GlobalAveragePooling1D`); with lengths, over each sequence's own steps",
        example: "GlobalAvgPool1d",
        accepts: &[Input::Matrix],
        input_words: SEQUENCE_WORDS,
        flags: Flags::NONE,
    };

    fn rule(r: &RuleCx<'_>, _: &NoArgs, input: &Shape) -> Result<Rule, Reported> {
        over_time(r, input, Op::Avg)
    }
}

impl Kind for GlobalMaxPool1d {
    type Args = NoArgs;
    const DECL: Decl = Decl {
        name: "GlobalMaxPool1d",
        doc: "the maximum of each feature over the steps of a `[T, F]` sequence, to `[F]` (Keras's `GlobalMaxPooling1D`); with lengths, over each sequence's own steps",
        example: "GlobalMaxPool1d",
        accepts: &[Input::Matrix],
        input_words: SEQUENCE_WORDS,
        flags: Flags::NONE,
    };

    fn rule(r: &RuleCx<'_>, _: &NoArgs, input: &Shape) -> Result<Rule, Reported> {
        over_time(r, input, Op::Max)
    }
}

/// Pooling over the steps (the first dimension) of a `[T, F]` sequence.
fn over_time(r: &RuleCx<'_>, input: &Shape, op: Op) -> Result<Rule, Reported> {
    let (rt, span) = (r.rt(), r.span());
    let Shape::Matrix(t, f) = input else {
        return Err(r.unexpected(input));
    };
    let [ta, fa] = r.const_args([(t, "number of steps"), (f, "number of features")])?;
    let op = op.ty(rt);
    Ok(Rule::new(
        quote_spanned!(span=> #rt::layers::TimePool<#op, #ta, #fa>),
        quote_spanned!(span=> ::core::default::Default::default()),
        Shape::Vector(f.clone()),
    ))
}

/// A pooling layer's rule: `PoolOn` from `input` to `out` combining windows with `op` over
/// `extent` (a `PoolWindow` or `PoolGlobal`).
fn pooling(
    r: &RuleCx<'_>,
    input: &Shape,
    out: Shape,
    op: Op,
    extent: TokenStream,
) -> Result<Rule, Reported> {
    let (rt, span) = (r.rt(), r.span());
    let (x, y, op) = (r.sample_type(input), r.sample_type(&out), op.ty(rt));
    Ok(Rule::new(
        quote_spanned!(span=> #rt::layers::PoolOn<#x, #y, #op, #extent>),
        quote_spanned!(span=> ::core::default::Default::default()),
        out,
    ))
}

/// This family's kinds, in the order the reference lists them.
pub const KINDS: &[KindEntry] = &[
    KindEntry::layer::<MaxPool2d>(),
    KindEntry::layer::<AvgPool2d>(),
    KindEntry::layer::<GlobalAvgPool2d>(),
    KindEntry::layer::<GlobalMaxPool2d>(),
    KindEntry::layer::<MaxPool1d>(),
    KindEntry::layer::<AvgPool1d>(),
    KindEntry::layer::<GlobalAvgPool1d>(),
    KindEntry::layer::<GlobalMaxPool1d>(),
];
