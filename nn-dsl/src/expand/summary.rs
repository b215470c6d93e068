//! The code that writes a chain's rows of a Keras-style summary, as the user wrote the
//! layers: two rows for a Dense with a fused activation, a join's paths then the join.
//!
//! Each layer's code reads `prefix` (the enclosing path, "" at the top), `input` (the name
//! of the row feeding it) and `rows`, and rebinds `input` to the name of its last row.

use crate::ir::{Body, Layer};
use proc_macro2::TokenStream;
use quote::quote;

/// The summary code of `layers`, in order.
pub fn rows(layers: &[Layer], rt: &TokenStream) -> Vec<TokenStream> {
    layers.iter().map(|layer| layer_rows(layer, rt)).collect()
}

fn layer_rows(layer: &Layer, rt: &TokenStream) -> TokenStream {
    let Body::Join(join) = &layer.body else {
        return layer
            .rows
            .iter()
            .map(|row| {
                let (ty, name) = (&row.ty, &row.name);
                quote! {
                    let input = <#ty as #rt::layers::Layer>::summary_rows(
                        &#rt::layers::child_name(prefix, #name),
                        &input,
                        rows,
                    );
                }
            })
            .collect();
    };
    let ends = join.paths.iter().map(|path| {
        let (ty, name) = (&path.ty, &path.name);
        match path.chain {
            None => quote!(ends.push(input.clone());),
            Some(_) => quote! {
                ends.push(<#ty as #rt::layers::Layer>::summary_rows(
                    &#rt::layers::child_name(prefix, #name),
                    &input,
                    rows,
                ));
            },
        }
    });
    let (ty, name, kind) = (&join.ty, &layer.path_name, join.row_kind);
    quote! {
        let input = {
            let name = #rt::layers::child_name(prefix, #name);
            let prefix = name.as_str();
            let mut ends = #rt::__alloc::Vec::new();
            #( #ends )*
            #rt::layers::join_row(
                prefix,
                #kind,
                <<#ty as #rt::layers::Layer>::Out as #rt::Sample>::SHAPE,
                ends,
                rows,
            )
        };
    }
}
