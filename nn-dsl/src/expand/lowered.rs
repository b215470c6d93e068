//! A chain converted to another precision: `<Name>Lowered<P>`, whose fields are the chain's
//! layers converted by `Lower<P>`, with its `Infer` impl (inference, save and load) and the
//! chain's `Lower<P>` impl, which converts layer by layer with the calibration batch carried
//! through the f32 layers before each. Every item is bounded by each layer type being
//! `Lower<P>`, so a chain with a layer that has no conversion still compiles; converting it
//! is the error.

use super::context::Gen;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

pub fn gen_lowered(g: &Gen<'_>) -> TokenStream {
    let (rt, def, p) = (g.env.rt, g.def, &g.passes);
    let (vis, name) = (def.vis, def.name);
    let lowered = format_ident!("{}Lowered", name);
    let workspace = format_ident!("{}LoweredWorkspace", name);
    let f32_workspace = &g.workspace;
    let consts: Vec<_> = def.generics.const_params().collect();
    let const_names: Vec<_> = consts.iter().map(|c| &c.ident).collect();
    let (_, ty_g, _) = def.generics.split_for_impl();
    let (input_ty, output_ty) = (&def.input_ty, &g.output_ty);
    let tys = &g.tys;
    let lows: Vec<TokenStream> = tys
        .iter()
        .map(|ty| quote!(<#ty as #rt::precision::Lower<__P>>::Lowered))
        .collect();
    // A generic network spells out its layers' sample types: there a bound on a layer type
    // hides its impl's `In` and `Out` (a bound's projections are opaque). Not in a network
    // without parameters, where the bounds are checked as written and a shape mismatch
    // would be reported here a second time.
    let n = g.def.layers.len();
    let generic = !consts.is_empty();
    let bounds = tys.iter().enumerate().map(|(k, ty)| {
        if !generic {
            return quote!(#ty: #rt::precision::Lower<__P>,);
        }
        let input = (!def.layers[k].unproven_input).then(|| {
            let x = if k == 0 {
                &def.input_ty
            } else {
                &p.mid_tys[k - 1]
            };
            quote!(In = #x,)
        });
        let y = if k == n - 1 { output_ty } else { &p.mid_tys[k] };
        quote!(#ty: #rt::precision::Lower<__P> + #rt::layers::Layer<#input Out = #y>,)
    });
    let bounds = quote!(#( #bounds )*);
    let fields = &p.fields;
    let path_names: Vec<&String> = def.layers.iter().map(|l| &l.path_name).collect();
    let (mid_a, mid_tys, w) = (&p.a[1..], &p.mid_tys, &p.w);

    // Layer k's input and output in a pass over a batch, through `ws`'s buffers.
    let io = |k: usize| {
        let x = if k == 0 {
            quote!(x)
        } else {
            let v = &p.a[k];
            quote!(&ws.#v)
        };
        let y = if k == n - 1 {
            quote!(y)
        } else {
            let v = &p.a[k + 1];
            quote!(&mut ws.#v)
        };
        (p.input(k, x), y)
    };
    let infer = (0..n).map(|k| {
        let (field, wk, (x, y)) = (fields[k], &w[k], io(k));
        quote!(#rt::precision::Infer::infer_batch(&self.#field, #x, #y, &mut ws.#wk);)
    });
    // Converting layer k reads its calibration input; the f32 layer then computes the
    // next one's (not after the last).
    let convert = (0..n).map(|k| {
        let (field, wk, (x, _)) = (fields[k], &w[k], io(k));
        let next = (k + 1 < n).then(|| {
            let (ty, v) = (tys[k], &p.a[k + 1]);
            quote! {
                if calibrating {
                    #rt::layers::Layer::forward_batch_into(&self.#field, #x, &mut ws.#v, &mut ws.#wk);
                    #rt::layers::carry_lengths::<#ty>(#x, &mut ws.#v);
                }
            }
        });
        quote! {
            let #field = #rt::precision::Lower::<__P>::lower(&self.#field, #x)?;
            #next
        }
    });
    let doc = format!(
        "`{name}` converted to the precision `P` (`Int8`, `Int8Dynamic`, `Bf16`): what \
         `to_precision::<P>` returns. Inference only; saves and loads its own weights."
    );
    quote! {
        #[doc = #doc]
        #[allow(non_camel_case_types)]
        #vis struct #lowered<__P: #rt::precision::Precision, #(#consts),*>
        where #bounds
        {
            #( pub #fields: #lows, )*
            #[doc(hidden)]
            pub __precision: ::core::marker::PhantomData<fn() -> __P>,
        }

        #[doc(hidden)]
        #[allow(non_snake_case, non_camel_case_types)]
        #vis struct #workspace<__P: #rt::precision::Precision, #(#consts),*>
        where #bounds
        {
            #( #mid_a: #rt::Batch<#mid_tys>, )*
            #( #w: <#lows as #rt::precision::Infer>::Workspace, )*
        }

        impl<__P: #rt::precision::Precision, #(#consts),*> ::core::default::Default
            for #workspace<__P, #(#const_names),*>
        where #bounds
        {
            fn default() -> Self {
                #workspace {
                    #( #mid_a: ::core::default::Default::default(), )*
                    #( #w: ::core::default::Default::default(), )*
                }
            }
        }

        impl<__P: #rt::precision::Precision, #(#consts),*> #rt::precision::Infer
            for #lowered<__P, #(#const_names),*>
        where #bounds
        {
            type In = #input_ty;
            type Out = #output_ty;
            type Workspace = #workspace<__P, #(#const_names),*>;

            fn infer_batch(
                &self,
                x: &#rt::Batch<Self::In>,
                y: &mut #rt::Batch<Self::Out>,
                ws: &mut Self::Workspace,
            ) {
                #( #infer )*
            }

            fn store(
                &self,
                path: &#rt::layers::Path<'_>,
                out: &mut #rt::precision::TensorMap,
            ) -> #rt::Result<()> {
                #( #rt::precision::Infer::store(&self.#fields, &path.child(#path_names), out)?; )*
                ::core::result::Result::Ok(())
            }

            // Through the f32 network's own type (a fresh one, whose values do not matter):
            // its joins know their paths' names.
            fn restore(
                path: &#rt::layers::Path<'_>,
                src: &#rt::precision::TensorMap,
            ) -> #rt::Result<Self> {
                let template = <#name #ty_g as #rt::layers::Layer>::init(&mut #rt::Rng::seed(0));
                #rt::precision::Lower::<__P>::restore_lowered(&template, path, src)
            }
        }

        impl<__P: #rt::precision::Precision, #(#consts),*> #lowered<__P, #(#const_names),*>
        where #bounds
        {
            /// The outputs of a batch (a fresh workspace each call; keep one and call
            /// `Infer::infer_batch` for repeated calls).
            pub fn predict(&self, x: &#rt::Batch<#input_ty>) -> #rt::Batch<#output_ty> {
                #rt::precision::predict(self, x)
            }

            /// The output of one sample.
            pub fn forward(&self, x: &#input_ty) -> #output_ty {
                #rt::precision::infer(self, x)
            }

            /// The weights (low-precision tensors with their scales) as safetensors bytes.
            pub fn to_bytes(&self) -> #rt::Result<#rt::__alloc::Vec<u8>> {
                #rt::precision::to_bytes(self)
            }

            /// The network `to_bytes` wrote, every tensor checked against this type.
            pub fn from_bytes(bytes: &[u8]) -> #rt::Result<Self> {
                #rt::precision::from_bytes(bytes)
            }

            #rt::__if_std! {
                /// Writes the weights to a safetensors file, atomically.
                pub fn save(&self, path: impl ::core::convert::AsRef<::std::path::Path>) -> #rt::Result<()> {
                    #rt::precision::save(self, path.as_ref())
                }

                /// Reads a file `save` wrote.
                pub fn load(path: impl ::core::convert::AsRef<::std::path::Path>) -> #rt::Result<Self> {
                    #rt::precision::load(path.as_ref())
                }
            }
        }

        impl<__P: #rt::precision::Precision, #(#consts),*> #rt::precision::Lower<__P>
            for #name #ty_g
        where #bounds
        {
            type Lowered = #lowered<__P, #(#const_names),*>;

            #[allow(unused_variables)]
            fn lower(&self, x: &#rt::Batch<#input_ty>) -> #rt::Result<Self::Lowered> {
                let mut ws = <#f32_workspace #ty_g as ::core::default::Default>::default();
                let calibrating = x.rows() > 0;
                #( #convert )*
                ::core::result::Result::Ok(#lowered {
                    #( #fields, )*
                    __precision: ::core::marker::PhantomData,
                })
            }

            fn restore_lowered(
                &self,
                path: &#rt::layers::Path<'_>,
                src: &#rt::precision::TensorMap,
            ) -> #rt::Result<Self::Lowered> {
                ::core::result::Result::Ok(#lowered {
                    #( #fields: #rt::precision::Lower::<__P>::restore_lowered(&self.#fields, &path.child(#path_names), src)?, )*
                    __precision: ::core::marker::PhantomData,
                })
            }
        }
    }
}
