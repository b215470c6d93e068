//! Code generation: the network struct, its training cache and inference workspace, the
//! `Layer` and `Network` impls (straight-line forward and reverse-order backward), inherent
//! methods with concrete types (so type errors name plain dimensions), and one spanned shape
//! assertion per layer boundary (so a type-level mismatch is reported on the layer that
//! caused it). Every runtime item is reached through `rt`, the one path to the runtime.

use crate::ast::NetworkDef;
use crate::ctxt::ConstCheck;
use crate::resolve::Resolved;
use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};

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

/// The shape types of a generic network's computed sizes (see `dim::GenericScope`).
pub fn shapes(
    def: &NetworkDef,
    scope: Option<crate::dim::GenericScope>,
    rt: &TokenStream,
) -> TokenStream {
    let Some(scope) = scope else {
        return TokenStream::new();
    };
    let vis = &def.vis;
    let (impl_generics, ty_generics, _) = def.generics.split_for_impl();
    let decl_params: Vec<_> = def.generics.const_params().collect();
    let items = scope.shapes.iter().map(|(dims, name)| {
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

/// The network's items; `layers` is the resolution of `def` without errors (not empty), and
/// `const_checks` the requirements on named constants left to rustc.
pub fn network(
    def: &NetworkDef,
    layers: &[Resolved],
    const_checks: &[ConstCheck],
    rt: &TokenStream,
) -> TokenStream {
    // Each at the argument it is about, so that a failure points there. A requirement on a
    // generic network's parameters holds or fails per instantiation: it is checked when the
    // network is built (`Layer::init`), and its message gives the parameters' values.
    let (generic, plain): (Vec<&ConstCheck>, Vec<&ConstCheck>) = const_checks
        .iter()
        .partition(|c| crate::dim::mentions_params(&c.cond));
    let plain = plain.iter().map(|c| {
        let (cond, message) = (&c.cond, &c.message);
        quote_spanned!(c.span=> const _: () = ::core::assert!(#cond, "{}", #message);)
    });
    let name = &def.name;
    let params: Vec<&syn::Ident> = def.generics.const_params().map(|p| &p.ident).collect();
    let generic = generic.iter().map(|c| {
        let (cond, message) = (&c.cond, &c.message);
        let mut values = Vec::new();
        for (k, p) in params.iter().enumerate() {
            let sep = if k == 0 { "" } else { ", " };
            let label = format!("{sep}{p} = ");
            values.push(quote!(.text(#label).number(#p)));
        }
        let head = format!("{message}, in `{name}<");
        quote_spanned! {c.span=>
            if !(#cond) {
                let message = #rt::ConstMessage::new().text(#head) #(#values)* .text(">`");
                ::core::panic!("{}", message.as_str());
            }
        }
    });
    let (impl_generics, ty_generics, _) = def.generics.split_for_impl();
    let size_checks = quote! {
        impl #impl_generics #name #ty_generics {
            /// The shape rules on the network's size parameters, evaluated for each
            /// instantiation (a failure is a compile error naming the layer and the sizes).
            #[doc(hidden)]
            pub const __SIZE_RULES: () = { #( #generic )* };
        }
    };
    let input_ty = crate::resolve::input_type(def, rt);
    let items = chain(
        &def.attrs,
        &def.vis,
        name,
        &def.generics,
        &input_ty,
        layers,
        rt,
        true,
    );
    quote! {
        #items
        #size_checks
        #( #plain )*
    }
}

/// The items of a chain of layers: the network itself (`top`), or a path of a join (a
/// hidden layer type whose summary rows are its layers'), and the paths of its own joins.
#[allow(clippy::too_many_arguments)]
fn chain(
    attrs: &[syn::Attribute],
    vis: &syn::Visibility,
    name: &syn::Ident,
    generics: &syn::Generics,
    input_ty: &TokenStream,
    layers: &[Resolved],
    rt: &TokenStream,
    top: bool,
) -> TokenStream {
    let name_str = name.to_string();
    let (impl_g, ty_g, _) = generics.split_for_impl();
    let cache = format_ident!("{}Cache", name);
    let n = layers.len();
    let output_ty = layers[n - 1].out.sample_type(rt);
    let hidden = layers.iter().flat_map(|l| &l.hidden).map(|h| {
        let input = h.input.sample_type(rt);
        chain(&[], vis, &h.name, generics, &input, &h.layers, rt, false)
    });
    let summary = layers.iter().map(|l| &l.summary).collect::<Vec<_>>();

    let fields = layers.iter().map(|l| &l.field).collect::<Vec<_>>();
    let tys = layers.iter().map(|l| &l.ty).collect::<Vec<_>>();
    let inits = layers.iter().map(|l| &l.init);
    let path_names = layers.iter().map(|l| &l.path_name).collect::<Vec<_>>();

    // Buffers: a_k is the output of layer k-1 (k = 1..n-1), d_k its gradient; c_k the cache
    // of layer k. The network's input and output are the caller's.
    let a = (0..n).map(|k| format_ident!("a{}", k)).collect::<Vec<_>>();
    let d = (0..n).map(|k| format_ident!("d{}", k)).collect::<Vec<_>>();
    let c = (0..n).map(|k| format_ident!("c{}", k)).collect::<Vec<_>>();
    let mid_tys = layers[..n - 1]
        .iter()
        .map(|l| l.out.sample_type(rt))
        .collect::<Vec<_>>();
    let (mid_a, mid_d) = (&a[1..], &d[1..]);

    // Inputs crossing a boundary the macro could not check go through `cast`, so that a
    // mismatch there is reported once, by the spanned assertion, not at every use below.
    let input = |k: usize, expr: TokenStream| {
        if layers[k].unproven_input {
            quote!(#rt::cast(#expr))
        } else {
            expr
        }
    };
    // `dx` of layer k: the caller's `Option` for layer 0 (`None` when no input gradient is
    // wanted), a cache buffer otherwise.
    let input_grad = |k: usize, dx: Option<TokenStream>| match (k, dx) {
        (_, None) => quote!(None),
        (0, Some(dx)) if layers[0].unproven_input => quote!(#dx.map(#rt::cast_mut)),
        (0, Some(dx)) => dx,
        (_, Some(buffer)) if layers[k].unproven_input => {
            quote!(Some(#rt::cast_mut(#buffer)))
        }
        (_, Some(buffer)) => quote!(Some(#buffer)),
    };

    // Sample forward, on the stack.
    let sample_forward = (0..n).map(|k| {
        let field = &fields[k];
        let x = input(k, if k == 0 { quote!(x) } else { let v = &a[k]; quote!(&#v) });
        if k == n - 1 {
            quote!(self.#field.forward_into(#x, y);)
        } else {
            let (y, ty) = (&a[k + 1], &mid_tys[k]);
            quote!(let mut #y = <#ty as #rt::Sample>::zeros(); self.#field.forward_into(#x, &mut #y);)
        }
    });

    // Layer k's input in the training passes: the caller's batch, or the cached output of
    // layer k − 1.
    let cached_input = |k: usize| {
        let x = if k == 0 {
            quote!(x)
        } else {
            let v = &a[k];
            quote!(&cache.#v)
        };
        input(k, x)
    };

    let train_forward = (0..n).map(|k| {
        let (field, ck) = (&fields[k], &c[k]);
        let x = cached_input(k);
        let y = if k == n - 1 {
            quote!(y)
        } else {
            let v = &a[k + 1];
            quote!(&mut cache.#v)
        };
        quote!(self.#field.forward_train(#x, #y, &mut cache.#ck, rng);)
    });

    // Backward from layer `top` down to 0; `dy` is the gradient of layer `top`'s output,
    // `y` that output, `dx` what layer 0 writes its input gradient to.
    let (fields_ref, a_ref, c_ref, d_ref, cached_input_ref, input_grad_ref) =
        (&fields, &a, &c, &d, &cached_input, &input_grad);
    let backward_chain = |top: usize, y: TokenStream, dy: TokenStream, dx: Option<TokenStream>| {
        let (fields, a, c, d, cached_input, input_grad) = (
            fields_ref,
            a_ref,
            c_ref,
            d_ref,
            cached_input_ref,
            input_grad_ref,
        );
        (0..=top)
            .rev()
            .map(move |k| {
                let (field, ck) = (&fields[k], &c[k]);
                let x = cached_input(k);
                let out = if k == top {
                    y.clone()
                } else {
                    let v = &a[k + 1];
                    quote!(&cache.#v)
                };
                let grad = if k == top {
                    dy.clone()
                } else {
                    let v = &d[k + 1];
                    quote!(&cache.#v)
                };
                let dxk = if k == 0 {
                    input_grad(0, dx.clone())
                } else {
                    let v = &d[k];
                    input_grad(k, Some(quote!(&mut cache.#v)))
                };
                quote!(self.#field.backward(#x, #out, &mut cache.#ck, #grad, #dxk);)
            })
            .collect::<Vec<_>>()
    };
    let backward = backward_chain(n - 1, quote!(y), quote!(dy), Some(quote!(dx)));

    // Batch inference: each layer's inference pass, through the workspace's buffers
    // (a_k: the output of layer k − 1; w_k: layer k's own workspace).
    let w = (0..n).map(|k| format_ident!("w{}", k)).collect::<Vec<_>>();
    let infer_forward = (0..n).map(|k| {
        let (field, wk) = (&fields[k], &w[k]);
        let x = input(
            k,
            if k == 0 {
                quote!(x)
            } else {
                let v = &a[k];
                quote!(&ws.#v)
            },
        );
        let y = if k == n - 1 {
            quote!(y)
        } else {
            let v = &a[k + 1];
            quote!(&mut ws.#v)
        };
        quote!(self.#field.forward_batch_into(#x, #y, &mut ws.#wk);)
    });

    // The loss fuses with a Softmax or Sigmoid at the end: logits are that layer's input,
    // in the training cache and in the inference workspace alike. (A network that is only
    // its head was rejected before expansion.)
    // The same chain, reporting each layer as its gradients become final (a distributed
    // step starts exchanging them while the earlier layers' backward passes run).
    let reported = |top: usize, chain: Vec<TokenStream>| {
        let mut out = Vec::new();
        for k in top + 1..n {
            let k = proc_macro2::Literal::usize_unsuffixed(k);
            out.push(quote!(done(self, #k);));
        }
        for (statement, k) in chain.into_iter().zip((0..=top).rev()) {
            let k = proc_macro2::Literal::usize_unsuffixed(k);
            out.push(statement);
            out.push(quote!(done(self, #k);));
        }
        out
    };
    let (head_ty, logits, infer_logits, from_logits) = match &layers[n - 1].head {
        Some(head) if n > 1 => {
            let v = &a[n - 1];
            let logits = quote!(&cache.#v);
            (
                head.clone(),
                logits.clone(),
                quote!(&ws.#v),
                backward_chain(n - 2, logits, quote!(dlogits), None),
            )
        }
        _ => (
            quote!(#rt::Linear),
            quote!(output),
            quote!(output),
            backward_chain(n - 1, quote!(output), quote!(dlogits), None),
        ),
    };

    let from_logits_top = if layers[n - 1].head.is_some() && n > 1 {
        n - 2
    } else {
        n - 1
    };
    let from_logits_reporting = reported(from_logits_top, from_logits);
    let layer_indices = (0..n).map(proc_macro2::Literal::usize_unsuffixed);

    let shape_checks = layers.iter().enumerate().map(|(k, l)| {
        let ty = &l.ty;
        if k == 0 {
            quote_spanned!(l.span=> #rt::assert_input::<#input_ty, #ty>();)
        } else {
            let prev = &layers[k - 1].ty;
            quote_spanned!(l.span=> #rt::assert_chain::<#prev, #ty>();)
        }
    });

    let workspace = format_ident!("{}Workspace", name);
    // The summary names an instantiation of a generic network with its sizes.
    let params: Vec<&syn::Ident> = generics.const_params().map(|p| &p.ident).collect();
    let model_name = if params.is_empty() {
        quote!(#name_str)
    } else {
        let format = format!("{name_str}<{}>", vec!["{}"; params.len()].join(", "));
        quote!(&::std::format!(#format, #(#params),*))
    };

    let cache_doc = format!("Buffers `{name_str}` keeps between forward and backward passes.");
    let workspace_doc = format!(
        "Buffers `{name_str}`'s batch inference reuses: intermediate outputs, no training cache."
    );
    // Only the network itself owns buffers and a training generator, and is a `Network`;
    // a path of a join is a layer, whose summary rows are its layers'.
    let (buffers_field, buffers_init, hidden_attr, summary_rows) = if top {
        (
            quote! {
                #[doc(hidden)]
                pub __buffers: #rt::train::Buffers<#name #ty_g>,
            },
            quote! {
                __buffers: {
                    let () = Self::__SIZE_RULES;
                    #rt::train::Buffers::seeded(rng)
                },
            },
            quote!(),
            quote!(),
        )
    } else {
        (
            quote!(),
            quote!(),
            quote!(#[doc(hidden)] #[allow(non_camel_case_types)]),
            quote! {
                fn summary_rows(
                    name: &str,
                    input: &str,
                    rows: &mut ::std::vec::Vec<#rt::layers::SummaryRow>,
                ) -> ::std::string::String {
                    let prefix = name;
                    let input = ::std::string::String::from(input);
                    #( #summary )*
                    input
                }
            },
        )
    };
    let layer_items = quote! {
        #(#attrs)*
        #hidden_attr
        #vis struct #name #generics {
            #( pub #fields: #tys, )*
            #buffers_field
        }

        #[doc = #cache_doc]
        #[derive(Default)]
        #[allow(non_snake_case)]
        #hidden_attr
        #vis struct #cache #generics {
            #( #mid_a: #rt::Batch<#mid_tys>, )*
            #( #mid_d: #rt::Batch<#mid_tys>, )*
            #( #c: <#tys as #rt::layers::Layer>::Cache, )*
        }

        #[doc = #workspace_doc]
        #[derive(Default)]
        #[allow(non_snake_case)]
        #hidden_attr
        #vis struct #workspace #generics {
            #( #mid_a: #rt::Batch<#mid_tys>, )*
            #( #w: <#tys as #rt::layers::Layer>::Workspace, )*
        }

        const _: () = {
            #[allow(dead_code)]
            fn shape_checks #impl_g () {
                #( #shape_checks )*
            }
        };

        impl #impl_g #rt::layers::Layer for #name #ty_g {
            type In = #input_ty;
            type Out = #output_ty;
            type Cache = #cache #ty_g;
            type Workspace = #workspace #ty_g;
            const PARAMS: usize = 0 #( + <#tys as #rt::layers::Layer>::PARAMS )*;
            const FLOPS: usize = 0 #( + <#tys as #rt::layers::Layer>::FLOPS )*;
            const KIND: &'static str = #name_str;

            fn init(rng: &mut #rt::Rng) -> Self {
                #name {
                    #( #fields: #inits, )*
                    #buffers_init
                }
            }

            fn forward_into(&self, x: &Self::In, y: &mut Self::Out) {
                #( #sample_forward )*
            }

            fn forward_batch_into(&self, x: &#rt::Batch<Self::In>, y: &mut #rt::Batch<Self::Out>, ws: &mut #workspace #ty_g) {
                #( #infer_forward )*
            }

            fn forward_train(&self, x: &#rt::Batch<Self::In>, y: &mut #rt::Batch<Self::Out>, cache: &mut #cache #ty_g, rng: &mut #rt::Rng) {
                #( #train_forward )*
            }

            fn backward(
                &mut self,
                x: &#rt::Batch<Self::In>,
                y: &#rt::Batch<Self::Out>,
                cache: &mut #cache #ty_g,
                dy: &#rt::Batch<Self::Out>,
                dx: ::core::option::Option<&mut #rt::Batch<Self::In>>,
            ) {
                #( #backward )*
            }

            fn visit_params<Vis: #rt::layers::ParamVisitor>(&mut self, path: &#rt::layers::Path<'_>, visitor: &mut Vis) {
                #( self.#fields.visit_params(&path.child(#path_names), visitor); )*
            }

            const BUFFERS: usize = 0 #( + <#tys as #rt::layers::Layer>::BUFFERS )*;

            fn visit_buffers<Vis: #rt::layers::BufferVisitor>(&mut self, path: &#rt::layers::Path<'_>, visitor: &mut Vis) {
                #( self.#fields.visit_buffers(&path.child(#path_names), visitor); )*
            }

            #summary_rows
        }

        #( #hidden )*
    };
    if !top {
        return layer_items;
    }
    quote! {
        #layer_items

        impl #impl_g #rt::train::Network for #name #ty_g {
            type Head = #head_ty;

            fn buffers(&mut self) -> &mut #rt::train::Buffers<Self> {
                &mut self.__buffers
            }

            fn logits<'a>(cache: &'a #cache #ty_g, output: &'a #rt::Batch<Self::Out>) -> &'a #rt::Batch<Self::Out> {
                let _ = (&cache, &output);
                #logits
            }

            fn infer_logits<'a>(ws: &'a #workspace #ty_g, output: &'a #rt::Batch<Self::Out>) -> &'a #rt::Batch<Self::Out> {
                let _ = (&ws, &output);
                #infer_logits
            }

            const LAYER_PARAMS: &'static [usize] = &[ #( <#tys as #rt::layers::Layer>::PARAMS ),* ];

            fn visit_layer_params<Vis: #rt::layers::ParamVisitor>(&mut self, k: usize, visitor: &mut Vis) {
                let path = #rt::layers::Path::ROOT;
                match k {
                    #( #layer_indices => self.#fields.visit_params(&path.child(#path_names), visitor), )*
                    _ => {}
                }
            }

            fn backward_from_logits_reporting(
                &mut self,
                x: &#rt::Batch<Self::In>,
                output: &#rt::Batch<Self::Out>,
                cache: &mut #cache #ty_g,
                dlogits: &#rt::Batch<Self::Out>,
                done: &mut dyn FnMut(&mut Self, usize),
            ) {
                let _ = &output;
                #( #from_logits_reporting )*
            }
        }

        impl #impl_g #name #ty_g {
            /// Number of trainable scalars.
            pub const PARAMS: usize = <Self as #rt::layers::Layer>::PARAMS;

            /// A network with Glorot-uniform weights and zero biases drawn from `rng`.
            pub fn init(rng: &mut #rt::Rng) -> Self {
                <Self as #rt::layers::Layer>::init(rng)
            }

            /// The output for one sample; allocates nothing.
            pub fn forward(&self, x: &#input_ty) -> #output_ty {
                #rt::train::forward(self, x)
            }

            /// The outputs for a batch of any size.
            pub fn forward_batch(&self, x: &#rt::Batch<#input_ty>) -> #rt::Batch<#output_ty> {
                #rt::train::forward_batch(self, x)
            }

            /// The outputs for a batch, computed in the network's own buffers: allocates
            /// nothing once they have grown to the batch size.
            pub fn predict(&mut self, x: &#rt::Batch<#input_ty>) -> &#rt::Batch<#output_ty> {
                #rt::train::predict(self, x)
            }

            /// One training step (forward, loss, backward, update); returns the mean loss.
            /// Allocates nothing once the buffers have grown to the batch size.
            pub fn train_step<Targets, LossFn, Opt>(
                &mut self,
                x: &#rt::Batch<#input_ty>,
                targets: &Targets,
                loss: &LossFn,
                optimizer: &mut Opt,
            ) -> #rt::Result<f32>
            where
                Targets: #rt::data::TargetBatch + 'static,
                LossFn: #rt::loss::Loss<#head_ty, #output_ty, Targets> + ::core::marker::Sync,
                Opt: #rt::optim::Optimizer + ?Sized,
            {
                #rt::train::train_step(self, x, targets, loss, optimizer)
            }

            /// Fraction of `data` predicted right.
            pub fn accuracy<Targets: #rt::data::Target>(&self, data: &#rt::Dataset<#input_ty, Targets>) -> #rt::Result<f32> {
                #rt::train::accuracy(self, data)
            }

            /// Mean loss and accuracy over `data`.
            pub fn evaluate<Targets, LossFn>(&self, data: &#rt::Dataset<#input_ty, Targets>, loss: &LossFn) -> #rt::Result<#rt::Evaluation>
            where
                Targets: #rt::data::Target,
                LossFn: #rt::loss::Loss<#head_ty, #output_ty, Targets::Batch>,
            {
                #rt::train::evaluate(self, data, loss)
            }

            /// Writes the parameters to a safetensors file, with PyTorch's names and layouts.
            pub fn save(&mut self, path: impl ::core::convert::AsRef<::std::path::Path>) -> #rt::Result<()> {
                #rt::io::safetensors::save(self, path)
            }

            /// The parameters as the bytes of a safetensors file.
            pub fn to_safetensors_bytes(&mut self) -> #rt::Result<::std::vec::Vec<u8>> {
                #rt::io::safetensors::to_bytes(self)
            }

            /// A network with the parameters of a safetensors file; every tensor's name, dtype
            /// and shape is checked, and every mismatch reported at once.
            pub fn load(path: impl ::core::convert::AsRef<::std::path::Path>) -> #rt::Result<Self> {
                let mut net = Self::init(&mut #rt::Rng::seed(0));
                #rt::io::safetensors::load(&mut net, path)?;
                ::core::result::Result::Ok(net)
            }

            /// [`Self::load`] from bytes, e.g. `include_bytes!("model.safetensors")`.
            pub fn from_safetensors_bytes(bytes: &[u8]) -> #rt::Result<Self> {
                let mut net = Self::init(&mut #rt::Rng::seed(0));
                #rt::io::safetensors::load_bytes(&mut net, bytes)?;
                ::core::result::Result::Ok(net)
            }

            /// A Keras-style table of layers, output shapes and parameter counts.
            pub fn summary() -> ::std::string::String {
                let mut all_rows = ::std::vec::Vec::new();
                let rows = &mut all_rows;
                let prefix = "";
                let input = ::std::string::String::from("input");
                #( #summary )*
                let _ = (input, prefix);
                #rt::layers::format_summary(#model_name, &all_rows)
            }
        }
    }
}
