//! The statements of a chain's passes: straight-line forward passes (one sample, a batch in
//! inference, a batch in training) and the reverse-order backward pass.
//!
//! Buffers: `a_k` is the output of layer k − 1 (k = 1..n−1) and `d_k` its gradient, `c_k`
//! the training cache of layer k and `w_k` its inference workspace. The chain's input and
//! output are the caller's.

use crate::ir::Layer;
use crate::shape::Env;
use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};
use syn::Ident;

/// A chain as its passes name it.
pub struct Passes<'a> {
    pub rt: &'a TokenStream,
    pub layers: &'a [Layer],
    pub fields: Vec<&'a Ident>,
    pub a: Vec<Ident>,
    pub d: Vec<Ident>,
    pub c: Vec<Ident>,
    pub w: Vec<Ident>,
    /// The sample types between the layers: the output of each but the last.
    pub mid_tys: Vec<TokenStream>,
}

impl<'a> Passes<'a> {
    pub fn new(layers: &'a [Layer], env: Env<'a>) -> Self {
        let n = layers.len();
        let names = |prefix: &str| (0..n).map(|k| format_ident!("{}{}", prefix, k)).collect();
        Passes {
            rt: env.rt,
            layers,
            fields: layers.iter().map(|l| &l.field).collect(),
            a: names("a"),
            d: names("d"),
            c: names("c"),
            w: names("w"),
            mid_tys: layers[..n.saturating_sub(1)]
                .iter()
                .map(|l| l.out().sample_type(env))
                .collect(),
        }
    }

    fn n(&self) -> usize {
        self.layers.len()
    }

    /// Layer k's input `expr`, through `cast` when it crosses a boundary the macro could not
    /// check (so that a mismatch there is reported once, by the spanned assertion, not at
    /// every use below).
    pub(super) fn input(&self, k: usize, expr: TokenStream) -> TokenStream {
        let rt = self.rt;
        if self.layers[k].unproven_input {
            quote!(#rt::cast(#expr))
        } else {
            expr
        }
    }

    /// `dx` of layer k: the caller's `Option` for layer 0 (`None` when no input gradient is
    /// wanted), a cache buffer otherwise.
    fn input_grad(&self, k: usize, dx: Option<TokenStream>) -> TokenStream {
        let rt = self.rt;
        let unproven = self.layers[k].unproven_input;
        match (k, dx) {
            (_, None) => quote!(None),
            (0, Some(dx)) if unproven => quote!(#dx.map(#rt::cast_mut)),
            (0, Some(dx)) => dx,
            (_, Some(buffer)) if unproven => quote!(Some(#rt::cast_mut(#buffer))),
            (_, Some(buffer)) => quote!(Some(#buffer)),
        }
    }

    /// Layer k's input in the training passes: the caller's batch, or the cached output of
    /// layer k − 1.
    fn cached_input(&self, k: usize) -> TokenStream {
        let x = if k == 0 {
            quote!(x)
        } else {
            let v = &self.a[k];
            quote!(&cache.#v)
        };
        self.input(k, x)
    }

    /// One sample: intermediate samples on the stack, each layer's scratch in its workspace.
    pub fn sample_forward(&self) -> Vec<TokenStream> {
        let (rt, n) = (self.rt, self.n());
        (0..n)
            .map(|k| {
                let (field, wk) = (self.fields[k], &self.w[k]);
                let x = if k == 0 {
                    quote!(x)
                } else {
                    let v = &self.a[k];
                    quote!(&#v)
                };
                let x = self.input(k, x);
                if k == n - 1 {
                    quote!(self.#field.forward_into(#x, y, &mut ws.#wk);)
                } else {
                    let (y, ty) = (&self.a[k + 1], &self.mid_tys[k]);
                    quote!(let mut #y = <#ty as #rt::Sample>::zeros(); self.#field.forward_into(#x, &mut #y, &mut ws.#wk);)
                }
            })
            .collect()
    }

    /// The floats of the two regions the intermediate samples alternate between in
    /// `forward_arena` (the outputs of layers 0, 2, 4, … in the first, of 1, 3, … in the
    /// second, so that a layer's input and output never share one): each the largest
    /// sample it holds, padded to whole alignment units. Const expressions.
    pub fn arena_regions(&self) -> [TokenStream; 2] {
        let rt = self.rt;
        [0, 1].map(|parity| {
            self.mid_tys
                .iter()
                .enumerate()
                .filter(|(k, _)| k % 2 == parity)
                .fold(quote!(0), |acc, (_, ty)| {
                    quote!(#rt::kernels::arena::max(#acc, #rt::kernels::arena::padded(<#ty as #rt::Sample>::LEN)))
                })
        })
    }

    /// One sample in an arena: layer k's output in region k % 2 (viewed in place as its
    /// sample type), every layer's scratch in what follows the regions.
    pub fn arena_forward(&self) -> Vec<TokenStream> {
        let (rt, n) = (self.rt, self.n());
        let region = |k: usize| format_ident!("region{}", k % 2);
        (0..n)
            .map(|k| {
                let field = self.fields[k];
                let y = if k == n - 1 { quote!(y) } else { quote!(out) };
                let call = |x: TokenStream| {
                    let x = self.input(k, x);
                    quote!(self.#field.forward_arena(#x, #y, scratch))
                };
                let compute = if k == 0 {
                    call(quote!(x))
                } else {
                    let (r, ty) = (region(k - 1), &self.mid_tys[k - 1]);
                    let body = call(quote!(input));
                    quote!(#rt::kernels::arena::with_sample(#r, |input: &#ty| #body))
                };
                if k == n - 1 {
                    quote!(#compute;)
                } else {
                    let (r, ty) = (region(k), &self.mid_tys[k]);
                    quote!(#rt::kernels::arena::with_sample_mut(#r, |out: &mut #ty| #compute);)
                }
            })
            .collect()
    }

    /// A batch in inference: each layer's inference pass, through the workspace's buffers.
    pub fn batch_forward(&self) -> Vec<TokenStream> {
        let n = self.n();
        (0..n)
            .map(|k| {
                let (field, wk) = (self.fields[k], &self.w[k]);
                let x = if k == 0 {
                    quote!(x)
                } else {
                    let v = &self.a[k];
                    quote!(&ws.#v)
                };
                let x = self.input(k, x);
                let y = if k == n - 1 {
                    quote!(y)
                } else {
                    let v = &self.a[k + 1];
                    quote!(&mut ws.#v)
                };
                let (rt, ty) = (self.rt, self.layers[k].ty());
                quote! {
                    self.#field.forward_batch_into(#x, #y, &mut ws.#wk);
                    #rt::layers::carry_lengths::<#ty>(#x, #y);
                }
            })
            .collect()
    }

    /// A batch in training: each layer's training pass, filling its cache.
    pub fn train_forward(&self) -> Vec<TokenStream> {
        let n = self.n();
        (0..n)
            .map(|k| {
                let (field, ck) = (self.fields[k], &self.c[k]);
                let x = self.cached_input(k);
                let y = if k == n - 1 {
                    quote!(y)
                } else {
                    let v = &self.a[k + 1];
                    quote!(&mut cache.#v)
                };
                let (rt, ty) = (self.rt, self.layers[k].ty());
                quote! {
                    self.#field.forward_train(#x, #y, &mut cache.#ck, rng);
                    #rt::layers::carry_lengths::<#ty>(#x, #y);
                }
            })
            .collect()
    }

    /// Backward from layer `top` down to 0; `dy` is the gradient of layer `top`'s output,
    /// `y` that output, `dx` what layer 0 writes its input gradient to. The code reads
    /// `floor`, the first layer with anything to train (a frozen network's; 0 otherwise):
    /// the layers below it are skipped, and it computes no input gradient.
    pub fn backward(
        &self,
        top: usize,
        y: TokenStream,
        dy: TokenStream,
        dx: Option<TokenStream>,
    ) -> Vec<TokenStream> {
        (0..=top)
            .rev()
            .map(|k| {
                let (field, ck) = (self.fields[k], &self.c[k]);
                let x = self.cached_input(k);
                let out = if k == top {
                    y.clone()
                } else {
                    let v = &self.a[k + 1];
                    quote!(&cache.#v)
                };
                let grad = if k == top {
                    dy.clone()
                } else {
                    let v = &self.d[k + 1];
                    quote!(&cache.#v)
                };
                if k == 0 {
                    let dxk = self.input_grad(0, dx.clone());
                    return quote! {
                        if floor == 0 {
                            self.#field.backward(#x, #out, &mut cache.#ck, #grad, #dxk);
                        }
                    };
                }
                let v = &self.d[k];
                let dxk = self.input_grad(k, Some(quote!(&mut cache.#v)));
                let k = Literal::usize_unsuffixed(k);
                quote! {
                    if #k >= floor {
                        self.#field.backward(#x, #out, &mut cache.#ck, #grad, if #k > floor { #dxk } else { None });
                    }
                }
            })
            .collect()
    }

    /// `chain` (the backward pass from layer `top` down), reporting each layer as its
    /// gradients become final: a distributed step starts exchanging them while the earlier
    /// layers' backward passes run. The layers above `top` (a loss head) have none.
    pub fn reporting(&self, top: usize, chain: Vec<TokenStream>) -> Vec<TokenStream> {
        let mut out = Vec::new();
        for k in top + 1..self.n() {
            let k = Literal::usize_unsuffixed(k);
            out.push(quote!(done(self, #k);));
        }
        for (statement, k) in chain.into_iter().zip((0..=top).rev()) {
            let k = Literal::usize_unsuffixed(k);
            out.push(statement);
            out.push(quote!(done(self, #k);));
        }
        out
    }
}
