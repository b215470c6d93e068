//! The one table of layer kinds. Each entry holds the layer's name, its arguments (positional
//! order, keyword names, defaults, what each must be), the inputs it accepts and its shape
//! rule. Parsing of arguments, their checks, "did you mean", the list of known layers and the
//! token-input guard all read this table, so no error path can forget a kind: adding a layer
//! means one entry here, one rule in `rules.rs`, and its runtime file.

use crate::ast::{Arg, LayerDef};
use crate::ctxt::{Ctxt, Reported};
use crate::rules::{self, Rule, RuleCx, Shape};
use syn::{Expr, Lit};

/// What an argument must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgKind {
    /// A positive integer literal (units, filters, a 1-D kernel).
    Count,
    /// A positive integer or a pair `(h, w)` of them (a 2-D kernel, stride or window).
    Size,
    /// `true` or `false`.
    Bool,
    /// A number literal, possibly negative.
    Number,
    /// One of these words.
    Choice(&'static [&'static str]),
    /// The path of a type.
    Type,
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
    /// Whether it may follow a sub-network, whose output shape only the type system knows.
    pub after_subnetwork: bool,
    pub rule: fn(&RuleCx<'_>, &Call<'_>, &Shape) -> Result<Rule, Reported>,
}

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

const PADDING: ArgKind = ArgKind::Choice(&["valid", "same"]);
const CONV2D: &[Param] = &[
    param!("filters", ArgKind::Count, "the number of filters"),
    param!("kernel", ArgKind::Size, "the kernel size"),
    param!("stride" = "1", ArgKind::Size, "the stride"),
    param!("padding" = "valid", PADDING, "the padding"),
];
const CONV1D: &[Param] = &[
    param!("filters", ArgKind::Count, "the number of filters"),
    param!("kernel", ArgKind::Count, "the kernel size"),
    param!("stride" = "1", ArgKind::Count, "the stride"),
    param!("padding" = "valid", PADDING, "the padding"),
];
const POOL2D: &[Param] = &[
    param!("window", ArgKind::Size, "the pooling window"),
    param!("stride" = "window", ArgKind::Size, "the stride"),
];
const POOL1D: &[Param] = &[
    param!("window", ArgKind::Count, "the pooling window"),
    param!("stride" = "window", ArgKind::Count, "the stride"),
];
const RETURN_SEQUENCES: Param = param!(
    "return_sequences" = "false",
    ArgKind::Bool,
    "whether every step is returned"
);
const UNITS: Param = param!("units", ArgKind::Count, "the number of units");

/// Every layer kind, in the order the documentation lists them.
pub const LAYERS: &[LayerKind] = &[
    LayerKind {
        name: "Dense",
        params: &[UNITS],
        accepts: &[Input::Vector],
        input_words: "a 1-D",
        after_subnetwork: true,
        rule: rules::dense,
    },
    LayerKind {
        name: "Conv2d",
        params: CONV2D,
        accepts: &[Input::Image],
        input_words: "a [channels, height, width]",
        after_subnetwork: false,
        rule: rules::conv2d,
    },
    LayerKind {
        name: "Conv1d",
        params: CONV1D,
        accepts: &[Input::Matrix],
        input_words: "a [channels, length]",
        after_subnetwork: false,
        rule: rules::conv1d,
    },
    LayerKind {
        name: "MaxPool2d",
        params: POOL2D,
        accepts: &[Input::Image],
        input_words: "a [channels, height, width]",
        after_subnetwork: false,
        rule: rules::pool2d,
    },
    LayerKind {
        name: "AvgPool2d",
        params: POOL2D,
        accepts: &[Input::Image],
        input_words: "a [channels, height, width]",
        after_subnetwork: false,
        rule: rules::pool2d,
    },
    LayerKind {
        name: "GlobalAvgPool2d",
        params: &[],
        accepts: &[Input::Image],
        input_words: "a [channels, height, width]",
        after_subnetwork: false,
        rule: rules::global_avg_pool2d,
    },
    LayerKind {
        name: "MaxPool1d",
        params: POOL1D,
        accepts: &[Input::Matrix],
        input_words: "a [channels, length]",
        after_subnetwork: false,
        rule: rules::pool1d,
    },
    LayerKind {
        name: "Flatten",
        params: &[],
        accepts: FLOATS,
        input_words: "a float",
        after_subnetwork: true,
        rule: rules::flatten,
    },
    LayerKind {
        name: "SimpleRNN",
        params: &[
            UNITS,
            param!(
                "activation" = "tanh",
                ArgKind::Choice(&["tanh", "relu"]),
                "the activation"
            ),
            RETURN_SEQUENCES,
        ],
        accepts: &[Input::Matrix],
        input_words: "a sequence [time steps, features]",
        after_subnetwork: false,
        rule: rules::recurrent,
    },
    LayerKind {
        name: "LSTM",
        params: &[UNITS, RETURN_SEQUENCES],
        accepts: &[Input::Matrix],
        input_words: "a sequence [time steps, features]",
        after_subnetwork: false,
        rule: rules::recurrent,
    },
    LayerKind {
        name: "GRU",
        params: &[UNITS, RETURN_SEQUENCES],
        accepts: &[Input::Matrix],
        input_words: "a sequence [time steps, features]",
        after_subnetwork: false,
        rule: rules::recurrent,
    },
    LayerKind {
        name: "Embedding",
        params: &[
            param!("vocabulary", ArgKind::Count, "the vocabulary size"),
            param!("dimension", ArgKind::Count, "the embedding dimension"),
        ],
        accepts: &[Input::Tokens],
        input_words: "token ids as",
        after_subnetwork: false,
        rule: rules::embedding,
    },
    LayerKind {
        name: "Relu",
        params: &[],
        accepts: FLOATS,
        input_words: "a float",
        after_subnetwork: true,
        rule: rules::activation,
    },
    LayerKind {
        name: "LeakyRelu",
        params: &[param!(
            "alpha" = "0.01",
            ArgKind::Number,
            "the negative slope"
        )],
        accepts: FLOATS,
        input_words: "a float",
        after_subnetwork: true,
        rule: rules::leaky_relu,
    },
    LayerKind {
        name: "Tanh",
        params: &[],
        accepts: FLOATS,
        input_words: "a float",
        after_subnetwork: true,
        rule: rules::activation,
    },
    LayerKind {
        name: "Sigmoid",
        params: &[],
        accepts: FLOATS,
        input_words: "a float",
        after_subnetwork: true,
        rule: rules::activation,
    },
    LayerKind {
        name: "Softmax",
        params: &[],
        accepts: FLOATS,
        input_words: "a float",
        after_subnetwork: true,
        rule: rules::activation,
    },
    LayerKind {
        name: "Net",
        params: &[param!("network", ArgKind::Type, "the type of a network")],
        accepts: FLOATS,
        input_words: "a float",
        after_subnetwork: true,
        rule: rules::subnetwork,
    },
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

/// A checked argument value.
#[derive(Clone)]
pub enum Value {
    Count(usize),
    Size(usize, usize),
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
        let mut values = Vec::with_capacity(kind.params.len());
        for (param, expr) in kind.params.iter().zip(&given) {
            match expr {
                Some(expr) => match parse_value(param, expr, cx) {
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

    /// A count argument (required, or `None` when left to its default).
    pub fn count(&self, name: &str) -> Option<usize> {
        match self.slot(name) {
            Some((Value::Count(n), _)) => Some(*n),
            _ => None,
        }
    }

    /// A size argument, as (height, width).
    pub fn size(&self, name: &str) -> Option<(usize, usize)> {
        match self.slot(name) {
            Some((Value::Size(h, w), _)) => Some((*h, *w)),
            _ => None,
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

/// An integer literal's value (`None` for anything else or an out-of-range value).
fn int_literal(expr: &Expr) -> Option<usize> {
    match expr {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Int(l), ..
        }) => l.base10_parse::<usize>().ok(),
        Expr::Paren(p) => int_literal(&p.expr),
        Expr::Group(g) => int_literal(&g.expr),
        _ => None,
    }
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

fn parse_value(param: &Param, expr: &Expr, cx: &Ctxt) -> Result<Value, Reported> {
    let what = param.what;
    match param.kind {
        ArgKind::Count => match int_literal(expr) {
            Some(n) if n > 0 => Ok(Value::Count(n)),
            _ => Err(cx.error_spanned_by(
                expr,
                format_args!("{what} must be a positive integer literal"),
            )),
        },
        ArgKind::Size => {
            let parsed = match expr {
                Expr::Tuple(t) if t.elems.len() == 2 => {
                    int_literal(&t.elems[0]).zip(int_literal(&t.elems[1]))
                }
                e => int_literal(e).map(|v| (v, v)),
            };
            match parsed {
                Some((h, w)) if h >= 1 && w >= 1 => Ok(Value::Size(h, w)),
                Some(_) => {
                    Err(cx.error_spanned_by(expr, format_args!("{what} must be at least 1")))
                }
                None => Err(cx.error_spanned_by(
                    expr,
                    format_args!("{what} must be a positive integer or a pair such as `(3, 5)`"),
                )),
            }
        }
        ArgKind::Bool => {
            match expr {
                Expr::Lit(syn::ExprLit {
                    lit: Lit::Bool(b), ..
                }) => Ok(Value::Bool(b.value)),
                _ => Err(cx
                    .error_spanned_by(expr, format_args!("`{}` is `true` or `false`", param.name))),
            }
        }
        ArgKind::Number => number_literal(expr).map(Value::Number).ok_or_else(|| {
            cx.error_spanned_by(expr, format_args!("{what} must be a number literal"))
        }),
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
            "Conv2d(filters, kernel, stride = 1, padding = valid)"
        );
        assert!(known_names().contains("GRU"));
    }
}
