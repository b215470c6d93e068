//! `Conv2d` and `Conv1d`: convolutions, and `ConvTranspose2d` and `ConvTranspose1d`, their
//! transposes; `SqueezeExcitation`, a block of 1×1 convolutions gating the channels;
//! PyTorch's layouts and names.

use super::window::{padding_dims, padding_type, padding_words, pair_text, spatial};
use crate::args::{args, choice, Count, Flag, Padding1, Padding2, Pair, Spanned, Zeros1, Zeros2};
use crate::ctxt::Reported;
use crate::decl::{Decl, Flags};
use crate::dim::{Cmp, Dim};
use crate::kind::{Kind, KindEntry};
use crate::rule::{Rule, RuleCx};
use crate::shape::{Input, Shape};
use quote::quote_spanned;

args! {
    /// `Conv2d`'s arguments.
    pub struct Conv2dArgs {
        /// the number of filters
        filters: Count,
        /// the kernel size
        kernel: Pair,
        /// the stride
        stride: Pair = "1",
        /// the padding
        padding: Padding2 = "valid",
        /// the dilation
        dilation: Pair = "1",
        /// the number of groups
        groups: Count = "1",
        /// whether a bias is added
        bias: Flag = "true",
    }
}

args! {
    /// `Conv1d`'s arguments.
    pub struct Conv1dArgs {
        /// the number of filters
        filters: Count,
        /// the kernel size
        kernel: Count,
        /// the stride
        stride: Count = "1",
        /// the padding
        padding: Padding1 = "valid",
        /// the dilation
        dilation: Count = "1",
        /// the number of groups
        groups: Count = "1",
        /// whether a bias is added
        bias: Flag = "true",
    }
}

/// A convolution: the fusion pass may fuse an activation and a pooling after it.
const CONV_FLAGS: Flags = Flags {
    takes_pooling: true,
    ..Flags::NONE
};

pub struct Conv2d;

impl Kind for Conv2d {
    type Args = Conv2dArgs;
    const DECL: Decl = Decl {
        name: "Conv2d",
        doc: "2-D convolution (PyTorch's `nn.Conv2d`, weight `[filters, channels / groups, kh, kw]`); `kernel`, `stride` and `dilation` a number or a pair `(h, w)`; `padding` `valid`, `same` (TensorFlow's split, PyTorch's `\"same\"` at stride 1), a number of zeros on each side or a pair; `groups = channels` is a depthwise convolution",
        example: "Conv2d(32, 3, padding = same)",
        accepts: &[Input::Image],
        input_words: "a [channels, height, width]",
        flags: CONV_FLAGS,
    };

    fn rule(r: &RuleCx<'_>, a: &Conv2dArgs, input: &Shape) -> Result<Rule, Reported> {
        let Shape::Image(c, h, w) = input else {
            return Err(r.unexpected(input));
        };
        let filters = &a.filters.value;
        let ((kh, kw), (sh, sw), (dh, dw)) = (&a.kernel.value, &a.stride.value, &a.dilation.value);
        let padding = &a.padding.value;
        let g = groups(r, c, filters, &a.groups)?;
        let (ph, pw) = padding_dims(padding);
        let message = || {
            let dilated = dh.value() != Some(1) || dw.value() != Some(1);
            let dilation = if dilated {
                format!(" at dilation {}", pair_text(dh, dw))
            } else {
                String::new()
            };
            format!(
                "the kernel {}{dilation} is larger than its input {} ({})",
                pair_text(kh, kw),
                pair_text(h, w),
                padding_words(padding)
            )
        };
        let rows = spatial(r, h, kh, sh, dh, ph.as_ref(), &a.kernel, &message)?;
        let cols = spatial(r, w, kw, sw, dw, pw.as_ref(), &a.kernel, &message)?;
        let [kh, kw, sh, sw, dh, dw, g] = r.const_args([
            (kh, "kernel height"),
            (kw, "kernel width"),
            (sh, "vertical stride"),
            (sw, "horizontal stride"),
            (dh, "vertical dilation"),
            (dw, "horizontal dilation"),
            (&g, "number of groups"),
        ])?;
        let pad = padding_type(r, &rows, &cols)?;
        let out = Shape::Image(filters.clone(), rows.out, cols.out);
        Ok(convolution(
            r,
            input,
            out,
            quote::quote!(#kh, #kw, #sh, #sw, #pad, #dh, #dw, #g),
            a.bias.value,
        ))
    }
}

pub struct Conv1d;

impl Kind for Conv1d {
    type Args = Conv1dArgs;
    const DECL: Decl = Decl {
        name: "Conv1d",
        doc: "1-D convolution (PyTorch's `nn.Conv1d`, weight `[filters, channels / groups, kernel]`), the same arguments as `Conv2d` with single numbers",
        example: "Conv1d(16, 5)",
        accepts: &[Input::Matrix],
        input_words: "a [channels, length]",
        flags: CONV_FLAGS,
    };

    fn rule(r: &RuleCx<'_>, a: &Conv1dArgs, input: &Shape) -> Result<Rule, Reported> {
        let Shape::Matrix(c, l) = input else {
            return Err(r.unexpected(input));
        };
        let filters = &a.filters.value;
        let (k, s, d) = (&a.kernel.value, &a.stride.value, &a.dilation.value);
        let padding = &a.padding.value;
        let g = groups(r, c, filters, &a.groups)?;
        let (p, _) = padding_dims(padding);
        let along = spatial(r, l, k, s, d, p.as_ref(), &a.kernel, &|| {
            let dilation = match d.value() {
                Some(1) => String::new(),
                _ => format!(" at dilation {}", d.text()),
            };
            format!(
                "the kernel {}{dilation} is larger than its input length {} ({})",
                k.text(),
                l.text(),
                padding_words(padding)
            )
        })?;
        let [k, s, d, g] = r.const_args([
            (k, "kernel"),
            (s, "stride"),
            (d, "dilation"),
            (&g, "number of groups"),
        ])?;
        // One row: a 2-D convolution with a kernel, stride and dilation of 1 and no padding
        // along the height.
        let no_rows = super::window::Spatial {
            out: Dim::Known(1),
            before: Dim::Known(0),
            same: false,
        };
        let pad = padding_type(r, &no_rows, &along)?;
        let one = Dim::Known(1).arg();
        let out = Shape::Matrix(filters.clone(), along.out);
        Ok(convolution(
            r,
            input,
            out,
            quote::quote!(#one, #k, #one, #s, #pad, #one, #d, #g),
            a.bias.value,
        ))
    }
}

args! {
    /// `ConvTranspose2d`'s arguments.
    pub struct ConvTranspose2dArgs {
        /// the number of output channels
        filters: Count,
        /// the kernel size
        kernel: Pair,
        /// the stride
        stride: Pair = "1",
        /// the zeros PyTorch's `padding` removes from each side of the output
        padding: Zeros2 = "0",
        /// the extra rows and columns after the output, less than the stride
        output_padding: Zeros2 = "0",
        /// the dilation
        dilation: Pair = "1",
        /// the number of groups
        groups: Count = "1",
        /// whether a bias is added
        bias: Flag = "true",
    }
}

args! {
    /// `ConvTranspose1d`'s arguments.
    pub struct ConvTranspose1dArgs {
        /// the number of output channels
        filters: Count,
        /// the kernel size
        kernel: Count,
        /// the stride
        stride: Count = "1",
        /// the positions PyTorch's `padding` removes from each end of the output
        padding: Zeros1 = "0",
        /// the extra positions after the output, less than the stride
        output_padding: Zeros1 = "0",
        /// the dilation
        dilation: Count = "1",
        /// the number of groups
        groups: Count = "1",
        /// whether a bias is added
        bias: Flag = "true",
    }
}

/// One dimension of a transposed convolution, `(input − 1)·stride + (kernel − 1)·dilation +
/// 1 + output_padding − 2·padding`, with the output padding less than the stride (as the
/// layer's adjoint convolution requires) and at least one position left.
#[allow(clippy::too_many_arguments)]
fn transposed(
    r: &RuleCx<'_>,
    what: &str,
    input: &Dim,
    (kernel, stride, dilation): (&Dim, &Dim, &Dim),
    padding: &Dim,
    output_padding: &Dim,
    at_padding: &dyn quote::ToTokens,
    at_output_padding: &dyn quote::ToTokens,
) -> Result<Dim, Reported> {
    let one = Dim::Known(1);
    r.require(
        Cmp::Le,
        &output_padding.add(&one),
        stride,
        at_output_padding,
        || {
            format!(
                "the output padding {} along the {what} must be less than the stride {}",
                output_padding.text(),
                stride.text()
            )
        },
    )?;
    let full = input
        .sub(&one)
        .mul(stride)
        .add(&kernel.sub(&one).mul(dilation))
        .add(&one)
        .add(output_padding);
    let removed = padding.mul(&Dim::Known(2));
    r.require(Cmp::Le, &removed.add(&one), &full, at_padding, || {
        format!(
            "the padding {} removes the whole {what} of the output: {} positions before padding",
            padding.text(),
            full.text()
        )
    })?;
    Ok(full.saturating_sub(&removed))
}

pub struct ConvTranspose2d;

impl Kind for ConvTranspose2d {
    type Args = ConvTranspose2dArgs;
    const DECL: Decl = Decl {
        name: "ConvTranspose2d",
        doc: "2-D transposed convolution (PyTorch's `nn.ConvTranspose2d`, weight `[channels, filters / groups, kh, kw]`): output `(input − 1)·stride − 2·padding + dilation·(kernel − 1) + output_padding + 1` along each dimension; `kernel`, `stride`, `padding`, `output_padding` and `dilation` a number or a pair `(h, w)`",
        example: "ConvTranspose2d(16, 3, stride = 2, padding = 1, output_padding = 1)",
        accepts: &[Input::Image],
        input_words: "a [channels, height, width]",
        flags: Flags::NONE,
    };

    fn rule(r: &RuleCx<'_>, a: &ConvTranspose2dArgs, input: &Shape) -> Result<Rule, Reported> {
        let Shape::Image(c, h, w) = input else {
            return Err(r.unexpected(input));
        };
        let filters = &a.filters.value;
        let ((kh, kw), (sh, sw), (dh, dw)) = (&a.kernel.value, &a.stride.value, &a.dilation.value);
        let ((ph, pw), (oph, opw)) = (&a.padding.value, &a.output_padding.value);
        let g = groups(r, c, filters, &a.groups)?;
        let (at_p, at_op) = (&a.padding, &a.output_padding);
        let rows = transposed(r, "height", h, (kh, sh, dh), ph, oph, at_p, at_op)?;
        let cols = transposed(r, "width", w, (kw, sw, dw), pw, opw, at_p, at_op)?;
        let [kh, kw, sh, sw, ph, pw, dh, dw, g] = r.const_args([
            (kh, "kernel height"),
            (kw, "kernel width"),
            (sh, "vertical stride"),
            (sw, "horizontal stride"),
            (ph, "vertical padding"),
            (pw, "horizontal padding"),
            (dh, "vertical dilation"),
            (dw, "horizontal dilation"),
            (&g, "number of groups"),
        ])?;
        let out = Shape::Image(filters.clone(), rows, cols);
        Ok(transposed_convolution(
            r,
            input,
            out,
            quote::quote!(#kh, #kw, #sh, #sw, #ph, #pw, #dh, #dw, #g),
            a.bias.value,
        ))
    }
}

pub struct ConvTranspose1d;

impl Kind for ConvTranspose1d {
    type Args = ConvTranspose1dArgs;
    const DECL: Decl = Decl {
        name: "ConvTranspose1d",
        doc: "1-D transposed convolution (PyTorch's `nn.ConvTranspose1d`, weight `[channels, filters / groups, kernel]`), the same arguments as `ConvTranspose2d` with single numbers",
        example: "ConvTranspose1d(8, 4, stride = 2, padding = 1)",
        accepts: &[Input::Matrix],
        input_words: "a [channels, length]",
        flags: Flags::NONE,
    };

    fn rule(r: &RuleCx<'_>, a: &ConvTranspose1dArgs, input: &Shape) -> Result<Rule, Reported> {
        let Shape::Matrix(c, l) = input else {
            return Err(r.unexpected(input));
        };
        let filters = &a.filters.value;
        let (k, s, d) = (&a.kernel.value, &a.stride.value, &a.dilation.value);
        let (p, op) = (&a.padding.value, &a.output_padding.value);
        let g = groups(r, c, filters, &a.groups)?;
        let (at_p, at_op) = (&a.padding, &a.output_padding);
        let along = transposed(r, "length", l, (k, s, d), p, op, at_p, at_op)?;
        let [k, s, p, d, g] = r.const_args([
            (k, "kernel"),
            (s, "stride"),
            (p, "padding"),
            (d, "dilation"),
            (&g, "number of groups"),
        ])?;
        let (one, zero) = (Dim::Known(1).arg(), Dim::Known(0).arg());
        let out = Shape::Matrix(filters.clone(), along);
        Ok(transposed_convolution(
            r,
            input,
            out,
            quote::quote!(#one, #k, #one, #s, #zero, #p, #one, #d, #g),
            a.bias.value,
        ))
    }
}

/// `ConvTransposeOn` from `input` to `out` with the geometry arguments `geometry`.
fn transposed_convolution(
    r: &RuleCx<'_>,
    input: &Shape,
    out: Shape,
    geometry: proc_macro2::TokenStream,
    bias: bool,
) -> Rule {
    let (rt, span) = (r.rt(), r.span());
    let (x, y) = (r.sample_type(input), r.sample_type(&out));
    Rule::new(
        quote_spanned!(span=> #rt::layers::ConvTransposeOn<#x, #y, #geometry, #bias>),
        quote_spanned!(span=> #rt::layers::ConvTransposeOn::glorot_uniform(rng)),
        out,
    )
}

/// The groups argument, checked to divide both channel counts.
fn groups(
    r: &RuleCx<'_>,
    channels: &Dim,
    filters: &Dim,
    g: &Spanned<Dim>,
) -> Result<Dim, Reported> {
    let value = &g.value;
    for (count, what) in [(channels, "input channels"), (filters, "filters")] {
        r.require(Cmp::MultipleOf, count, value, g, || {
            format!(
                "{} groups must divide both the input channels ({}) and the filters ({}): they do not divide the {what}",
                value.text(),
                channels.text(),
                filters.text()
            )
        })?;
    }
    Ok(value.clone())
}

/// `ConvOn` from `input` to `out` with the geometry arguments `geometry`.
fn convolution(
    r: &RuleCx<'_>,
    input: &Shape,
    out: Shape,
    geometry: proc_macro2::TokenStream,
    bias: bool,
) -> Rule {
    let (rt, span) = (r.rt().clone(), r.span());
    let (x, y) = (r.sample_type(input), r.sample_type(&out));
    let ty_rt = rt.clone();
    Rule::fusable(
        &rt,
        move |f| quote_spanned!(span=> #ty_rt::layers::ConvOn<#x, #y, #geometry, #f, #bias>),
        quote_spanned!(span=> #rt::layers::ConvOn::glorot_uniform(rng)),
        out,
    )
}

choice! {
    /// The activation between `SqueezeExcitation`'s two projections.
    pub enum SqueezeActivation {
        Relu = "relu",
        Hardswish = "hardswish",
        Silu = "silu",
    }
}

choice! {
    /// The activation that makes `SqueezeExcitation`'s gates.
    pub enum ScaleActivation {
        Sigmoid = "sigmoid",
        Hardsigmoid = "hardsigmoid",
    }
}

args! {
    /// `SqueezeExcitation`'s arguments.
    pub struct SqueezeExcitationArgs {
        /// the channels between the two projections
        squeeze_channels: Count,
        /// `relu`, `hardswish` or `silu`, between the projections
        activation: SqueezeActivation = "relu",
        /// `sigmoid` or `hardsigmoid` (MobileNetV3's), on the gates
        scale_activation: ScaleActivation = "sigmoid",
    }
}

pub struct SqueezeExcitation;

impl Kind for SqueezeExcitation {
    type Args = SqueezeExcitationArgs;
    const DECL: Decl = Decl {
        name: "SqueezeExcitation",
        doc: "squeeze-and-excitation (torchvision's `ops.SqueezeExcitation`: `fc1.weight [squeeze_channels, C, 1, 1]`, `fc1.bias`, `fc2.weight [C, squeeze_channels, 1, 1]`, `fc2.bias`): each channel of a `[C, H, W]` sample scaled by `scale_activation(fc2(activation(fc1(mean over H, W))))`; `activation` `relu`, `hardswish` or `silu`, `scale_activation` `sigmoid` or `hardsigmoid` (MobileNetV3's)",
        example: "SqueezeExcitation(2, scale_activation = hardsigmoid)",
        accepts: &[Input::Image],
        input_words: "a [channels, height, width]",
        flags: Flags::NONE,
    };

    fn rule(r: &RuleCx<'_>, a: &SqueezeExcitationArgs, input: &Shape) -> Result<Rule, Reported> {
        let (rt, span) = (r.rt(), r.span());
        let Shape::Image(..) = input else {
            return Err(r.unexpected(input));
        };
        let [squeeze] = r.const_args([(&a.squeeze_channels.value, "squeeze channels")])?;
        let activation = match a.activation.value {
            SqueezeActivation::Relu => quote::quote!(#rt::Relu),
            SqueezeActivation::Hardswish => quote::quote!(#rt::Hardswish),
            SqueezeActivation::Silu => quote::quote!(#rt::Silu),
        };
        let scale = match a.scale_activation.value {
            ScaleActivation::Sigmoid => quote::quote!(#rt::Sigmoid),
            ScaleActivation::Hardsigmoid => quote::quote!(#rt::Hardsigmoid),
        };
        let x = r.sample_type(input);
        Ok(Rule::new(
            quote_spanned!(span=> #rt::layers::SqueezeExcitation<#x, #squeeze, #activation, #scale>),
            quote_spanned!(span=> #rt::layers::SqueezeExcitation::new(
                ::core::default::Default::default(),
                ::core::default::Default::default(),
                rng,
            )),
            input.clone(),
        ))
    }
}

/// This family's kinds, in the order the reference lists them.
pub const KINDS: &[KindEntry] = &[
    KindEntry::layer::<Conv2d>(),
    KindEntry::layer::<Conv1d>(),
    KindEntry::layer::<ConvTranspose2d>(),
    KindEntry::layer::<ConvTranspose1d>(),
    KindEntry::layer::<SqueezeExcitation>(),
];
