//! What the generators of a chain's items share: the chain as written, and the names and
//! types they all refer to.

use super::passes::Passes;
use crate::ir::Layer;
use crate::shape::Env;
use proc_macro2::TokenStream;
use quote::format_ident;
use syn::Ident;

/// A chain to expand.
pub struct ChainDef<'a> {
    pub attrs: &'a [syn::Attribute],
    pub vis: &'a syn::Visibility,
    pub name: &'a Ident,
    pub generics: &'a syn::Generics,
    pub input_ty: TokenStream,
    /// The input is token ids, which inference checks against the vocabulary: its
    /// inference methods return a `Result`.
    pub tokens_in: bool,
    pub layers: &'a [Layer],
    /// The network itself (which owns buffers and a training generator, and is a
    /// `Network`), rather than a path of a join.
    pub top: bool,
    /// The training passes multiply in bf16 (`#[mixed_precision(bf16)]`; the network only).
    pub mixed_bf16: bool,
}

/// What the generators of a chain's items share.
pub struct Gen<'a> {
    pub def: &'a ChainDef<'a>,
    pub env: Env<'a>,
    pub passes: Passes<'a>,
    pub tys: Vec<&'a TokenStream>,
    pub output_ty: TokenStream,
    pub cache: Ident,
    pub workspace: Ident,
}

impl<'a> Gen<'a> {
    /// The statement that opens a training pass of a `#[mixed_precision(bf16)]` network:
    /// its products are bf16 until the pass returns.
    pub fn mixed_scope(&self) -> Option<proc_macro2::TokenStream> {
        let rt = self.env.rt;
        self.def
            .mixed_bf16
            .then(|| quote::quote!(let _bf16 = #rt::kernels::lowp::mixed::Bf16Products::new();))
    }

    pub fn new(def: &'a ChainDef<'a>, env: Env<'a>) -> Self {
        let layers = def.layers;
        Gen {
            def,
            env,
            passes: Passes::new(layers, env),
            tys: layers.iter().map(Layer::ty).collect(),
            output_ty: layers[layers.len() - 1].out().sample_type(env),
            cache: format_ident!("{}Cache", def.name),
            workspace: format_ident!("{}Workspace", def.name),
        }
    }
}
