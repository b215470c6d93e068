//! The one table of layer kinds. Each entry holds the layer's name, its arguments (positional
//! order, keyword names, defaults, what each must be), the inputs it accepts and its shape
//! rule. Parsing of arguments, their checks, "did you mean", the list of known layers and the
//! token-input guard all read this table, so no error path can forget a kind: adding a layer
//! means one entry here, one rule in `rules.rs`, and its runtime file.

use crate::ast::{Arg, LayerDef};
use crate::ctxt::{Ctxt, Reported};
use crate::dim::{self, Cmp, Dim};
use crate::rules::{self, Rule, RuleCx, Shape};
use syn::{Expr, Lit};

/// What an argument must be.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ArgKind {
    /// A positive size: an integer literal, or a const expression (`HIDDEN`, `2 * C`) whose
    /// positivity rustc checks (units, filters, a 1-D kernel).
    Count,
    /// A positive size or a pair `(h, w)` of them (a 2-D kernel, stride or window).
    Size,
    /// `valid`, `same`, a size, or (when `pair`) a pair of sizes: zeros around the input.
    Padding { pair: bool },
    /// A number of zeros, 0 included, or (when `pair`) a pair of them: a pooling's
    /// padding, which has no `valid` or `same`. Read as a count or as a size.
    Zeros { pair: bool },
    /// `true` or `false`.
    Bool,
    /// A number literal, possibly negative, within a range.
    Number(Range),
    /// One of these words.
    Choice(&'static [&'static str]),
    /// The path of a type.
    Type,
}

/// Bounds of a number argument.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Range {
    pub min: f64,
    pub min_inclusive: bool,
    pub max: f64,
    pub max_inclusive: bool,
}

impl Range {
    const ANY: Range = Range {
        min: f64::NEG_INFINITY,
        min_inclusive: true,
        max: f64::INFINITY,
        max_inclusive: true,
    };

    fn contains(&self, v: f64) -> bool {
        let above = if self.min_inclusive {
            v >= self.min
        } else {
            v > self.min
        };
        let below = if self.max_inclusive {
            v <= self.max
        } else {
            v < self.max
        };
        above && below
    }

    /// `[0, 1)`, `> 0`, …
    fn describe(&self) -> String {
        match (self.min.is_finite(), self.max.is_finite()) {
            (true, true) => format!(
                "in {}{}, {}{}",
                if self.min_inclusive { "[" } else { "(" },
                self.min,
                self.max,
                if self.max_inclusive { "]" } else { ")" }
            ),
            (true, false) => format!(
                "{} {}",
                if self.min_inclusive { ">=" } else { ">" },
                self.min
            ),
            (false, true) => format!(
                "{} {}",
                if self.max_inclusive { "<=" } else { "<" },
                self.max
            ),
            (false, false) => "a number".to_string(),
        }
    }
}

/// One argument of a layer.
#[derive(Debug)]
pub struct Param {
    pub name: &'static str,
    pub kind: ArgKind,
    /// The default as the signature shows it (`1`, `valid`, `window`); `None`: required.
    pub default: Option<&'static str>,
    /// The argument in words, for messages ("the number of units").
    pub what: &'static str,
}

/// The sample kinds a layer can take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// `[n]`
    Vector,
    /// `[a, b]`: a sequence `[time steps, features]` or `[channels, length]`.
    Matrix,
    /// `[channels, height, width]`
    Image,
    /// `tokens[length]`: token ids.
    Tokens,
}

const FLOATS: &[Input] = &[Input::Vector, Input::Matrix, Input::Image];

/// A layer kind of the `network!` language.
pub struct LayerKind {
    pub name: &'static str,
    pub params: &'static [Param],
    pub accepts: &'static [Input],
    /// The accepted input in words, after "takes" ("a 1-D input").
    pub input_words: &'static str,
    /// What it takes instead with `per_step = true`, and in words.
    pub per_step: Option<(&'static [Input], &'static str)>,
    /// Whether it may follow a sub-network, whose output shape only the type system knows.
    pub after_subnetwork: bool,
    /// The shape rule; `None` for joins, which `joins.rs` resolves.
    pub rule: Option<RuleFn>,
    /// Whether its paths follow in braces (Residual, Concat, Add).
    pub join: bool,
    /// The signature as messages show it, when not made from `params`.
    pub signature: Option<&'static str>,
}

/// A shape rule.
pub type RuleFn = fn(&RuleCx<'_>, &Call<'_>, &Shape) -> Result<Rule, Reported>;

macro_rules! param {
    ($name:literal, $kind:expr, $what:literal) => {
        Param {
            name: $name,
            kind: $kind,
            default: None,
            what: $what,
        }
    };
    ($name:literal = $default:literal, $kind:expr, $what:literal) => {
        Param {
            name: $name,
            kind: $kind,
            default: Some($default),
            what: $what,
        }
    };
}

const BIAS: Param = param!("bias" = "true", ArgKind::Bool, "whether a bias is added");
const CONV2D: &[Param] = &[
    param!("filters", ArgKind::Count, "the number of filters"),
    param!("kernel", ArgKind::Size, "the kernel size"),
    param!("stride" = "1", ArgKind::Size, "the stride"),
    param!(
        "padding" = "valid",
        ArgKind::Padding { pair: true },
        "the padding"
    ),
    param!("dilation" = "1", ArgKind::Size, "the dilation"),
    param!("groups" = "1", ArgKind::Count, "the number of groups"),
    BIAS,
];
const CONV1D: &[Param] = &[
    param!("filters", ArgKind::Count, "the number of filters"),
    param!("kernel", ArgKind::Count, "the kernel size"),
    param!("stride" = "1", ArgKind::Count, "the stride"),
    param!(
        "padding" = "valid",
        ArgKind::Padding { pair: false },
        "the padding"
    ),
    param!("dilation" = "1", ArgKind::Count, "the dilation"),
    param!("groups" = "1", ArgKind::Count, "the number of groups"),
    BIAS,
];
const POOL2D: &[Param] = &[
    param!("window", ArgKind::Size, "the pooling window"),
    param!("stride" = "window", ArgKind::Size, "the stride"),
    param!(
        "padding" = "0",
        ArgKind::Zeros { pair: true },
        "the padding"
    ),
];
const POOL1D: &[Param] = &[
    param!("window", ArgKind::Count, "the pooling window"),
    param!("stride" = "window", ArgKind::Count, "the stride"),
    param!(
        "padding" = "0",
        ArgKind::Zeros { pair: false },
        "the padding"
    ),
];
const RETURN_SEQUENCES: Param = param!(
    "return_sequences" = "false",
    ArgKind::Bool,
    "whether every step is returned"
);
const UNITS: Param = param!("units", ArgKind::Count, "the number of units");
const EPS: Param = param!(
    "eps" = "1e-5",
    ArgKind::Number(Range {
        min: 0.0,
        min_inclusive: false,
        max: f64::INFINITY,
        max_inclusive: true,
    }),
    "eps"
);
const NORM_FEATURES: Param = param!(
    "features" = "inferred",
    ArgKind::Count,
    "the number of features"
);
const BATCH_NORM: &[Param] = &[
    NORM_FEATURES,
    param!(
        "momentum" = "0.1",
        ArgKind::Number(Range {
            min: 0.0,
            min_inclusive: true,
            max: 1.0,
            max_inclusive: true,
        }),
        "the momentum"
    ),
    EPS,
];

impl LayerKind {
    /// A layer with a shape rule, taking `accepts` (`input_words` in messages).
    const fn with_rule(
        name: &'static str,
        params: &'static [Param],
        accepts: &'static [Input],
        input_words: &'static str,
        rule: RuleFn,
    ) -> LayerKind {
        LayerKind {
            name,
            params,
            accepts,
            input_words,
            per_step: None,
            after_subnetwork: false,
            rule: Some(rule),
            join: false,
            signature: None,
        }
    }

    /// An element-wise layer: any float shape, also a sub-network's output.
    const fn elementwise(name: &'static str, params: &'static [Param], rule: RuleFn) -> LayerKind {
        LayerKind {
            after_subnetwork: true,
            ..LayerKind::with_rule(name, params, FLOATS, "a float", rule)
        }
    }

    /// A join, whose paths follow in braces (`signature` in messages).
    const fn join(name: &'static str, signature: &'static str) -> LayerKind {
        LayerKind {
            name,
            params: &[],
            accepts: FLOATS,
            input_words: "a float",
            per_step: None,
            after_subnetwork: false,
            rule: None,
            join: true,
            signature: Some(signature),
        }
    }

    /// The same kind, also after a sub-network (which gives no shape to the macro).
    const fn after_subnetwork(self) -> LayerKind {
        LayerKind {
            after_subnetwork: true,
            ..self
        }
    }
}

const IMAGE: &[Input] = &[Input::Image];
const MATRIX: &[Input] = &[Input::Matrix];
const IMAGE_WORDS: &str = "a [channels, height, width]";
const SEQUENCE_WORDS: &str = "a sequence [time steps, features]";

/// Every layer kind, in the order the documentation lists them.
pub const LAYERS: &[LayerKind] = &[
    LayerKind {
        per_step: Some((MATRIX, "a sequence [steps, features]")),
        ..LayerKind::with_rule(
            "Dense",
            &[
                UNITS,
                BIAS,
                param!(
                    "per_step" = "false",
                    ArgKind::Bool,
                    "whether it applies to every step of a sequence"
                ),
            ],
            &[Input::Vector],
            "a 1-D",
            rules::dense,
        )
        .after_subnetwork()
    },
    LayerKind::with_rule("Conv2d", CONV2D, IMAGE, IMAGE_WORDS, rules::conv2d),
    LayerKind::with_rule(
        "Conv1d",
        CONV1D,
        MATRIX,
        "a [channels, length]",
        rules::conv1d,
    ),
    LayerKind::with_rule("MaxPool2d", POOL2D, IMAGE, IMAGE_WORDS, rules::pool2d),
    LayerKind::with_rule("AvgPool2d", POOL2D, IMAGE, IMAGE_WORDS, rules::pool2d),
    LayerKind::with_rule(
        "GlobalAvgPool2d",
        &[],
        IMAGE,
        IMAGE_WORDS,
        rules::global_pool2d,
    ),
    LayerKind::with_rule(
        "GlobalMaxPool2d",
        &[],
        IMAGE,
        IMAGE_WORDS,
        rules::global_pool2d,
    ),
    LayerKind::with_rule(
        "MaxPool1d",
        POOL1D,
        MATRIX,
        "a [channels, length]",
        rules::pool1d,
    ),
    LayerKind::elementwise("Flatten", &[], rules::flatten),
    LayerKind::elementwise(
        "Dropout",
        &[param!(
            "rate",
            ArgKind::Number(Range {
                min: 0.0,
                min_inclusive: true,
                max: 1.0,
                max_inclusive: false,
            }),
            "the dropout rate"
        )],
        rules::dropout,
    ),
    LayerKind::with_rule(
        "BatchNorm1d",
        BATCH_NORM,
        &[Input::Vector, Input::Matrix],
        "a [features] or [channels, length]",
        rules::batch_norm,
    ),
    LayerKind::with_rule(
        "BatchNorm2d",
        BATCH_NORM,
        IMAGE,
        IMAGE_WORDS,
        rules::batch_norm,
    ),
    LayerKind::elementwise("LayerNorm", &[NORM_FEATURES, EPS], rules::layer_norm),
    LayerKind::with_rule(
        "SimpleRNN",
        &[
            UNITS,
            param!(
                "activation" = "tanh",
                ArgKind::Choice(&["tanh", "relu"]),
                "the activation"
            ),
            RETURN_SEQUENCES,
        ],
        MATRIX,
        SEQUENCE_WORDS,
        rules::recurrent,
    ),
    LayerKind::with_rule(
        "LSTM",
        &[UNITS, RETURN_SEQUENCES],
        MATRIX,
        SEQUENCE_WORDS,
        rules::recurrent,
    ),
    LayerKind::with_rule(
        "GRU",
        &[UNITS, RETURN_SEQUENCES],
        MATRIX,
        SEQUENCE_WORDS,
        rules::recurrent,
    ),
    LayerKind::with_rule(
        "Embedding",
        &[
            param!("vocabulary", ArgKind::Count, "the vocabulary size"),
            param!("dimension", ArgKind::Count, "the embedding dimension"),
        ],
        &[Input::Tokens],
        "token ids as",
        rules::embedding,
    ),
    LayerKind::elementwise("Relu", &[], rules::activation),
    LayerKind::elementwise(
        "LeakyRelu",
        &[param!(
            "alpha" = "0.01",
            ArgKind::Number(Range::ANY),
            "the negative slope"
        )],
        rules::leaky_relu,
    ),
    LayerKind::elementwise("Gelu", &[], rules::activation),
    LayerKind::with_rule(
        "MultiHeadAttention",
        &[
            param!("heads", ArgKind::Count, "the number of heads"),
            param!("dim", ArgKind::Count, "the dimension"),
        ],
        MATRIX,
        "a sequence [tokens, features]",
        rules::attention,
    ),
    LayerKind::with_rule(
        "PositionalEmbedding",
        &[],
        MATRIX,
        "a sequence [tokens, features]",
        rules::positional_embedding,
    ),
    LayerKind::elementwise("Tanh", &[], rules::activation),
    LayerKind::elementwise("Sigmoid", &[], rules::activation),
    LayerKind::elementwise("Softmax", &[], rules::activation),
    LayerKind::join(
        "Residual",
        "`Residual { layers }`, or `Residual { layers } shortcut { layers }`",
    ),
    LayerKind::join("Concat", "`Concat { { layers }, { layers }, … }`"),
    LayerKind::join("Add", "`Add { { layers }, { layers }, … }`"),
    LayerKind::elementwise(
        "Net",
        &[param!("network", ArgKind::Type, "the type of a network")],
        rules::subnetwork,
    ),
];

/// Names users of other libraries reach for, and the layer they mean.
const ALIASES: &[(&str, &str)] = &[
    ("linear", "Dense"),
    ("fullyconnected", "Dense"),
    ("fc", "Dense"),
    ("rnn", "SimpleRNN"),
];

/// The table entry called `name`.
pub fn find(name: &str) -> Option<&'static LayerKind> {
    LAYERS.iter().find(|k| k.name == name)
}

/// Every known layer name, for messages.
pub fn known_names() -> String {
    LAYERS.iter().map(|k| k.name).collect::<Vec<_>>().join(", ")
}

/// The known layer closest to `name`, if one is close enough to be a likely typo (case is
/// ignored: `Conv2D` means `Conv2d`, `Lstm` means `LSTM`).
pub fn suggest_layer(name: &str) -> Option<&'static str> {
    let lower = name.to_lowercase();
    if let Some(&(_, known)) = ALIASES.iter().find(|(alias, _)| *alias == lower) {
        if known != name {
            return Some(known);
        }
    }
    closest(&lower, LAYERS.iter().map(|k| k.name).filter(|k| *k != name))
}

/// The candidate closest to `word` (compared in lower case) within a typo's distance.
pub fn closest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let lower = word.to_lowercase();
    candidates
        .map(|k| (edit_distance(&lower, &k.to_lowercase()), k))
        .filter(|&(d, k)| d <= (k.len() / 3).max(1))
        .min_by_key(|&(d, _)| d)
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

impl LayerKind {
    /// The signature as a user writes it: `Conv2d(filters, kernel, stride = 1, padding = valid)`.
    pub fn usage(&self) -> String {
        if let Some(signature) = self.signature {
            return signature.to_string();
        }
        if self.params.is_empty() {
            return self.name.to_string();
        }
        let params: Vec<String> = self
            .params
            .iter()
            .map(|p| match p.default {
                Some(d) => format!("{} = {d}", p.name),
                None => p.name.to_string(),
            })
            .collect();
        format!("{}({})", self.name, params.join(", "))
    }
}

/// Zeros around a convolution's input.
#[derive(Clone)]
pub enum Padding {
    /// None: every window lies inside the input.
    Valid,
    /// As much as keeps the output at ⌈input / stride⌉, split as TensorFlow does (the odd
    /// one after); PyTorch's `padding="same"` at stride 1.
    Same,
    /// This many on each side (top and bottom, left and right): PyTorch's integer padding.
    Explicit(Dim, Dim),
}

/// A checked argument value.
#[derive(Clone)]
pub enum Value {
    Count(Dim),
    Size(Dim, Dim),
    Padding(Padding),
    Bool(bool),
    Number(f64),
    Choice(&'static str),
    Type(syn::Path),
}

/// One layer as written, its arguments matched to the table's parameters and checked.
pub struct Call<'a> {
    pub kind: &'static LayerKind,
    pub layer: &'a LayerDef,
    /// Aligned with `kind.params`: the value and the expression it came from.
    values: Vec<Option<(Value, &'a Expr)>>,
}

impl<'a> Call<'a> {
    /// Matches `layer`'s arguments to `kind`'s parameters, checking each; every problem is
    /// reported.
    pub fn new(kind: &'static LayerKind, layer: &'a LayerDef, cx: &Ctxt) -> Result<Self, Reported> {
        let mut failed: Option<Reported> = None;
        let mut fail = |r: Reported| failed = Some(r);
        let mut given: Vec<Option<&'a Expr>> = vec![None; kind.params.len()];
        let mut position = 0;
        for arg in &layer.args {
            let (slot, expr) = match arg {
                Arg::Positional(expr) => {
                    position += 1;
                    if position > kind.params.len() {
                        fail(too_many(kind, expr, cx));
                        continue;
                    }
                    (position - 1, expr)
                }
                Arg::Named { name, value } => {
                    match kind.params.iter().position(|p| name == p.name) {
                        Some(slot) => (slot, value),
                        None => {
                            fail(unknown_argument(kind, name, cx));
                            continue;
                        }
                    }
                }
            };
            if given[slot].is_some() {
                fail(cx.error_spanned_by(
                    arg_tokens(arg),
                    format_args!(
                        "`{}` of {} is given twice; {} takes `{}`",
                        kind.params[slot].name,
                        kind.name,
                        kind.name,
                        kind.usage()
                    ),
                ));
                continue;
            }
            given[slot] = Some(expr);
        }
        let label = match &layer.name {
            Some(name) => format!("{} `{name}`", kind.name),
            None => kind.name.to_string(),
        };
        let mut values = Vec::with_capacity(kind.params.len());
        for (param, expr) in kind.params.iter().zip(&given) {
            match expr {
                Some(expr) => match parse_value(param, expr, &label, cx) {
                    Ok(v) => values.push(Some((v, *expr))),
                    Err(r) => {
                        fail(r);
                        values.push(None);
                    }
                },
                None if param.default.is_none() => {
                    fail(cx.error_at(
                        layer.paren_span.unwrap_or(layer.kind.span()),
                        format_args!("{} needs {}: `{}`", kind.name, param.what, kind.usage()),
                    ));
                    values.push(None);
                }
                None => values.push(None),
            }
        }
        match failed {
            Some(r) => Err(r),
            None => Ok(Call {
                kind,
                layer,
                values,
            }),
        }
    }

    fn slot(&self, name: &str) -> Option<&(Value, &'a Expr)> {
        let i = self.kind.params.iter().position(|p| p.name == name)?;
        self.values[i].as_ref()
    }

    /// The expression given for `name`, for error spans.
    pub fn expr(&self, name: &str) -> Option<&'a Expr> {
        self.slot(name).map(|(_, e)| *e)
    }

    /// A count argument (`None` when left to its default).
    pub fn count(&self, name: &str) -> Option<Dim> {
        match self.slot(name) {
            Some((Value::Count(n), _)) => Some(n.clone()),
            _ => None,
        }
    }

    /// A size argument, as (height, width).
    pub fn size(&self, name: &str) -> Option<(Dim, Dim)> {
        match self.slot(name) {
            Some((Value::Size(h, w), _)) => Some((h.clone(), w.clone())),
            _ => None,
        }
    }

    /// A padding argument (`Valid` when left to its default).
    pub fn padding(&self, name: &str) -> Padding {
        match self.slot(name) {
            Some((Value::Padding(p), _)) => p.clone(),
            _ => Padding::Valid,
        }
    }

    pub fn flag(&self, name: &str) -> Option<bool> {
        match self.slot(name) {
            Some((Value::Bool(b), _)) => Some(*b),
            _ => None,
        }
    }

    pub fn number(&self, name: &str) -> Option<f64> {
        match self.slot(name) {
            Some((Value::Number(x), _)) => Some(*x),
            _ => None,
        }
    }

    pub fn choice(&self, name: &str) -> Option<&'static str> {
        match self.slot(name) {
            Some((Value::Choice(c), _)) => Some(c),
            _ => None,
        }
    }

    pub fn type_path(&self, name: &str) -> Option<&syn::Path> {
        match self.slot(name) {
            Some((Value::Type(p), _)) => Some(p),
            _ => None,
        }
    }
}

fn arg_tokens(arg: &Arg) -> proc_macro2::TokenStream {
    match arg {
        Arg::Positional(e) => quote::quote!(#e),
        Arg::Named { name, value } => quote::quote!(#name = #value),
    }
}

fn too_many(kind: &LayerKind, expr: &Expr, cx: &Ctxt) -> Reported {
    if kind.params.is_empty() {
        cx.error_spanned_by(expr, format_args!("{} takes no arguments", kind.name))
    } else {
        cx.error_spanned_by(
            expr,
            format_args!(
                "{} takes at most {} argument{}: `{}`",
                kind.name,
                kind.params.len(),
                if kind.params.len() == 1 { "" } else { "s" },
                kind.usage()
            ),
        )
    }
}

fn unknown_argument(kind: &LayerKind, name: &syn::Ident, cx: &Ctxt) -> Reported {
    let written = name.to_string();
    let hint = match closest(&written, kind.params.iter().map(|p| p.name)) {
        Some(p) => format!("did you mean `{p}`? "),
        None => String::new(),
    };
    if kind.params.is_empty() {
        return cx.error_spanned_by(
            name,
            format_args!(
                "unknown argument `{written}`: {} takes no arguments",
                kind.name
            ),
        );
    }
    cx.error_spanned_by(
        name,
        format_args!(
            "unknown argument `{written}` of {}; {hint}{} takes `{}`",
            kind.name,
            kind.name,
            kind.usage()
        ),
    )
}

fn number_literal(expr: &Expr) -> Option<f64> {
    match expr {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Int(l), ..
        }) => l.base10_parse::<f64>().ok(),
        Expr::Lit(syn::ExprLit {
            lit: Lit::Float(l), ..
        }) => l.base10_parse::<f64>().ok(),
        Expr::Unary(syn::ExprUnary {
            op: syn::UnOp::Neg(_),
            expr,
            ..
        }) => number_literal(expr).map(|v| -v),
        Expr::Paren(p) => number_literal(&p.expr),
        Expr::Group(g) => number_literal(&g.expr),
        _ => None,
    }
    .filter(|v| v.is_finite())
}

/// Whether `expr` can be a const expression of type `usize`: not a literal of another type,
/// a tuple, an array, a string, a closure…
fn may_be_size(expr: &Expr) -> bool {
    match expr {
        Expr::Lit(_) => false,
        Expr::Paren(p) => may_be_size(&p.expr),
        Expr::Group(g) => may_be_size(&g.expr),
        // `2 * C`: arithmetic on constants and integer literals.
        Expr::Binary(b) => [&b.left, &b.right]
            .iter()
            .all(|e| dim::literal(e).is_some() || may_be_size(e)),
        // Constants are named in upper case; a lower-case word (`full`, `units`) is a
        // misspelt keyword or value, better reported here than as an unknown name.
        Expr::Path(p) => match p.path.get_ident() {
            Some(word) => word.to_string().chars().any(|c| c.is_ascii_uppercase()),
            None => true,
        },
        Expr::Call(_)
        | Expr::MethodCall(_)
        | Expr::Field(_)
        | Expr::Index(_)
        | Expr::Macro(_)
        | Expr::Block(_)
        | Expr::Cast(_) => true,
        _ => false,
    }
}

/// A positive size: a literal above 0, or a const expression whose positivity rustc checks
/// (a const assertion naming `label`).
pub fn size_value(expr: &Expr, what: &str, label: &str, cx: &Ctxt) -> Result<Dim, Reported> {
    match dim::literal(expr) {
        Some(n) if n > 0 => Ok(Dim::Known(n)),
        Some(_) => Err(cx.error_spanned_by(expr, format_args!("{what} must be at least 1"))),
        None if may_be_size(expr) => {
            let size = Dim::of_expr(expr);
            cx.require(label, Cmp::Le, &Dim::Known(1), &size, expr, || {
                format!("{what} must be at least 1, found {}", size.text())
            })?;
            Ok(size)
        }
        None => Err(cx.error_spanned_by(
            expr,
            format_args!("{what} must be a positive integer or a constant such as `HIDDEN`"),
        )),
    }
}

/// A size or a pair `(h, w)` of sizes.
fn pair_value(expr: &Expr, what: &str, label: &str, cx: &Ctxt) -> Result<(Dim, Dim), Reported> {
    match expr {
        Expr::Tuple(t) if t.elems.len() == 2 => Ok((
            size_value(&t.elems[0], what, label, cx)?,
            size_value(&t.elems[1], what, label, cx)?,
        )),
        Expr::Tuple(_) | Expr::Array(_) => Err(cx.error_spanned_by(
            expr,
            format_args!("{what} must be a positive integer or a pair such as `(3, 5)`"),
        )),
        e => size_value(e, what, label, cx).map(|d| (d.clone(), d)),
    }
}

/// A number of zeros (0 is one) or, when `pair`, a pair `(h, w)` of them; `None` for
/// anything else. An expression is any usize, so needs no check.
fn zeros_value(expr: &Expr, pair: bool) -> Option<(Dim, Dim)> {
    let zeros = |e: &Expr| match dim::literal(e) {
        Some(n) => Some(Dim::Known(n)),
        None => may_be_size(e).then(|| Dim::of_expr(e)),
    };
    match expr {
        Expr::Tuple(t) if pair && t.elems.len() == 2 => zeros(&t.elems[0]).zip(zeros(&t.elems[1])),
        e => zeros(e).map(|d| (d.clone(), d)),
    }
}

fn parse_value(param: &Param, expr: &Expr, label: &str, cx: &Ctxt) -> Result<Value, Reported> {
    let what = param.what;
    match param.kind {
        ArgKind::Count => size_value(expr, what, label, cx).map(Value::Count),
        ArgKind::Size => pair_value(expr, what, label, cx).map(|(h, w)| Value::Size(h, w)),
        ArgKind::Padding { pair } => {
            if let Expr::Path(p) = expr {
                if p.path.is_ident("valid") {
                    return Ok(Value::Padding(Padding::Valid));
                }
                if p.path.is_ident("same") {
                    return Ok(Value::Padding(Padding::Same));
                }
            }
            match zeros_value(expr, pair) {
                Some((h, w)) => Ok(Value::Padding(Padding::Explicit(h, w))),
                None => Err(cx.error_spanned_by(
                    expr,
                    format_args!(
                        "`{}` is {}",
                        param.name,
                        if pair {
                            "`valid`, `same`, a number of zeros or a pair such as `(1, 2)`"
                        } else {
                            "`valid`, `same` or a number of zeros"
                        }
                    ),
                )),
            }
        }
        ArgKind::Zeros { pair } => match zeros_value(expr, pair) {
            Some((h, w)) if pair => Ok(Value::Size(h, w)),
            Some((n, _)) => Ok(Value::Count(n)),
            None => Err(cx.error_spanned_by(
                expr,
                format_args!(
                    "{what} must be a number of zeros{}",
                    if pair {
                        " or a pair such as `(1, 0)`"
                    } else {
                        ""
                    }
                ),
            )),
        },
        ArgKind::Bool => {
            match expr {
                Expr::Lit(syn::ExprLit {
                    lit: Lit::Bool(b), ..
                }) => Ok(Value::Bool(b.value)),
                _ => Err(cx
                    .error_spanned_by(expr, format_args!("`{}` is `true` or `false`", param.name))),
            }
        }
        ArgKind::Number(range) => match number_literal(expr) {
            Some(v) if range.contains(v) => Ok(Value::Number(v)),
            Some(v) => Err(cx.error_spanned_by(
                expr,
                format_args!("{what} must be {}, found {v}", range.describe()),
            )),
            None => Err(cx.error_spanned_by(expr, format_args!("{what} must be a number literal"))),
        },
        ArgKind::Choice(words) => {
            let word = match expr {
                Expr::Path(p) => p.path.get_ident().map(|i| i.to_string()),
                _ => None,
            };
            match word.and_then(|w| words.iter().find(|c| **c == w)) {
                Some(c) => Ok(Value::Choice(c)),
                None => Err(cx.error_spanned_by(
                    expr,
                    format_args!(
                        "`{}` is {}",
                        param.name,
                        words
                            .iter()
                            .map(|w| format!("`{w}`"))
                            .collect::<Vec<_>>()
                            .join(" or ")
                    ),
                )),
            }
        }
        ArgKind::Type => match expr {
            Expr::Path(p) if p.qself.is_none() => Ok(Value::Type(p.path.clone())),
            _ => Err(cx.error_spanned_by(
                expr,
                format_args!("expected {what}, such as `Net(Encoder)`"),
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_suggestions_come_from_the_table() {
        for (i, k) in LAYERS.iter().enumerate() {
            assert!(
                LAYERS[i + 1..].iter().all(|o| o.name != k.name),
                "{}",
                k.name
            );
            assert_eq!(find(k.name).map(|f| f.name), Some(k.name));
        }
        assert_eq!(suggest_layer("Conv2D"), Some("Conv2d"));
        assert_eq!(suggest_layer("conv1d"), Some("Conv1d"));
        assert_eq!(suggest_layer("RNN"), Some("SimpleRNN"));
        assert_eq!(suggest_layer("Lstm"), Some("LSTM"));
        assert_eq!(suggest_layer("Dence"), Some("Dense"));
        assert_eq!(suggest_layer("Linear"), Some("Dense"));
        assert_eq!(suggest_layer("Embeding"), Some("Embedding"));
        assert_eq!(suggest_layer("Transformer"), None);
        assert_eq!(
            find("Conv2d").unwrap().usage(),
            "Conv2d(filters, kernel, stride = 1, padding = valid, dilation = 1, groups = 1, bias = true)"
        );
        assert!(known_names().contains("GRU"));
    }
}
