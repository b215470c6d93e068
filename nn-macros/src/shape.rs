//! Shape rules of the built-in layers. Each layer gets its type, its initialiser and its
//! output shape; a rule that does not hold becomes an error at the span of the layer (or
//! argument) at fault.

use crate::ast::{Arg, LayerDef, NetworkDef};
use crate::ctxt::Ctxt;
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::{Expr, Ident, Lit};

/// Every layer kind the macro knows, for "did you mean" suggestions.
const KNOWN: &[&str] = &[
    "Dense",
    "Relu",
    "LeakyRelu",
    "Tanh",
    "Sigmoid",
    "Softmax",
    "Net",
];

/// The shape of the samples flowing between two layers.
#[derive(Clone)]
pub enum Shape {
    /// Known to the macro: dimensions, outermost first.
    Known(Vec<usize>),
    /// Known only to the type system: the output of a sub-network, as a sample type.
    Opaque(TokenStream),
}

impl Shape {
    /// The runtime sample type of this shape.
    pub fn sample_type(&self) -> TokenStream {
        match self {
            Shape::Known(dims) => {
                let n = dims[0];
                quote!(::typed_nn::Tensor1<#n>)
            }
            Shape::Opaque(ty) => ty.clone(),
        }
    }
}

/// A layer with everything the expansion needs.
pub struct Resolved {
    /// Struct field holding the layer.
    pub field: Ident,
    /// Name in parameter paths and the summary (the user's name, or the layer's index as in
    /// PyTorch's `nn.Sequential`).
    pub path_name: String,
    /// The span of the layer's kind, where its errors and shape assertions point.
    pub span: Span,
    /// The layer's runtime type.
    pub ty: TokenStream,
    /// Expression building the layer from `rng`.
    pub init: TokenStream,
    /// Output shape.
    pub out: Shape,
    /// The activation type when this layer is one a loss can fuse with (Softmax, Sigmoid).
    pub head: Option<TokenStream>,
    /// Whether the macro could not prove that this layer takes its input shape (it is a
    /// sub-network, or follows one): only the type-level assertion guards that boundary.
    pub unproven_input: bool,
    /// Summary rows as the user wrote the layers: (a type whose `summary_rows` prints the
    /// row, its name). Two for a Dense with a fused activation.
    pub summary: Vec<(TokenStream, String)>,
}

/// The activation after the Dense at `index`, if it can be fused into it: unnamed (it has
/// no field of its own then), element-wise, differentiable from its output, and not the
/// network's output activation a loss fuses with (a final Sigmoid).
fn fusable_activation(def: &NetworkDef, index: usize) -> Option<Ident> {
    let next = def.layers.get(index + 1)?;
    let last = index + 2 == def.layers.len();
    let kind = next.kind.to_string();
    let fusable = next.name.is_none()
        && next.args.is_empty()
        && (matches!(kind.as_str(), "Relu" | "Tanh") || (kind == "Sigmoid" && !last));
    fusable.then(|| next.kind.clone())
}

/// Resolves every layer in order; errors go to `cx` and resolution goes on where it can.
pub fn resolve(def: &NetworkDef, cx: &mut Ctxt) -> Vec<Resolved> {
    let mut shape = input_shape(def, cx);
    if def.layers.is_empty() {
        cx.error_at(def.body_span, "a network needs at least one layer");
    }
    let mut resolved: Vec<Resolved> = Vec::new();
    let mut seen_names: Vec<String> = Vec::new();
    let mut index = 0;
    while index < def.layers.len() {
        let layer = &def.layers[index];
        let (field, path_name) = match &layer.name {
            Some(name) => {
                let s = name.to_string();
                if seen_names.contains(&s) {
                    cx.error_spanned_by(
                        name,
                        format_args!("a layer named `{s}` is already declared in this network"),
                    );
                }
                seen_names.push(s.clone());
                (name.clone(), s)
            }
            None => (
                format_ident!("layer{}", index, span = layer.kind.span()),
                index.to_string(),
            ),
        };
        let Some(current) = shape.clone() else {
            // An earlier error left the shape unknown: check this layer's own syntax only.
            let _ = rule(layer, &Shape::Known(vec![1]), &mut Ctxt::default());
            index += 1;
            continue;
        };
        let Some(mut r) = rule(layer, &current, cx) else {
            shape = None;
            index += 1;
            continue;
        };
        let mut summary = vec![(r.ty.clone(), path_name.clone())];
        if let (Some((n_in, units)), Some(function)) = (&r.dense, fusable_activation(def, index)) {
            // Dense followed by an element-wise activation: one layer whose kernel applies
            // the activation while the output tile is in registers. The summary still
            // shows both, as written.
            let span = layer.kind.span();
            r.ty = quote_spanned!(span=> ::typed_nn::Dense<#n_in, #units, ::typed_nn::#function>);
            let sample = r.out.sample_type();
            summary.push((
                quote!(::typed_nn::Act<::typed_nn::#function, #sample>),
                (index + 1).to_string(),
            ));
            index += 1;
        }
        shape = Some(r.out.clone());
        resolved.push(Resolved {
            field,
            path_name,
            span: layer.kind.span(),
            ty: r.ty,
            init: r.init,
            out: r.out,
            head: r.head,
            unproven_input: matches!(current, Shape::Opaque(_)) || layer.kind == "Net",
            summary,
        });
        index += 1;
    }
    resolved
}

fn input_shape(def: &NetworkDef, cx: &mut Ctxt) -> Option<Shape> {
    let mut dims = Vec::new();
    for lit in &def.input {
        match lit.base10_parse::<usize>() {
            Ok(d) if d > 0 => dims.push(d),
            _ => cx.error_spanned_by(lit, "an input dimension must be a positive integer"),
        }
    }
    if dims.len() != def.input.len() {
        return None;
    }
    if dims.len() != 1 {
        cx.error_at(
            def.input_span,
            format_args!(
                "expected a 1-D input shape such as `[784]`, found {} dimensions",
                dims.len()
            ),
        );
        return None;
    }
    Some(Shape::Known(dims))
}

struct Rule {
    ty: TokenStream,
    init: TokenStream,
    out: Shape,
    head: Option<TokenStream>,
    /// For Dense: its input length and units, should an activation fuse into it.
    dense: Option<(TokenStream, usize)>,
}

/// The rule of one layer kind applied to its input shape.
fn rule(layer: &LayerDef, input: &Shape, cx: &mut Ctxt) -> Option<Rule> {
    let kind = layer.kind.to_string();
    let span = layer.kind.span();
    match kind.as_str() {
        "Dense" => dense(layer, input, cx),
        "Relu" | "Tanh" | "Sigmoid" | "Softmax" => {
            no_args(layer, cx)?;
            let f = Ident::new(&kind, span);
            let sample = input.sample_type();
            let head =
                matches!(kind.as_str(), "Sigmoid" | "Softmax").then(|| quote!(::typed_nn::#f));
            Some(Rule {
                ty: quote_spanned!(span=> ::typed_nn::Act<::typed_nn::#f, #sample>),
                init: quote_spanned!(span=> ::typed_nn::Act::new(::typed_nn::#f)),
                out: input.clone(),
                head,
                dense: None,
            })
        }
        "LeakyRelu" => {
            let alpha = match layer.args.as_slice() {
                [] => quote!(::core::default::Default::default()),
                [arg] if arg_name_is(arg, "alpha") => {
                    let v = arg.value();
                    quote!(::typed_nn::LeakyRelu::new(#v as f32))
                }
                _ => {
                    cx.error_at(layer.paren_span.unwrap_or(span), "LeakyRelu takes one optional argument: its negative slope, e.g. `LeakyRelu(0.01)`");
                    return None;
                }
            };
            let sample = input.sample_type();
            Some(Rule {
                ty: quote_spanned!(span=> ::typed_nn::Act<::typed_nn::LeakyRelu, #sample>),
                init: quote_spanned!(span=> ::typed_nn::Act::new(#alpha)),
                out: input.clone(),
                head: None,
                dense: None,
            })
        }
        "Net" => {
            let ty = match layer.args.as_slice() {
                [Arg::Positional(Expr::Path(p))] => {
                    let path = &p.path;
                    quote!(#path)
                }
                _ => {
                    cx.error_at(
                        layer.paren_span.unwrap_or(span),
                        "Net takes one argument: the type of a network, e.g. `Net(Encoder)`",
                    );
                    return None;
                }
            };
            Some(Rule {
                ty: ty.clone(),
                init: quote_spanned!(span=> <#ty as ::typed_nn::layers::Layer>::init(rng)),
                out: Shape::Opaque(quote!(<#ty as ::typed_nn::layers::Layer>::Out)),
                head: None,
                dense: None,
            })
        }
        _ => {
            let message = match suggest(&kind) {
                Some(known) => format!("unknown layer `{kind}`; did you mean `{known}`?"),
                None => format!("unknown layer `{kind}`; known layers: {}", KNOWN.join(", ")),
            };
            cx.error_spanned_by(&layer.kind, message);
            None
        }
    }
}

fn dense(layer: &LayerDef, input: &Shape, cx: &mut Ctxt) -> Option<Rule> {
    let span = layer.kind.span();
    let units = match layer.args.as_slice() {
        [arg] if arg_name_is(arg, "units") => positive_int(arg.value(), "the number of units", cx)?,
        _ => {
            cx.error_at(
                layer.paren_span.unwrap_or(span),
                "Dense takes one argument: its number of units, e.g. `Dense(64)`",
            );
            return None;
        }
    };
    let n_in = match input {
        Shape::Known(dims) if dims.len() == 1 => {
            let n = dims[0];
            quote!(#n)
        }
        Shape::Known(dims) => {
            cx.error_at(span, format_args!("Dense takes a 1-D input, but its input here has shape {dims:?}; add `Flatten` before it"));
            return None;
        }
        Shape::Opaque(ty) => quote!({ <#ty as ::typed_nn::Sample>::LEN }),
    };
    Some(Rule {
        ty: quote_spanned!(span=> ::typed_nn::Dense<#n_in, #units>),
        init: quote_spanned!(span=> ::typed_nn::Dense::glorot_uniform(rng)),
        out: Shape::Known(vec![units]),
        head: None,
        dense: Some((n_in, units)),
    })
}

fn no_args(layer: &LayerDef, cx: &mut Ctxt) -> Option<()> {
    match layer.paren_span {
        Some(paren) if !layer.args.is_empty() => {
            cx.error_at(paren, format_args!("{} takes no arguments", layer.kind));
            None
        }
        _ => Some(()),
    }
}

/// A positional argument, or a named one called `name`.
fn arg_name_is(arg: &Arg, name: &str) -> bool {
    match arg {
        Arg::Positional(_) => true,
        Arg::Named { name: n, .. } => n == name,
    }
}

fn positive_int(expr: &Expr, what: &str, cx: &mut Ctxt) -> Option<usize> {
    if let Expr::Lit(syn::ExprLit {
        lit: Lit::Int(lit), ..
    }) = expr
    {
        if let Ok(v) = lit.base10_parse::<usize>() {
            if v > 0 {
                return Some(v);
            }
        }
    }
    cx.error_spanned_by(
        expr,
        format_args!("{what} must be a positive integer literal"),
    );
    None
}

/// The known layer closest to `name`, if one is close enough to be a likely typo.
fn suggest(name: &str) -> Option<&'static str> {
    let lower = name.to_lowercase();
    if matches!(lower.as_str(), "linear" | "fullyconnected" | "fc") {
        return Some("Dense");
    }
    KNOWN
        .iter()
        .map(|k| (edit_distance(&lower, &k.to_lowercase()), *k))
        .filter(|&(d, k)| d <= (k.len() / 3).max(1))
        .min()
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, &cb) in b.iter().enumerate() {
            cur.push(
                (prev[j] + usize::from(ca != cb))
                    .min(prev[j + 1] + 1)
                    .min(cur[j] + 1),
            );
        }
        prev = cur;
    }
    prev[b.len()]
}
