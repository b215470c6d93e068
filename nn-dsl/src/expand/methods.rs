//! What only the network itself gets: its `Network` impl (the loss head, the logits, the
//! backward pass from them reporting each layer) and inherent methods with concrete types,
//! so that type errors in a user's calls name plain dimensions.

use super::context::Gen;
use super::summary;
use proc_macro2::{Literal, TokenStream};
use quote::quote;

/// The loss head and where the logits are: a network ending in Softmax or Sigmoid hands its
/// loss that layer's input (in the training cache and in the inference workspace alike),
/// and its backward pass starts below it. (A network that is only its head was rejected
/// before expansion.)
struct Head {
    ty: TokenStream,
    logits: TokenStream,
    infer_logits: TokenStream,
    /// The top layer of the backward pass from the logits.
    top: usize,
}

fn head(g: &Gen<'_>) -> Head {
    let (rt, p) = (g.env.rt, &g.passes);
    let n = p.a.len();
    match g.def.layers[n - 1].head() {
        Some(head) if n > 1 => {
            let v = &p.a[n - 1];
            Head {
                ty: head.clone(),
                logits: quote!(&cache.#v),
                infer_logits: quote!(&ws.#v),
                top: n - 2,
            }
        }
        _ => Head {
            ty: quote!(#rt::Linear),
            logits: quote!(output),
            infer_logits: quote!(output),
            top: n - 1,
        },
    }
}

pub fn gen_network_impl(g: &Gen<'_>) -> TokenStream {
    let (rt, p, def) = (g.env.rt, &g.passes, g.def);
    let (impl_g, ty_g, _) = def.generics.split_for_impl();
    let (name, cache, workspace, tys, fields) =
        (def.name, &g.cache, &g.workspace, &g.tys, &p.fields);
    let Head {
        ty: head_ty,
        logits,
        infer_logits,
        top,
    } = head(g);
    let from_logits = p.reporting(top, p.backward(top, logits.clone(), quote!(dlogits), None));
    let indices = (0..fields.len()).map(Literal::usize_unsuffixed);
    let mixed = g.mixed_scope();
    let path_names = def.layers.iter().map(|l| &l.path_name);
    quote! {
        impl #impl_g #rt::train::Network for #name #ty_g {
            type Head = #head_ty;

            fn buffers(&mut self) -> &mut #rt::train::Buffers<Self> {
                &mut self.__buffers
            }

            fn buffers_ref(&self) -> &#rt::train::Buffers<Self> {
                &self.__buffers
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
                    #( #indices => self.#fields.visit_params(&path.child(#path_names), visitor), )*
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
                #mixed
                let floor = #rt::train::Network::buffers_ref(self).frozen().backward_floor();
                #( #from_logits )*
            }
        }
    }
}

/// The inherent methods: construction, inference, training, evaluation, files, summary.
pub fn gen_inherent(g: &Gen<'_>) -> TokenStream {
    let (rt, def) = (g.env.rt, g.def);
    let (impl_g, ty_g, _) = def.generics.split_for_impl();
    let name = def.name;
    let methods = [
        gen_inference_methods(g),
        gen_arena_methods(g),
        gen_training_methods(g),
        gen_file_methods(g),
        gen_summary_method(g),
    ];
    quote! {
        impl #impl_g #name #ty_g {
            /// Number of trainable scalars.
            pub const PARAMS: usize = <Self as #rt::layers::Layer>::PARAMS;

            /// A network with Glorot-uniform weights and zero biases drawn from `rng`.
            pub fn init(rng: &mut #rt::Rng) -> Self {
                <Self as #rt::layers::Layer>::init(rng)
            }

            #( #methods )*
        }
    }
}

fn gen_inference_methods(g: &Gen<'_>) -> TokenStream {
    let (rt, input_ty, output_ty) = (g.env.rt, &g.def.input_ty, &g.output_ty);
    if g.def.tokens_in {
        // Token ids can be out of the vocabulary: checked first, a typed error.
        return quote! {
            /// The output for one sample; allocates nothing once the network's workspace
            /// has grown (at the first call). A token id out of the vocabulary is
            /// `Error::TokenOutOfVocabulary`, naming its position.
            pub fn forward(&self, x: &#input_ty) -> #rt::Result<#output_ty> {
                #rt::train::try_forward(self, x)
            }

            /// The outputs for a batch of any size, as a new batch; token ids are checked
            /// first.
            pub fn predict(&self, x: &#rt::Batch<#input_ty>) -> #rt::Result<#rt::Batch<#output_ty>> {
                #rt::train::try_predict(self, x)
            }

            /// The outputs for a batch into `y` (resized to the batch), token ids checked
            /// first: allocates nothing once `y` and the network's workspace have grown.
            pub fn predict_into(&self, x: &#rt::Batch<#input_ty>, y: &mut #rt::Batch<#output_ty>) -> #rt::Result<()> {
                #rt::train::try_predict_into(self, x, y)
            }

            /// [`Self::predict`], under PyTorch's name for it.
            pub fn forward_batch(&self, x: &#rt::Batch<#input_ty>) -> #rt::Result<#rt::Batch<#output_ty>> {
                #rt::train::try_predict(self, x)
            }
        };
    }
    quote! {
        /// The output for one sample; allocates nothing once the network's workspace has
        /// grown (at the first call).
        pub fn forward(&self, x: &#input_ty) -> #output_ty {
            #rt::train::forward(self, x)
        }

        /// The outputs for a batch of any size, as a new batch.
        pub fn predict(&self, x: &#rt::Batch<#input_ty>) -> #rt::Batch<#output_ty> {
            #rt::train::predict(self, x)
        }

        /// The outputs for a batch into `y` (resized to the batch): allocates nothing once
        /// `y` and the network's workspace have grown to the batch size.
        pub fn predict_into(&self, x: &#rt::Batch<#input_ty>, y: &mut #rt::Batch<#output_ty>) {
            #rt::train::predict_into(self, x, y)
        }

        /// [`Self::predict`], under PyTorch's name for it.
        pub fn forward_batch(&self, x: &#rt::Batch<#input_ty>) -> #rt::Batch<#output_ty> {
            #rt::train::forward_batch(self, x)
        }
    }
}

/// The static memory plan: what one-sample inference needs, as consts a program can assert
/// budgets on, and `forward_in`, which runs in an arena of that size and allocates nothing.
fn gen_arena_methods(g: &Gen<'_>) -> TokenStream {
    let (rt, input_ty, output_ty) = (g.env.rt, &g.def.input_ty, &g.output_ty);
    let layer = quote!(<Self as #rt::layers::Layer>);
    // Token ids are checked first, as `forward` does: a typed error, never a NaN embedding.
    let (ret, check, ok) = if g.def.tokens_in {
        (
            quote!(#rt::Result<#output_ty>),
            quote!(#layer::check_input(self, #rt::Sample::as_slice(x))?;),
            quote!(::core::result::Result::Ok(y)),
        )
    } else {
        (quote!(#output_ty), quote!(), quote!(y))
    };
    let (batch_ret, batch_check, batch_ok) = if g.def.tokens_in {
        (
            quote!(-> #rt::Result<()>),
            quote!(#layer::check_input(self, x.as_slice())?;),
            quote!(::core::result::Result::Ok(())),
        )
    } else {
        (quote!(), quote!(), quote!())
    };
    quote! {
        /// Floats of the arena [`Self::forward_in`] runs in: every intermediate output of
        /// one sample and every layer's scratch, planned at compile time.
        pub const ARENA_FLOATS: usize = #layer::ARENA;

        /// [`Self::ARENA_FLOATS`] in bytes: the working memory of one-sample inference.
        /// A program can hold it to a budget at compile time:
        /// `const _: () = assert!(Net::ARENA_BYTES <= 256 * 1024);`.
        pub const ARENA_BYTES: usize = Self::ARENA_FLOATS * ::core::mem::size_of::<f32>();

        /// Bytes of the parameters and buffers (running statistics), as `f32`.
        pub const PARAM_BYTES: usize =
            (#layer::PARAMS + #layer::BUFFERS) * ::core::mem::size_of::<f32>();

        /// Floating-point operations of one sample's forward pass (a multiply-add is two).
        pub const FLOPS: usize = #layer::FLOPS;

        /// The check [`Self::forward_in`] and [`Self::predict_in`] make while compiling: an
        /// arena of at least `ARENA_FLOATS` floats, and every layer with an arena pass.
        #[doc(hidden)]
        pub const fn __arena_fits<const FLOATS: usize>() {
            ::core::assert!(
                #layer::ARENA_READY,
                "a layer of this network has no arena pass yet (attention or a bidirectional recurrence): use forward or predict"
            );
            ::core::assert!(
                FLOATS >= Self::ARENA_FLOATS,
                "the arena is smaller than the network's ARENA_FLOATS"
            );
        }

        /// The output for one sample, computed in `arena` (see [`Self::ARENA_FLOATS`]):
        /// no allocation, not even at the first call, and no feature map on the stack.
        /// Compiles only for an arena of at least `ARENA_FLOATS` floats, and for networks
        /// whose every layer takes its scratch from the arena (attention, and a
        /// bidirectional recurrence, do not yet: use [`Self::forward`]).
        pub fn forward_in<const FLOATS: usize>(
            &self,
            arena: &mut #rt::kernels::arena::Arena<FLOATS>,
            x: &#input_ty,
        ) -> #ret {
            const { Self::__arena_fits::<FLOATS>() };
            #check
            let _flush = #rt::kernels::FlushDenormals::new();
            let mut y = <#output_ty as #rt::Sample>::zeros();
            #layer::forward_arena(self, x, &mut y, arena.as_mut_slice());
            #ok
        }

        /// The outputs for a batch into `y`, one sample after another in `arena` (see
        /// [`Self::forward_in`]): allocates nothing once `y` has room for the batch.
        pub fn predict_in<const FLOATS: usize>(
            &self,
            arena: &mut #rt::kernels::arena::Arena<FLOATS>,
            x: &#rt::Batch<#input_ty>,
            y: &mut #rt::Batch<#output_ty>,
        ) #batch_ret {
            const { Self::__arena_fits::<FLOATS>() };
            #batch_check
            let _flush = #rt::kernels::FlushDenormals::new();
            y.set_rows(x.rows());
            let (n_in, n_out) = (<#input_ty as #rt::Sample>::LEN, <#output_ty as #rt::Sample>::LEN);
            let arena = arena.as_mut_slice();
            for (xr, yr) in x.as_slice().chunks_exact(n_in).zip(y.as_mut_slice().chunks_exact_mut(n_out)) {
                #rt::kernels::arena::with_sample(xr, |xs: &#input_ty| {
                    #rt::kernels::arena::with_sample_mut(yr, |ys: &mut #output_ty| {
                        #layer::forward_arena(self, xs, ys, arena)
                    })
                });
            }
            #batch_ok
        }
    }
}

fn gen_training_methods(g: &Gen<'_>) -> TokenStream {
    let (rt, input_ty, output_ty) = (g.env.rt, &g.def.input_ty, &g.output_ty);
    let head_ty = head(g).ty;
    quote! {
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
    }
}

fn gen_file_methods(g: &Gen<'_>) -> TokenStream {
    let rt = g.env.rt;
    quote! {
        #rt::__if_std! {
        /// Writes the parameters to a safetensors file, with PyTorch's names and layouts.
        pub fn save(&self, path: impl ::core::convert::AsRef<::std::path::Path>) -> #rt::Result<()> {
            #rt::io::safetensors::save(self, path)
        }

        }

        /// The parameters as the bytes of a safetensors file.
        pub fn to_safetensors_bytes(&self) -> #rt::Result<#rt::__alloc::Vec<u8>> {
            #rt::io::safetensors::to_bytes(self)
        }

        #rt::__if_std! {
        /// A network with the parameters of a safetensors file; every tensor's name, dtype
        /// and shape is checked, and every mismatch reported at once.
        pub fn load(path: impl ::core::convert::AsRef<::std::path::Path>) -> #rt::Result<Self> {
            let mut net = Self::init(&mut #rt::Rng::seed(0));
            #rt::io::safetensors::load(&mut net, path)?;
            ::core::result::Result::Ok(net)
        }

        /// Writes the network as an ONNX model (opset 17): input `input`, output `output`,
        /// each with a symbolic batch dimension; initializers named as in [`Self::save`].
        pub fn save_onnx(&self, path: impl ::core::convert::AsRef<::std::path::Path>) -> #rt::Result<()> {
            #rt::io::onnx::save(self, path)
        }

        }

        /// The network as the bytes of an ONNX model (see [`Self::save_onnx`]).
        pub fn to_onnx_bytes(&self) -> #rt::Result<#rt::__alloc::Vec<u8>> {
            #rt::io::onnx::to_bytes(self)
        }

        /// [`Self::load`] from bytes, e.g. `include_bytes!("model.safetensors")`.
        pub fn from_safetensors_bytes(bytes: &[u8]) -> #rt::Result<Self> {
            let mut net = Self::init(&mut #rt::Rng::seed(0));
            #rt::io::safetensors::load_bytes(&mut net, bytes)?;
            ::core::result::Result::Ok(net)
        }
    }
}

fn gen_summary_method(g: &Gen<'_>) -> TokenStream {
    let (rt, def) = (g.env.rt, g.def);
    let rows = summary::rows(def.layers, rt);
    let name_str = def.name.to_string();
    // The summary names an instantiation of a generic network with its sizes.
    let params: Vec<&syn::Ident> = def.generics.const_params().map(|p| &p.ident).collect();
    let model_name = if params.is_empty() {
        quote!(#name_str)
    } else {
        let format = format!("{name_str}<{}>", vec!["{}"; params.len()].join(", "));
        quote!(&#rt::__alloc::format!(#format, #(#params),*))
    };
    quote! {
        /// A Keras-style table of layers, output shapes and parameter counts.
        pub fn summary() -> #rt::__alloc::String {
            #rt::layers::format_summary(#model_name, &Self::summary_table_rows())
        }

        /// [`Self::summary`] of this network as it is now: the parameters of frozen layers
        /// (`freeze`) counted as non-trainable, and their rows marked `frozen`.
        pub fn trainable_summary(&self) -> #rt::__alloc::String {
            let mut rows = Self::summary_table_rows();
            #rt::train::Network::buffers_ref(self).frozen().mark_rows(&mut rows);
            #rt::layers::format_summary(#model_name, &rows)
        }

        fn summary_table_rows() -> #rt::__alloc::Vec<#rt::layers::SummaryRow> {
            let mut all_rows = #rt::__alloc::Vec::new();
            let rows = &mut all_rows;
            let prefix = "";
            let input = #rt::__alloc::String::from("input");
            #( #rows )*
            let _ = (input, prefix);
            all_rows
        }
    }
}
