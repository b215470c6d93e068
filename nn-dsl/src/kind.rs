//! What a layer kind is to the macro: its declaration ([`Decl`]: name, one-line doc,
//! example, accepted inputs, flags), its typed arguments ([`crate::args::Args`]) and its shape
//! rule, together a [`Kind`]. The table (`kinds/mod.rs`) erases each into a [`KindEntry`];
//! parsing, checks, "did you mean", the known-layer list, the reference documentation and the
//! never-panics property all read that table.

use crate::args::{ArgCx, Args, Param, Slots};
use crate::ctxt::Reported;
use crate::rule::{Rule, RuleCx};
use crate::shape::{Input, Shape};
use std::borrow::Cow;

/// A layer kind's declaration.
#[derive(Clone, Copy)]
pub struct Decl {
    pub name: &'static str,
    /// One line for the reference: what the layer computes, and its PyTorch counterpart.
    pub doc: &'static str,
    /// A use, as the reference shows it (`Dense(64)`).
    pub example: &'static str,
    /// The sample kinds it takes, and them in words after "takes" ("a 1-D").
    pub accepts: &'static [Input],
    pub input_words: &'static str,
    pub flags: Flags,
}

/// What the fusion pass and the resolution of shapes need to know of a kind.
#[derive(Clone, Copy, Debug, Default)]
pub struct Flags {
    /// It may follow a sub-network, whose output shape only the type system knows.
    pub after_subnetwork: bool,
    /// It is an output activation a loss fuses with (Softmax, Sigmoid).
    pub loss_head: bool,
    /// An element-wise activation that fuses into the layer before it (Dense, convolutions)
    /// when unnamed and written without arguments.
    pub fuses_into_previous: bool,
    /// A pooling that fuses into a convolution before it when unnamed.
    pub pooling: bool,
    /// A convolution, into which a pooling after it fuses.
    pub takes_pooling: bool,
    /// A sub-network: its input and output types are known only to the type system.
    pub subnetwork: bool,
}

impl Flags {
    pub const NONE: Flags = Flags {
        after_subnetwork: false,
        loss_head: false,
        fuses_into_previous: false,
        pooling: false,
        takes_pooling: false,
        subnetwork: false,
    };
}

/// What a layer takes with the arguments it was given: its declaration's inputs, or others
/// that an argument selects (`Dense(…, per_step = true)` takes sequences).
pub struct Form {
    /// The layer as messages about its input name it.
    pub label: Cow<'static, str>,
    pub accepts: &'static [Input],
    pub input_words: &'static str,
    /// It takes a sub-network's output as that type is; otherwise, when it takes one rank,
    /// the dimensions are read off the sub-network's output type.
    pub after_subnetwork: bool,
}

impl Form {
    /// The declaration's own inputs.
    pub fn of(decl: &Decl) -> Form {
        Form {
            label: Cow::Borrowed(decl.name),
            accepts: decl.accepts,
            input_words: decl.input_words,
            after_subnetwork: decl.flags.after_subnetwork,
        }
    }
}

/// A layer kind: its declaration, its arguments and its shape rule.
pub trait Kind {
    type Args: Args;
    const DECL: Decl;

    /// What the layer takes with `args`.
    fn form(args: &Self::Args) -> Form {
        let _ = args;
        Form::of(&Self::DECL)
    }

    /// The layer's type, initialiser and output shape for `input` (checked against
    /// [`Kind::form`] already); an error at the argument at fault when the sizes do not fit.
    fn rule(r: &RuleCx<'_>, args: &Self::Args, input: &Shape) -> Result<Rule, Reported>;
}

/// The joins, whose paths follow in braces and which `joins.rs` resolves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinKind {
    Residual,
    Concat,
    Add,
}

/// A layer kind's resolution with its type erased: its arguments parsed, its input checked
/// and its rule applied; the input is an error when an earlier layer's was.
pub type ResolveFn =
    fn(&RuleCx<'_>, &Slots<'_>, Result<&Shape, Reported>) -> Result<Rule, Reported>;

/// How the table resolves a kind.
#[derive(Clone, Copy)]
pub enum Body {
    Layer(ResolveFn),
    /// A join, and its signature as messages show it.
    Join(JoinKind, &'static str),
}

/// One entry of the table: a kind with its type erased.
#[derive(Clone, Copy)]
pub struct KindEntry {
    pub decl: Decl,
    pub params: &'static [Param],
    pub body: Body,
}

impl KindEntry {
    pub const fn layer<K: Kind>() -> KindEntry {
        KindEntry {
            decl: K::DECL,
            params: K::Args::PARAMS,
            body: Body::Layer(resolve::<K>),
        }
    }

    pub const fn join(decl: Decl, join: JoinKind, signature: &'static str) -> KindEntry {
        KindEntry {
            decl,
            params: &[],
            body: Body::Join(join, signature),
        }
    }

    pub fn name(&self) -> &'static str {
        self.decl.name
    }

    /// The signature as a user writes it.
    pub fn usage(&self) -> String {
        match self.body {
            Body::Join(_, signature) => signature.to_string(),
            Body::Layer(_) => crate::args::usage(self.decl.name, self.params),
        }
    }
}

/// A layer of kind `K`: its arguments (every problem reported), then its input, then its rule.
fn resolve<K: Kind>(
    r: &RuleCx<'_>,
    slots: &Slots<'_>,
    input: Result<&Shape, Reported>,
) -> Result<Rule, Reported> {
    let label = r.label();
    let args = K::Args::parse(
        slots,
        &ArgCx {
            cx: r.cx,
            label: &label,
        },
    );
    if let Some(failed) = slots.failed() {
        return Err(failed);
    }
    let args = args?;
    // After an earlier error the input is unknown: the layer's own arguments were checked
    // above, its fit to the input cannot be.
    let input = input?;
    let form = K::form(&args);
    let input = r.read_off(&form, input);
    r.check_input(&form, &input)?;
    K::rule(r, &args, &input)
}
