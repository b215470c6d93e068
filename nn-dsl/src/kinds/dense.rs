//! `Dense`: a fully connected layer, on a vector or on every step of a sequence; and
//! `SwiGLU`, the gated feed-forward block of modern decoders.

use crate::args::{args, Count, Flag};
use crate::ctxt::Reported;
use crate::decl::{Decl, Flags, Form};
use crate::kind::{Kind, KindEntry};
use crate::rule::{Rule, RuleCx};
use crate::shape::{Input, Shape};
use quote::quote_spanned;

args! {
    /// `Dense`'s arguments.
    pub struct DenseArgs {
        /// the number of units
        units: Count,
        /// whether a bias is added
        bias: Flag = "true",
        /// whether it applies to every step of a sequence
        per_step: Flag = "false",
    }
}

pub struct Dense;

impl Kind for Dense {
    type Args = DenseArgs;
    const DECL: Decl = Decl {
        name: "Dense",
        doc: "fully connected, `y = x·Wᵀ + b` (PyTorch's `nn.Linear`, weight `[units, in]`); `per_step = true` applies it to every step of a `[steps, features]` sequence",
        example: "Dense(64)",
        accepts: &[Input::Vector],
        input_words: "a 1-D",
        flags: Flags {
            after_subnetwork: true,
            ..Flags::NONE
        },
    };

    fn form(args: &DenseArgs) -> Form {
        if !args.per_step.value {
            return Form::of(&Self::DECL);
        }
        Form {
            label: "Dense(…, per_step = true)".into(),
            accepts: &[Input::Matrix],
            input_words: "a sequence [steps, features]",
            after_subnetwork: false,
        }
    }

    fn rule(r: &RuleCx<'_>, args: &DenseArgs, input: &Shape) -> Result<Rule, Reported> {
        let (rt, span) = (r.rt().clone(), r.span());
        let bias = args.bias.value;
        let units = &args.units.value;
        if args.per_step.value {
            // The same Dense at every step.
            let Shape::Matrix(t, f) = input else {
                return Err(r.unexpected(input));
            };
            let [ta, fa, ua] = r.const_args([
                (t, "number of steps"),
                (f, "number of input features"),
                (units, "number of units"),
            ])?;
            let ty_rt = rt.clone();
            return Ok(Rule::fusable(
                &rt,
                move |f| quote_spanned!(span=> #ty_rt::DenseSeq<#ta, #fa, #ua, #f, #bias>),
                quote_spanned!(span=> #rt::DenseSeq::glorot_uniform(rng)),
                Shape::Matrix(t.clone(), units.clone()),
            )
            .stepped(true));
        }
        // Any sample of the right length: a vector of const length, a generic network's
        // flattened shape, or a sub-network's output.
        let x = r.sample_type(input);
        let out = Shape::Vector(units.clone());
        let y = r.sample_type(&out);
        let ty_rt = rt.clone();
        Ok(Rule::fusable(
            &rt,
            move |f| quote_spanned!(span=> #ty_rt::layers::DenseOn<#x, #y, #f, #bias>),
            quote_spanned!(span=> #rt::layers::DenseOn::glorot_uniform(rng)),
            out,
        ))
    }
}

args! {
    /// `SwiGLU`'s arguments.
    pub struct SwiGluArgs {
        /// the number of hidden units
        hidden: Count,
    }
}

pub struct SwiGlu;

impl Kind for SwiGlu {
    type Args = SwiGluArgs;
    const DECL: Decl = Decl {
        name: "SwiGLU",
        doc: "the gated feed-forward block of Llama-style decoders on each row of the last dimension, `y = (silu(x·W_gateᵀ) ⊙ x·W_upᵀ)·W_downᵀ` with `hidden` units and no biases (`gate_proj.weight [hidden, features]`, `up_proj`, `down_proj.weight [features, hidden]`); keeps the shape, so it goes inside a residual block",
        example: "SwiGLU(256)",
        accepts: &[Input::Vector, Input::Matrix],
        input_words: "a [features] or [steps, features]",
        flags: Flags::NONE,
    };

    fn rule(r: &RuleCx<'_>, args: &SwiGluArgs, input: &Shape) -> Result<Rule, Reported> {
        let (rt, span) = (r.rt(), r.span());
        if !matches!(input, Shape::Vector(_) | Shape::Matrix(..)) {
            return Err(r.unexpected(input));
        }
        let [hidden] = r.const_args([(&args.hidden.value, "number of hidden units")])?;
        let sample = r.sample_type(input);
        Ok(Rule::new(
            quote_spanned!(span=> #rt::SwiGlu<#sample, #hidden>),
            quote_spanned!(span=> #rt::SwiGlu::kaiming_uniform(rng)),
            input.clone(),
        )
        .stepped(matches!(input, Shape::Matrix(..))))
    }
}

/// This family's kinds, in the order the reference lists them.
pub const KINDS: &[KindEntry] = &[KindEntry::layer::<Dense>(), KindEntry::layer::<SwiGlu>()];
