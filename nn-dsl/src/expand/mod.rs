//! Code generation, the third pass: the network struct, its training cache and inference
//! workspace, the `Layer` and `Network` impls (straight-line forward and reverse-order
//! backward), inherent methods with concrete types, one spanned shape assertion per layer
//! boundary, and the checks on sizes left to rustc. One function per generated item; every
//! runtime item is reached through `rt`, the one path to the runtime.
//!
//! - `chain.rs`: the items of a chain (the network, or a path of a join), from `context.rs`'s
//!   description of it;
//! - `passes.rs`: the statements of its forward and backward passes;
//! - `methods.rs`: the `Network` impl and the inherent methods of the network itself;
//! - `step.rs`: stateful inference, for a network over sequences whose layers all step;
//! - `summary.rs`: the code that writes the summary's rows.

mod chain;
mod context;
mod lowered;
mod methods;
mod passes;
mod step;
mod summary;

use crate::ast::NetworkDef;
use crate::ctxt::ConstCheck;
use crate::ir::Layer;
use crate::shape::{Env, Shape};
use crate::sizes::SizeParams;
use context::ChainDef;
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

/// After an error, still declare the struct (with the network's size parameters) so that its
/// uses elsewhere do not bury the real error under "cannot find type" errors.
pub fn fallback(def: &NetworkDef, error: syn::Error) -> TokenStream {
    let (attrs, vis, name) = (&def.attrs, &def.vis, &def.name);
    let error = error.to_compile_error();
    let params = def.generics.const_params();
    quote! {
        #error
        #(#attrs)*
        #vis struct #name<#(#params),*> {}
    }
}

/// The network's items; `input` and `layers` are its resolution without errors (`layers`
/// not empty), fused, and `const_checks` the requirements on sizes left to rustc.
pub fn network(
    def: &NetworkDef,
    input: &Shape,
    layers: &[Layer],
    const_checks: &[ConstCheck],
    env: Env<'_>,
) -> TokenStream {
    // A requirement on a generic network's parameters holds or fails per instantiation;
    // one on named constants holds or fails once.
    let (generic, plain): (Vec<&ConstCheck>, Vec<&ConstCheck>) = const_checks
        .iter()
        .partition(|c| env.sizes.mentions(&c.cond));
    let chain = ChainDef {
        attrs: &def.attrs,
        vis: &def.vis,
        name: &def.name,
        generics: &def.generics,
        input_ty: input.sample_type(env),
        tokens_in: input.reads_tokens(),
        layers,
        top: true,
        mixed_bf16: def.mixed_bf16,
    };
    let items = [
        chain::items(&chain, env),
        gen_size_rules(def, &generic, env),
        gen_const_assertions(&plain),
        gen_shape_types(def, env.sizes, env.rt),
    ];
    quote!(#(#items)*)
}

/// The requirements on named constants, each a const assertion at the argument it is about,
/// so that a failure points there.
fn gen_const_assertions(checks: &[&ConstCheck]) -> TokenStream {
    let checks = checks.iter().map(|c| {
        let (cond, message) = (&c.cond, &c.message);
        quote_spanned!(c.span=> const _: () = ::core::assert!(#cond, "{}", #message);)
    });
    quote!(#(#checks)*)
}

/// The requirements on a generic network's parameters, checked when the network is built
/// (`Layer::init` reads `__SIZE_RULES`): a failure is a compile error naming the layer and
/// the parameters' values.
fn gen_size_rules(def: &NetworkDef, checks: &[&ConstCheck], env: Env<'_>) -> TokenStream {
    let (rt, name) = (env.rt, &def.name);
    let params: Vec<&syn::Ident> = def.generics.const_params().map(|p| &p.ident).collect();
    let checks = checks.iter().map(|c| {
        let (cond, message) = (&c.cond, &c.message);
        let values = params.iter().enumerate().map(|(k, p)| {
            let label = format!("{}{p} = ", if k == 0 { "" } else { ", " });
            quote!(.text(#label).number(#p))
        });
        let head = format!("{message}, in `{name}<");
        quote_spanned! {c.span=>
            if !(#cond) {
                let message = #rt::ConstMessage::new().text(#head) #(#values)* .text(">`");
                ::core::panic!("{}", message.as_str());
            }
        }
    });
    let (impl_generics, ty_generics, _) = def.generics.split_for_impl();
    quote! {
        impl #impl_generics #name #ty_generics {
            /// The shape rules on the network's size parameters, evaluated for each
            /// instantiation (a failure is a compile error naming the layer and the sizes).
            #[doc(hidden)]
            pub const __SIZE_RULES: () = { #( #checks )* };
        }
    }
}

/// The shape types of a generic network's computed sizes (see `sizes.rs`).
fn gen_shape_types(def: &NetworkDef, sizes: &SizeParams, rt: &TokenStream) -> TokenStream {
    let vis = &def.vis;
    let (impl_generics, ty_generics, _) = def.generics.split_for_impl();
    let decl_params: Vec<_> = def.generics.const_params().collect();
    let items = sizes.shape_types().into_iter().map(|(dims, name)| {
        quote! {
            #[doc(hidden)]
            #[allow(non_camel_case_types)]
            #vis struct #name<#(#decl_params),*>;

            impl #impl_generics #rt::ShapeOf for #name #ty_generics {
                const SHAPE: &'static [usize] = &[#(#dims),*];
            }
        }
    });
    quote!(#(#items)*)
}
