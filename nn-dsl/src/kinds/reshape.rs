//! Layers that change only how values are laid out or which reach the output: `Flatten`,
//! `Reshape`, `Permute`, `Identity`, `ZeroPad2d` and `Dropout`.

use crate::args::{args, Axes, Fraction, NoArgs, Sizes, Zeros2};
use crate::ctxt::Reported;
use crate::decl::{Decl, Flags};
use crate::dim::{Cmp, Dim};
use crate::kind::{Kind, KindEntry};
use crate::rule::{Rule, RuleCx};
use crate::shape::{Input, Shape};
use quote::{quote, quote_spanned};

/// Element-wise and layout layers take any float sample, also a sub-network's output.
pub const FLOATS: &[Input] = &[Input::Vector, Input::Matrix, Input::Image];
pub const ANY_FLOAT: Flags = Flags {
    after_subnetwork: true,
    ..Flags::NONE
};

pub struct Flatten;

impl Kind for Flatten {
    type Args = NoArgs;
    const DECL: Decl = Decl {
        name: "Flatten",
        doc: "the sample as one vector, in row-major order (PyTorch's `nn.Flatten`); after a `Zip`, its parts' values one after the other (Keras's `Concatenate` of flattened outputs)",
        example: "Flatten",
        accepts: &[Input::Vector, Input::Matrix, Input::Image, Input::Parts],
        input_words: "a float (or several named float)",
        flags: ANY_FLOAT,
    };

    fn rule(r: &RuleCx<'_>, _: &NoArgs, input: &Shape) -> Result<Rule, Reported> {
        let (rt, span) = (r.rt(), r.span());
        let sample = r.sample_type(input);
        let out = match input {
            Shape::Opaque(ty) => Shape::Opaque(quote!(#rt::Tensor1<{ <#ty as #rt::Sample>::LEN }>)),
            Shape::Tokens(_) => return Err(r.unexpected(input)),
            Shape::Parts(parts) => {
                let tokens = |s: &Shape| matches!(s, Shape::Tokens(_));
                let (Some(len), false) = (input.len(), parts.iter().any(|p| tokens(&p.shape)))
                else {
                    return Err(r.unexpected(input));
                };
                Shape::Vector(len)
            }
            float => Shape::Vector(Dim::product(&float.dims().unwrap_or_default())),
        };
        let y = r.sample_type(&out);
        Ok(Rule::new(
            quote_spanned!(span=> #rt::layers::FlattenOn<#sample, #y>),
            quote_spanned!(span=> ::core::default::Default::default()),
            out,
        ))
    }
}

args! {
    /// `Reshape`'s arguments.
    pub struct ReshapeArgs {
        /// the sample's new shape, one to three sizes
        shape: Sizes,
    }
}

pub struct Reshape;

impl Kind for Reshape {
    type Args = ReshapeArgs;
    const DECL: Decl = Decl {
        name: "Reshape",
        doc: "the same values in the same row-major order as a sample of another shape (PyTorch's `x.reshape(batch, …)`, Keras's `Reshape`); `shape` `[n]`, `[a, b]` or `[c, h, w]` must hold as many values as the input, checked at compile time",
        example: "Reshape([8, 8])",
        accepts: FLOATS,
        input_words: "a float",
        flags: Flags::NONE,
    };

    fn rule(r: &RuleCx<'_>, a: &ReshapeArgs, input: &Shape) -> Result<Rule, Reported> {
        let (rt, span) = (r.rt(), r.span());
        let Some(dims) = input.dims() else {
            return Err(r.unexpected(input));
        };
        let dims_out = &a.shape.value;
        let (len_in, len_out) = (Dim::product(&dims), Dim::product(dims_out));
        r.require(Cmp::Eq, &len_out, &len_in, &a.shape, || {
            format!(
                "Reshape to [{}] holds {} values, but its input {} holds {}",
                dims_out
                    .iter()
                    .map(Dim::text)
                    .collect::<Vec<_>>()
                    .join(", "),
                len_out.text(),
                input.text(),
                len_in.text()
            )
        })?;
        let out = match dims_out.as_slice() {
            [n] => Shape::Vector(n.clone()),
            [a, b] => Shape::Matrix(a.clone(), b.clone()),
            [c, h, w] => Shape::Image(c.clone(), h.clone(), w.clone()),
            _ => return Err(r.unexpected(input)),
        };
        let (x, y) = (r.sample_type(input), r.sample_type(&out));
        Ok(Rule::new(
            quote_spanned!(span=> #rt::layers::Reshape<#x, #y>),
            quote_spanned!(span=> ::core::default::Default::default()),
            out,
        ))
    }
}

args! {
    /// `Permute`'s arguments.
    pub struct PermuteArgs {
        /// the input's dimensions in their new order, numbered from 0
        dims: Axes,
    }
}

pub struct Permute;

impl Kind for Permute {
    type Args = PermuteArgs;
    const DECL: Decl = Decl {
        name: "Permute",
        doc: "the sample's dimensions in another order (PyTorch's `x.permute(0, …)` with the batch left first, Keras's `Permute` numbered from 0): `dims` lists the input's dimensions, numbered from 0, in the output's order; `Permute([1, 0])` turns `[steps, features]` into `[features, steps]`",
        example: "Permute([1, 0])",
        accepts: &[Input::Matrix, Input::Image],
        input_words: "a [a, b] or [a, b, c]",
        flags: Flags::NONE,
    };

    fn rule(r: &RuleCx<'_>, a: &PermuteArgs, input: &Shape) -> Result<Rule, Reported> {
        let (rt, span) = (r.rt(), r.span());
        let Some(dims) = input.dims() else {
            return Err(r.unexpected(input));
        };
        let axes = &a.dims.value;
        let rank = dims.len();
        let mut seen = [false; 3];
        let is_permutation = axes.len() == rank
            && axes
                .iter()
                .all(|&d| d < rank && !std::mem::replace(&mut seen[d], true));
        if !is_permutation {
            return Err(r.cx.error_spanned_by(
                &a.dims,
                format_args!(
                    "Permute needs each of the input's {rank} dimensions (0 to {}) once, but got {axes:?} for an input of shape {}",
                    rank - 1,
                    input.text()
                ),
            ));
        }
        let out = match axes.as_slice() {
            [a, b] => Shape::Matrix(dims[*a].clone(), dims[*b].clone()),
            [a, b, c] => Shape::Image(dims[*a].clone(), dims[*b].clone(), dims[*c].clone()),
            _ => return Err(r.unexpected(input)),
        };
        let [a0, a1] = [axes[0], axes[1]];
        let a2 = axes.get(2).copied().unwrap_or(2);
        let (x, y) = (r.sample_type(input), r.sample_type(&out));
        Ok(Rule::new(
            quote_spanned!(span=> #rt::layers::Permute<#x, #y, #a0, #a1, #a2>),
            quote_spanned!(span=> ::core::default::Default::default()),
            out,
        ))
    }
}

pub struct Identity;

impl Kind for Identity {
    type Args = NoArgs;
    const DECL: Decl = Decl {
        name: "Identity",
        doc: "its input, unchanged (PyTorch's `nn.Identity`): a placeholder where an architecture has an optional layer",
        example: "Identity",
        accepts: FLOATS,
        input_words: "a float",
        flags: ANY_FLOAT,
    };

    fn rule(r: &RuleCx<'_>, _: &NoArgs, input: &Shape) -> Result<Rule, Reported> {
        let (rt, span) = (r.rt(), r.span());
        let sample = r.sample_type(input);
        Ok(Rule::new(
            quote_spanned!(span=> #rt::layers::Identity<#sample>),
            quote_spanned!(span=> ::core::default::Default::default()),
            input.clone(),
        )
        .stepped(matches!(input, Shape::Matrix(..))))
    }
}

args! {
    /// `ZeroPad2d`'s arguments.
    pub struct ZeroPadArgs {
        /// the zeros on each side: a number, or `(rows, columns)`
        padding: Zeros2,
    }
}

pub struct ZeroPad2d;

impl Kind for ZeroPad2d {
    type Args = ZeroPadArgs;
    const DECL: Decl = Decl {
        name: "ZeroPad2d",
        doc: "zeros around each plane of a `[channels, height, width]` sample (PyTorch's `nn.ZeroPad2d` with the same zeros on opposite sides): `padding` rows above and below, and columns left and right, or a pair `(rows, columns)`",
        example: "ZeroPad2d(1)",
        accepts: &[Input::Image],
        input_words: "a [channels, height, width]",
        flags: Flags::NONE,
    };

    fn rule(r: &RuleCx<'_>, a: &ZeroPadArgs, input: &Shape) -> Result<Rule, Reported> {
        let (rt, span) = (r.rt(), r.span());
        let Shape::Image(c, h, w) = input else {
            return Err(r.unexpected(input));
        };
        let (top, left) = &a.padding.value;
        let two = Dim::Known(2);
        let out = Shape::Image(c.clone(), h.add(&top.mul(&two)), w.add(&left.mul(&two)));
        let [t, l] = r.const_args([(top, "rows of zeros"), (left, "columns of zeros")])?;
        let (x, y) = (r.sample_type(input), r.sample_type(&out));
        Ok(Rule::new(
            quote_spanned!(span=> #rt::ZeroPad2d<#x, #y, #t, #l>),
            quote_spanned!(span=> ::core::default::Default::default()),
            out,
        ))
    }
}

args! {
    /// `Dropout`'s arguments.
    pub struct DropoutArgs {
        /// the dropout rate
        rate: Fraction,
    }
}

pub struct Dropout;

impl Kind for Dropout {
    type Args = DropoutArgs;
    const DECL: Decl = Decl {
        name: "Dropout",
        doc: "in training, zeroes each value with probability `rate` and scales the rest by 1 / (1 − rate) (inverted dropout); the identity in inference",
        example: "Dropout(0.5)",
        accepts: FLOATS,
        input_words: "a float",
        flags: ANY_FLOAT,
    };

    fn rule(r: &RuleCx<'_>, args: &DropoutArgs, input: &Shape) -> Result<Rule, Reported> {
        let (rt, span) = (r.rt(), r.span());
        let sample = r.sample_type(input);
        let rate = args.rate.value as f32;
        Ok(Rule::new(
            quote_spanned!(span=> #rt::Dropout<#sample>),
            quote_spanned!(span=> #rt::Dropout::new(#rate)),
            input.clone(),
        )
        .stepped(matches!(input, Shape::Matrix(..))))
    }
}

/// This family's kinds, in the order the reference lists them.
pub const KINDS: &[KindEntry] = &[
    KindEntry::layer::<Flatten>(),
    KindEntry::layer::<Reshape>(),
    KindEntry::layer::<Permute>(),
    KindEntry::layer::<Identity>(),
    KindEntry::layer::<ZeroPad2d>(),
    KindEntry::layer::<Dropout>(),
];
