//! Joins: a residual block (`Residual { … }`, with an optional `shortcut { … }`) and
//! parallel branches (`Concat { { … }, { … } }`, `Add { … }`). Each path is a chain resolved
//! from the join's input and declared as a hidden layer type; the join is a runtime type
//! over them (`Residual<Body, Shortcut>`, nested `Concat<A, Concat<B, C, _>, _>`, `Sum`).
//! Where the paths meet, their shapes must agree: a mismatch is an error at the block that
//! names both shapes, or a const assertion when they involve named constants.

use crate::ast::{Block, BlockContent, LayerDef, Path};
use crate::ctxt::{Ctxt, Reported};
use crate::dim::{Cmp, Dim};
use crate::resolve::{resolve_chain, HiddenChain, Scope};
use crate::rules::Shape;
use crate::table::LayerKind;
use proc_macro2::{Span, TokenStream};
use quote::{quote, ToTokens};

/// A resolved join.
pub struct Join {
    pub ty: TokenStream,
    pub init: TokenStream,
    pub out: Shape,
    /// The kind of the join's own summary row (Keras's names: `Add`, `Concatenate`).
    pub row_kind: &'static str,
    /// Code pushing the name of each path's last summary row to `ends`.
    pub summary: TokenStream,
    pub hidden: Vec<HiddenChain>,
}

/// One path of a join, resolved.
struct ResolvedPath {
    /// Its name in parameter paths and the summary (`body`, `shortcut`, a branch's name or
    /// index).
    name: String,
    ty: TokenStream,
    out: Shape,
    summary: TokenStream,
    hidden: Option<HiddenChain>,
}

/// `[16, 28, 28]`
fn shape_text(shape: &Shape) -> String {
    match shape {
        Shape::Dims(dims) => {
            let texts: Vec<String> = dims.iter().map(Dim::text).collect();
            format!("[{}]", texts.join(", "))
        }
        Shape::Tokens(t) => format!("tokens[{}]", t.text()),
        Shape::Opaque(_) => "a sub-network's output".to_string(),
    }
}

/// Resolves the chain `layers` from `input` as the path `name` of the join at `scope`.
fn resolve_path(
    name: &str,
    layers: &[LayerDef],
    input: &Shape,
    scope: &Scope<'_>,
    cx: &Ctxt,
) -> Result<ResolvedPath, Reported> {
    let rt = scope.rt;
    if layers.is_empty() {
        // An empty path is the identity: `Concat { {}, { … } }` stacks the input itself.
        let sample = input.sample_type(rt);
        return Ok(ResolvedPath {
            name: name.to_string(),
            ty: quote!(#rt::layers::Identity<#sample>),
            out: input.clone(),
            summary: quote!(ends.push(input.clone());),
            hidden: None,
        });
    }
    let scope = scope.nested(name);
    let (resolved, out) = resolve_chain(layers, Ok(input.clone()), &scope, cx)?;
    let hidden_name = scope.chain_name();
    let args = crate::dim::generic_args();
    Ok(ResolvedPath {
        name: name.to_string(),
        ty: quote!(#hidden_name #args),
        out,
        summary: quote! {
            ends.push(<#hidden_name #args as #rt::layers::Layer>::summary_rows(
                &#rt::layers::child_name(prefix, #name),
                &input,
                rows,
            ));
        },
        hidden: Some(HiddenChain {
            name: hidden_name,
            input: input.clone(),
            layers: resolved,
        }),
    })
}

/// Requires `a` and `b` to be the same shape (all dimensions, or all but the first);
/// `message` says so with both shapes.
#[allow(clippy::too_many_arguments)]
fn require_agree(
    cx: &Ctxt,
    label: &str,
    a: &Shape,
    b: &Shape,
    from_dim: usize,
    at: &dyn ToTokens,
    message: &dyn Fn() -> String,
) -> Result<(), Reported> {
    match (a, b) {
        (Shape::Dims(x), Shape::Dims(y)) if x.len() == y.len() => {
            for (p, q) in x.iter().zip(y).skip(from_dim) {
                cx.require(label, Cmp::Eq, p, q, at, message)?;
            }
            Ok(())
        }
        (Shape::Dims(_), Shape::Dims(_)) => Err(cx.error_spanned_by(at, message())),
        _ => Err(cx.error_spanned_by(
            at,
            "the paths of a join must end in shapes the macro knows, not in a `Net(...)`",
        )),
    }
}

/// Resolves the join `layer` (its kind is a join, its block is `block`) from `input`.
pub fn resolve_join(
    kind: &LayerKind,
    layer: &LayerDef,
    block: &Block,
    input: &Shape,
    scope: &Scope<'_>,
    cx: &Ctxt,
) -> Result<Join, Reported> {
    let rt = scope.rt;
    let label = match &layer.name {
        Some(name) => format!("{} `{name}`", kind.name),
        None => kind.name.to_string(),
    };
    if let (Some(shortcut), false) = (&block.shortcut, kind.name == "Residual") {
        return Err(cx.error_at(
            shortcut.span,
            format_args!(
                "only a Residual block has a shortcut; {} joins its branches",
                kind.name
            ),
        ));
    }
    if kind.name == "Residual" {
        let BlockContent::Chain(body) = &block.content else {
            return Err(cx.error_at(
                block.span,
                "a Residual block holds one chain of layers, `Residual { Conv2d(16, 3), … }`; branches belong to Concat and Add",
            ));
        };
        if body.is_empty() {
            return Err(cx.error_at(block.span, "a residual body needs at least one layer"));
        }
        let body = resolve_path("body", body, input, scope, cx)?;
        let shortcut = match &block.shortcut {
            Some(Path { layers, .. }) if layers.is_empty() => {
                return Err(cx.error_at(
                    block.shortcut.as_ref().map_or(block.span, |s| s.span),
                    "an empty shortcut is the identity: leave `shortcut { }` out",
                ))
            }
            Some(path) => Some(resolve_path("shortcut", &path.layers, input, scope, cx)?),
            None => None,
        };
        match &shortcut {
            None => require_agree(cx, &label, &body.out, input, 0, &layer.kind, &|| {
                format!(
                    "the residual body maps {} to {}, but without a shortcut its output must keep the input's shape; add `shortcut {{ … }}` to project the input (a 1x1 convolution with the body's stride, usually)",
                    shape_text(input),
                    shape_text(&body.out)
                )
            })?,
            Some(s) => {
                let at = block.shortcut.as_ref().map(|p| p.name.clone());
                require_agree(cx, &label, &s.out, &body.out, 0, &at, &|| {
                    format!(
                        "the residual body gives {} but the shortcut gives {}; both paths must give the same shape",
                        shape_text(&body.out),
                        shape_text(&s.out)
                    )
                })?
            }
        }
        let sample = body.out.sample_type(rt);
        let shortcut_ty = shortcut
            .as_ref()
            .map_or_else(|| quote!(#rt::layers::Identity<#sample>), |s| s.ty.clone());
        let body_ty = &body.ty;
        let ty = quote!(#rt::layers::Residual<#body_ty, #shortcut_ty>);
        let mut summary = body.summary.clone();
        summary.extend(match &shortcut {
            Some(s) => s.summary.clone(),
            None => quote!(ends.push(input.clone());),
        });
        let out = body.out.clone();
        let hidden = [Some(body), shortcut]
            .into_iter()
            .flatten()
            .filter_map(|p| p.hidden)
            .collect();
        return Ok(Join {
            init: quote!(<#ty as #rt::layers::Layer>::init(rng)),
            ty,
            out,
            row_kind: "Add",
            summary,
            hidden,
        });
    }

    // Concat and Add: two or more branches from the same input.
    let BlockContent::Branches(branches) = &block.content else {
        return Err(cx.error_at(
            block.span,
            format_args!(
                "{} joins branches, each in braces: `{} {{ {{ Conv2d(8, 1) }}, {{ Conv2d(8, 3, padding = 1) }} }}`",
                kind.name, kind.name
            ),
        ));
    };
    if branches.len() < 2 {
        return Err(cx.error_at(
            block.span,
            format_args!("{} needs at least two branches", kind.name),
        ));
    }
    let mut paths = Vec::new();
    let mut failed = None;
    for (i, branch) in branches.iter().enumerate() {
        let name = branch
            .name
            .as_ref()
            .map_or_else(|| i.to_string(), |n| n.to_string());
        match resolve_path(&name, &branch.layers, input, scope, cx) {
            Ok(p) => paths.push((p, branch.span)),
            Err(r) => failed = Some(r),
        }
    }
    if let Some(r) = failed {
        return Err(r);
    }
    let concat = kind.name == "Concat";
    let first = &paths[0].0;
    for (path, span) in &paths[1..] {
        let at = quote::quote_spanned!(*span=> {});
        require_agree(
            cx,
            &label,
            &path.out,
            &first.out,
            usize::from(concat),
            &at,
            &|| {
                if concat {
                    format!(
                    "branch `{}` gives {} but branch `{}` gives {}: Concat stacks the first dimension (channels), so the others must agree",
                    path.name,
                    shape_text(&path.out),
                    first.name,
                    shape_text(&first.out)
                )
                } else {
                    format!(
                    "branch `{}` gives {} but branch `{}` gives {}: Add needs the same shape from every branch",
                    path.name,
                    shape_text(&path.out),
                    first.name,
                    shape_text(&first.out)
                )
                }
            },
        )?;
    }
    // Right-nested binary joins: the inner ones add no name of their own ("").
    let named = |p: &ResolvedPath| p.name.clone();
    let out_of = |ps: &[(ResolvedPath, Span)]| -> Shape {
        if !concat {
            return ps[0].0.out.clone();
        }
        match &ps[0].0.out {
            Shape::Dims(dims) => {
                let channels = ps.iter().fold(Dim::Known(0), |acc, (p, _)| match &p.out {
                    Shape::Dims(d) => acc.add(&d[0]),
                    _ => acc,
                });
                let mut out = dims.clone();
                out[0] = channels;
                Shape::Dims(out)
            }
            other => other.clone(),
        }
    };
    let n = paths.len();
    let mut ty = paths[n - 1].0.ty.clone();
    let mut init = {
        let t = &ty;
        quote!(<#t as #rt::layers::Layer>::init(rng))
    };
    let mut inner_name = named(&paths[n - 1].0);
    for k in (0..n - 1).rev() {
        let (a_ty, a_name) = (&paths[k].0.ty, named(&paths[k].0));
        let b_name = if k == n - 2 {
            inner_name.clone()
        } else {
            String::new()
        };
        let out = out_of(&paths[k..]).sample_type(rt);
        let b_ty = ty;
        ty = if concat {
            quote!(#rt::layers::Concat<#a_ty, #b_ty, #out>)
        } else {
            quote!(#rt::layers::Sum<#a_ty, #b_ty>)
        };
        let join = if concat { quote!(Concat) } else { quote!(Sum) };
        init = quote! {
            #rt::layers::#join::from_parts(<#a_ty as #rt::layers::Layer>::init(rng), #init)
                .named([#a_name, #b_name])
        };
        inner_name = String::new();
    }
    let out = out_of(&paths);
    let summary = paths.iter().map(|(p, _)| p.summary.clone()).collect();
    let hidden = paths.into_iter().filter_map(|(p, _)| p.hidden).collect();
    Ok(Join {
        ty,
        init,
        out,
        row_kind: if concat { "Concatenate" } else { "Add" },
        summary,
        hidden,
    })
}
