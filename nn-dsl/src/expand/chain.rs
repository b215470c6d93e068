//! The items of a chain of layers: the network itself, or a path of a join (a hidden layer
//! type whose summary rows are its layers'): its struct, training cache and inference
//! workspace, one spanned shape assertion per layer boundary (so that a type-level mismatch
//! is reported on the layer that caused it), and its `Layer` impl.

use super::context::{ChainDef, Gen};
use super::{lowered, methods, step, summary};
use crate::ir::Layer;
use crate::shape::Env;
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

/// The items of `def` (its layers are resolved without errors, and not empty), and of the
/// paths of its joins.
pub fn items(def: &ChainDef<'_>, env: Env<'_>) -> TokenStream {
    let g = Gen::new(def, env);
    let items = [
        gen_struct(&g),
        gen_cache(&g),
        gen_workspace(&g),
        gen_shape_checks(&g),
        gen_layer_impl(&g),
        step::gen_stepped(&g),
        lowered::gen_lowered(&g),
        gen_hidden_chains(&g),
    ];
    if !def.top {
        return quote!(#(#items)*);
    }
    let network = [methods::gen_network_impl(&g), methods::gen_inherent(&g)];
    quote!(#(#items)* #(#network)*)
}

/// `#[doc(hidden)]` and lint allowances for the items of a join's path.
fn hidden_attr(g: &Gen<'_>) -> TokenStream {
    if g.def.top {
        TokenStream::new()
    } else {
        quote!(#[doc(hidden)] #[allow(non_camel_case_types)])
    }
}

fn gen_struct(g: &Gen<'_>) -> TokenStream {
    let (rt, def) = (g.env.rt, g.def);
    let (attrs, vis, name, generics) = (def.attrs, def.vis, def.name, def.generics);
    let (fields, tys) = (&g.passes.fields, &g.tys);
    let hidden = hidden_attr(g);
    let (_, ty_g, _) = generics.split_for_impl();
    let buffers = def.top.then(|| {
        quote! {
            #[doc(hidden)]
            pub __buffers: #rt::train::Buffers<#name #ty_g>,
        }
    });
    quote! {
        #(#attrs)*
        #hidden
        #vis struct #name #generics {
            #( pub #fields: #tys, )*
            #buffers
        }
    }
}

fn gen_cache(g: &Gen<'_>) -> TokenStream {
    let (rt, p) = (g.env.rt, &g.passes);
    let (vis, generics, cache) = (g.def.vis, g.def.generics, &g.cache);
    let n = p.a.len();
    let (mid_a, mid_d, mid_tys) = (&p.a[1..], &p.d[1..n], &p.mid_tys);
    let (c, tys) = (&p.c, &g.tys);
    let doc = format!(
        "Buffers `{}` keeps between forward and backward passes.",
        g.def.name
    );
    let hidden = hidden_attr(g);
    quote! {
        #[doc = #doc]
        #[derive(Default)]
        #[allow(non_snake_case)]
        #hidden
        #vis struct #cache #generics {
            #( #mid_a: #rt::Batch<#mid_tys>, )*
            #( #mid_d: #rt::Batch<#mid_tys>, )*
            #( #c: <#tys as #rt::layers::Layer>::Cache, )*
        }
    }
}

fn gen_workspace(g: &Gen<'_>) -> TokenStream {
    let (rt, p) = (g.env.rt, &g.passes);
    let (vis, generics, workspace) = (g.def.vis, g.def.generics, &g.workspace);
    let (mid_a, mid_tys, w, tys) = (&p.a[1..], &p.mid_tys, &p.w, &g.tys);
    let doc = format!(
        "Buffers `{}`'s inference reuses: intermediate outputs of a batch, each layer's scratch; no training cache.",
        g.def.name
    );
    let hidden = hidden_attr(g);
    quote! {
        #[doc = #doc]
        #[derive(Default)]
        #[allow(non_snake_case)]
        #hidden
        #vis struct #workspace #generics {
            #( #mid_a: #rt::Batch<#mid_tys>, )*
            #( #w: <#tys as #rt::layers::Layer>::Workspace, )*
        }
    }
}

/// One assertion per layer boundary, spanned at the layer: its input type is the output
/// type of the layer before (or the chain's input).
fn gen_shape_checks(g: &Gen<'_>) -> TokenStream {
    let (rt, input_ty) = (g.env.rt, &g.def.input_ty);
    let (impl_g, _, _) = g.def.generics.split_for_impl();
    let checks = g.def.layers.iter().enumerate().map(|(k, l)| {
        let ty = l.ty();
        if k == 0 {
            quote_spanned!(l.span=> #rt::assert_input::<#input_ty, #ty>();)
        } else {
            let prev = g.tys[k - 1];
            quote_spanned!(l.span=> #rt::assert_chain::<#prev, #ty>();)
        }
    });
    quote! {
        const _: () = {
            #[allow(dead_code)]
            fn shape_checks #impl_g () {
                #( #checks )*
            }
        };
    }
}

fn gen_layer_impl(g: &Gen<'_>) -> TokenStream {
    let (rt, def, p) = (g.env.rt, g.def, &g.passes);
    let (name, input_ty, output_ty) = (def.name, &def.input_ty, &g.output_ty);
    let (impl_g, ty_g, _) = def.generics.split_for_impl();
    let (cache, workspace, tys) = (&g.cache, &g.workspace, &g.tys);
    let name_str = name.to_string();
    let passes = gen_layer_passes(g);
    let [even, odd] = p.arena_regions();
    let scratch = tys.iter().fold(
        quote!(0),
        |acc, ty| quote!(#rt::kernels::arena::max(#acc, <#ty as #rt::layers::Layer>::ARENA)),
    );
    let visitors = gen_layer_visitors(g);
    let summary_rows = gen_summary_rows_fn(g);
    let fields = &p.fields;
    let inits = def.layers.iter().map(Layer::init);
    let buffers_init = def.top.then(|| {
        quote! {
            __buffers: {
                let () = Self::__SIZE_RULES;
                #rt::kernels::read_settings();
                #rt::train::Buffers::seeded(rng)
            },
        }
    });
    quote! {
        impl #impl_g #rt::layers::Layer for #name #ty_g {
            type In = #input_ty;
            type Out = #output_ty;
            type Cache = #cache #ty_g;
            type Workspace = #workspace #ty_g;
            const PARAMS: usize = 0 #( + <#tys as #rt::layers::Layer>::PARAMS )*;
            const FLOPS: usize = 0 #( + <#tys as #rt::layers::Layer>::FLOPS )*;
            const SAMPLE_WORKSPACE: bool = false #( || <#tys as #rt::layers::Layer>::SAMPLE_WORKSPACE )*;
            /// The two regions the intermediate samples alternate between, then the
            /// largest of the layers' own arenas (they run one after the other).
            const ARENA: usize = #even + #odd + #scratch;
            const ARENA_READY: bool = true #( && <#tys as #rt::layers::Layer>::ARENA_READY )*;
            const KIND: &'static str = #name_str;

            fn init(rng: &mut #rt::Rng) -> Self {
                #name {
                    #( #fields: #inits, )*
                    #buffers_init
                }
            }

            #passes
            #visitors
            #summary_rows
        }
    }
}

/// `forward_into`, `forward_batch_into`, `forward_train` and `backward`.
fn gen_layer_passes(g: &Gen<'_>) -> TokenStream {
    let (rt, p) = (g.env.rt, &g.passes);
    let (_, ty_g, _) = g.def.generics.split_for_impl();
    let (cache, workspace) = (&g.cache, &g.workspace);
    let sample_forward = p.sample_forward();
    let batch_forward = p.batch_forward();
    let arena_forward = p.arena_forward();
    let [even, odd] = p.arena_regions();
    let train_forward = p.train_forward();
    let backward = p.backward(p.a.len() - 1, quote!(y), quote!(dy), Some(quote!(dx)));
    let first = p.fields[0];
    let mixed = g.mixed_scope();
    // A path that starts by selecting a part of its input: the layer after the selection
    // reads that part, and checks it.
    let check = match (g.def.layers.first(), p.fields.get(1)) {
        (Some(select), Some(second)) if select.decl.flags.selects_part => {
            let ty = g.tys[0];
            quote! {
                let part = <#ty>::part_values(x);
                #rt::layers::Layer::check_input(&self.#second, &part)
            }
        }
        _ => quote!(#rt::layers::Layer::check_input(&self.#first, x)),
    };
    quote! {
        fn check_input(&self, x: &[f32]) -> #rt::Result<()> {
            #check
        }

        // Inlined into `forward`, so that a small network's one-sample pass is one function
        // (its layers' passes are inlined into this one).
        #[inline]
        fn forward_into(&self, x: &Self::In, y: &mut Self::Out, ws: &mut #workspace #ty_g) {
            #( #sample_forward )*
        }

        #[allow(unused_variables)]
        fn forward_arena(&self, x: &Self::In, y: &mut Self::Out, arena: &mut [f32]) {
            let (region0, rest) = arena.split_at_mut(#even);
            let (region1, scratch) = rest.split_at_mut(#odd);
            #( #arena_forward )*
        }

        fn forward_batch_into(&self, x: &#rt::Batch<Self::In>, y: &mut #rt::Batch<Self::Out>, ws: &mut #workspace #ty_g) {
            #( #batch_forward )*
        }

        fn forward_train(&self, x: &#rt::Batch<Self::In>, y: &mut #rt::Batch<Self::Out>, cache: &mut #cache #ty_g, rng: &mut #rt::Rng) {
            #mixed
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
            #mixed
            // As a layer, nothing of it is frozen.
            let floor: usize = 0;
            #( #backward )*
        }
    }
}

/// `walk` (each layer's state under its path name), `BUFFERS`, and `to_onnx` (each layer's
/// nodes under the same names).
fn gen_layer_visitors(g: &Gen<'_>) -> TokenStream {
    let rt = g.env.rt;
    let (fields, tys) = (&g.passes.fields, &g.tys);
    let path_names: Vec<&String> = g.def.layers.iter().map(|l| &l.path_name).collect();
    quote! {
        fn walk<Walker: #rt::layers::Walk<Self>>(walk: &mut Walker) {
            #( walk.sublayer(#path_names, |net| &net.#fields, |net| &mut net.#fields); )*
        }

        const BUFFERS: usize = 0 #( + <#tys as #rt::layers::Layer>::BUFFERS )*;

        // Each layer's nodes under the path `walk` names its state with, so that the
        // initializers are named as the state dict.
        fn to_onnx(
            &self,
            g: &mut #rt::io::onnx::OnnxGraph,
            path: &#rt::layers::Path<'_>,
            input: &str,
        ) -> #rt::Result<#rt::__alloc::String> {
            let x = #rt::__alloc::String::from(input);
            #(
                let x = #rt::layers::Layer::to_onnx(&self.#fields, g, &path.child(#path_names), &x)?;
            )*
            ::core::result::Result::Ok(x)
        }
    }
}

/// A join's path lists its own layers' rows in the summary of the network it is in.
fn gen_summary_rows_fn(g: &Gen<'_>) -> TokenStream {
    if g.def.top {
        return TokenStream::new();
    }
    let rt = g.env.rt;
    let rows = summary::rows(g.def.layers, rt);
    quote! {
        fn summary_rows(
            name: &str,
            input: &str,
            rows: &mut #rt::__alloc::Vec<#rt::layers::SummaryRow>,
        ) -> #rt::__alloc::String {
            let prefix = name;
            let input = #rt::__alloc::String::from(input);
            #( #rows )*
            input
        }
    }
}

/// The items of every path of the chain's joins, each a hidden layer type.
fn gen_hidden_chains(g: &Gen<'_>) -> TokenStream {
    let chains = g
        .def
        .layers
        .iter()
        .filter_map(|l| match &l.body {
            crate::ir::Body::Join(join) => Some(join),
            crate::ir::Body::Layer(_) => None,
        })
        .flat_map(|join| &join.paths)
        .filter_map(|path| path.chain.as_ref());
    let items = chains.map(|chain| {
        let def = ChainDef {
            attrs: &[],
            vis: g.def.vis,
            name: &chain.name,
            generics: g.def.generics,
            input_ty: chain.input.sample_type(g.env),
            tokens_in: chain.input.reads_tokens(),
            layers: &chain.layers,
            top: false,
            mixed_bf16: false,
        };
        items(&def, g.env)
    });
    quote!(#(#items)*)
}
