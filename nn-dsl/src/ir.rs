//! The network as the passes hand it on: resolution builds it (every layer with its type,
//! initialiser and output shape), fusion merges some of its layers, expansion writes code
//! from it.

use crate::decl::Decl;
use crate::rule::Rule;
use crate::shape::Shape;
use proc_macro2::{Span, TokenStream};
use syn::Ident;

/// A layer of a chain: one field of the generated struct.
pub struct Layer {
    /// The struct field holding it.
    pub field: Ident,
    /// Its name in parameter paths and the summary (the user's name, or its index as in
    /// PyTorch's `nn.Sequential`).
    pub path_name: String,
    /// The span of its kind, where its errors and shape assertions point.
    pub span: Span,
    pub decl: &'static Decl,
    /// Whether the user named it (it has a field of its own, which fusion keeps).
    pub named: bool,
    /// Whether it was written without arguments.
    pub bare: bool,
    /// Whether the macro could not prove that it takes its input shape (it is a
    /// sub-network, or follows one): only the type-level assertion guards that boundary.
    pub unproven_input: bool,
    /// Its rows in the summary, as the user wrote the layers (a Dense and the activation
    /// fused into it are two).
    pub rows: Vec<Row>,
    /// The kinds of the layers fused into it, in order.
    pub fused: Vec<&'static Decl>,
    pub body: Body,
}

/// A summary row: the runtime type that gives its kind, shapes and counts, and its name.
pub struct Row {
    pub ty: TokenStream,
    pub name: String,
}

pub enum Body {
    Layer(Rule),
    Join(Join),
}

/// A resolved join.
pub struct Join {
    pub ty: TokenStream,
    pub init: TokenStream,
    pub out: Shape,
    /// The kind of the join's own summary row (Keras's names: `Add`, `Concatenate`).
    pub row_kind: &'static str,
    /// Its paths' outputs are added (a residual block, `Add`), rather than concatenated.
    pub summed: bool,
    pub paths: Vec<JoinPath>,
}

impl Join {
    /// Whether the join runs one time step at a time: its paths' outputs add step by step
    /// (a concatenation stacks the steps themselves) and each path steps (the identity
    /// does).
    pub fn steps(&self) -> bool {
        self.summed
            && matches!(self.out, Shape::Matrix(..))
            && self
                .paths
                .iter()
                .all(|p| p.chain.as_ref().is_none_or(|c| steps(&c.layers)))
    }
}

/// Whether every layer of a chain runs one time step at a time (their rules say `stepped`,
/// or they are joins that step), so that the chain does.
pub fn steps(layers: &[Layer]) -> bool {
    !layers.is_empty()
        && layers.iter().all(|l| match &l.body {
            Body::Layer(rule) => rule.stepped,
            Body::Join(join) => join.steps(),
        })
}

/// One path of a join.
pub struct JoinPath {
    /// Its name in parameter paths and the summary (`body`, `shortcut`, a branch's name or
    /// index).
    pub name: String,
    /// Its runtime type: a hidden chain type, or the identity.
    pub ty: TokenStream,
    pub out: Shape,
    /// Its layers, declared as a hidden layer type; `None` for an empty path (the identity).
    pub chain: Option<Chain>,
}

/// A chain of layers inside a join, expanded as a layer type of its own.
pub struct Chain {
    pub name: Ident,
    pub input: Shape,
    pub layers: Vec<Layer>,
}

impl Layer {
    pub fn ty(&self) -> &TokenStream {
        match &self.body {
            Body::Layer(rule) => &rule.ty,
            Body::Join(join) => &join.ty,
        }
    }

    pub fn init(&self) -> &TokenStream {
        match &self.body {
            Body::Layer(rule) => &rule.init,
            Body::Join(join) => &join.init,
        }
    }

    pub fn out(&self) -> &Shape {
        match &self.body {
            Body::Layer(rule) => &rule.out,
            Body::Join(join) => &join.out,
        }
    }

    /// The activation a loss fuses with, when this layer is a loss head.
    pub fn head(&self) -> Option<&TokenStream> {
        match &self.body {
            Body::Layer(rule) => rule.head.as_ref(),
            Body::Join(_) => None,
        }
    }

    /// The rule, for a layer that is not a join.
    pub fn rule(&self) -> Option<&Rule> {
        match &self.body {
            Body::Layer(rule) => Some(rule),
            Body::Join(_) => None,
        }
    }
}
