//! Resolution, the first pass: every layer of a network in order, each checked against the
//! table (known kind, arguments, input kind) and then its shape rule, and the paths of joins
//! likewise. Errors are collected and resolution goes on where it can, so the user sees
//! every independent mistake at once.

use crate::args::{size_value, Slots};
use crate::ast::{InputDef, InputShape, LayerDef, NetworkDef};
use crate::ctxt::{Ctxt, Reported};
use crate::decl::{Decl, Flags, Form};
use crate::ir::{Body, Chain, JoinPath, Layer, Row};
use crate::joins;
use crate::kind::{self, KindEntry};
use crate::kinds;
use crate::rule::{Rule, RuleCx};
use crate::shape::{Env, Input, Part, Shape};
use quote::{format_ident, quote};
use syn::Ident;

/// What resolution reads besides the layers: where errors go, and the environment.
#[derive(Clone, Copy)]
pub struct Resolver<'a> {
    pub cx: &'a Ctxt,
    pub env: Env<'a>,
}

/// Where a chain is being resolved: the network's name and the path of the join it is in,
/// which name the hidden types of nested joins.
#[derive(Clone)]
pub struct Scope<'a> {
    pub network: &'a Ident,
    /// `block_body` for the body of the layer `block`; empty at the top.
    pub prefix: String,
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
    match &def.input {
        InputDef::One(one) => one_input(one, cx),
        InputDef::Parts(parts, span) => {
            if parts.len() < 2 {
                return Err(cx.error_at(
                    *span,
                    "a network with several inputs names at least two, `(image: [1, 28, 28], text: tokens[8])`; one input is written without a name, `[784]`",
                ));
            }
            let mut resolved = Vec::new();
            let mut failed = None;
            for (name, shape) in parts {
                let text = name.to_string();
                if resolved.iter().any(|p: &Part| p.name == text) {
                    failed = Some(
                        cx.error_spanned_by(name, format_args!("a second input named `{text}`")),
                    );
                }
                match one_input(shape, cx) {
                    Ok(shape) => resolved.push(Part { name: text, shape }),
                    Err(r) => failed = Some(r),
                }
            }
            match failed {
                Some(r) => Err(r),
                None => Ok(Shape::Parts(resolved)),
            }
        }
    }
}

/// The shape of one input, `[784]` or `tokens[100]`.
fn one_input(input: &InputShape, cx: &Ctxt) -> Result<Shape, Reported> {
    let mut dims = Vec::new();
    let mut failed = None;
    for expr in &input.dims {
        match size_value(expr, "an input dimension", "the input shape", cx) {
            Ok(d) => dims.push(d),
            Err(r) => failed = Some(r),
        }
    }
    if let Some(r) = failed {
        return Err(r);
    }
    if input.tokens.is_some() {
        return match dims.pop() {
            Some(t) if dims.is_empty() => Ok(Shape::Tokens(t)),
            _ => Err(cx.error_at(
                input.span,
                "token ids come as one sequence: `tokens[length]`",
            )),
        };
    }
    let rank = dims.len();
    Shape::from_dims(dims).ok_or_else(|| {
        cx.error_at(
            input.span,
            format_args!(
                "expected an input shape of 1 to 3 dimensions such as `[784]`, `[28, 28]` or `[3, 64, 64]`, found {rank}"
            ),
        )
    })
}

/// Resolves the network's input shape and layers; errors go to `r.cx`.
pub fn network(def: &NetworkDef, r: Resolver<'_>) -> Result<(Shape, Vec<Layer>), Reported> {
    let input = input_shape(def, r.cx);
    if def.layers.is_empty() {
        return Err(r
            .cx
            .error_at(def.body_span, "a network needs at least one layer"));
    }
    let scope = Scope {
        network: &def.name,
        prefix: String::new(),
    };
    let (layers, _) = chain(&def.layers, input.clone(), &scope, r)?;
    check_outputs(&layers, r.cx)?;
    if let [only] = layers.as_slice() {
        if only.head().is_some() {
            // Its logits would be the caller's input, and it has nothing to train.
            return Err(r.cx.error_at(
                only.span,
                "a network needs a layer with parameters before its output activation",
            ));
        }
    }
    Ok((input?, layers))
}

/// A network whose output has several parts (it ends in a `Zip`) gives each as logits: the
/// losses of `Losses` apply each output's softmax or sigmoid themselves, as PyTorch's do, so
/// an output activation there would be applied twice.
fn check_outputs(layers: &[Layer], cx: &Ctxt) -> Result<(), Reported> {
    let Some(Body::Join(join)) = layers.last().map(|l| &l.body) else {
        return Ok(());
    };
    if join.row_kind != "Zip" {
        return Ok(());
    }
    for path in &join.paths {
        let last = path.chain.as_ref().and_then(|c| c.layers.last());
        if let Some(head) = last.filter(|l| l.head().is_some()) {
            return Err(cx.error_at(
                head.span,
                format_args!(
                    "the output `{}` of a network with several outputs ends in logits: `Losses` applies its {} in the loss (as PyTorch's losses do); leave it out here, and apply it to the output in inference",
                    path.name,
                    head.decl.name
                ),
            ));
        }
    }
    Ok(())
}

/// Resolves a chain of layers in order from `input` (an error: unknown, and reported), with
/// its output shape. Every independent problem is reported, not only the first: after one,
/// the following layers' own arguments are still checked.
pub fn chain(
    layers: &[LayerDef],
    input: Result<Shape, Reported>,
    scope: &Scope<'_>,
    r: Resolver<'_>,
) -> Result<(Vec<Layer>, Shape), Reported> {
    let cx = r.cx;
    // The current shape, or the proof that an error made it unknown.
    let mut shape = input;
    // Why the current shape has its rank, when the layer that made it has a switch for it.
    let mut rank_hint: Option<String> = None;
    let mut resolved: Vec<Layer> = Vec::new();
    let mut seen_names: Vec<String> = Vec::new();
    for (index, layer) in layers.iter().enumerate() {
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
        if let Some(selected) = select_part(layer, &shape, r) {
            match selected {
                Ok(rule) => {
                    let out = rule.out.clone();
                    resolved.push(Layer {
                        rows: vec![Row {
                            ty: rule.ty.clone(),
                            name: path_name.clone(),
                        }],
                        field,
                        path_name,
                        span: layer.kind.span(),
                        decl: &SELECT,
                        named: layer.name.is_some(),
                        bare: true,
                        unproven_input: false,
                        fused: Vec::new(),
                        body: Body::Layer(rule),
                    });
                    shape = Ok(out);
                }
                Err(failed) => shape = Err(failed),
            }
            continue;
        }
        let entry = match known_kind(layer, cx) {
            Ok(entry) => entry,
            Err(failed) => {
                shape = Err(failed);
                continue;
            }
        };
        let slots = Slots::new(entry.name(), entry.params, layer, cx);
        let input = check_block(entry, layer, cx).and(shape.clone());
        let rcx = RuleCx {
            cx,
            env: r.env,
            layer,
            decl: &entry.decl,
            rank_hint: rank_hint.as_deref(),
        };
        let unproven_input = matches!(input, Ok(Shape::Opaque(_))) || entry.decl.flags.subnetwork;
        let body = match entry.body {
            kind::Body::Layer(resolve) => resolve(&rcx, &slots, input.as_ref().map_err(|e| *e))
                .map(|rule| {
                    rank_hint = rule.rank_hint.clone();
                    Body::Layer(rule)
                }),
            kind::Body::Join(join, _) => {
                let join = match (slots.failed(), input) {
                    (Some(failed), _) | (None, Err(failed)) => Err(failed),
                    (None, Ok(input)) => {
                        rcx.check_input(&Form::of(&entry.decl), &input)
                            .and_then(|()| {
                                resolve_join(join, &rcx, &input, &scope.nested(&path_name), r)
                            })
                    }
                };
                rank_hint = None;
                join.map(Body::Join)
            }
        };
        let body = match body {
            Ok(body) => body,
            Err(failed) => {
                shape = Err(failed);
                continue;
            }
        };
        let rows = match &body {
            Body::Layer(rule) => vec![Row {
                ty: rule.ty.clone(),
                name: path_name.clone(),
            }],
            Body::Join(_) => Vec::new(),
        };
        let layer = Layer {
            field,
            path_name,
            span: layer.kind.span(),
            decl: &entry.decl,
            named: layer.name.is_some(),
            bare: layer.args.is_empty(),
            unproven_input,
            rows,
            fused: Vec::new(),
            body,
        };
        if shape.is_ok() {
            shape = Ok(layer.out().clone());
        }
        resolved.push(layer);
    }
    shape.map(|out| (resolved, out))
}

/// What a bare name is in a chain whose input has several parts: the part of that name.
static SELECT: Decl = Decl {
    name: "Input",
    doc: "the input (or part of a `Zip`'s output) of this name",
    example: "image",
    accepts: &[Input::Parts],
    input_words: "several named",
    flags: Flags {
        selects_part: true,
        ..Flags::NONE
    },
};

/// The selection of a part by its name, when `layer` is a bare name and its input has
/// parts: a `Select` of that part, or an error naming the parts when none has the name
/// and it is no layer kind either. `None` when `layer` is something else.
fn select_part(
    layer: &LayerDef,
    input: &Result<Shape, Reported>,
    r: Resolver<'_>,
) -> Option<Result<Rule, Reported>> {
    let Ok(whole @ Shape::Parts(parts)) = input else {
        return None;
    };
    if layer.paren_span.is_some() || layer.block.is_some() {
        return None;
    }
    let name = layer.kind.to_string();
    let Some((offset, part)) = whole.part(&name) else {
        if kinds::find(&name).is_some() {
            return None;
        }
        let names: Vec<&str> = parts.iter().map(|p| p.name.as_str()).collect();
        return Some(Err(r.cx.error_spanned_by(
            &layer.kind,
            format_args!(
                "nothing named `{name}` to read here: its input is {}, so a path starts with one of {}",
                whole.text(),
                names.join(", ")
            ),
        )));
    };
    let rcx = RuleCx {
        cx: r.cx,
        env: r.env,
        layer,
        decl: &SELECT,
        rank_hint: None,
    };
    let rt = r.env.rt;
    let (from, to) = (whole.sample_type(r.env), part.sample_type(r.env));
    Some(
        rcx.const_args([(&offset, "part's offset")])
            .map(|[offset]| {
                let ty = quote!(#rt::Select<#from, #to, #offset>);
                Rule::new(
                    ty.clone(),
                    quote!(<#ty as #rt::layers::Layer>::init(rng)),
                    part.clone(),
                )
            }),
    )
}

/// Resolves the join `join` (its layer is `rcx.layer`) from `input`: its paths' chains,
/// then where they meet.
fn resolve_join(
    join: kind::JoinKind,
    rcx: &RuleCx<'_>,
    input: &Shape,
    scope: &Scope<'_>,
    r: Resolver<'_>,
) -> Result<crate::ir::Join, Reported> {
    let defs = joins::paths(join, rcx)?;
    let mut paths = Vec::new();
    let mut failed = None;
    for def in &defs {
        match path(&def.name, def.layers, input, scope, r) {
            Ok(p) => paths.push(p),
            Err(e) => failed = Some(e),
        }
    }
    if let Some(e) = failed {
        return Err(e);
    }
    joins::combine(join, rcx, input, &defs, paths)
}

/// Resolves the chain `layers` from `input` as the path `name` of the join at `scope`.
fn path(
    name: &str,
    layers: &[LayerDef],
    input: &Shape,
    scope: &Scope<'_>,
    r: Resolver<'_>,
) -> Result<JoinPath, Reported> {
    let rt = r.env.rt;
    if layers.is_empty() {
        // An empty path is the identity: `Concat { {}, { … } }` stacks the input itself.
        let sample = input.sample_type(r.env);
        return Ok(JoinPath {
            name: name.to_string(),
            ty: quote!(#rt::layers::Identity<#sample>),
            out: input.clone(),
            chain: None,
        });
    }
    let scope = scope.nested(name);
    let (resolved, out) = chain(layers, Ok(input.clone()), &scope, r)?;
    let hidden = scope.chain_name();
    let args = r.env.sizes.generic_args();
    Ok(JoinPath {
        name: name.to_string(),
        ty: quote!(#hidden #args),
        out,
        chain: Some(Chain {
            name: hidden,
            input: input.clone(),
            layers: resolved,
        }),
    })
}

/// Braces belong to joins, and joins need them.
fn check_block(kind: &KindEntry, layer: &LayerDef, cx: &Ctxt) -> Result<(), Reported> {
    let join = matches!(kind.body, kind::Body::Join(..));
    match (&layer.block, join) {
        (Some(block), false) => Err(cx.error_at(
            block.span,
            format_args!(
                "{} takes no block in braces; only the joins Residual, Concat and Add do",
                kind.name()
            ),
        )),
        (None, true) => Err(cx.error_spanned_by(
            &layer.kind,
            format_args!(
                "{} needs its paths in braces: {}",
                kind.name(),
                kind.usage()
            ),
        )),
        _ => Ok(()),
    }
}

/// The table entry of `layer`, or an error naming the closest known one.
fn known_kind(layer: &LayerDef, cx: &Ctxt) -> Result<&'static KindEntry, Reported> {
    let name = layer.kind.to_string();
    if let Some(kind) = kinds::find(&name) {
        return Ok(kind);
    }
    let message = match kinds::suggest_layer(&name) {
        Some(known) => format!("unknown layer `{name}`; did you mean `{known}`?"),
        None => format!(
            "unknown layer `{name}`; known layers: {}",
            kinds::known_names()
        ),
    };
    Err(cx.error_spanned_by(&layer.kind, message))
}
