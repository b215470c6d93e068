//! Shape rules: each layer kind's type, initialiser and output shape for its input. The
//! generic checks (arguments, input kinds) are done from the table before a rule runs, so a
//! rule only checks what depends on sizes; what does not hold becomes an error at the span of
//! the argument at fault.

use crate::ctxt::{Ctxt, Reported};
use crate::table::Call;
use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::Ident;

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
    pub fn sample_type(&self, rt: &TokenStream) -> TokenStream {
        match self {
            Shape::Known(dims) => match dims.as_slice() {
                [n] => quote!(#rt::Tensor1<#n>),
                [a, b] => quote!(#rt::Tensor2<#a, #b>),
                [c, h, w] => quote!(#rt::Tensor3<#c, #h, #w>),
                // Ranks are checked when the input is read and every rule yields 1 to 3; a
                // wrong rank would still be a compile error, not a panic.
                _ => quote!(#rt::Tensor1<0>),
            },
            Shape::Opaque(ty) => ty.clone(),
            Shape::Tokens(t) => quote!(#rt::Tokens<#t>),
        }
    }
}

/// What a rule needs besides the layer and its input.
pub struct RuleCx<'a> {
    pub cx: &'a Ctxt,
    /// The path through which generated code reaches the runtime.
    pub rt: &'a TokenStream,
}

/// Builds a layer's type with an activation fused in.
pub type FuseFn = Box<dyn Fn(&Ident) -> TokenStream>;

/// A layer kind's rule applied to its input.
pub struct Rule {
    pub ty: TokenStream,
    pub init: TokenStream,
    pub out: Shape,
    /// The activation type when this layer is one a loss can fuse with (Softmax, Sigmoid).
    pub head: Option<TokenStream>,
    /// For layers an activation can fuse into (Dense, convolutions): their type with it.
    pub fuse: Option<FuseFn>,
    /// Why the output has more than one dimension, when the layer has a switch for it: the
    /// hint a following `Dense` adds to "add `Flatten` before it".
    pub rank_hint: Option<String>,
}

impl Rule {
    fn new(ty: TokenStream, init: TokenStream, out: Shape) -> Self {
        Rule {
            ty,
            init,
            out,
            head: None,
            fuse: None,
            rank_hint: None,
        }
    }
}

fn span(call: &Call<'_>) -> Span {
    call.layer.kind.span()
}

pub fn dense(r: &RuleCx<'_>, call: &Call<'_>, input: &Shape) -> Result<Rule, Reported> {
    let (rt, span) = (r.rt, span(call));
    let units = call.count("units").unwrap_or(1);
    let n_in = match input {
        Shape::Opaque(ty) => quote!({ <#ty as #rt::Sample>::LEN }),
        // The table admits vectors only.
        Shape::Known(dims) => {
            let n: usize = dims.iter().product();
            quote!(#n)
        }
        Shape::Tokens(_) => quote!(0),
    };
    let (fuse_rt, fuse_in) = (rt.clone(), n_in.clone());
    Ok(Rule {
        fuse: Some(Box::new(
            move |f: &Ident| quote_spanned!(span=> #fuse_rt::Dense<#fuse_in, #units, #fuse_rt::#f>),
        )),
        ..Rule::new(
            quote_spanned!(span=> #rt::Dense<#n_in, #units>),
            quote_spanned!(span=> #rt::Dense::glorot_uniform(rng)),
            Shape::Known(vec![units]),
        )
    })
}

/// Output length and leading padding of one spatial dimension; `None` when the kernel does
/// not fit a `valid` input.
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

/// The type of a convolution from its const parameters, optionally with a fused activation.
fn conv_rule(
    r: &RuleCx<'_>,
    call: &Call<'_>,
    ty: TokenStream,
    params: TokenStream,
    out: Vec<usize>,
) -> Rule {
    let (rt, span) = (r.rt.clone(), span(call));
    let init = quote_spanned!(span=> #rt::#ty::glorot_uniform(rng));
    let fused = {
        let (rt, ty, params) = (rt.clone(), ty.clone(), params.clone());
        move |f: &Ident| quote_spanned!(span=> #rt::#ty<#params, #rt::#f>)
    };
    Rule {
        fuse: Some(Box::new(fused)),
        ..Rule::new(
            quote_spanned!(span=> #rt::#ty<#params>),
            init,
            Shape::Known(out),
        )
    }
}

pub fn conv2d(r: &RuleCx<'_>, call: &Call<'_>, input: &Shape) -> Result<Rule, Reported> {
    let [c, h, w] = dims::<3>(input);
    let filters = call.count("filters").unwrap_or(1);
    let (kh, kw) = call.size("kernel").unwrap_or((1, 1));
    let (sh, sw) = call.size("stride").unwrap_or((1, 1));
    let same = call.choice("padding") == Some("same");
    let (Some((oh, pt)), Some((ow, pl))) = (conv_dim(h, kh, sh, same), conv_dim(w, kw, sw, same))
    else {
        return Err(r.cx.error_spanned_by(
            call.expr("kernel"),
            format_args!("the kernel {kh}x{kw} is larger than its input {h}x{w} (padding `valid`)"),
        ));
    };
    // Dilation and groups 1 spelled out: a fused activation comes after them.
    let params = quote!(#c, #h, #w, #filters, #kh, #kw, #sh, #sw, #pt, #pl, #oh, #ow, 1, 1, 1);
    Ok(conv_rule(
        r,
        call,
        quote!(Conv2d),
        params,
        vec![filters, oh, ow],
    ))
}

pub fn conv1d(r: &RuleCx<'_>, call: &Call<'_>, input: &Shape) -> Result<Rule, Reported> {
    let [c, l] = dims::<2>(input);
    let filters = call.count("filters").unwrap_or(1);
    let k = call.count("kernel").unwrap_or(1);
    let s = call.count("stride").unwrap_or(1);
    let same = call.choice("padding") == Some("same");
    let Some((ol, pl)) = conv_dim(l, k, s, same) else {
        return Err(r.cx.error_spanned_by(
            call.expr("kernel"),
            format_args!("the kernel {k} is larger than its input length {l} (padding `valid`)"),
        ));
    };
    // Dilation and groups 1 spelled out: a fused activation comes after them.
    let params = quote!(#c, #l, #filters, #k, #s, #pl, #ol, 1, 1);
    Ok(conv_rule(
        r,
        call,
        quote!(Conv1d),
        params,
        vec![filters, ol],
    ))
}

pub fn pool2d(r: &RuleCx<'_>, call: &Call<'_>, input: &Shape) -> Result<Rule, Reported> {
    let (rt, span) = (r.rt, span(call));
    let kind = &call.layer.kind;
    let [c, h, w] = dims::<3>(input);
    let (kh, kw) = call.size("window").unwrap_or((1, 1));
    let (sh, sw) = call.size("stride").unwrap_or((kh, kw));
    if kh > h || kw > w {
        return Err(r.cx.error_spanned_by(
            call.expr("window"),
            format_args!("the pooling window {kh}x{kw} is larger than its input {h}x{w}"),
        ));
    }
    let (oh, ow) = ((h - kh) / sh + 1, (w - kw) / sw + 1);
    Ok(Rule::new(
        quote_spanned!(span=> #rt::#kind<#c, #h, #w, #kh, #kw, #sh, #sw, #oh, #ow>),
        quote_spanned!(span=> #rt::#kind),
        Shape::Known(vec![c, oh, ow]),
    ))
}

pub fn pool1d(r: &RuleCx<'_>, call: &Call<'_>, input: &Shape) -> Result<Rule, Reported> {
    let (rt, span) = (r.rt, span(call));
    let [c, l] = dims::<2>(input);
    let k = call.count("window").unwrap_or(1);
    let s = call.count("stride").unwrap_or(k);
    if k > l {
        return Err(r.cx.error_spanned_by(
            call.expr("window"),
            format_args!("the pooling window {k} is larger than its input length {l}"),
        ));
    }
    let ol = (l - k) / s + 1;
    Ok(Rule::new(
        quote_spanned!(span=> #rt::MaxPool1d<#c, #l, #k, #s, #ol>),
        quote_spanned!(span=> #rt::MaxPool1d),
        Shape::Known(vec![c, ol]),
    ))
}

pub fn global_avg_pool2d(r: &RuleCx<'_>, call: &Call<'_>, input: &Shape) -> Result<Rule, Reported> {
    let (rt, span) = (r.rt, span(call));
    let [c, h, w] = dims::<3>(input);
    Ok(Rule::new(
        quote_spanned!(span=> #rt::GlobalAvgPool2d<#c, #h, #w>),
        quote_spanned!(span=> #rt::GlobalAvgPool2d),
        Shape::Known(vec![c]),
    ))
}

pub fn flatten(r: &RuleCx<'_>, call: &Call<'_>, input: &Shape) -> Result<Rule, Reported> {
    let (rt, span) = (r.rt, span(call));
    let sample = input.sample_type(rt);
    let (len, out) = match input {
        Shape::Opaque(ty) => (
            quote!({ <#ty as #rt::Sample>::LEN }),
            Shape::Opaque(quote!(#rt::Tensor1<{ <#ty as #rt::Sample>::LEN }>)),
        ),
        Shape::Known(dims) => {
            let n: usize = dims.iter().product();
            (quote!(#n), Shape::Known(vec![n]))
        }
        // The table admits float inputs only.
        Shape::Tokens(t) => (quote!(#t), Shape::Known(vec![*t])),
    };
    Ok(Rule::new(
        quote_spanned!(span=> #rt::Flatten<#sample, #len>),
        quote_spanned!(span=> ::core::default::Default::default()),
        out,
    ))
}

pub fn activation(r: &RuleCx<'_>, call: &Call<'_>, input: &Shape) -> Result<Rule, Reported> {
    let (rt, span) = (r.rt, span(call));
    let f = &call.layer.kind;
    let sample = input.sample_type(rt);
    let is_head = f == "Sigmoid" || f == "Softmax";
    Ok(Rule {
        head: is_head.then(|| quote!(#rt::#f)),
        ..Rule::new(
            quote_spanned!(span=> #rt::Act<#rt::#f, #sample>),
            quote_spanned!(span=> #rt::Act::new(#rt::#f)),
            input.clone(),
        )
    })
}

pub fn leaky_relu(r: &RuleCx<'_>, call: &Call<'_>, input: &Shape) -> Result<Rule, Reported> {
    let (rt, span) = (r.rt, span(call));
    let sample = input.sample_type(rt);
    let init = match call.number("alpha") {
        Some(alpha) => {
            let alpha = alpha as f32;
            quote_spanned!(span=> #rt::Act::new(#rt::LeakyRelu::new(#alpha)))
        }
        None => quote_spanned!(span=> #rt::Act::new(::core::default::Default::default())),
    };
    Ok(Rule::new(
        quote_spanned!(span=> #rt::Act<#rt::LeakyRelu, #sample>),
        init,
        input.clone(),
    ))
}

pub fn recurrent(r: &RuleCx<'_>, call: &Call<'_>, input: &Shape) -> Result<Rule, Reported> {
    let (rt, span) = (r.rt, span(call));
    let kind = call.kind.name;
    let [t, f] = dims::<2>(input);
    let units = call.count("units").unwrap_or(1);
    let sequences = call.flag("return_sequences").unwrap_or(false);
    let cell = match (kind, call.choice("activation")) {
        ("LSTM", _) => quote!(Lstm),
        ("GRU", _) => quote!(Gru),
        (_, Some("relu")) => quote!(SimpleRnnRelu),
        _ => quote!(SimpleRnnTanh),
    };
    let (layer, out) = if sequences {
        (quote!(RecurrentSeq), Shape::Known(vec![t, units]))
    } else {
        (quote!(Recurrent), Shape::Known(vec![units]))
    };
    Ok(Rule {
        rank_hint: sequences
            .then(|| format!("or drop `return_sequences` from the {kind} before it")),
        ..Rule::new(
            quote_spanned!(span=> #rt::#layer<#rt::layers::#cell, #t, #f, #units>),
            quote_spanned!(span=> <_ as #rt::layers::Layer>::init(rng)),
            out,
        )
    })
}

pub fn embedding(r: &RuleCx<'_>, call: &Call<'_>, input: &Shape) -> Result<Rule, Reported> {
    let (rt, span) = (r.rt, span(call));
    let t = match input {
        Shape::Tokens(t) => *t,
        // The table admits token ids only.
        _ => 1,
    };
    let vocab = call.count("vocabulary").unwrap_or(1);
    let dim = call.count("dimension").unwrap_or(1);
    Ok(Rule::new(
        quote_spanned!(span=> #rt::Embedding<#t, #vocab, #dim>),
        quote_spanned!(span=> <_ as #rt::layers::Layer>::init(rng)),
        Shape::Known(vec![t, dim]),
    ))
}

pub fn subnetwork(r: &RuleCx<'_>, call: &Call<'_>, _input: &Shape) -> Result<Rule, Reported> {
    let (rt, span) = (r.rt, span(call));
    // `network` is required: `Call::new` checked it is a type path.
    let ty = match call.type_path("network") {
        Some(path) => quote!(#path),
        None => quote!(()),
    };
    Ok(Rule::new(
        ty.clone(),
        quote_spanned!(span=> <#ty as #rt::layers::Layer>::init(rng)),
        Shape::Opaque(quote!(<#ty as #rt::layers::Layer>::Out)),
    ))
}

/// The input's dimensions; the table's input check let only rank `R` through.
fn dims<const R: usize>(input: &Shape) -> [usize; R] {
    match input {
        Shape::Known(d) => d.as_slice().try_into().unwrap_or([1; R]),
        _ => [1; R],
    }
}
