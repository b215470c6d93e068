//! `Net(Type)`: another network, or any layer type, used as a layer.

use super::reshape::FLOATS;
use crate::args::{args, TypePath};
use crate::ctxt::Reported;
use crate::decl::{Decl, Flags};
use crate::kind::{Kind, KindEntry};
use crate::rule::{Rule, RuleCx};
use crate::shape::Shape;
use quote::{quote, quote_spanned};

args! {
    /// `Net`'s arguments.
    pub struct NetArgs {
        /// the type of a network
        network: TypePath,
    }
}

pub struct Net;

impl Kind for Net {
    type Args = NetArgs;
    const DECL: Decl = Decl {
        name: "Net",
        doc: "another network (or any type implementing `Layer`, a custom layer included) used as a layer; only the type system knows its shapes, and a mismatch is a type error at this layer",
        example: "Net(Encoder)",
        accepts: FLOATS,
        input_words: "a float",
        flags: Flags {
            after_subnetwork: true,
            subnetwork: true,
            ..Flags::NONE
        },
    };

    fn rule(r: &RuleCx<'_>, a: &NetArgs, _input: &Shape) -> Result<Rule, Reported> {
        let (rt, span) = (r.rt(), r.span());
        let path = &a.network.value;
        let ty = quote!(#path);
        Ok(Rule::new(
            ty.clone(),
            quote_spanned!(span=> <#ty as #rt::layers::Layer>::init(rng)),
            Shape::Opaque(quote!(<#ty as #rt::layers::Layer>::Out)),
        ))
    }
}

/// This family's kinds, in the order the reference lists them.
pub const KINDS: &[KindEntry] = &[KindEntry::layer::<Net>()];
