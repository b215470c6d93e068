//! The size parameters of the network being expanded (`<const IN: usize, …>`), passed to
//! every pass that builds a type from sizes.
//!
//! A size that is a parameter itself (`IN`) is a const argument like any other, but one
//! computed from parameters (`(H - 2) / 2`, `C * 13 * 13`) cannot be one on stable Rust (that
//! needs `generic_const_exprs`). Such shapes get a zero-sized type of their own, generic over
//! the network's parameters, whose associated const holds the sizes (`ShapeOf`), and samples of
//! those shapes are `Shaped<…>`. The shape types a network needs are recorded here while its
//! layers are resolved, and declared after it.

use crate::dim::Dim;
use proc_macro2::{TokenStream, TokenTree};
use quote::{format_ident, quote};
use std::cell::RefCell;

/// The network's size parameters, and what resolving its layers learnt about its shapes.
pub struct SizeParams {
    params: Vec<syn::Ident>,
    network: syn::Ident,
    /// The declared shape types: their sizes' tokens (the key), and the type's name.
    shapes: RefCell<Vec<(Vec<TokenStream>, syn::Ident)>>,
    /// Shapes read off a sub-network's output type (`<T as Sample>::SHAPE[i]`), with that
    /// type: a layer after `Net(…)` takes the sub-network's output type itself, whatever
    /// sample type it is (a `Tensor3`, or a generic block's `Shaped` output).
    read: RefCell<Vec<(String, TokenStream)>>,
}

impl SizeParams {
    /// The parameters `params` of the network `network`.
    pub fn new(params: Vec<syn::Ident>, network: syn::Ident) -> Self {
        SizeParams {
            params,
            network,
            shapes: RefCell::new(Vec::new()),
            read: RefCell::new(Vec::new()),
        }
    }

    /// A network without size parameters.
    #[cfg(test)]
    pub fn none(network: syn::Ident) -> Self {
        SizeParams::new(Vec::new(), network)
    }

    /// Whether `ident` is one of the parameters.
    pub fn is_param(&self, ident: &proc_macro2::Ident) -> bool {
        self.params.iter().any(|p| p == ident)
    }

    /// Whether `dim` is computed from the parameters (and is not a parameter itself): it
    /// cannot be a const argument then, only a shape's const.
    pub fn is_derived(&self, dim: &Dim) -> bool {
        if dim.value().is_some() {
            return false;
        }
        let tokens = dim.tokens();
        let mut single = tokens.clone().into_iter();
        let bare = matches!(
            (single.next(), single.next()),
            (Some(TokenTree::Ident(i)), None) if self.is_param(&i)
        );
        !bare && self.mentions(&tokens)
    }

    /// Whether `tokens` name one of the parameters anywhere.
    pub fn mentions(&self, tokens: &TokenStream) -> bool {
        tokens.clone().into_iter().any(|t| match t {
            TokenTree::Ident(i) => self.is_param(&i),
            TokenTree::Group(g) => self.mentions(&g.stream()),
            _ => false,
        })
    }

    /// `<IN, OUT>`: the parameters as arguments, empty for a concrete network.
    pub fn generic_args(&self) -> TokenStream {
        if self.params.is_empty() {
            return TokenStream::new();
        }
        let params = &self.params;
        quote!(<#(#params),*>)
    }

    /// The sample type of a shape some of whose sizes are computed from the parameters:
    /// `Shaped<__NetShapeK<IN, …>>`, declaring the shape type on first use.
    pub fn shaped_type(&self, dims: &[Dim], rt: &TokenStream) -> TokenStream {
        let key: Vec<TokenStream> = dims.iter().map(Dim::tokens).collect();
        let text = |k: &[TokenStream]| k.iter().map(|t| t.to_string()).collect::<Vec<_>>();
        let mut shapes = self.shapes.borrow_mut();
        let name = match shapes.iter().find(|(k, _)| text(k) == text(&key)) {
            Some((_, name)) => name.clone(),
            None => {
                let name = format_ident!("__{}Shape{}", self.network, shapes.len());
                shapes.push((key, name.clone()));
                name
            }
        };
        let params = &self.params;
        quote!(#rt::Shaped<#name<#(#params),*>>)
    }

    /// The shape types declared so far: each one's sizes and name.
    pub fn shape_types(&self) -> Vec<(Vec<TokenStream>, syn::Ident)> {
        self.shapes.borrow().clone()
    }

    /// Records that `dims` were read off the sample type `ty`.
    pub fn record_read(&self, dims: &[Dim], ty: TokenStream) {
        self.read.borrow_mut().push((key(dims), ty));
    }

    /// The sample type `dims` were read off, if they were.
    pub fn read_type(&self, dims: &[Dim]) -> Option<TokenStream> {
        let key = key(dims);
        self.read
            .borrow()
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, ty)| ty.clone())
    }
}

/// The text that identifies a shape's sizes.
fn key(dims: &[Dim]) -> String {
    let texts: Vec<String> = dims.iter().map(|d| d.tokens().to_string()).collect();
    texts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expr(s: &str) -> Dim {
        Dim::of_expr(&syn::parse_str(s).unwrap())
    }

    #[test]
    fn one_shape_type_per_shape() {
        let sizes = SizeParams::new(
            vec![syn::parse_quote!(H), syn::parse_quote!(C)],
            syn::parse_quote!(Net),
        );
        let (h, c) = (expr("H"), expr("C"));
        let out = h.sub(&Dim::Known(2));
        let rt = quote!(rt);
        let a = sizes.shaped_type(&[c.clone(), out.clone()], &rt);
        let b = sizes.shaped_type(&[c.clone(), h.sub(&Dim::Known(2))], &rt);
        assert_eq!(a.to_string(), b.to_string());
        let other = sizes.shaped_type(&[c, out.sub(&Dim::Known(2))], &rt);
        assert_ne!(a.to_string(), other.to_string());
        assert_eq!(sizes.shape_types().len(), 2);
        assert_eq!(sizes.generic_args().to_string(), "< H , C >");
        assert!(SizeParams::none(syn::parse_quote!(Net))
            .generic_args()
            .is_empty());
    }

    #[test]
    fn sizes_computed_from_parameters_are_derived_and_parameters_are_not() {
        let sizes = SizeParams::new(
            vec![syn::parse_quote!(H), syn::parse_quote!(C)],
            syn::parse_quote!(Net),
        );
        let (h, k) = (expr("H"), expr("KERNEL"));
        assert!(!sizes.is_derived(&h) && !sizes.is_derived(&k));
        assert!(!sizes.is_derived(&Dim::Known(3)));
        assert!(sizes.is_derived(&h.sub(&Dim::Known(2))));
        let doubled = k.mul(&Dim::Known(2));
        assert!(doubled.value().is_none() && !sizes.is_derived(&doubled));
        // Outside a generic network nothing is derived.
        let concrete = SizeParams::none(syn::parse_quote!(Net));
        assert!(!concrete.is_derived(&h.sub(&Dim::Known(2))));
    }
}
