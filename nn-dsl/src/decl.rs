//! A layer kind's declaration as data: name, one-line doc, example, accepted inputs and the
//! flags the fusion pass and resolution read; and the form a layer takes with its arguments.

use crate::shape::Input;
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
    /// The selection of a named part of its input: the layer after it reads the part, and
    /// checks its token ids.
    pub selects_part: bool,
}

impl Flags {
    pub const NONE: Flags = Flags {
        after_subnetwork: false,
        loss_head: false,
        fuses_into_previous: false,
        pooling: false,
        takes_pooling: false,
        subnetwork: false,
        selects_part: false,
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
