//! Stateful inference for a network over sequences whose every layer runs one time step at
//! a time (its rules say `stepped`, or it is a summed join whose paths step): a generated
//! state struct with one field per layer, the chain's `Stepped` impl (each layer's step, in
//! order, on values on the stack), and for the network an inherent `step` that returns the
//! step's output. A join's paths are chains of their own, stepped the same way.

use super::context::Gen;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

/// Whether every layer of the chain steps.
pub fn steps(g: &Gen<'_>) -> bool {
    crate::ir::steps(g.def.layers)
}

/// The state struct, the `Stepped` impl and, for the network, the inherent `step`; nothing
/// for a chain that does not step.
pub fn gen_stepped(g: &Gen<'_>) -> TokenStream {
    if !steps(g) {
        return TokenStream::new();
    }
    let (rt, def) = (g.env.rt, g.def);
    let (vis, name, generics) = (def.vis, def.name, def.generics);
    let (impl_g, ty_g, _) = generics.split_for_impl();
    let state = format_ident!("{}State", name);
    let (fields, tys) = (&g.passes.fields, &g.tys);
    let stepped = quote!(#rt::layers::Stepped);
    let n = fields.len();
    let values: Vec<_> = (0..n).map(|k| format_ident!("s{}", k)).collect();
    // Layer k reads s_k (s_0 is the caller's x) and writes s_{k+1} (the last writes y).
    let steps = (0..n).map(|k| {
        let (field, ty) = (fields[k], tys[k]);
        let x = if k == 0 {
            quote!(x)
        } else {
            let v = &values[k];
            quote!(&#v)
        };
        if k + 1 == n {
            quote!(<#ty as #stepped>::step(&self.#field, #x, y, &mut state.#field))
        } else {
            let next = &values[k + 1];
            quote! {
                let mut #next = <<#ty as #stepped>::StepOut as #rt::Sample>::zeros();
                <#ty as #stepped>::step(&self.#field, #x, &mut #next, &mut state.#field)?;
            }
        }
    });
    let (first, last) = (tys[0], tys[n - 1]);
    let doc = format!(
        "What `{name}` carries from one time step to the next: each layer's state (a \
         recurrence's h and c, a position, an attention's key-value cache). `Default` is the \
         state before the first step; set it back to start a new sequence."
    );
    let hidden = (!def.top).then(|| quote!(#[doc(hidden)] #[allow(non_camel_case_types)]));
    let inherent = def.top.then(|| {
        quote! {
            impl #impl_g #name #ty_g {
                /// One time step of stateful inference: the output for the step `x` given
                /// everything `state` has seen, which moves on by one step. The cost of a step
                /// does not grow with the history (an attention's grows with the steps it
                /// attends to); the same as the sequence pass, step by step.
                pub fn step(
                    &self,
                    x: &<Self as #stepped>::StepIn,
                    state: &mut #state #ty_g,
                ) -> #rt::Result<<Self as #stepped>::StepOut> {
                    let mut y = <<Self as #stepped>::StepOut as #rt::Sample>::zeros();
                    #stepped::step(self, x, &mut y, state)?;
                    ::core::result::Result::Ok(y)
                }
            }
        }
    });
    quote! {
        #[doc = #doc]
        #hidden
        #[derive(Clone, Debug, Default)]
        #vis struct #state #generics {
            #( pub #fields: <#tys as #stepped>::State, )*
        }

        impl #impl_g #stepped for #name #ty_g {
            type StepIn = <#first as #stepped>::StepIn;
            type StepOut = <#last as #stepped>::StepOut;
            type State = #state #ty_g;

            #[inline]
            fn step(
                &self,
                x: &Self::StepIn,
                y: &mut Self::StepOut,
                state: &mut Self::State,
            ) -> #rt::Result<()> {
                #( #steps )*
            }
        }

        #inherent
    }
}
