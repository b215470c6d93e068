//! The joins' declarations: `Residual`, `Concat`, `Add` and `Zip` hold paths in braces, which
//! `joins.rs` resolves.

use super::reshape::FLOATS;
use crate::decl::{Decl, Flags};
use crate::kind::{JoinKind, KindEntry};
use crate::shape::Input;

const fn join(name: &'static str, doc: &'static str, example: &'static str) -> Decl {
    Decl {
        name,
        doc,
        example,
        accepts: FLOATS,
        input_words: "a float",
        flags: Flags::NONE,
    }
}

pub const RESIDUAL: KindEntry = KindEntry::join(
    join(
        "Residual",
        "adds its body's output to its input; `shortcut { … }` after it replaces the identity by a projection",
        "Residual { Dense(64), Relu, Dense(64) }",
    ),
    JoinKind::Residual,
    "`Residual { layers }`, or `Residual { layers } shortcut { layers }`",
);

pub const CONCAT: KindEntry = KindEntry::join(
    join(
        "Concat",
        "runs branches on the same input and stacks their outputs along the first dimension",
        "Concat { { Dense(16) }, { Dense(16), Relu } }",
    ),
    JoinKind::Concat,
    "`Concat { { layers }, { layers }, … }`",
);

pub const ADD: KindEntry = KindEntry::join(
    join(
        "Add",
        "runs branches on the same input and sums their outputs",
        "Add { { Dense(32) }, { Dense(32), Relu } }",
    ),
    JoinKind::Add,
    "`Add { { layers }, { layers }, … }`",
);

pub const ZIP: KindEntry = KindEntry::join(
    Decl {
        accepts: &[
            Input::Vector,
            Input::Matrix,
            Input::Image,
            Input::Tokens,
            Input::Parts,
        ],
        input_words: "any",
        ..join(
            "Zip",
            "runs named branches on the same input and keeps their outputs apart, as named parts (a network's several outputs, or what a later layer reads by name: `CrossAttention`, a branch starting with a part's name, `Flatten`)",
            "Zip { policy: { Dense(4) }, value: { Dense(1), Tanh } }",
        )
    },
    JoinKind::Zip,
    "`Zip { name: { layers }, name: { layers }, … }`",
);

/// The joins, in the order the reference lists them.
pub const KINDS: &[KindEntry] = &[RESIDUAL, CONCAT, ADD, ZIP];
