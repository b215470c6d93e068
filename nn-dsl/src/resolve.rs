//! Resolution: every layer of a network in order, each checked against the table (known
//! kind, arguments, input kind) and then its shape rule; errors are collected and resolution
//! goes on where it can, so the user sees every independent mistake at once.

use crate::ast::{LayerDef, NetworkDef};
use crate::ctxt::{Ctxt, Reported};
use crate::dim::Dim;
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
    /// Code that appends the layer's summary rows, as the user wrote the layers (two for a
    /// Dense with a fused activation; a join's paths then the join): it reads `prefix` (the
    /// enclosing path, "" at the top), `input` (the name of the row feeding it) and `rows`, and
    /// rebinds `input` to the name of its last row.
    pub summary: TokenStream,
    /// The chains of a join, declared as hidden layer types of their own.
    pub hidden: Vec<HiddenChain>,
}

/// A chain of layers inside a join, expanded as a layer type of its own.
pub struct HiddenChain {
    pub name: Ident,
    pub input: Shape,
    pub layers: Vec<Resolved>,
}

/// Where a chain is being resolved: the network's name and the path of the join it is in,
/// which name the hidden types of nested joins.
#[derive(Clone)]
pub struct Scope<'a> {
    pub network: &'a Ident,
    /// `block_body` for the body of the layer `block`; empty at the top.
    pub prefix: String,
    pub rt: &'a TokenStream,
}

impl Scope<'_> {
    pub fn nested(&self, part: &str) -> Self {
        let prefix = if self.prefix.is_empty() {
            part.to_string()
        } else {
            format!("{}_{part}", self.prefix)
        };
        Scope {
            prefix,
            ..self.clone()
        }
    }

    /// The hidden type of the chain at this scope.
    pub fn chain_name(&self) -> Ident {
        format_ident!("__{}_{}", self.network, self.prefix)
    }
}

/// The network's input shape, when it is valid.
pub fn input_shape(def: &NetworkDef, cx: &Ctxt) -> Result<Shape, Reported> {
    let mut dims = Vec::new();
    let mut failed = None;
    for expr in &def.input {
        match table::size_value(expr, "an input dimension", "the input shape", cx) {
            Ok(d) => dims.push(d),
            Err(r) => failed = Some(r),
        }
    }
    if let Some(r) = failed {
        return Err(r);
    }
    if def.tokens.is_some() {
        return match dims.pop() {
            Some(t) if dims.is_empty() => Ok(Shape::Tokens(t)),
            _ => Err(cx.error_at(
                def.input_span,
                "token ids come as one sequence: `tokens[length]`",
            )),
        };
    }
    if !(1..=3).contains(&dims.len()) {
        return Err(cx.error_at(
            def.input_span,
            format_args!(
                "expected an input shape of 1 to 3 dimensions such as `[784]`, `[28, 28]` or `[3, 64, 64]`, found {}",
                dims.len()
            ),
        ));
    }
    Ok(Shape::Dims(dims))
}

/// The activation after the layer at `index`, if it can be fused into it: unnamed (it has
/// no field of its own then), element-wise, differentiable from its output, and not the
/// network's output activation a loss fuses with (a final Sigmoid).
fn fusable_activation(chain: &[LayerDef], index: usize) -> Option<Ident> {
    let next = chain.get(index + 1)?;
    let last = index + 2 == chain.len();
    let kind = next.kind.to_string();
    let fusable = next.name.is_none()
        && next.args.is_empty()
        && (matches!(kind.as_str(), "Relu" | "Tanh") || (kind == "Sigmoid" && !last));
    fusable.then(|| next.kind.clone())
}

/// The pooling after the layer before `next`, if it can be fused into it: that layer is a
/// convolution, and the pooling is unnamed (it has no field of its own then).
fn fusable_pool<'a>(kind: &LayerKind, chain: &'a [LayerDef], next: usize) -> Option<&'a LayerDef> {
    let pool = chain.get(next)?;
    let pooling = matches!(
        pool.kind.to_string().as_str(),
        "MaxPool2d" | "AvgPool2d" | "MaxPool1d" | "GlobalAvgPool2d" | "GlobalMaxPool2d"
    );
    let fusable = matches!(kind.name, "Conv1d" | "Conv2d")
        && pooling
        && pool.name.is_none()
        && pool.block.is_none();
    fusable.then_some(pool)
}

/// Resolves the network's layers; errors go to `cx`.
pub fn resolve(def: &NetworkDef, cx: &Ctxt, rt: &TokenStream) -> Result<Vec<Resolved>, Reported> {
    let input = input_shape(def, cx);
    if def.layers.is_empty() {
        return Err(cx.error_at(def.body_span, "a network needs at least one layer"));
    }
    let scope = Scope {
        network: &def.name,
        prefix: String::new(),
        rt,
    };
    resolve_chain(&def.layers, input, &scope, cx).map(|(layers, _)| layers)
}

/// Resolves a chain of layers in order from `input` (an error: unknown, and reported), with
/// its output shape. Every independent problem is reported, not only the first: after one,
/// the following layers' own arguments are still checked.
pub fn resolve_chain(
    chain: &[LayerDef],
    input: Result<Shape, Reported>,
    scope: &Scope<'_>,
    cx: &Ctxt,
) -> Result<(Vec<Resolved>, Shape), Reported> {
    let rt = scope.rt;
    let rules = RuleCx { cx, rt };
    // The current shape, or the proof that an error made it unknown.
    let mut shape = input;
    // Why the current shape has its rank, when the layer that made it has a switch for it.
    let mut rank_hint: Option<String> = None;
    let mut resolved: Vec<Resolved> = Vec::new();
    let mut seen_names: Vec<String> = Vec::new();
    let mut index = 0;
    while index < chain.len() {
        let layer = &chain[index];
        let (field, path_name) = match &layer.name {
            Some(name) => {
                let s = name.to_string();
                if seen_names.contains(&s) {
                    shape = Err(cx.error_spanned_by(
                        name,
                        format_args!("a layer named `{s}` is already declared in this network"),
                    ));
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
        let checked = known_kind(layer, cx).and_then(|kind| {
            let call = Call::new(kind, layer, cx)?;
            check_block(kind, layer, cx)?;
            Ok((kind, call))
        });
        let (kind, call) = match checked {
            Ok(k) => k,
            Err(r) => {
                shape = Err(r);
                continue;
            }
        };
        // After an earlier error the input is unknown: this layer's own arguments were
        // checked above, its fit to the input cannot be.
        let Ok(current) = shape.clone() else {
            continue;
        };
        // After a sub-network only the type system knows the shape: a layer that takes one
        // rank reads the dimensions off the sub-network's output type (the spanned shape
        // assertion still proves the types equal).
        let after_subnetwork = matches!(current, Shape::Opaque(_));
        let current = match current {
            Shape::Opaque(ty) if !kind.after_subnetwork => opaque_dims(ty, kind.accepts, rt),
            other => other,
        };
        if let Err(r) = check_input(kind, &call, &current, rank_hint.as_deref(), cx) {
            shape = Err(r);
            continue;
        }
        if let Some(block) = &layer.block {
            let scope = scope.nested(&path_name);
            let join = match crate::joins::resolve_join(kind, layer, block, &current, &scope, cx) {
                Ok(join) => join,
                Err(r) => {
                    shape = Err(r);
                    continue;
                }
            };
            shape = Ok(join.out.clone());
            rank_hint = None;
            let (ty, name, kind_name, summary) =
                (&join.ty, &path_name, join.row_kind, &join.summary);
            let summary = quote! {
                let input = {
                    let name = #rt::layers::child_name(prefix, #name);
                    let prefix = name.as_str();
                    let mut ends = ::std::vec::Vec::new();
                    #summary
                    #rt::layers::join_row(
                        prefix,
                        #kind_name,
                        <<#ty as #rt::layers::Layer>::Out as #rt::Sample>::SHAPE,
                        ends,
                        rows,
                    )
                };
            };
            resolved.push(Resolved {
                field,
                path_name: name.clone(),
                span: layer.kind.span(),
                ty: ty.clone(),
                init: join.init,
                out: join.out,
                head: None,
                unproven_input: after_subnetwork,
                summary,
                hidden: join.hidden,
            });
            continue;
        }
        let Some(rule) = kind.rule else {
            // A join without its block: `check_block` reported it.
            continue;
        };
        let mut rule = match rule(&rules, &call, &current) {
            Ok(rule) => rule,
            Err(r) => {
                shape = Err(r);
                continue;
            }
        };
        let row = |ty: &TokenStream, name: &str| {
            quote! {
                let input = <#ty as #rt::layers::Layer>::summary_rows(
                    &#rt::layers::child_name(prefix, #name),
                    &input,
                    rows,
                );
            }
        };
        let mut summary = row(&rule.ty, &path_name);
        if let (Some(fused), Some(function)) = (&rule.fuse, fusable_activation(chain, index - 1)) {
            // Dense or convolution followed by an element-wise activation: one layer whose
            // kernel applies the activation to its output in place. The summary still shows
            // both, as written.
            rule.ty = fused(&function);
            let sample = rule.out.sample_type(rt);
            summary.extend(row(
                &quote!(#rt::Act<#rt::#function, #sample>),
                &index.to_string(),
            ));
            index += 1;
        }
        if let Some(pool) = fusable_pool(kind, chain, index) {
            // A convolution followed by a pooling: one layer that pools each sample's
            // output while it is in cache. The summary still shows both.
            index += 1;
            let pool_rule = known_kind(pool, cx).and_then(|pool_kind| {
                let call = Call::new(pool_kind, pool, cx)?;
                check_input(pool_kind, &call, &rule.out, rule.rank_hint.as_deref(), cx)?;
                let pool_rule = pool_kind.rule.ok_or_else(|| {
                    cx.error_spanned_by(&pool.kind, "a pooling layer has a shape rule")
                })?;
                pool_rule(&rules, &call, &rule.out)
            });
            match pool_rule {
                Ok(pool_rule) => {
                    summary.extend(row(&pool_rule.ty, &(index - 1).to_string()));
                    let (conv, pool, conv_init) = (&rule.ty, &pool_rule.ty, &rule.init);
                    let (ty, init) = (
                        quote!(#rt::layers::ConvPool<#conv, #pool>),
                        quote! {
                            #rt::layers::ConvPool {
                                conv: #conv_init,
                                pool: ::core::default::Default::default(),
                            }
                        },
                    );
                    (rule.ty, rule.init) = (ty, init);
                    rule.out = pool_rule.out;
                    rule.rank_hint = pool_rule.rank_hint;
                }
                Err(r) => shape = Err(r),
            }
        }
        let Rule {
            ty,
            init,
            out,
            head,
            rank_hint: hint,
            ..
        } = rule;
        if shape.is_ok() {
            shape = Ok(out.clone());
        }
        rank_hint = hint;
        resolved.push(Resolved {
            field,
            path_name,
            span: layer.kind.span(),
            ty,
            init,
            out,
            head,
            unproven_input: after_subnetwork || kind.name == "Net",
            summary,
            hidden: Vec::new(),
        });
    }
    shape.map(|out| (resolved, out))
}

/// The dimensions of the sample type `ty` as const expressions, when `accepts` names one
/// rank; else `ty` as it is.
fn opaque_dims(ty: TokenStream, accepts: &[Input], rt: &TokenStream) -> Shape {
    let rank = match accepts {
        [Input::Vector] => 1,
        [Input::Matrix] => 2,
        [Input::Image] => 3,
        _ => return Shape::Opaque(ty),
    };
    let dims: Vec<Dim> = (0..rank)
        .map(|i: usize| {
            Dim::from_tokens(
                quote!(<#ty as #rt::Sample>::SHAPE[#i]),
                &format!("dimension {i} of the sub-network's output"),
            )
        })
        .collect();
    crate::dim::read_shape(&dims, ty);
    Shape::Dims(dims)
}

/// Braces belong to joins, and joins need them.
fn check_block(kind: &LayerKind, layer: &LayerDef, cx: &Ctxt) -> Result<(), Reported> {
    match (&layer.block, kind.join) {
        (Some(block), false) => Err(cx.error_at(
            block.span,
            format_args!(
                "{} takes no block in braces; only the joins Residual, Concat and Add do",
                kind.name
            ),
        )),
        (None, true) => Err(cx.error_spanned_by(
            &layer.kind,
            format_args!("{} needs its paths in braces: {}", kind.name, kind.usage()),
        )),
        _ => Ok(()),
    }
}

/// The table entry of `layer`, or an error naming the closest known one.
fn known_kind(layer: &LayerDef, cx: &Ctxt) -> Result<&'static LayerKind, Reported> {
    let name = layer.kind.to_string();
    if let Some(kind) = table::find(&name) {
        return Ok(kind);
    }
    let message = match table::suggest_layer(&name) {
        Some(known) => format!("unknown layer `{name}`; did you mean `{known}`?"),
        None => format!(
            "unknown layer `{name}`; known layers: {}",
            table::known_names()
        ),
    };
    Err(cx.error_spanned_by(&layer.kind, message))
}

/// Whether `kind` accepts `input`, from the table; an error at the layer otherwise.
fn check_input(
    kind: &LayerKind,
    call: &Call<'_>,
    input: &Shape,
    rank_hint: Option<&str>,
    cx: &Ctxt,
) -> Result<(), Reported> {
    let layer = call.layer;
    let (name, accepts, input_words) = match kind.per_step {
        Some((accepts, words)) if call.flag("per_step") == Some(true) => {
            (format!("{}(…, per_step = true)", kind.name), accepts, words)
        }
        _ => (kind.name.to_string(), kind.accepts, kind.input_words),
    };
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
        Shape::Dims(dims) => match dims.len() {
            1 => Input::Vector,
            2 => Input::Matrix,
            _ => Input::Image,
        },
    };
    if accepts.contains(&sample) {
        return Ok(());
    }
    let message = match input {
        Shape::Tokens(_) => {
            format!("{name} cannot read token ids; start with `Embedding(vocabulary, dimension)`")
        }
        Shape::Dims(dims) if accepts == [Input::Tokens] => format!(
            "{name} takes token ids, but its input here is float values of shape {}; declare the network's input as `tokens[length]`",
            dims_text(dims)
        ),
        Shape::Dims(dims) => {
            let mut message = format!(
                "{name} takes {} input, but its input here has shape {}",
                input_words,
                dims_text(dims)
            );
            if accepts == [Input::Vector] {
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

/// `[28, 64]`
fn dims_text(dims: &[Dim]) -> String {
    let texts: Vec<String> = dims.iter().map(Dim::text).collect();
    format!("[{}]", texts.join(", "))
}

/// The network's input sample type (its input shape is valid: `resolve` found no error).
pub fn input_type(def: &NetworkDef, rt: &TokenStream) -> TokenStream {
    let dims: Vec<Dim> = def.input.iter().map(Dim::of_expr).collect();
    match (&def.tokens, dims.as_slice()) {
        (Some(_), [t, ..]) => Shape::Tokens(t.clone()).sample_type(rt),
        _ => Shape::Dims(dims).sample_type(rt),
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
