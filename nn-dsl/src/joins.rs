//! Joins: a residual block (`Residual { … }`, with an optional `shortcut { … }`) and
//! parallel branches (`Concat { { … }, { … } }`, `Add { … }`). [`paths`] reads a join's
//! paths off its block, which resolution resolves as chains from the join's input;
//! [`combine`] checks where they meet and builds the join's runtime type over them
//! (`Residual<Body, Shortcut>`, nested `Concat<A, Concat<B, C, _>, _>`, `Sum`). Paths whose
//! shapes disagree are an error at the block that names both shapes, or a const assertion
//! when they involve named constants.

use crate::ast::{Block, BlockContent, LayerDef};
use crate::ctxt::{Ctxt, Reported};
use crate::dim::{Cmp, Dim};
use crate::ir::{Join, JoinPath};
use crate::kind::JoinKind;
use crate::rule::RuleCx;
use crate::shape::{Part, Shape};
use proc_macro2::{Span, TokenStream};
use quote::{quote, ToTokens};

/// A path of a join as written.
pub struct PathDef<'a> {
    /// `body`, `shortcut`, or a branch's name or index.
    pub name: String,
    pub layers: &'a [LayerDef],
    /// The braces.
    pub span: Span,
}

/// The block of a join layer; resolution checked that it has one.
fn block<'a>(rcx: &RuleCx<'a>) -> Result<&'a Block, Reported> {
    rcx.layer.block.as_ref().ok_or_else(|| {
        rcx.cx.error_spanned_by(
            &rcx.layer.kind,
            format_args!("{} needs its paths in braces", rcx.decl.name),
        )
    })
}

/// The paths of the join `join` written at `rcx.layer`, checked for the join's form.
pub fn paths<'a>(join: JoinKind, rcx: &RuleCx<'a>) -> Result<Vec<PathDef<'a>>, Reported> {
    let (cx, name) = (rcx.cx, rcx.decl.name);
    let block = block(rcx)?;
    if let (Some(shortcut), false) = (&block.shortcut, join == JoinKind::Residual) {
        return Err(cx.error_at(
            shortcut.span,
            format_args!("only a Residual block has a shortcut; {name} joins its branches"),
        ));
    }
    if join == JoinKind::Residual {
        let BlockContent::Chain(body) = &block.content else {
            return Err(cx.error_at(
                block.span,
                "a Residual block holds one chain of layers, `Residual { Conv2d(16, 3), … }`; branches belong to Concat and Add",
            ));
        };
        if body.is_empty() {
            return Err(cx.error_at(block.span, "a residual body needs at least one layer"));
        }
        let mut paths = vec![PathDef {
            name: "body".to_string(),
            layers: body,
            span: block.span,
        }];
        if let Some(shortcut) = &block.shortcut {
            if shortcut.layers.is_empty() {
                return Err(cx.error_at(
                    shortcut.span,
                    "an empty shortcut is the identity: leave `shortcut { }` out",
                ));
            }
            paths.push(PathDef {
                name: "shortcut".to_string(),
                layers: &shortcut.layers,
                span: shortcut.span,
            });
        }
        return Ok(paths);
    }
    // Concat, Add and Zip: two or more branches from the same input.
    let BlockContent::Branches(branches) = &block.content else {
        return Err(cx.error_at(
            block.span,
            format_args!(
                "{name} joins branches, each in braces: `{name} {{ {{ Conv2d(8, 1) }}, {{ Conv2d(8, 3, padding = 1) }} }}`"
            ),
        ));
    };
    if branches.len() < 2 {
        return Err(cx.error_at(
            block.span,
            format_args!("{name} needs at least two branches"),
        ));
    }
    if join == JoinKind::Zip {
        // Its outputs are read by name: every branch has one, and no two the same.
        let mut seen: Vec<String> = Vec::new();
        for branch in branches {
            let Some(branch_name) = &branch.name else {
                return Err(cx.error_at(
                    branch.span,
                    "Zip's branches are named, for what reads them: `Zip { image: { … }, text: { … } }`",
                ));
            };
            let text = branch_name.to_string();
            if seen.contains(&text) {
                return Err(cx.error_spanned_by(
                    branch_name,
                    format_args!("a second branch named `{text}`"),
                ));
            }
            seen.push(text);
        }
    }
    Ok(branches
        .iter()
        .enumerate()
        .map(|(i, branch)| PathDef {
            name: branch
                .name
                .as_ref()
                .map_or_else(|| i.to_string(), |n| n.to_string()),
            layers: &branch.layers,
            span: branch.span,
        })
        .collect())
}

/// Requires `a` and `b` to be the same shape (all dimensions, or all but the first);
/// `message` says so with both shapes.
fn require_agree(
    cx: &Ctxt,
    label: &str,
    (a, b): (&Shape, &Shape),
    from_dim: usize,
    at: &dyn ToTokens,
    message: &dyn Fn() -> String,
) -> Result<(), Reported> {
    match (a.dims(), b.dims()) {
        (Some(x), Some(y)) if x.len() == y.len() => {
            for (p, q) in x.iter().zip(&y).skip(from_dim) {
                cx.require(label, Cmp::Eq, p, q, at, message)?;
            }
            Ok(())
        }
        (Some(_), Some(_)) => Err(cx.error_spanned_by(at, message())),
        _ => Err(cx.error_spanned_by(
            at,
            "the paths of a join must end in shapes the macro knows, not in a `Net(...)`",
        )),
    }
}

/// The join `join` at `rcx.layer` over its resolved `paths` (as `defs` wrote them), from
/// `input`.
pub fn combine(
    join: JoinKind,
    rcx: &RuleCx<'_>,
    input: &Shape,
    defs: &[PathDef<'_>],
    paths: Vec<JoinPath>,
) -> Result<Join, Reported> {
    match join {
        JoinKind::Residual => residual(rcx, input, paths),
        JoinKind::Concat | JoinKind::Add => branches(join == JoinKind::Concat, rcx, defs, paths),
        JoinKind::Zip => Ok(zip(rcx, paths)),
    }
}

fn residual(rcx: &RuleCx<'_>, input: &Shape, paths: Vec<JoinPath>) -> Result<Join, Reported> {
    let (cx, rt, label) = (rcx.cx, rcx.rt(), rcx.label());
    let mut paths = paths.into_iter();
    let (Some(body), shortcut) = (paths.next(), paths.next()) else {
        return Err(cx.error_spanned_by(&rcx.layer.kind, "a residual block needs a body"));
    };
    match &shortcut {
        None => require_agree(cx, &label, (&body.out, input), 0, &rcx.layer.kind, &|| {
            format!(
                "the residual body maps {} to {}, but without a shortcut its output must keep the input's shape; add `shortcut {{ … }}` to project the input (a 1x1 convolution with the body's stride, usually)",
                input.text(),
                body.out.text()
            )
        })?,
        Some(s) => {
            let at = rcx
                .layer
                .block
                .as_ref()
                .and_then(|b| b.shortcut.as_ref())
                .map(|p| p.name.clone());
            require_agree(cx, &label, (&s.out, &body.out), 0, &at, &|| {
                format!(
                    "the residual body gives {} but the shortcut gives {}; both paths must give the same shape",
                    body.out.text(),
                    s.out.text()
                )
            })?
        }
    }
    let shortcut = shortcut.unwrap_or_else(|| {
        let sample = body.out.sample_type(rcx.env);
        JoinPath {
            name: "shortcut".to_string(),
            ty: quote!(#rt::layers::Identity<#sample>),
            out: body.out.clone(),
            chain: None,
        }
    });
    let (body_ty, shortcut_ty) = (&body.ty, &shortcut.ty);
    let ty = quote!(#rt::layers::Residual<#body_ty, #shortcut_ty>);
    Ok(Join {
        init: quote!(<#ty as #rt::layers::Layer>::init(rng)),
        ty,
        out: body.out.clone(),
        row_kind: "Add",
        summed: true,
        paths: vec![body, shortcut],
    })
}

/// Branches kept apart as the named parts of one sample: a concatenation of their flat
/// values, into nested pairs.
fn zip(rcx: &RuleCx<'_>, paths: Vec<JoinPath>) -> Join {
    let (ty, init) = nested(Merge::Zip, rcx.rt(), &paths, rcx);
    Join {
        ty,
        init,
        out: zipped_shape(&paths),
        row_kind: "Zip",
        summed: false,
        paths,
    }
}

/// The named parts of branches `paths`.
fn zipped_shape(paths: &[JoinPath]) -> Shape {
    Shape::Parts(
        paths
            .iter()
            .map(|p| Part {
                name: p.name.clone(),
                shape: p.out.clone(),
            })
            .collect(),
    )
}

/// How branches meet.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Merge {
    Concat,
    Sum,
    Zip,
}

/// The output of branches `paths` joined: the first's shape, or for a concatenation, that
/// shape with the first dimensions summed.
fn joined_shape(concat: bool, paths: &[JoinPath]) -> Shape {
    let first = &paths[0].out;
    let (true, Some(mut dims)) = (concat, first.dims()) else {
        return first.clone();
    };
    dims[0] = paths
        .iter()
        .fold(Dim::Known(0), |acc, p| match p.out.dims() {
            Some(d) => acc.add(&d[0]),
            None => acc,
        });
    Shape::from_dims(dims).unwrap_or_else(|| first.clone())
}

fn branches(
    concat: bool,
    rcx: &RuleCx<'_>,
    defs: &[PathDef<'_>],
    paths: Vec<JoinPath>,
) -> Result<Join, Reported> {
    let (cx, rt, label) = (rcx.cx, rcx.rt(), rcx.label());
    let Some(first) = paths.first() else {
        return Err(cx.error_spanned_by(&rcx.layer.kind, "a join needs branches"));
    };
    for (path, def) in paths.iter().zip(defs).skip(1) {
        let at = quote::quote_spanned!(def.span=> {});
        require_agree(
            cx,
            &label,
            (&path.out, &first.out),
            usize::from(concat),
            &at,
            &|| {
                if concat {
                    format!(
                        "branch `{}` gives {} but branch `{}` gives {}: Concat stacks the first dimension (channels), so the others must agree",
                        path.name,
                        path.out.text(),
                        first.name,
                        first.out.text()
                    )
                } else {
                    format!(
                        "branch `{}` gives {} but branch `{}` gives {}: Add needs the same shape from every branch",
                        path.name,
                        path.out.text(),
                        first.name,
                        first.out.text()
                    )
                }
            },
        )?;
    }
    let merge = if concat { Merge::Concat } else { Merge::Sum };
    let (ty, init) = nested(merge, rt, &paths, rcx);
    Ok(Join {
        ty,
        init,
        out: joined_shape(concat, &paths),
        row_kind: if concat { "Concatenate" } else { "Add" },
        summed: !concat,
        paths,
    })
}

/// The type and initialiser of right-nested binary joins over `paths`; the inner ones add
/// no name of their own ("").
fn nested(
    merge: Merge,
    rt: &TokenStream,
    paths: &[JoinPath],
    rcx: &RuleCx<'_>,
) -> (TokenStream, TokenStream) {
    let n = paths.len();
    let mut ty = paths[n - 1].ty.clone();
    let mut init = {
        let t = &ty;
        quote!(<#t as #rt::layers::Layer>::init(rng))
    };
    for k in (0..n - 1).rev() {
        let (a_ty, a_name) = (&paths[k].ty, &paths[k].name);
        let b_name = if k == n - 2 {
            paths[n - 1].name.clone()
        } else {
            String::new()
        };
        let out = joined_shape(merge == Merge::Concat, &paths[k..]).sample_type(rcx.env);
        let b_ty = ty;
        ty = match merge {
            Merge::Concat => quote!(#rt::layers::Concat<#a_ty, #b_ty, #out>),
            Merge::Zip => quote!(#rt::layers::Zip<#a_ty, #b_ty>),
            Merge::Sum => quote!(#rt::layers::Sum<#a_ty, #b_ty>),
        };
        let join = match merge {
            Merge::Concat => quote!(Concat),
            Merge::Zip => quote!(Zip),
            Merge::Sum => quote!(Sum),
        };
        init = quote! {
            #rt::layers::#join::from_parts(<#a_ty as #rt::layers::Layer>::init(rng), #init)
                .named([#a_name, #b_name])
        };
    }
    (ty, init)
}
