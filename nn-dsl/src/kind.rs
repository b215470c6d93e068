//! What a layer kind is to the macro: its declaration ([`Decl`]: name, one-line doc,
//! example, accepted inputs, flags), its typed arguments ([`crate::args::Args`]) and its shape
//! rule, together a [`Kind`]. The table (`kinds/mod.rs`) erases each into a [`KindEntry`];
//! parsing, checks, "did you mean", the known-layer list, the reference documentation and the
//! never-panics property all read that table.

use crate::args::{ArgCx, Args, Param, Slots};
use crate::ctxt::Reported;
use crate::decl::{Decl, Form};
use crate::rule::{Rule, RuleCx};
use crate::shape::Shape;

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
    Zip,
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
