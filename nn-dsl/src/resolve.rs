//! Resolution: every layer of a network in order, each checked against the table (known
//! kind, arguments, input kind) and then its shape rule; errors are collected and resolution
//! goes on where it can, so the user sees every independent mistake at once.

use crate::ast::{LayerDef, NetworkDef};
use crate::ctxt::{Ctxt, Reported};
use crate::rules::{Rule, RuleCx, Shape};
use crate::table::{self, Call, Input, LayerKind};
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::Ident;

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

/// The network's input shape, when it is valid.
pub fn input_shape(def: &NetworkDef, cx: &Ctxt) -> Option<Shape> {
    let mut dims = Vec::new();
    for lit in &def.input {
        match lit.base10_parse::<usize>() {
            Ok(d) if d > 0 => dims.push(d),
            _ => {
                cx.error_spanned_by(lit, "an input dimension must be a positive integer");
            }
        }
    }
    if dims.len() != def.input.len() {
        return None;
    }
    if def.tokens.is_some() {
        if dims.len() != 1 {
            cx.error_at(
                def.input_span,
                "token ids come as one sequence: `tokens[length]`",
            );
            return None;
        }
        return Some(Shape::Tokens(dims[0]));
    }
    if !(1..=3).contains(&dims.len()) {
        cx.error_at(
            def.input_span,
            format_args!(
                "expected an input shape of 1 to 3 dimensions such as `[784]`, `[28, 28]` or `[3, 64, 64]`, found {}",
                dims.len()
            ),
        );
        return None;
    }
    Some(Shape::Known(dims))
}

/// The activation after the layer at `index`, if it can be fused into it: unnamed (it has
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

/// Resolves every layer in order; errors go to `cx`.
pub fn resolve(def: &NetworkDef, cx: &Ctxt, rt: &TokenStream) -> Vec<Resolved> {
    let mut shape = input_shape(def, cx);
    // Why the current shape has its rank, when the layer that made it has a switch for it.
    let mut rank_hint: Option<String> = None;
    if def.layers.is_empty() {
        cx.error_at(def.body_span, "a network needs at least one layer");
    }
    let rules = RuleCx { cx, rt };
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
        index += 1;
        let Some(kind) = known_kind(layer, cx) else {
            shape = None;
            continue;
        };
        let Ok(call) = Call::new(kind, layer, cx) else {
            shape = None;
            continue;
        };
        // After an earlier error the input is unknown: this layer's own arguments were
        // checked above, its fit to the input cannot be.
        let Some(current) = shape.take() else {
            continue;
        };
        let Ok(mut rule) = check_input(kind, layer, &current, rank_hint.as_deref(), cx)
            .and_then(|()| (kind.rule)(&rules, &call, &current))
        else {
            continue;
        };
        let mut summary = vec![(rule.ty.clone(), path_name.clone())];
        if let (Some(fused), Some(function)) = (&rule.fuse, fusable_activation(def, index - 1)) {
            // Dense or convolution followed by an element-wise activation: one layer whose
            // kernel applies the activation to its output in place. The summary still shows
            // both, as written.
            rule.ty = fused(&function);
            let sample = rule.out.sample_type(rt);
            summary.push((quote!(#rt::Act<#rt::#function, #sample>), index.to_string()));
            index += 1;
        }
        let Rule {
            ty,
            init,
            out,
            head,
            rank_hint: hint,
            ..
        } = rule;
        shape = Some(out.clone());
        rank_hint = hint;
        resolved.push(Resolved {
            field,
            path_name,
            span: layer.kind.span(),
            ty,
            init,
            out,
            head,
            unproven_input: matches!(current, Shape::Opaque(_)) || kind.name == "Net",
            summary,
        });
    }
    resolved
}

/// The table entry of `layer`, or an error naming the closest known one.
fn known_kind(layer: &LayerDef, cx: &Ctxt) -> Option<&'static LayerKind> {
    let name = layer.kind.to_string();
    if let Some(kind) = table::find(&name) {
        return Some(kind);
    }
    let message = match table::suggest_layer(&name) {
        Some(known) => format!("unknown layer `{name}`; did you mean `{known}`?"),
        None => format!(
            "unknown layer `{name}`; known layers: {}",
            table::known_names()
        ),
    };
    cx.error_spanned_by(&layer.kind, message);
    None
}

/// Whether `kind` accepts `input`, from the table; an error at the layer otherwise.
fn check_input(
    kind: &LayerKind,
    layer: &LayerDef,
    input: &Shape,
    rank_hint: Option<&str>,
    cx: &Ctxt,
) -> Result<(), Reported> {
    let name = kind.name;
    let sample = match input {
        Shape::Tokens(_) => Input::Tokens,
        Shape::Opaque(_) if kind.after_subnetwork => return Ok(()),
        Shape::Opaque(_) => {
            return Err(cx.error_spanned_by(
                &layer.kind,
                format_args!(
                    "{name} cannot follow a `Net(...)` layer: its input shape must be known to the macro"
                ),
            ))
        }
        Shape::Known(dims) => match dims.len() {
            1 => Input::Vector,
            2 => Input::Matrix,
            _ => Input::Image,
        },
    };
    if kind.accepts.contains(&sample) {
        return Ok(());
    }
    let message = match input {
        Shape::Tokens(_) => {
            format!("{name} cannot read token ids; start with `Embedding(vocabulary, dimension)`")
        }
        Shape::Known(dims) if kind.accepts == [Input::Tokens] => format!(
            "{name} takes token ids, but its input here is float values of shape {dims:?}; declare the network's input as `tokens[length]`"
        ),
        Shape::Known(dims) => {
            let mut message = format!(
                "{name} takes {} input, but its input here has shape {dims:?}",
                kind.input_words
            );
            if kind.accepts == [Input::Vector] {
                message += "; add `Flatten` before it";
                if let Some(hint) = rank_hint {
                    message += ", ";
                    message += hint;
                }
            }
            message
        }
        Shape::Opaque(_) => format!("{name} cannot follow a `Net(...)` layer"),
    };
    Err(cx.error_spanned_by(&layer.kind, message))
}

/// The network's input sample type (its input shape is valid: `resolve` found no error).
pub fn input_type(def: &NetworkDef, rt: &TokenStream) -> TokenStream {
    let dims: Vec<usize> = def
        .input
        .iter()
        .map(|d| d.base10_parse().unwrap_or(1))
        .collect();
    match (&def.tokens, dims.as_slice()) {
        (Some(_), [t, ..]) => Shape::Tokens(*t).sample_type(rt),
        _ => Shape::Known(dims).sample_type(rt),
    }
}

/// Checks on the network as a whole, once its layers are resolved.
pub fn check_network(layers: &[Resolved], cx: &Ctxt) {
    if let [only] = layers {
        if only.head.is_some() {
            // Its logits would be the caller's input, and it has nothing to train.
            cx.error_at(
                only.span,
                "a network needs a layer with parameters before its output activation",
            );
        }
    }
}
