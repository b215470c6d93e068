//! Element-wise activations. Relu, Tanh and Sigmoid fuse into a Dense, a convolution or a batch
//! normalisation right before them; Softmax and Sigmoid at the end of a network are the heads
//! a loss fuses with.

use super::reshape::{ANY_FLOAT, FLOATS};
use crate::args::{args, Count, NoArgs, Positive, Real};
use crate::ctxt::Reported;
use crate::decl::{Decl, Flags};
use crate::dim::{Cmp, Dim};
use crate::kind::{Kind, KindEntry};
use crate::rule::{Rule, RuleCx};
use crate::shape::{Input, Shape};
use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};

/// The rule of an activation whose runtime function type is `function`.
fn activation(r: &RuleCx<'_>, input: &Shape, function: TokenStream, init: TokenStream) -> Rule {
    let (rt, span) = (r.rt(), r.span());
    let sample = r.sample_type(input);
    let flags = r.decl.flags;
    Rule {
        head: flags.loss_head.then(|| function.clone()),
        activation: flags.fuses_into_previous.then(|| function.clone()),
        ..Rule::new(
            quote_spanned!(span=> #rt::Act<#function, #sample>),
            quote_spanned!(span=> #rt::Act::new(#init)),
            input.clone(),
        )
    }
    // One row of a sequence at a time: each step is a row of the last dimension.
    .stepped(matches!(input, Shape::Matrix(..)))
}

/// Activations without arguments: the kind, its declaration's doc and flags; the runtime
/// function type has the kind's name.
macro_rules! activations {
    ($($kind:ident: $doc:literal, $flags:expr;)*) => {$(
        pub struct $kind;

        impl Kind for $kind {
            type Args = NoArgs;
            const DECL: Decl = Decl {
                name: stringify!($kind),
                doc: $doc,
                example: stringify!($kind),
                accepts: FLOATS,
                input_words: "a float",
                flags: $flags,
            };

            fn rule(r: &RuleCx<'_>, _: &NoArgs, input: &Shape) -> Result<Rule, Reported> {
                let rt = r.rt();
                let function = format_ident!("{}", stringify!($kind), span = r.span());
                Ok(activation(r, input, quote!(#rt::#function), quote!(#rt::#function)))
            }
        }
    )*};
}

const FUSES: Flags = Flags {
    fuses_into_previous: true,
    ..ANY_FLOAT
};
const HEAD: Flags = Flags {
    loss_head: true,
    ..ANY_FLOAT
};

activations! {
    Relu: "max(0, x)", FUSES;
    Gelu: "x·Φ(x) (PyTorch's exact `nn.GELU`)", ANY_FLOAT;
    Silu: "x·σ(x) (PyTorch's `nn.SiLU`, Swish)", ANY_FLOAT;
    Mish: "x·tanh(softplus(x)) (PyTorch's `nn.Mish`)", ANY_FLOAT;
    Hardswish: "x·min(max(0, x + 3), 6) / 6 (PyTorch's `nn.Hardswish`, MobileNetV3's)", ANY_FLOAT;
    Hardsigmoid: "min(max(0, x + 3), 6) / 6 (PyTorch's `nn.Hardsigmoid`)", ANY_FLOAT;
    Relu6: "min(max(0, x), 6) (PyTorch's `nn.ReLU6`, MobileNet's)", ANY_FLOAT;
    Tanh: "tanh(x)", FUSES;
    Sigmoid: "1 / (1 + e^−x); at a network's end, the head binary cross-entropy fuses with", Flags { loss_head: true, ..FUSES };
    Softmax: "e^x / Σe^x over the last dimension (each step of a `[T, V]` output sums to 1, as PyTorch's `dim=-1`); at a network's end, the head cross-entropy fuses with (computed from the logits)", HEAD;
    LogSoftmax: "the log of the softmax over the last dimension, computed as (x − max) − log Σe^(x − max) (PyTorch's `nn.LogSoftmax(dim=-1)`)", ANY_FLOAT;
}

args! {
    /// `LeakyRelu`'s arguments.
    pub struct LeakyReluArgs {
        /// the negative slope
        alpha: Real = "0.01",
    }
}

pub struct LeakyRelu;

impl Kind for LeakyRelu {
    type Args = LeakyReluArgs;
    const DECL: Decl = Decl {
        name: "LeakyRelu",
        doc: "x for x > 0, α·x below (PyTorch's `nn.LeakyReLU`)",
        example: "LeakyRelu(0.2)",
        accepts: FLOATS,
        input_words: "a float",
        flags: ANY_FLOAT,
    };

    fn rule(r: &RuleCx<'_>, a: &LeakyReluArgs, input: &Shape) -> Result<Rule, Reported> {
        let rt = r.rt();
        let alpha = a.alpha.value as f32;
        Ok(activation(
            r,
            input,
            quote!(#rt::LeakyRelu),
            quote!(#rt::LeakyRelu::new(#alpha)),
        ))
    }
}

args! {
    /// `Elu`'s arguments.
    pub struct EluArgs {
        /// α, the saturation below zero
        alpha: Positive = "1.0",
    }
}

pub struct Elu;

impl Kind for Elu {
    type Args = EluArgs;
    const DECL: Decl = Decl {
        name: "Elu",
        doc: "x for x > 0, α·(e^x − 1) below (PyTorch's `nn.ELU`)",
        example: "Elu(0.5)",
        accepts: FLOATS,
        input_words: "a float",
        flags: ANY_FLOAT,
    };

    fn rule(r: &RuleCx<'_>, a: &EluArgs, input: &Shape) -> Result<Rule, Reported> {
        let rt = r.rt();
        let alpha = a.alpha.value as f32;
        Ok(activation(
            r,
            input,
            quote!(#rt::Elu),
            quote!(#rt::Elu::new(#alpha)),
        ))
    }
}

args! {
    /// `Softplus`'s arguments.
    pub struct SoftplusArgs {
        /// β, the sharpness
        beta: Positive = "1.0",
        /// above which β·x the output is x itself
        threshold: Real = "20.0",
    }
}

pub struct Softplus;

impl Kind for Softplus {
    type Args = SoftplusArgs;
    const DECL: Decl = Decl {
        name: "Softplus",
        doc: "log(1 + e^(βx)) / β, and x itself where βx > `threshold` (PyTorch's `nn.Softplus`)",
        example: "Softplus(2.0)",
        accepts: FLOATS,
        input_words: "a float",
        flags: ANY_FLOAT,
    };

    fn rule(r: &RuleCx<'_>, a: &SoftplusArgs, input: &Shape) -> Result<Rule, Reported> {
        let rt = r.rt();
        let (beta, threshold) = (a.beta.value as f32, a.threshold.value as f32);
        Ok(activation(
            r,
            input,
            quote!(#rt::Softplus),
            quote!(#rt::Softplus::new(#beta, #threshold)),
        ))
    }
}

args! {
    /// `PRelu`'s arguments.
    pub struct PReluArgs {
        /// the number of slopes: 1, or the channels
        parameters: Count = "1",
        /// the slopes' initial value
        init: Real = "0.25",
    }
}

pub struct PRelu;

impl Kind for PRelu {
    type Args = PReluArgs;
    const DECL: Decl = Decl {
        name: "PRelu",
        doc: "x for x > 0, a·x below with the slopes a learnt (PyTorch's `nn.PReLU`, `weight [parameters]`): one slope, or one per channel (the sample's first dimension)",
        example: "PRelu",
        accepts: FLOATS,
        input_words: "a float",
        flags: Flags::NONE,
    };

    fn rule(r: &RuleCx<'_>, a: &PReluArgs, input: &Shape) -> Result<Rule, Reported> {
        let (rt, span) = (r.rt(), r.span());
        let Some(channels) = input.dims().and_then(|d| d.into_iter().next()) else {
            return Err(r.unexpected(input));
        };
        let parameters = &a.parameters.value;
        if parameters.value() != Some(1) {
            r.require(Cmp::Eq, parameters, &channels, &a.parameters, || {
                format!(
                    "PRelu has one slope or one per channel: {} parameters, but its input {} has {} channels",
                    parameters.text(),
                    input.text(),
                    channels.text()
                )
            })?;
        }
        let [p] = r.const_args([(parameters, "number of slopes")])?;
        let sample = r.sample_type(input);
        let init = a.init.value as f32;
        Ok(Rule::new(
            quote_spanned!(span=> #rt::PRelu<#sample, #p>),
            quote_spanned!(span=> #rt::PRelu::new(#init)),
            input.clone(),
        ))
    }
}

pub struct Glu;

impl Kind for Glu {
    type Args = NoArgs;
    const DECL: Decl = Decl {
        name: "Glu",
        doc: "the gated linear unit over the last dimension (PyTorch's `nn.GLU(dim=-1)`): its halves a and b give a ⊙ σ(b), so the last dimension halves (it must be even)",
        example: "Glu",
        accepts: &[Input::Vector, Input::Matrix],
        input_words: "a [features] or [steps, features]",
        flags: Flags::NONE,
    };

    fn rule(r: &RuleCx<'_>, _: &NoArgs, input: &Shape) -> Result<Rule, Reported> {
        let (rt, span) = (r.rt(), r.span());
        let two = Dim::Known(2);
        let (last, out) = match input {
            Shape::Vector(n) => (n, Shape::Vector(n.div(&two))),
            Shape::Matrix(t, n) => (n, Shape::Matrix(t.clone(), n.div(&two))),
            _ => return Err(r.unexpected(input)),
        };
        r.require(Cmp::MultipleOf, last, &two, &r.layer.kind, || {
            format!(
                "Glu halves the last dimension, but its input {} ends in {}, an odd number",
                input.text(),
                last.text()
            )
        })?;
        let (x, y) = (r.sample_type(input), r.sample_type(&out));
        Ok(Rule::new(
            quote_spanned!(span=> #rt::Glu<#x, #y>),
            quote_spanned!(span=> ::core::default::Default::default()),
            out,
        ))
    }
}

/// This family's kinds, in the order the reference lists them.
pub const KINDS: &[KindEntry] = &[
    KindEntry::layer::<Relu>(),
    KindEntry::layer::<LeakyRelu>(),
    KindEntry::layer::<Elu>(),
    KindEntry::layer::<Softplus>(),
    KindEntry::layer::<PRelu>(),
    KindEntry::layer::<Gelu>(),
    KindEntry::layer::<Silu>(),
    KindEntry::layer::<Mish>(),
    KindEntry::layer::<Hardswish>(),
    KindEntry::layer::<Hardsigmoid>(),
    KindEntry::layer::<Relu6>(),
    KindEntry::layer::<Tanh>(),
    KindEntry::layer::<Sigmoid>(),
    KindEntry::layer::<Softmax>(),
    KindEntry::layer::<LogSoftmax>(),
    KindEntry::layer::<Glu>(),
];
