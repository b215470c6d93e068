//! Layers that make a sample's planes larger: `Upsample` (interpolation by whole scale
//! factors) and `PixelShuffle` (channels rearranged into space).

use crate::args::{args, choice, Count, Flag, Pair};
use crate::ctxt::Reported;
use crate::decl::{Decl, Flags};
use crate::dim::Cmp;
use crate::kind::{Kind, KindEntry};
use crate::rule::{Rule, RuleCx};
use crate::shape::{Input, Shape};
use quote::quote_spanned;

choice! {
    /// How `Upsample` reads its input between samples.
    pub enum UpsampleMode {
        Nearest = "nearest",
        Bilinear = "bilinear",
        Linear = "linear",
    }
}

args! {
    /// `Upsample`'s arguments.
    pub struct UpsampleArgs {
        /// the whole factor the planes grow by: a number, or `(h, w)`
        scale_factor: Pair,
        /// `nearest`, `bilinear` (a `[channels, height, width]` input) or `linear` (a `[channels, length]` input)
        mode: UpsampleMode = "nearest",
        /// whether the corner outputs sit on the corner inputs (linear modes only)
        align_corners: Flag = "false",
    }
}

pub struct Upsample;

impl Kind for Upsample {
    type Args = UpsampleArgs;
    const DECL: Decl = Decl {
        name: "Upsample",
        doc: "upsampling by whole scale factors (PyTorch's `nn.Upsample(scale_factor=…)`): `mode` `nearest`, `bilinear` on a `[channels, height, width]` input or `linear` on a `[channels, length]` input, `align_corners` as PyTorch",
        example: "Upsample(2, mode = bilinear)",
        accepts: &[Input::Image, Input::Matrix],
        input_words: "a [channels, height, width] or a [channels, length]",
        flags: Flags::NONE,
    };

    fn rule(r: &RuleCx<'_>, a: &UpsampleArgs, input: &Shape) -> Result<Rule, Reported> {
        let (rt, span) = (r.rt(), r.span());
        let (sh, sw) = &a.scale_factor.value;
        let mode = a.mode.value;
        let linear = match (input, mode) {
            (_, UpsampleMode::Nearest) => false,
            (Shape::Image(..), UpsampleMode::Bilinear)
            | (Shape::Matrix(..), UpsampleMode::Linear) => true,
            (Shape::Image(..), UpsampleMode::Linear)
            | (Shape::Matrix(..), UpsampleMode::Bilinear) => {
                let want = if matches!(input, Shape::Image(..)) {
                    "bilinear"
                } else {
                    "linear"
                };
                return Err(r.cx.error_spanned_by(
                    &a.mode,
                    format_args!(
                        "Upsample: on an input of shape {} the interpolating mode is `{want}`",
                        input.text()
                    ),
                ));
            }
            _ => return Err(r.unexpected(input)),
        };
        if a.align_corners.value && !linear {
            return Err(r.cx.error_spanned_by(
                &a.align_corners,
                "Upsample: `align_corners` only applies to the `linear` and `bilinear` modes (as in PyTorch)",
            ));
        }
        let out = match input {
            Shape::Image(c, h, w) => Shape::Image(c.clone(), h.mul(sh), w.mul(sw)),
            Shape::Matrix(c, l) => {
                if sh.text() != sw.text() {
                    return Err(r.cx.error_spanned_by(
                        &a.scale_factor,
                        format_args!(
                            "Upsample: a [channels, length] input takes one scale factor, not ({}, {})",
                            sh.text(),
                            sw.text()
                        ),
                    ));
                }
                Shape::Matrix(c.clone(), l.mul(sw))
            }
            _ => return Err(r.unexpected(input)),
        };
        let interpolation = if linear {
            let align = a.align_corners.value;
            quote::quote!(#rt::layers::Bilinear<#align>)
        } else {
            quote::quote!(#rt::layers::Nearest)
        };
        let (x, y) = (r.sample_type(input), r.sample_type(&out));
        Ok(Rule::new(
            quote_spanned!(span=> #rt::layers::Upsample<#x, #y, #interpolation>),
            quote_spanned!(span=> ::core::default::Default::default()),
            out,
        ))
    }
}

args! {
    /// `PixelShuffle`'s arguments.
    pub struct PixelShuffleArgs {
        /// the factor each side of a plane grows by
        upscale_factor: Count,
    }
}

pub struct PixelShuffle;

impl Kind for PixelShuffle {
    type Args = PixelShuffleArgs;
    const DECL: Decl = Decl {
        name: "PixelShuffle",
        doc: "`[channels·r², height, width]` rearranged into `[channels, height·r, width·r]` (PyTorch's `nn.PixelShuffle(r)`, the sub-pixel convolution's upsampling)",
        example: "PixelShuffle(2)",
        accepts: &[Input::Image],
        input_words: "a [channels, height, width]",
        flags: Flags::NONE,
    };

    fn rule(r: &RuleCx<'_>, a: &PixelShuffleArgs, input: &Shape) -> Result<Rule, Reported> {
        let (rt, span) = (r.rt(), r.span());
        let Shape::Image(c, h, w) = input else {
            return Err(r.unexpected(input));
        };
        let factor = &a.upscale_factor.value;
        let square = factor.mul(factor);
        r.require(Cmp::MultipleOf, c, &square, &a.upscale_factor, || {
            format!(
                "PixelShuffle({}) needs channels that are a multiple of {}, but its input has {}",
                factor.text(),
                square.text(),
                c.text()
            )
        })?;
        let out = Shape::Image(c.div(&square), h.mul(factor), w.mul(factor));
        let [f] = r.const_args([(factor, "upscale factor")])?;
        let (x, y) = (r.sample_type(input), r.sample_type(&out));
        Ok(Rule::new(
            quote_spanned!(span=> #rt::layers::PixelShuffle<#x, #y, #f>),
            quote_spanned!(span=> ::core::default::Default::default()),
            out,
        ))
    }
}

/// This family's kinds, in the order the reference lists them.
pub const KINDS: &[KindEntry] = &[
    KindEntry::layer::<Upsample>(),
    KindEntry::layer::<PixelShuffle>(),
];
