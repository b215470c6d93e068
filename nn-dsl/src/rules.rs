//! Shape rules: each layer kind's type, initialiser and output shape for its input. The
//! generic checks (arguments, input kinds) are done from the table before a rule runs, so a
//! rule only checks what depends on sizes. Rules are written over [`Dim`]: with known sizes a
//! violated rule is an error at the argument at fault, naming the numbers; with named
//! constants it becomes a const assertion with the same message.

use crate::ctxt::{Ctxt, Reported};
use crate::dim::{Cmp, Dim};
use crate::table::{Call, Padding};
use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::Ident;

/// The shape of the samples flowing between two layers.
#[derive(Clone)]
pub enum Shape {
    /// Known to the macro: dimensions, outermost first.
    Dims(Vec<Dim>),
    /// Known only to the type system: the output of a sub-network, as a sample type.
    Opaque(TokenStream),
    /// A sequence of this many token ids (the input of `Embedding`).
    Tokens(Dim),
}

impl Shape {
    /// The runtime sample type of this shape.
    pub fn sample_type(&self, rt: &TokenStream) -> TokenStream {
        match self {
            Shape::Dims(dims) => {
                // Read off a sub-network's output type: that type, whatever it is.
                if let Some(ty) = crate::dim::read_shape_type(dims) {
                    return ty;
                }
                if dims.iter().any(Dim::is_derived) {
                    return crate::dim::shaped_type(dims, rt);
                }
                let args: Vec<TokenStream> = dims.iter().map(Dim::arg).collect();
                match args.as_slice() {
                    [n] => quote!(#rt::Tensor1<#n>),
                    [a, b] => quote!(#rt::Tensor2<#a, #b>),
                    [c, h, w] => quote!(#rt::Tensor3<#c, #h, #w>),
                    // Ranks are checked when the input is read and every rule yields 1 to 3;
                    // a wrong rank would still be a compile error, not a panic.
                    _ => quote!(#rt::Tensor1<0>),
                }
            }
            Shape::Opaque(ty) => ty.clone(),
            Shape::Tokens(t) => {
                let t = t.arg();
                quote!(#rt::Tokens<#t>)
            }
        }
    }
}

/// What a rule needs besides the layer and its input.
pub struct RuleCx<'a> {
    pub cx: &'a Ctxt,
    /// The path through which generated code reaches the runtime.
    pub rt: &'a TokenStream,
}

impl RuleCx<'_> {
    /// [`Ctxt::require`] for `call`'s layer.
    fn require<T: ToTokens>(
        &self,
        call: &Call<'_>,
        cmp: Cmp,
        a: &Dim,
        b: &Dim,
        at: T,
        message: impl FnOnce() -> String,
    ) -> Result<(), Reported> {
        self.cx.require(&layer_label(call), cmp, a, b, at, message)
    }
}

impl RuleCx<'_> {
    /// The sizes `dims` (each with what it is, for the message) as const arguments of the
    /// layer's type. A size computed from a generic network's parameters cannot be one on
    /// stable Rust: that is an error at the layer, naming the size.
    fn const_args<const N: usize>(
        &self,
        call: &Call<'_>,
        dims: [(&Dim, &str); N],
    ) -> Result<[TokenStream; N], Reported> {
        let mut failed = None;
        for (dim, what) in dims {
            if dim.is_derived() {
                failed = Some(self.cx.error_spanned_by(
                    &call.layer.kind,
                    format_args!(
                        "{}: its {what} is `{}`, computed from the network's parameters; here it must be a number or a parameter itself",
                        layer_label(call),
                        dim.text()
                    ),
                ));
            }
        }
        match failed {
            Some(r) => Err(r),
            None => Ok(dims.map(|(d, _)| d.arg())),
        }
    }
}

/// A normalisation's channel or feature count as a const argument: `FROM_SAMPLE` when it is
/// computed from a generic network's parameters (the layer reads it off its sample type).
fn from_sample_or_arg(r: &RuleCx<'_>, count: &Dim) -> TokenStream {
    if count.is_derived() {
        let rt = r.rt;
        quote!({ #rt::layers::FROM_SAMPLE })
    } else {
        count.arg()
    }
}

/// The layer as messages name it: "Conv2d `conv1`", or "Conv2d".
fn layer_label(call: &Call<'_>) -> String {
    match &call.layer.name {
        Some(name) => format!("{} `{name}`", call.kind.name),
        None => call.kind.name.to_string(),
    }
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

    /// A rule for a layer type `make(activation)` into which an element-wise activation can
    /// be fused (`Linear` when none is).
    fn fusable(
        rt: &TokenStream,
        make: impl Fn(TokenStream) -> TokenStream + 'static,
        init: TokenStream,
        out: Shape,
    ) -> Self {
        let linear = make(quote!(#rt::Linear));
        let rt = rt.clone();
        Rule {
            fuse: Some(Box::new(move |f: &Ident| make(quote!(#rt::#f)))),
            ..Rule::new(linear, init, out)
        }
    }
}

fn span(call: &Call<'_>) -> Span {
    call.layer.kind.span()
}

/// "3x3"
fn pair_text(a: &Dim, b: &Dim) -> String {
    format!("{}x{}", a.text(), b.text())
}

pub fn dense(r: &RuleCx<'_>, call: &Call<'_>, input: &Shape) -> Result<Rule, Reported> {
    let (rt, span) = (r.rt, span(call));
    let bias = call.flag("bias").unwrap_or(true);
    if call.flag("per_step") == Some(true) {
        // The table admits sequences only: the same Dense at every step.
        let [t, f] = dims::<2>(input);
        let units = call.count("units").unwrap_or(Dim::Known(1));
        let [ta, fa, ua] = r.const_args(
            call,
            [
                (&t, "number of steps"),
                (&f, "number of input features"),
                (&units, "number of units"),
            ],
        )?;
        let ty_rt = rt.clone();
        return Ok(Rule::fusable(
            rt,
            move |f| quote_spanned!(span=> #ty_rt::DenseSeq<#ta, #fa, #ua, #f, #bias>),
            quote_spanned!(span=> #rt::DenseSeq::glorot_uniform(rng)),
            Shape::Dims(vec![t, units]),
        ));
    }
    // Any sample of the right length: a vector of const length, a generic network's
    // flattened shape, or a sub-network's output.
    let x = input.sample_type(rt);
    let out = Shape::Dims(vec![call.count("units").unwrap_or(Dim::Known(1))]);
    let y = out.sample_type(rt);
    let ty_rt = rt.clone();
    Ok(Rule::fusable(
        rt,
        move |f| quote_spanned!(span=> #ty_rt::layers::DenseOn<#x, #y, #f, #bias>),
        quote_spanned!(span=> #rt::layers::DenseOn::glorot_uniform(rng)),
        out,
    ))
}

/// One spatial dimension of a convolution or pooling: its output size and the zeros before.
struct Spatial {
    out: Dim,
    before: Dim,
    /// Whether the padding is `same`'s.
    same: bool,
}

impl Spatial {
    /// The zeros before as a const argument: `SAME_PADDING` when they are `same`'s and
    /// computed from a generic network's parameters (the layer computes them then); an
    /// error when they are given and computed from parameters.
    fn before_arg(&self, r: &RuleCx<'_>, call: &Call<'_>) -> Result<TokenStream, Reported> {
        if self.same && self.before.is_derived() {
            let rt = r.rt;
            return Ok(quote!({ #rt::layers::SAME_PADDING }));
        }
        r.const_args(call, [(&self.before, "padding")]).map(|[p]| p)
    }
}

/// The output size of `input` under a window of `kernel` taps `dilation` apart, moved by
/// `stride`, with `padding` (`None`: `same`); an error at `at` when the window does not fit.
#[allow(clippy::too_many_arguments)]
fn spatial(
    r: &RuleCx<'_>,
    call: &Call<'_>,
    input: &Dim,
    kernel: &Dim,
    stride: &Dim,
    dilation: &Dim,
    padding: Option<&Dim>,
    at: &dyn ToTokens,
    message: &dyn Fn() -> String,
) -> Result<Spatial, Reported> {
    let one = Dim::Known(1);
    // (k − 1)·d + 1 input positions under one window.
    let extent = kernel.sub(&one).mul(dilation).add(&one);
    // `same` fixes the output first (and then it is what the padding makes of it, as the
    // window-size properties check): a generic input size stays a parameter.
    let (before, after, same_out) = match padding {
        Some(p) => (p.clone(), p.clone(), None),
        None => {
            // TensorFlow's `same`: out = ⌈input / stride⌉; the odd zero goes after. At
            // stride 1 that is `extent − 1` zeros whatever the input, which keeps the
            // padding a number when the input size is a generic parameter.
            let out = input.div_ceil(stride);
            let total = if stride.value() == Some(1) {
                extent.sub(&one)
            } else {
                out.sub(&one).mul(stride).add(&extent).saturating_sub(input)
            };
            let before = total.div(&Dim::Known(2));
            let after = total.sub(&before);
            (before, after, Some(out))
        }
    };
    let padded = input.add(&before).add(&after);
    r.require(call, Cmp::Le, &extent, &padded, at, message)?;
    // Saturating: with named constants a window too large is reported by the assertion
    // above, not again by an overflow in every type that holds this size.
    let same = same_out.is_some();
    let out = same_out.unwrap_or_else(|| padded.saturating_sub(&extent).div(stride).add(&one));
    Ok(Spatial { out, before, same })
}

/// The groups argument, checked to divide both channel counts.
fn groups(r: &RuleCx<'_>, call: &Call<'_>, channels: &Dim, filters: &Dim) -> Result<Dim, Reported> {
    let g = call.count("groups").unwrap_or(Dim::Known(1));
    let at = call.expr("groups");
    for (count, what) in [(channels, "input channels"), (filters, "filters")] {
        r.require(call, Cmp::MultipleOf, count, &g, at, || {
            format!(
                "{} groups must divide both the input channels ({}) and the filters ({}): they do not divide the {what}",
                g.text(),
                channels.text(),
                filters.text()
            )
        })?;
    }
    Ok(g)
}

/// The padding of one dimension: `None` for `same`.
fn padding_dims(padding: &Padding) -> (Option<Dim>, Option<Dim>) {
    match padding {
        Padding::Valid => (Some(Dim::Known(0)), Some(Dim::Known(0))),
        Padding::Same => (None, None),
        Padding::Explicit(h, w) => (Some(h.clone()), Some(w.clone())),
    }
}

fn padding_words(padding: &Padding) -> String {
    match padding {
        Padding::Valid => "padding `valid`".to_string(),
        Padding::Same => "padding `same`".to_string(),
        Padding::Explicit(h, w) if h.text() == w.text() => format!("padding {}", h.text()),
        Padding::Explicit(h, w) => format!("padding ({}, {})", h.text(), w.text()),
    }
}

pub fn conv2d(r: &RuleCx<'_>, call: &Call<'_>, input: &Shape) -> Result<Rule, Reported> {
    let (rt, span) = (r.rt, span(call));
    let [c, h, w] = dims::<3>(input);
    let one = || Dim::Known(1);
    let filters = call.count("filters").unwrap_or_else(one);
    let (kh, kw) = call.size("kernel").unwrap_or_else(|| (one(), one()));
    let (sh, sw) = call.size("stride").unwrap_or_else(|| (one(), one()));
    let (dh, dw) = call.size("dilation").unwrap_or_else(|| (one(), one()));
    let padding = call.padding("padding");
    let g = groups(r, call, &c, &filters)?;
    let bias = call.flag("bias").unwrap_or(true);
    let (ph, pw) = padding_dims(&padding);
    let at = call.expr("kernel");
    let message = || {
        let dilated = dh.value() != Some(1) || dw.value() != Some(1);
        let dilation = if dilated {
            format!(" at dilation {}", pair_text(&dh, &dw))
        } else {
            String::new()
        };
        format!(
            "the kernel {}{dilation} is larger than its input {} ({})",
            pair_text(&kh, &kw),
            pair_text(&h, &w),
            padding_words(&padding)
        )
    };
    let rows = spatial(r, call, &h, &kh, &sh, &dh, ph.as_ref(), &at, &message)?;
    let cols = spatial(r, call, &w, &kw, &sw, &dw, pw.as_ref(), &at, &message)?;
    let [kh, kw, sh, sw, dh, dw, g] = r.const_args(
        call,
        [
            (&kh, "kernel height"),
            (&kw, "kernel width"),
            (&sh, "vertical stride"),
            (&sw, "horizontal stride"),
            (&dh, "vertical dilation"),
            (&dw, "horizontal dilation"),
            (&g, "number of groups"),
        ],
    )?;
    let (pt, pl) = (rows.before_arg(r, call)?, cols.before_arg(r, call)?);
    let args = [kh, kw, sh, sw, pt, pl, dh, dw, g];
    let out = Shape::Dims(vec![filters, rows.out, cols.out]);
    let (x, y) = (input.sample_type(rt), out.sample_type(rt));
    let ty_rt = rt.clone();
    Ok(Rule::fusable(
        rt,
        move |f| quote_spanned!(span=> #ty_rt::layers::ConvOn<#x, #y, #(#args,)* #f, #bias>),
        quote_spanned!(span=> #rt::layers::ConvOn::glorot_uniform(rng)),
        out,
    ))
}

pub fn conv1d(r: &RuleCx<'_>, call: &Call<'_>, input: &Shape) -> Result<Rule, Reported> {
    let (rt, span) = (r.rt, span(call));
    let [c, l] = dims::<2>(input);
    let one = || Dim::Known(1);
    let filters = call.count("filters").unwrap_or_else(one);
    let k = call.count("kernel").unwrap_or_else(one);
    let s = call.count("stride").unwrap_or_else(one);
    let d = call.count("dilation").unwrap_or_else(one);
    let padding = call.padding("padding");
    let g = groups(r, call, &c, &filters)?;
    let bias = call.flag("bias").unwrap_or(true);
    let (p, _) = padding_dims(&padding);
    let at = call.expr("kernel");
    let along = spatial(r, call, &l, &k, &s, &d, p.as_ref(), &at, &|| {
        let dilation = match d.value() {
            Some(1) => String::new(),
            _ => format!(" at dilation {}", d.text()),
        };
        format!(
            "the kernel {}{dilation} is larger than its input length {} ({})",
            k.text(),
            l.text(),
            padding_words(&padding)
        )
    })?;
    // One row: a 2-D convolution with KH = SH = DH = 1 and no padding above.
    let (one, zero) = (Dim::Known(1).arg(), Dim::Known(0).arg());
    let [k, s, d, g] = r.const_args(
        call,
        [
            (&k, "kernel"),
            (&s, "stride"),
            (&d, "dilation"),
            (&g, "number of groups"),
        ],
    )?;
    let args = [
        one.clone(),
        k,
        one.clone(),
        s,
        zero,
        along.before_arg(r, call)?,
        one,
        d,
        g,
    ];
    let out = Shape::Dims(vec![filters, along.out]);
    let (x, y) = (input.sample_type(rt), out.sample_type(rt));
    let ty_rt = rt.clone();
    Ok(Rule::fusable(
        rt,
        move |f| quote_spanned!(span=> #ty_rt::layers::ConvOn<#x, #y, #(#args,)* #f, #bias>),
        quote_spanned!(span=> #rt::layers::ConvOn::glorot_uniform(rng)),
        out,
    ))
}

/// Pooling padding: at most half the window, as PyTorch requires (so that no window lies
/// in the padding alone).
fn pool_padding(
    r: &RuleCx<'_>,
    call: &Call<'_>,
    padding: &Dim,
    window: &Dim,
) -> Result<(), Reported> {
    r.require(
        call,
        Cmp::Le,
        &padding.mul(&Dim::Known(2)),
        window,
        call.expr("padding"),
        || {
            format!(
                "the padding {} is more than half the pooling window {}",
                padding.text(),
                window.text()
            )
        },
    )
}

pub fn pool2d(r: &RuleCx<'_>, call: &Call<'_>, input: &Shape) -> Result<Rule, Reported> {
    let (rt, span) = (r.rt, span(call));
    let kind = &call.layer.kind;
    let [c, h, w] = dims::<3>(input);
    let one = || Dim::Known(1);
    let (kh, kw) = call.size("window").unwrap_or_else(|| (one(), one()));
    let (sh, sw) = call
        .size("stride")
        .unwrap_or_else(|| (kh.clone(), kw.clone()));
    let (ph, pw) = call
        .size("padding")
        .unwrap_or_else(|| (Dim::Known(0), Dim::Known(0)));
    pool_padding(r, call, &ph, &kh)?;
    pool_padding(r, call, &pw, &kw)?;
    let at = call.expr("window");
    let message = || {
        format!(
            "the pooling window {} is larger than its input {}",
            pair_text(&kh, &kw),
            pair_text(&h, &w)
        )
    };
    let rows = spatial(r, call, &h, &kh, &sh, &one(), Some(&ph), &at, &message)?;
    let cols = spatial(r, call, &w, &kw, &sw, &one(), Some(&pw), &at, &message)?;
    let args = r
        .const_args(
            call,
            [
                (&kh, "window height"),
                (&kw, "window width"),
                (&sh, "vertical stride"),
                (&sw, "horizontal stride"),
                (&ph, "padding above"),
                (&pw, "padding to the left"),
            ],
        )?
        .to_vec();
    let which = match kind.to_string().as_str() {
        "AvgPool2d" => quote!(AVG_2D),
        _ => quote!(MAX_2D),
    };
    pooling(
        rt,
        span,
        input,
        Shape::Dims(vec![c, rows.out, cols.out]),
        args,
        which,
    )
}

/// A pooling layer's rule: `PoolOn` from `input` to `out` with the window, stride and
/// padding `args`, of the kind `which` (a `pool_kind` constant).
fn pooling(
    rt: &TokenStream,
    span: Span,
    input: &Shape,
    out: Shape,
    args: Vec<TokenStream>,
    which: TokenStream,
) -> Result<Rule, Reported> {
    let (x, y) = (input.sample_type(rt), out.sample_type(rt));
    Ok(Rule::new(
        quote_spanned!(span=> #rt::layers::PoolOn<#x, #y, #(#args,)* { #rt::layers::pool_kind::#which }>),
        quote_spanned!(span=> ::core::default::Default::default()),
        out,
    ))
}

pub fn pool1d(r: &RuleCx<'_>, call: &Call<'_>, input: &Shape) -> Result<Rule, Reported> {
    let (rt, span) = (r.rt, span(call));
    let [c, l] = dims::<2>(input);
    let k = call.count("window").unwrap_or(Dim::Known(1));
    let s = call.count("stride").unwrap_or_else(|| k.clone());
    let p = call.count("padding").unwrap_or(Dim::Known(0));
    pool_padding(r, call, &p, &k)?;
    let at = call.expr("window");
    let along = spatial(r, call, &l, &k, &s, &Dim::Known(1), Some(&p), &at, &|| {
        format!(
            "the pooling window {} is larger than its input length {}",
            k.text(),
            l.text()
        )
    })?;
    let (one, zero) = (Dim::Known(1).arg(), Dim::Known(0).arg());
    let [k, s, p] = r.const_args(call, [(&k, "window"), (&s, "stride"), (&p, "padding")])?;
    let args = vec![one.clone(), k, one, s, zero, p];
    pooling(
        rt,
        span,
        input,
        Shape::Dims(vec![c, along.out]),
        args,
        quote!(MAX_1D),
    )
}

pub fn global_pool2d(r: &RuleCx<'_>, call: &Call<'_>, input: &Shape) -> Result<Rule, Reported> {
    let (rt, span) = (r.rt, span(call));
    let kind = &call.layer.kind;
    let [c, _, _] = dims::<3>(input);
    let args = vec![quote!(0); 6];
    let which = match kind.to_string().as_str() {
        "GlobalMaxPool2d" => quote!(GLOBAL_MAX_2D),
        _ => quote!(GLOBAL_AVG_2D),
    };
    pooling(rt, span, input, Shape::Dims(vec![c]), args, which)
}

pub fn flatten(r: &RuleCx<'_>, call: &Call<'_>, input: &Shape) -> Result<Rule, Reported> {
    let (rt, span) = (r.rt, span(call));
    let sample = input.sample_type(rt);
    let out = match input {
        Shape::Opaque(ty) => Shape::Opaque(quote!(#rt::Tensor1<{ <#ty as #rt::Sample>::LEN }>)),
        Shape::Dims(dims) => Shape::Dims(vec![Dim::product(dims)]),
        // The table admits float inputs only.
        Shape::Tokens(t) => Shape::Dims(vec![t.clone()]),
    };
    let y = out.sample_type(rt);
    Ok(Rule::new(
        quote_spanned!(span=> #rt::layers::FlattenOn<#sample, #y>),
        quote_spanned!(span=> ::core::default::Default::default()),
        out,
    ))
}

pub fn dropout(r: &RuleCx<'_>, call: &Call<'_>, input: &Shape) -> Result<Rule, Reported> {
    let (rt, span) = (r.rt, span(call));
    let sample = input.sample_type(rt);
    let rate = call.number("rate").unwrap_or(0.0) as f32;
    Ok(Rule::new(
        quote_spanned!(span=> #rt::Dropout<#sample>),
        quote_spanned!(span=> #rt::Dropout::new(#rate)),
        input.clone(),
    ))
}

/// The `features` argument of a normalisation layer, when given, must be what it normalises.
fn check_features(
    r: &RuleCx<'_>,
    call: &Call<'_>,
    inferred: &Dim,
    what: &str,
) -> Result<(), Reported> {
    let Some(given) = call.count("features") else {
        return Ok(());
    };
    r.require(
        call,
        Cmp::Eq,
        &given,
        inferred,
        call.expr("features"),
        || {
            format!(
                "{}({}) normalises {} {what}, but its input has {}",
                call.kind.name,
                given.text(),
                given.text(),
                inferred.text()
            )
        },
    )
}

pub fn batch_norm(r: &RuleCx<'_>, call: &Call<'_>, input: &Shape) -> Result<Rule, Reported> {
    let (rt, span) = (r.rt, span(call));
    let sample = input.sample_type(rt);
    // The channel is the first dimension: [features], [channels, length], [channels, h, w].
    let channels = match input {
        Shape::Dims(dims) => dims.first().cloned().unwrap_or(Dim::Known(1)),
        _ => Dim::Known(1),
    };
    check_features(r, call, &channels, "channels")?;
    let momentum = call.number("momentum").unwrap_or(0.1) as f32;
    let eps = call.number("eps").unwrap_or(1e-5) as f32;
    let c = from_sample_or_arg(r, &channels);
    Ok(Rule::new(
        quote_spanned!(span=> #rt::BatchNorm<#sample, #c>),
        quote_spanned!(span=> #rt::BatchNorm::new(#momentum, #eps)),
        input.clone(),
    ))
}

pub fn layer_norm(r: &RuleCx<'_>, call: &Call<'_>, input: &Shape) -> Result<Rule, Reported> {
    let (rt, span) = (r.rt, span(call));
    let sample = input.sample_type(rt);
    let last = match input {
        Shape::Dims(dims) => dims.last().cloned().unwrap_or(Dim::Known(1)),
        // After a sub-network: its output type's last dimension.
        Shape::Opaque(ty) => Dim::from_tokens(
            quote!(<#ty as #rt::Sample>::SHAPE[<#ty as #rt::Sample>::SHAPE.len() - 1]),
            "the sub-network's last dimension",
        ),
        Shape::Tokens(_) => Dim::Known(1),
    };
    check_features(r, call, &last, "features")?;
    let eps = call.number("eps").unwrap_or(1e-5) as f32;
    let n = from_sample_or_arg(r, &last);
    Ok(Rule::new(
        quote_spanned!(span=> #rt::LayerNorm<#sample, #n>),
        quote_spanned!(span=> #rt::LayerNorm::new(#eps)),
        input.clone(),
    ))
}

pub fn attention(r: &RuleCx<'_>, call: &Call<'_>, input: &Shape) -> Result<Rule, Reported> {
    let (rt, span) = (r.rt, span(call));
    let [t, f] = dims::<2>(input);
    let heads = call.count("heads").unwrap_or(Dim::Known(1));
    let dim = call.count("dim").unwrap_or(Dim::Known(1));
    r.require(call, Cmp::Eq, &dim, &f, call.expr("dim"), || {
        format!(
            "MultiHeadAttention's dimension {} must be its input's features, {} (input [{}, {}])",
            dim.text(),
            f.text(),
            t.text(),
            f.text()
        )
    })?;
    r.require(
        call,
        Cmp::MultipleOf,
        &dim,
        &heads,
        call.expr("heads"),
        || {
            format!(
            "{} heads do not divide the dimension {}: each head takes dimension / heads features",
            heads.text(),
            dim.text()
        )
        },
    )?;
    let [ta, fa, ha] = r.const_args(
        call,
        [
            (&t, "number of tokens"),
            (&f, "dimension"),
            (&heads, "number of heads"),
        ],
    )?;
    Ok(Rule::new(
        quote_spanned!(span=> #rt::MultiHeadAttention<#ta, #fa, #ha>),
        quote_spanned!(span=> #rt::MultiHeadAttention::glorot_uniform(rng)),
        input.clone(),
    ))
}

pub fn positional_embedding(
    r: &RuleCx<'_>,
    call: &Call<'_>,
    input: &Shape,
) -> Result<Rule, Reported> {
    let (rt, span) = (r.rt, span(call));
    let [t, f] = dims::<2>(input);
    let [ta, fa] = r.const_args(call, [(&t, "number of tokens"), (&f, "dimension")])?;
    Ok(Rule::new(
        quote_spanned!(span=> #rt::PositionalEmbedding<#ta, #fa>),
        quote_spanned!(span=> <_ as #rt::layers::Layer>::init(rng)),
        input.clone(),
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
    let units = call.count("units").unwrap_or(Dim::Known(1));
    let sequences = call.flag("return_sequences").unwrap_or(false);
    let cell = match (kind, call.choice("activation")) {
        ("LSTM", _) => quote!(Lstm),
        ("GRU", _) => quote!(Gru),
        (_, Some("relu")) => quote!(SimpleRnnRelu),
        _ => quote!(SimpleRnnTanh),
    };
    let [ta, fa, ua] = r.const_args(
        call,
        [
            (&t, "number of time steps"),
            (&f, "number of input features"),
            (&units, "number of units"),
        ],
    )?;
    let (layer, out) = if sequences {
        (quote!(RecurrentSeq), Shape::Dims(vec![t, units]))
    } else {
        (quote!(Recurrent), Shape::Dims(vec![units]))
    };
    Ok(Rule {
        rank_hint: sequences
            .then(|| format!("or drop `return_sequences` from the {kind} before it")),
        ..Rule::new(
            quote_spanned!(span=> #rt::#layer<#rt::layers::#cell, #ta, #fa, #ua>),
            quote_spanned!(span=> <_ as #rt::layers::Layer>::init(rng)),
            out,
        )
    })
}

pub fn embedding(r: &RuleCx<'_>, call: &Call<'_>, input: &Shape) -> Result<Rule, Reported> {
    let (rt, span) = (r.rt, span(call));
    let t = match input {
        Shape::Tokens(t) => t.clone(),
        // The table admits token ids only.
        _ => Dim::Known(1),
    };
    let vocab = call.count("vocabulary").unwrap_or(Dim::Known(1));
    let dim = call.count("dimension").unwrap_or(Dim::Known(1));
    let [ta, vocab, da] = r.const_args(
        call,
        [
            (&t, "sequence length"),
            (&vocab, "vocabulary"),
            (&dim, "dimension"),
        ],
    )?;
    Ok(Rule::new(
        quote_spanned!(span=> #rt::Embedding<#ta, #vocab, #da>),
        quote_spanned!(span=> <_ as #rt::layers::Layer>::init(rng)),
        Shape::Dims(vec![t, dim]),
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
fn dims<const R: usize>(input: &Shape) -> [Dim; R] {
    match input {
        Shape::Dims(d) => d
            .clone()
            .try_into()
            .unwrap_or_else(|_| std::array::from_fn(|_| Dim::Known(1))),
        _ => std::array::from_fn(|_| Dim::Known(1)),
    }
}
