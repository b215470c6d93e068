//! Recurrent layers: `SimpleRNN`, `LSTM`, `GRU` over `[time steps, features]` sequences,
//! PyTorch's gate order and names, and `Bidirectional(…)` of any of them.

use crate::args::{args, choice, ArgCx, ArgKind, ArgType, Args, Count, Flag, Param, Slots};
use crate::ast::LayerDef;
use crate::ctxt::Reported;
use crate::decl::{Decl, Flags};
use crate::dim::Dim;
use crate::kind::{Kind, KindEntry};
use crate::rule::{Rule, RuleCx};
use crate::shape::{Input, Shape};
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned, ToTokens};

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
        recurrent(r, input, &Recurrence::simple(a))
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
            &Recurrence::gated(a, quote!(Lstm), Self::DECL.name),
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
            &Recurrence::gated(a, quote!(Gru), Self::DECL.name),
        )
    }
}

/// A recurrent layer as its rule needs it: the runtime's cell, units, whether every step is
/// returned, and the kind as written (for messages).
#[derive(Clone)]
pub struct Recurrence {
    cell: TokenStream,
    units: Dim,
    sequences: bool,
    kind: &'static str,
}

impl Recurrence {
    fn simple(a: &SimpleRnnArgs) -> Self {
        Recurrence {
            cell: match a.activation.value {
                RnnActivation::Tanh => quote!(SimpleRnnTanh),
                RnnActivation::Relu => quote!(SimpleRnnRelu),
            },
            units: a.units.value.clone(),
            sequences: a.return_sequences.value,
            kind: SimpleRnn::DECL.name,
        }
    }

    fn gated(a: &GatedArgs, cell: TokenStream, kind: &'static str) -> Self {
        Recurrence {
            cell,
            units: a.units.value.clone(),
            sequences: a.return_sequences.value,
            kind,
        }
    }

    /// The runtime type of this layer reading in `direction` (`Forward`, `Reverse`), from
    /// `t` steps of `f` features, with its output shape.
    fn layer(
        &self,
        r: &RuleCx<'_>,
        (t, f): (&Dim, &Dim),
        direction: TokenStream,
    ) -> Result<(TokenStream, Shape), Reported> {
        let rt = r.rt();
        let [ta, fa, ua] = r.const_args([
            (t, "number of time steps"),
            (f, "number of input features"),
            (&self.units, "number of units"),
        ])?;
        let cell = &self.cell;
        let (layer, out) = if self.sequences {
            (
                quote!(RecurrentSeq),
                Shape::Matrix(t.clone(), self.units.clone()),
            )
        } else {
            (quote!(Recurrent), Shape::Vector(self.units.clone()))
        };
        Ok((
            quote!(#rt::#layer<#rt::layers::#cell, #ta, #fa, #ua, #rt::layers::#direction>),
            out,
        ))
    }

    /// The hint a `Dense` after it gives when it returns every step.
    fn rank_hint(&self) -> Option<String> {
        self.sequences.then(|| {
            format!(
                "or drop `return_sequences` from the {} before it",
                self.kind
            )
        })
    }
}

/// A recurrent layer of `r`'s kind.
fn recurrent(r: &RuleCx<'_>, input: &Shape, spec: &Recurrence) -> Result<Rule, Reported> {
    let (rt, span) = (r.rt(), r.span());
    let Shape::Matrix(t, f) = input else {
        return Err(r.unexpected(input));
    };
    let (ty, out) = spec.layer(r, (t, f), quote!(Forward))?;
    Ok(Rule {
        rank_hint: spec.rank_hint(),
        ..Rule::new(
            quote_spanned!(span=> #ty),
            quote_spanned!(span=> <_ as #rt::layers::Layer>::init(rng)),
            out,
        )
        .stepped(true)
    })
}

/// A recurrent layer written as an argument (`Bidirectional(LSTM(64))`): one of this
/// family's kinds with its own arguments, checked as they are on their own.
impl ArgType for Recurrence {
    type Value = Recurrence;
    const KIND: ArgKind = ArgKind::Layer(&[SimpleRnn::DECL.name, Lstm::DECL.name, Gru::DECL.name]);

    fn parse(expr: &syn::Expr, param: &Param, a: &ArgCx<'_>) -> Result<Recurrence, Reported> {
        let expected = || {
            a.cx.error_spanned_by(
                expr,
                format_args!(
                    "{} is a recurrent layer such as `LSTM(64)`: `SimpleRNN(…)`, `LSTM(…)` or `GRU(…)`",
                    param.what
                ),
            )
        };
        let Ok(layer) = syn::parse2::<LayerDef>(expr.to_token_stream()) else {
            return Err(expected());
        };
        if layer.name.is_some() || layer.block.is_some() {
            return Err(expected());
        }
        let kind = layer.kind.to_string();
        if kind == SimpleRnn::DECL.name {
            let slots = Slots::new(SimpleRnn::DECL.name, SimpleRnnArgs::PARAMS, &layer, a.cx);
            let args = SimpleRnnArgs::parse(&slots, a);
            return match slots.failed() {
                Some(failed) => Err(failed),
                None => args.map(|args| Recurrence::simple(&args)),
            };
        }
        for (name, cell) in [
            (Lstm::DECL.name, quote!(Lstm)),
            (Gru::DECL.name, quote!(Gru)),
        ] {
            if kind == name {
                let slots = Slots::new(name, GatedArgs::PARAMS, &layer, a.cx);
                let args = GatedArgs::parse(&slots, a);
                return match slots.failed() {
                    Some(failed) => Err(failed),
                    None => args.map(|args| Recurrence::gated(&args, cell, name)),
                };
            }
        }
        Err(expected())
    }
}

choice! {
    /// How a bidirectional layer joins its directions.
    pub enum MergeChoice {
        Concat = "concat",
        Sum = "sum",
    }
}

args! {
    /// `Bidirectional`'s arguments.
    pub struct BidirectionalArgs {
        /// the recurrent layer
        layer: Recurrence,
        /// how the two directions are joined
        merge: MergeChoice = "concat",
    }
}

pub struct Bidirectional;

impl Kind for Bidirectional {
    type Args = BidirectionalArgs;
    const DECL: Decl = Decl {
        name: "Bidirectional",
        doc: "a recurrent layer reading each sequence forwards and a second one (tensors named `…_reverse`, PyTorch's `bidirectional=True`) reading it from its own last step backwards, joined per step by `merge = concat` (`[T, 2H]` or `[2H]`) or `sum`",
        example: "Bidirectional(LSTM(32, return_sequences = true))",
        accepts: SEQUENCE,
        input_words: SEQUENCE_WORDS,
        flags: Flags::NONE,
    };

    fn rule(r: &RuleCx<'_>, a: &BidirectionalArgs, input: &Shape) -> Result<Rule, Reported> {
        let (rt, span) = (r.rt(), r.span());
        let Shape::Matrix(t, f) = input else {
            return Err(r.unexpected(input));
        };
        let spec = &a.layer.value;
        let (forward, out) = spec.layer(r, (t, f), quote!(Forward))?;
        let (reverse, _) = spec.layer(r, (t, f), quote!(Reverse))?;
        let (merge, width) = match a.merge.value {
            MergeChoice::Concat => (quote!(MergeConcat), spec.units.mul(&Dim::Known(2))),
            MergeChoice::Sum => (quote!(MergeSum), spec.units.clone()),
        };
        let out = match out {
            Shape::Matrix(t, _) => Shape::Matrix(t, width),
            _ => Shape::Vector(width),
        };
        let y = r.sample_type(&out);
        Ok(Rule {
            rank_hint: spec.rank_hint(),
            ..Rule::new(
                quote_spanned!(span=> #rt::Bidirectional<#forward, #reverse, #rt::layers::#merge, #y>),
                quote_spanned!(span=> <_ as #rt::layers::Layer>::init(rng)),
                out,
            )
        })
    }
}

/// This family's kinds, in the order the reference lists them.
pub const KINDS: &[KindEntry] = &[
    KindEntry::layer::<SimpleRnn>(),
    KindEntry::layer::<Lstm>(),
    KindEntry::layer::<Gru>(),
    KindEntry::layer::<Bidirectional>(),
];
