//! Normalisations: `BatchNorm1d`, `BatchNorm2d`, `LayerNorm`, `RMSNorm`, `GroupNorm`,
//! `InstanceNorm1d` and `InstanceNorm2d`, PyTorch's semantics.

use super::reshape::{ANY_FLOAT, FLOATS};
use crate::args::{args, Count, Flag, Positive, Spanned, UnitInterval};
use crate::ctxt::Reported;
use crate::decl::{Decl, Flags};
use crate::dim::{Cmp, Dim};
use crate::kind::{Kind, KindEntry};
use crate::rule::{Rule, RuleCx};
use crate::shape::{Input, Shape};
use quote::{quote, quote_spanned};

args! {
    /// The arguments of a batch normalisation.
    pub struct BatchNormArgs {
        /// the number of features
        features: Count or "inferred",
        /// the momentum
        momentum: UnitInterval = "0.1",
        /// eps
        eps: Positive = "1e-5",
    }
}

args! {
    /// `LayerNorm`'s arguments.
    pub struct LayerNormArgs {
        /// the number of features
        features: Count or "inferred",
        /// eps
        eps: Positive = "1e-5",
    }
}

pub struct BatchNorm1d;
pub struct BatchNorm2d;

impl Kind for BatchNorm1d {
    type Args = BatchNormArgs;
    const DECL: Decl = Decl {
        name: "BatchNorm1d",
        doc: "batch normalisation of each feature or channel (PyTorch's `nn.BatchNorm1d`: `weight`, `bias`, buffers `running_mean`, `running_var`, `num_batches_tracked`); `features`, when given, must be the input's",
        example: "BatchNorm1d",
        accepts: &[Input::Vector, Input::Matrix],
        input_words: "a [features] or [channels, length]",
        flags: Flags::NONE,
    };

    fn rule(r: &RuleCx<'_>, args: &BatchNormArgs, input: &Shape) -> Result<Rule, Reported> {
        batch_norm(r, args, input)
    }
}

impl Kind for BatchNorm2d {
    type Args = BatchNormArgs;
    const DECL: Decl = Decl {
        name: "BatchNorm2d",
        doc: "batch normalisation of each channel of `[channels, height, width]` samples (PyTorch's `nn.BatchNorm2d`)",
        example: "BatchNorm2d",
        accepts: &[Input::Image],
        input_words: "a [channels, height, width]",
        flags: Flags::NONE,
    };

    fn rule(r: &RuleCx<'_>, args: &BatchNormArgs, input: &Shape) -> Result<Rule, Reported> {
        batch_norm(r, args, input)
    }
}

/// The `features` argument of a normalisation layer, when given, must be what it normalises.
fn check_features(
    r: &RuleCx<'_>,
    given: Option<&Spanned<Dim>>,
    inferred: &Dim,
    what: &str,
) -> Result<(), Reported> {
    let Some(given) = given else {
        return Ok(());
    };
    let value = &given.value;
    r.require(Cmp::Eq, value, inferred, given, || {
        format!(
            "{}({}) normalises {} {what}, but its input has {}",
            r.decl.name,
            value.text(),
            value.text(),
            inferred.text()
        )
    })
}

fn batch_norm(r: &RuleCx<'_>, a: &BatchNormArgs, input: &Shape) -> Result<Rule, Reported> {
    let (rt, span) = (r.rt().clone(), r.span());
    // The channel is the first dimension: [features], [channels, length], [channels, h, w].
    let Some(channels) = input.dims().and_then(|d| d.into_iter().next()) else {
        return Err(r.unexpected(input));
    };
    check_features(r, a.features.as_ref(), &channels, "channels")?;
    let sample = r.sample_type(input);
    let (momentum, eps) = (a.momentum.value as f32, a.eps.value as f32);
    // An activation right after it fuses in: it runs on each channel's values in cache.
    let ty_rt = rt.clone();
    Ok(Rule::fusable(
        &rt,
        move |f| quote_spanned!(span=> #ty_rt::BatchNorm<#sample, #f>),
        quote_spanned!(span=> #rt::BatchNorm::new(#momentum, #eps)),
        input.clone(),
    ))
}

pub struct LayerNorm;

impl Kind for LayerNorm {
    type Args = LayerNormArgs;
    const DECL: Decl = Decl {
        name: "LayerNorm",
        doc: "normalisation of each sample over its last dimension (PyTorch's `nn.LayerNorm`: `weight`, `bias`)",
        example: "LayerNorm",
        accepts: FLOATS,
        input_words: "a float",
        flags: ANY_FLOAT,
    };

    fn rule(r: &RuleCx<'_>, a: &LayerNormArgs, input: &Shape) -> Result<Rule, Reported> {
        last_dimension_norm(r, a.features.as_ref(), a.eps.value, input, "LayerNorm")
    }
}

/// The rule of a normalisation of each row of the last dimension, the runtime's `norm`
/// (`LayerNorm`, `RmsNorm`) with its `eps`: `features`, when given, must be that dimension;
/// it steps on sequences.
fn last_dimension_norm(
    r: &RuleCx<'_>,
    features: Option<&Spanned<Dim>>,
    eps: f64,
    input: &Shape,
    norm: &str,
) -> Result<Rule, Reported> {
    let (rt, span) = (r.rt(), r.span());
    let norm = quote::format_ident!("{}", norm, span = span);
    check_features(r, features, &last_dimension(r, input)?, "features")?;
    let sample = r.sample_type(input);
    let eps = eps as f32;
    Ok(Rule::new(
        quote_spanned!(span=> #rt::#norm<#sample>),
        quote_spanned!(span=> #rt::#norm::new(#eps)),
        input.clone(),
    )
    .stepped(matches!(input, Shape::Matrix(..))))
}

/// The last dimension of a float input, which a normalisation over it normalises: after a
/// sub-network, read off its output type.
fn last_dimension(r: &RuleCx<'_>, input: &Shape) -> Result<Dim, Reported> {
    let rt = r.rt();
    match input {
        Shape::Opaque(ty) => Ok(Dim::from_tokens(
            quote!(<#ty as #rt::Sample>::SHAPE[<#ty as #rt::Sample>::SHAPE.len() - 1]),
            "the sub-network's last dimension",
        )),
        float => float
            .dims()
            .and_then(|d| d.last().cloned())
            .ok_or_else(|| r.unexpected(input)),
    }
}

args! {
    /// `RMSNorm`'s arguments.
    pub struct RmsNormArgs {
        /// the number of features
        features: Count or "inferred",
        /// eps
        eps: Positive = "1.1920929e-7",
    }
}

pub struct RmsNorm;

impl Kind for RmsNorm {
    type Args = RmsNormArgs;
    const DECL: Decl = Decl {
        name: "RMSNorm",
        doc: "each row of the last dimension divided by its root mean square, then scaled per feature (PyTorch's `nn.RMSNorm`: `weight`, no bias; the default `eps` is PyTorch's, f32's machine epsilon)",
        example: "RMSNorm",
        accepts: FLOATS,
        input_words: "a float",
        flags: ANY_FLOAT,
    };

    fn rule(r: &RuleCx<'_>, a: &RmsNormArgs, input: &Shape) -> Result<Rule, Reported> {
        last_dimension_norm(r, a.features.as_ref(), a.eps.value, input, "RmsNorm")
    }
}

args! {
    /// `GroupNorm`'s arguments.
    pub struct GroupNormArgs {
        /// the number of groups
        groups: Count,
        /// eps
        eps: Positive = "1e-5",
    }
}

pub struct GroupNorm;

impl Kind for GroupNorm {
    type Args = GroupNormArgs;
    const DECL: Decl = Decl {
        name: "GroupNorm",
        doc: "normalisation of each sample's channels in `groups` groups of consecutive channels, then a scale and shift per channel (PyTorch's `nn.GroupNorm`: `weight`, `bias`); `groups` must divide the channels",
        example: "GroupNorm(4)",
        accepts: &[Input::Vector, Input::Matrix, Input::Image],
        input_words: "a [channels], [channels, length] or [channels, height, width]",
        flags: Flags::NONE,
    };

    fn rule(r: &RuleCx<'_>, a: &GroupNormArgs, input: &Shape) -> Result<Rule, Reported> {
        let (rt, span) = (r.rt(), r.span());
        let Some(channels) = input.dims().and_then(|d| d.into_iter().next()) else {
            return Err(r.unexpected(input));
        };
        let groups = &a.groups.value;
        r.require(Cmp::MultipleOf, &channels, groups, &a.groups, || {
            format!(
                "{} groups do not divide the {} channels of its input {}",
                groups.text(),
                channels.text(),
                input.text()
            )
        })?;
        let [g] = r.const_args([(groups, "number of groups")])?;
        let sample = r.sample_type(input);
        let eps = a.eps.value as f32;
        Ok(Rule::new(
            quote_spanned!(span=> #rt::GroupNorm<#sample, #g>),
            quote_spanned!(span=> #rt::GroupNorm::new(#eps)),
            input.clone(),
        ))
    }
}

args! {
    /// The arguments of an instance normalisation.
    pub struct InstanceNormArgs {
        /// the number of channels
        features: Count or "inferred",
        /// eps
        eps: Positive = "1e-5",
        /// whether a scale and shift per channel follow (`weight`, `bias`)
        affine: Flag = "false",
    }
}

pub struct InstanceNorm1d;
pub struct InstanceNorm2d;

impl Kind for InstanceNorm1d {
    type Args = InstanceNormArgs;
    const DECL: Decl = Decl {
        name: "InstanceNorm1d",
        doc: "normalisation of each channel of each `[channels, length]` sample with its own mean and variance (PyTorch's `nn.InstanceNorm1d`, no running statistics); `affine = true` adds a scale and shift per channel (`weight`, `bias`)",
        example: "InstanceNorm1d(affine = true)",
        accepts: &[Input::Matrix],
        input_words: "a [channels, length]",
        flags: Flags::NONE,
    };

    fn rule(r: &RuleCx<'_>, args: &InstanceNormArgs, input: &Shape) -> Result<Rule, Reported> {
        instance_norm(r, args, input)
    }
}

impl Kind for InstanceNorm2d {
    type Args = InstanceNormArgs;
    const DECL: Decl = Decl {
        name: "InstanceNorm2d",
        doc: "normalisation of each channel of each `[channels, height, width]` sample with its own mean and variance (PyTorch's `nn.InstanceNorm2d`); the arguments of `InstanceNorm1d`",
        example: "InstanceNorm2d",
        accepts: &[Input::Image],
        input_words: "a [channels, height, width]",
        flags: Flags::NONE,
    };

    fn rule(r: &RuleCx<'_>, args: &InstanceNormArgs, input: &Shape) -> Result<Rule, Reported> {
        instance_norm(r, args, input)
    }
}

fn instance_norm(r: &RuleCx<'_>, a: &InstanceNormArgs, input: &Shape) -> Result<Rule, Reported> {
    let (rt, span) = (r.rt(), r.span());
    let Some(channels) = input.dims().and_then(|d| d.into_iter().next()) else {
        return Err(r.unexpected(input));
    };
    check_features(r, a.features.as_ref(), &channels, "channels")?;
    let sample = r.sample_type(input);
    let (eps, affine) = (a.eps.value as f32, a.affine.value);
    Ok(Rule::new(
        quote_spanned!(span=> #rt::InstanceNorm<#sample, #affine>),
        quote_spanned!(span=> #rt::InstanceNorm::new(#eps)),
        input.clone(),
    ))
}

/// This family's kinds, in the order the reference lists them.
pub const KINDS: &[KindEntry] = &[
    KindEntry::layer::<BatchNorm1d>(),
    KindEntry::layer::<BatchNorm2d>(),
    KindEntry::layer::<LayerNorm>(),
    KindEntry::layer::<RmsNorm>(),
    KindEntry::layer::<GroupNorm>(),
    KindEntry::layer::<InstanceNorm1d>(),
    KindEntry::layer::<InstanceNorm2d>(),
];
