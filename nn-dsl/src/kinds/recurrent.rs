//! Recurrent layers: `SimpleRNN`, `LSTM`, `GRU` over `[time steps, features]` sequences,
//! PyTorch's gate order and names.

use crate::args::{args, choice, Count, Flag};
use crate::ctxt::Reported;
use crate::decl::{Decl, Flags};
use crate::kind::{Kind, KindEntry};
use crate::rule::{Rule, RuleCx};
use crate::shape::{Input, Shape};
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

choice! {
    /// A simple RNN's activation.
    pub enum RnnActivation {
        Tanh = "tanh",
        Relu = "relu",
    }
}

args! {
    /// `SimpleRNN`'s arguments.
    pub struct SimpleRnnArgs {
        /// the number of units
        units: Count,
        /// the activation
        activation: RnnActivation = "tanh",
        /// whether every step is returned
        return_sequences: Flag = "false",
    }
}

args! {
    /// The arguments of an LSTM or a GRU.
    pub struct GatedArgs {
        /// the number of units
        units: Count,
        /// whether every step is returned
        return_sequences: Flag = "false",
    }
}

const SEQUENCE: &[Input] = &[Input::Matrix];
const SEQUENCE_WORDS: &str = "a sequence [time steps, features]";

pub struct SimpleRnn;
pub struct Lstm;
pub struct Gru;

impl Kind for SimpleRnn {
    type Args = SimpleRnnArgs;
    const DECL: Decl = Decl {
        name: "SimpleRNN",
        doc: "h_t = act(x_t·W_ihᵀ + h_{t−1}·W_hhᵀ + b) (PyTorch's `nn.RNN`, `activation = tanh | relu`); the last state, or every step with `return_sequences = true`",
        example: "SimpleRNN(32)",
        accepts: SEQUENCE,
        input_words: SEQUENCE_WORDS,
        flags: Flags::NONE,
    };

    fn rule(r: &RuleCx<'_>, a: &SimpleRnnArgs, input: &Shape) -> Result<Rule, Reported> {
        let cell = match a.activation.value {
            RnnActivation::Tanh => quote!(SimpleRnnTanh),
            RnnActivation::Relu => quote!(SimpleRnnRelu),
        };
        recurrent(r, input, &a.units.value, a.return_sequences.value, cell)
    }
}

impl Kind for Lstm {
    type Args = GatedArgs;
    const DECL: Decl = Decl {
        name: "LSTM",
        doc: "long short-term memory (PyTorch's `nn.LSTM`, gates i, f, g, o); the last state, or every step with `return_sequences = true`",
        example: "LSTM(64)",
        accepts: SEQUENCE,
        input_words: SEQUENCE_WORDS,
        flags: Flags::NONE,
    };

    fn rule(r: &RuleCx<'_>, a: &GatedArgs, input: &Shape) -> Result<Rule, Reported> {
        recurrent(
            r,
            input,
            &a.units.value,
            a.return_sequences.value,
            quote!(Lstm),
        )
    }
}

impl Kind for Gru {
    type Args = GatedArgs;
    const DECL: Decl = Decl {
        name: "GRU",
        doc: "gated recurrent unit (PyTorch's `nn.GRU`, gates r, z, n); the last state, or every step with `return_sequences = true`",
        example: "GRU(64, return_sequences = true)",
        accepts: SEQUENCE,
        input_words: SEQUENCE_WORDS,
        flags: Flags::NONE,
    };

    fn rule(r: &RuleCx<'_>, a: &GatedArgs, input: &Shape) -> Result<Rule, Reported> {
        recurrent(
            r,
            input,
            &a.units.value,
            a.return_sequences.value,
            quote!(Gru),
        )
    }
}

/// A recurrent layer of the runtime's cell `cell`.
fn recurrent(
    r: &RuleCx<'_>,
    input: &Shape,
    units: &crate::dim::Dim,
    sequences: bool,
    cell: TokenStream,
) -> Result<Rule, Reported> {
    let (rt, span) = (r.rt(), r.span());
    let Shape::Matrix(t, f) = input else {
        return Err(r.unexpected(input));
    };
    let [ta, fa, ua] = r.const_args([
        (t, "number of time steps"),
        (f, "number of input features"),
        (units, "number of units"),
    ])?;
    let (layer, out) = if sequences {
        (
            quote!(RecurrentSeq),
            Shape::Matrix(t.clone(), units.clone()),
        )
    } else {
        (quote!(Recurrent), Shape::Vector(units.clone()))
    };
    Ok(Rule {
        rank_hint: sequences.then(|| {
            format!(
                "or drop `return_sequences` from the {} before it",
                r.decl.name
            )
        }),
        ..Rule::new(
            quote_spanned!(span=> #rt::#layer<#rt::layers::#cell, #ta, #fa, #ua>),
            quote_spanned!(span=> <_ as #rt::layers::Layer>::init(rng)),
            out,
        )
    })
}

/// This family's kinds, in the order the reference lists them.
pub const KINDS: &[KindEntry] = &[
    KindEntry::layer::<SimpleRnn>(),
    KindEntry::layer::<Lstm>(),
    KindEntry::layer::<Gru>(),
];
