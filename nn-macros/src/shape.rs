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
    /// A sequence of this many token ids (the input of `Embedding`).
    Tokens(usize),
}

impl Shape {
    /// The runtime sample type of this shape.
    pub fn sample_type(&self) -> TokenStream {
        match self {
            Shape::Known(dims) => match dims.as_slice() {
                [n] => quote!(::typed_nn::Tensor1<#n>),
                [a, b] => quote!(::typed_nn::Tensor2<#a, #b>),
                [c, h, w] => quote!(::typed_nn::Tensor3<#c, #h, #w>),
                _ => unreachable!("shapes have 1 to 3 dimensions"),
            },
            Shape::Opaque(ty) => ty.clone(),
            Shape::Tokens(t) => quote!(::typed_nn::Tokens<#t>),
        }
    }
}

/// The network's input sample type (its input shape is valid: `resolve` found no error).
pub fn input_type(def: &NetworkDef) -> TokenStream {
    let dims: Vec<usize> = def
        .input
        .iter()
        .map(|d| d.base10_parse().unwrap_or(1))
        .collect();
    if def.tokens.is_some() {
        Shape::Tokens(dims[0]).sample_type()
    } else {
        Shape::Known(dims).sample_type()
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
        if let (Some(fused), Some(function)) = (&r.fuse, fusable_activation(def, index)) {
            // Dense or convolution followed by an element-wise activation: one layer whose
            // kernel applies the activation to its output in place. The summary still shows
            // both, as written.
            r.ty = fused(&function);
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

/// Builds a layer's type with an activation fused in.
type FuseFn = Box<dyn Fn(&Ident) -> TokenStream>;

struct Rule {
    ty: TokenStream,
    init: TokenStream,
    out: Shape,
    head: Option<TokenStream>,
    /// For layers an activation can fuse into (Dense, convolutions): their type with it.
    fuse: Option<FuseFn>,
}

/// The rule of one layer kind applied to its input shape.
fn rule(layer: &LayerDef, input: &Shape, cx: &mut Ctxt) -> Option<Rule> {
    let kind = layer.kind.to_string();
    let span = layer.kind.span();
    if let Shape::Tokens(_) = input {
        if kind != "Embedding" && KNOWN.contains(&kind.as_str()) {
            cx.error_spanned_by(
                &layer.kind,
                format_args!(
                    "{kind} cannot read token ids; start with `Embedding(vocabulary, dimension)`"
                ),
            );
            return None;
        }
    }
    match kind.as_str() {
        "Embedding" => embedding(layer, input, cx),
        "Dense" => dense(layer, input, cx),
        "Conv2d" | "Conv1d" => conv(layer, input, cx),
        "MaxPool2d" | "AvgPool2d" | "MaxPool1d" => pool(layer, input, cx),
        "SimpleRNN" | "LSTM" | "GRU" => recurrent(layer, input, cx),
        "GlobalAvgPool2d" => {
            no_args(layer, cx)?;
            let [c, h, w] = dims_of(layer, input, 3, "[channels, height, width]", cx)?;
            Some(Rule {
                ty: quote_spanned!(span=> ::typed_nn::GlobalAvgPool2d<#c, #h, #w>),
                init: quote_spanned!(span=> ::typed_nn::GlobalAvgPool2d),
                out: Shape::Known(vec![c]),
                head: None,
                fuse: None,
            })
        }
        "Flatten" => {
            no_args(layer, cx)?;
            let sample = input.sample_type();
            let (len, out) = match input {
                Shape::Known(dims) => {
                    let n: usize = dims.iter().product();
                    (quote!(#n), Shape::Known(vec![n]))
                }
                Shape::Opaque(ty) => (
                    quote!({ <#ty as ::typed_nn::Sample>::LEN }),
                    Shape::Opaque(
                        quote!(::typed_nn::Tensor1<{ <#ty as ::typed_nn::Sample>::LEN }>),
                    ),
                ),
                // `rule` sends token ids to Embedding only.
                Shape::Tokens(_) => return None,
            };
            Some(Rule {
                ty: quote_spanned!(span=> ::typed_nn::Flatten<#sample, #len>),
                init: quote_spanned!(span=> ::core::default::Default::default()),
                out,
                head: None,
                fuse: None,
            })
        }
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
                fuse: None,
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
                fuse: None,
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
                fuse: None,
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
            let hint = if dims.len() == 2 {
                "add `Flatten` before it, or drop `return_sequences` from the recurrent layer before it"
            } else {
                "add `Flatten` before it"
            };
            cx.error_at(
                span,
                format_args!(
                    "Dense takes a 1-D input, but its input here has shape {dims:?}; {hint}"
                ),
            );
            return None;
        }
        Shape::Opaque(ty) => quote!({ <#ty as ::typed_nn::Sample>::LEN }),
        Shape::Tokens(_) => return None,
    };
    Some(Rule {
        ty: quote_spanned!(span=> ::typed_nn::Dense<#n_in, #units>),
        init: quote_spanned!(span=> ::typed_nn::Dense::glorot_uniform(rng)),
        out: Shape::Known(vec![units]),
        head: None,
        fuse: Some(Box::new(
            move |f: &Ident| quote_spanned!(span=> ::typed_nn::Dense<#n_in, #units, ::typed_nn::#f>),
        )),
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

/// The input's dimensions when it has `rank` of them (`what` names them in the error).
fn dims_of<const R: usize>(
    layer: &LayerDef,
    input: &Shape,
    rank: usize,
    what: &str,
    cx: &mut Ctxt,
) -> Option<[usize; R]> {
    match input {
        Shape::Known(dims) if dims.len() == rank => dims.as_slice().try_into().ok(),
        Shape::Known(dims) => {
            cx.error_spanned_by(
                &layer.kind,
                format_args!(
                    "{} takes a {what} input, but its input here has shape {dims:?}",
                    layer.kind
                ),
            );
            None
        }
        Shape::Tokens(_) => None,
        Shape::Opaque(_) => {
            cx.error_spanned_by(&layer.kind, format_args!("{} cannot follow a `Net(...)` layer: its input shape must be known to the macro", layer.kind));
            None
        }
    }
}

/// Argument `position` or `name = …`.
fn arg<'a>(layer: &'a LayerDef, position: usize, name: &str) -> Option<&'a Expr> {
    layer
        .args
        .iter()
        .find_map(|a| match a {
            Arg::Named { name: n, value } if n == name => Some(value),
            _ => None,
        })
        .or_else(|| match layer.args.get(position) {
            Some(Arg::Positional(e)) => Some(e),
            _ => None,
        })
}

/// `3` or `(3, 5)`: a square or rectangular size, each side ≥ `min`.
fn pair(expr: &Expr, what: &str, min: usize, cx: &mut Ctxt) -> Option<(usize, usize)> {
    let one = |e: &Expr| match e {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Int(l), ..
        }) => l.base10_parse::<usize>().ok(),
        _ => None,
    };
    let parsed = match expr {
        Expr::Tuple(t) if t.elems.len() == 2 => one(&t.elems[0]).zip(one(&t.elems[1])),
        Expr::Paren(p) => one(&p.expr).map(|v| (v, v)),
        e => one(e).map(|v| (v, v)),
    };
    match parsed {
        Some((a, b)) if a >= min && b >= min => Some((a, b)),
        Some(_) if min == 1 => {
            cx.error_spanned_by(expr, format_args!("{what} must be at least 1"));
            None
        }
        _ => {
            cx.error_spanned_by(
                expr,
                format_args!("{what} must be a positive integer or a pair such as `(3, 5)`"),
            );
            None
        }
    }
}

/// Output length and leading padding of one spatial dimension.
fn conv_dim(input: usize, kernel: usize, stride: usize, same: bool) -> Option<(usize, usize)> {
    if same {
        let out = input.div_ceil(stride);
        let total = ((out - 1) * stride + kernel).saturating_sub(input);
        Some((out, total / 2))
    } else if kernel <= input {
        Some(((input - kernel) / stride + 1, 0))
    } else {
        None
    }
}

fn conv(layer: &LayerDef, input: &Shape, cx: &mut Ctxt) -> Option<Rule> {
    let kind = layer.kind.to_string();
    let two_d = kind == "Conv2d";
    let span = layer.kind.span();
    let usage = if two_d {
        "`Conv2d(filters, kernel, stride = 1, padding = valid)`"
    } else {
        "`Conv1d(filters, kernel, stride = 1, padding = valid)`"
    };
    for a in &layer.args {
        if let Arg::Named { name, .. } = a {
            if !matches!(
                name.to_string().as_str(),
                "filters" | "kernel" | "stride" | "padding"
            ) {
                cx.error_spanned_by(
                    name,
                    format_args!("unknown argument `{name}`; {kind} takes {usage}"),
                );
                return None;
            }
        }
    }
    let (Some(filters), Some(kernel)) = (arg(layer, 0, "filters"), arg(layer, 1, "kernel")) else {
        cx.error_at(
            layer.paren_span.unwrap_or(span),
            format_args!("{kind} needs its filters and kernel size: {usage}"),
        );
        return None;
    };
    let filters = positive_int(filters, "the number of filters", cx)?;
    let (kh, kw) = pair(kernel, "the kernel size", 1, cx)?;
    let (sh, sw) = match arg(layer, 2, "stride") {
        Some(e) => pair(e, "the stride", 1, cx)?,
        None => (1, 1),
    };
    let same = match arg(layer, 3, "padding") {
        None => false,
        Some(Expr::Path(p)) if p.path.is_ident("valid") => false,
        Some(Expr::Path(p)) if p.path.is_ident("same") => true,
        Some(e) => {
            cx.error_spanned_by(e, "padding is `valid` or `same`");
            return None;
        }
    };
    if two_d {
        let [c, h, w] = dims_of(layer, input, 3, "[channels, height, width]", cx)?;
        let (Some((oh, pt)), Some((ow, pl))) =
            (conv_dim(h, kh, sh, same), conv_dim(w, kw, sw, same))
        else {
            cx.error_spanned_by(
                kernel,
                format_args!(
                    "the kernel {kh}x{kw} is larger than its input {h}x{w} (padding `valid`)"
                ),
            );
            return None;
        };
        let f_ty = move |f: TokenStream| quote_spanned!(span=> ::typed_nn::Conv2d<#c, #h, #w, #filters, #kh, #kw, #sh, #sw, #pt, #pl, #oh, #ow #f>);
        Some(Rule {
            ty: f_ty(quote!()),
            init: quote_spanned!(span=> ::typed_nn::Conv2d::glorot_uniform(rng)),
            out: Shape::Known(vec![filters, oh, ow]),
            head: None,
            fuse: Some(Box::new(move |f: &Ident| f_ty(quote!(, ::typed_nn::#f)))),
        })
    } else {
        if kh != kw {
            cx.error_spanned_by(kernel, "a 1-D kernel has one size");
            return None;
        }
        let [c, l] = dims_of(layer, input, 2, "[channels, length]", cx)?;
        let Some((ol, pl)) = conv_dim(l, kw, sw, same) else {
            cx.error_spanned_by(
                kernel,
                format_args!(
                    "the kernel {kw} is larger than its input length {l} (padding `valid`)"
                ),
            );
            return None;
        };
        let f_ty = move |f: TokenStream| quote_spanned!(span=> ::typed_nn::Conv1d<#c, #l, #filters, #kw, #sw, #pl, #ol #f>);
        Some(Rule {
            ty: f_ty(quote!()),
            init: quote_spanned!(span=> ::typed_nn::Conv1d::glorot_uniform(rng)),
            out: Shape::Known(vec![filters, ol]),
            head: None,
            fuse: Some(Box::new(move |f: &Ident| f_ty(quote!(, ::typed_nn::#f)))),
        })
    }
}

fn pool(layer: &LayerDef, input: &Shape, cx: &mut Ctxt) -> Option<Rule> {
    let kind = layer.kind.clone();
    let span = kind.span();
    let Some(window) = arg(layer, 0, "window") else {
        cx.error_at(
            layer.paren_span.unwrap_or(span),
            format_args!("{kind} needs its window: `{kind}(2)` or `{kind}((2, 3), stride = 1)`"),
        );
        return None;
    };
    let (kh, kw) = pair(window, "the pooling window", 1, cx)?;
    let (sh, sw) = match arg(layer, 1, "stride") {
        Some(e) => pair(e, "the stride", 1, cx)?,
        None => (kh, kw),
    };
    if kind == "MaxPool1d" {
        if kh != kw {
            cx.error_spanned_by(window, "a 1-D pooling window has one size");
            return None;
        }
        let [c, l] = dims_of(layer, input, 2, "[channels, length]", cx)?;
        if kw > l {
            cx.error_spanned_by(
                window,
                format_args!("the pooling window {kw} is larger than its input length {l}"),
            );
            return None;
        }
        let ol = (l - kw) / sw + 1;
        return Some(Rule {
            ty: quote_spanned!(span=> ::typed_nn::MaxPool1d<#c, #l, #kw, #sw, #ol>),
            init: quote_spanned!(span=> ::typed_nn::MaxPool1d),
            out: Shape::Known(vec![c, ol]),
            head: None,
            fuse: None,
        });
    }
    let [c, h, w] = dims_of(layer, input, 3, "[channels, height, width]", cx)?;
    if kh > h || kw > w {
        cx.error_spanned_by(
            window,
            format_args!("the pooling window {kh}x{kw} is larger than its input {h}x{w}"),
        );
        return None;
    }
    let (oh, ow) = ((h - kh) / sh + 1, (w - kw) / sw + 1);
    Some(Rule {
        ty: quote_spanned!(span=> ::typed_nn::#kind<#c, #h, #w, #kh, #kw, #sh, #sw, #oh, #ow>),
        init: quote_spanned!(span=> ::typed_nn::#kind),
        out: Shape::Known(vec![c, oh, ow]),
        head: None,
        fuse: None,
    })
}

fn recurrent(layer: &LayerDef, input: &Shape, cx: &mut Ctxt) -> Option<Rule> {
    let kind = layer.kind.to_string();
    let span = layer.kind.span();
    let usage = if kind == "SimpleRNN" {
        "`SimpleRNN(units, activation = tanh, return_sequences = false)`"
    } else {
        "`LSTM(units, return_sequences = false)`"
    };
    for a in &layer.args {
        if let Arg::Named { name, .. } = a {
            let ok = matches!(name.to_string().as_str(), "units" | "return_sequences")
                || (kind == "SimpleRNN" && name == "activation");
            if !ok {
                cx.error_spanned_by(
                    name,
                    format_args!("unknown argument `{name}`; {kind} takes {usage}"),
                );
                return None;
            }
        }
    }
    let Some(units) = arg(layer, 0, "units") else {
        cx.error_at(
            layer.paren_span.unwrap_or(span),
            format_args!("{kind} needs its number of units: {usage}"),
        );
        return None;
    };
    let units = positive_int(units, "the number of units", cx)?;
    let sequences = match layer.args.iter().find_map(|a| match a {
        Arg::Named { name, value } if name == "return_sequences" => Some(value),
        _ => None,
    }) {
        None => false,
        Some(Expr::Lit(syn::ExprLit {
            lit: Lit::Bool(b), ..
        })) => b.value,
        Some(e) => {
            cx.error_spanned_by(e, "return_sequences is `true` or `false`");
            return None;
        }
    };
    let cell = match kind.as_str() {
        "LSTM" => quote!(Lstm),
        "GRU" => quote!(Gru),
        _ => match layer.args.iter().find_map(|a| match a {
            Arg::Named { name, value } if name == "activation" => Some(value),
            _ => None,
        }) {
            None => quote!(SimpleRnnTanh),
            Some(Expr::Path(p)) if p.path.is_ident("tanh") => quote!(SimpleRnnTanh),
            Some(Expr::Path(p)) if p.path.is_ident("relu") => quote!(SimpleRnnRelu),
            Some(e) => {
                cx.error_spanned_by(e, "a SimpleRNN's activation is `tanh` or `relu`");
                return None;
            }
        },
    };
    let [t, f] = dims_of(layer, input, 2, "sequence [time steps, features]", cx)?;
    let (ty, out) = if sequences {
        (
            quote_spanned!(span=> ::typed_nn::RecurrentSeq<::typed_nn::layers::#cell, #t, #f, #units>),
            Shape::Known(vec![t, units]),
        )
    } else {
        (
            quote_spanned!(span=> ::typed_nn::Recurrent<::typed_nn::layers::#cell, #t, #f, #units>),
            Shape::Known(vec![units]),
        )
    };
    Some(Rule {
        ty,
        init: quote_spanned!(span=> <_ as ::typed_nn::layers::Layer>::init(rng)),
        out,
        head: None,
        fuse: None,
    })
}

fn embedding(layer: &LayerDef, input: &Shape, cx: &mut Ctxt) -> Option<Rule> {
    let span = layer.kind.span();
    let Shape::Tokens(t) = input else {
        let shape = match input {
            Shape::Known(dims) => format!("{dims:?}"),
            _ => "a sub-network's output".to_string(),
        };
        cx.error_spanned_by(
            &layer.kind,
            format_args!("Embedding takes token ids, but its input here is float values of shape {shape}; declare the network's input as `tokens[length]`"),
        );
        return None;
    };
    let (Some(vocab), Some(dim)) = (arg(layer, 0, "vocabulary"), arg(layer, 1, "dimension")) else {
        cx.error_at(
            layer.paren_span.unwrap_or(span),
            "Embedding needs its vocabulary size and dimension: `Embedding(10000, 64)`",
        );
        return None;
    };
    let vocab = positive_int(vocab, "the vocabulary size", cx)?;
    let dim = positive_int(dim, "the embedding dimension", cx)?;
    let t = *t;
    Some(Rule {
        ty: quote_spanned!(span=> ::typed_nn::Embedding<#t, #vocab, #dim>),
        init: quote_spanned!(span=> <_ as ::typed_nn::layers::Layer>::init(rng)),
        out: Shape::Known(vec![t, dim]),
        head: None,
        fuse: None,
    })
}
