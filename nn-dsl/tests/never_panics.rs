//! The macro never panics: random layer lists (known, misspelt and unknown kinds), random
//! arguments (good and bad values, unknown names, too many) and random input shapes — and
//! random token soup — all come back as Rust items: the network, or spanned
//! `compile_error!`s beside a placeholder struct.

use nn_dsl::{ArgDefault, ArgKind};
use proc_macro2::TokenStream;
use proptest::prelude::*;
use proptest::strategy::ValueTree;

fn kind() -> impl Strategy<Value = String> {
    let known: Vec<String> = nn_dsl::layer_kinds().map(str::to_string).collect();
    prop_oneof![
        4 => prop::sample::select(known),
        1 => prop::sample::select(vec![
            "Dence".to_string(),
            "Conv2D".to_string(),
            "Lstm".to_string(),
            "Transformer".to_string(),
            "r#Dense".to_string(),
        ]),
    ]
}

fn value() -> impl Strategy<Value = String> {
    let values = [
        "0",
        "1",
        "2",
        "3",
        "7",
        "64",
        "99999999999999999999999",
        "-1",
        "0.5",
        "-0.01",
        "1e400",
        "(1, 2)",
        "(0, 3)",
        "(2, 2, 2)",
        "((3))",
        "valid",
        "same",
        "full",
        "tanh",
        "relu",
        "true",
        "false",
        "Encoder",
        "\"text\"",
        "2 * C",
        "[1]",
        "Vec<u8>",
        "u8::MAX",
        "HIDDEN",
        "N / 2",
        "(K, 3)",
        "0.0",
        "1.0",
        "-0.5",
        "1e-5",
    ];
    prop::sample::select(values.map(str::to_string).to_vec())
}

fn arg() -> impl Strategy<Value = String> {
    // Every argument name of the table, and two it does not know.
    let mut names: Vec<String> = nn_dsl::kinds()
        .flat_map(|k| k.params.iter().map(|p| p.name.to_string()))
        .chain(["foo".to_string(), "strides".to_string()])
        .collect();
    names.sort();
    names.dedup();
    prop_oneof![
        value(),
        (prop::sample::select(names), value()).prop_map(|(n, v)| format!("{n} = {v}")),
    ]
}

fn layer() -> impl Strategy<Value = String> {
    (
        prop::option::of(prop::sample::select(vec!["a", "b", "fc", "self"])),
        kind(),
        prop::option::of(prop::collection::vec(arg(), 0..5)),
    )
        .prop_map(|(name, kind, args)| {
            let mut s = name.map(|n| format!("{n}: ")).unwrap_or_default();
            s += &kind;
            if let Some(args) = args {
                s += &format!("({})", args.join(", "));
            }
            s
        })
}

fn network_source() -> impl Strategy<Value = String> {
    let dim = prop::sample::select(vec!["0", "1", "2", "3", "5", "8", "28", "64", "1000", "x"]);
    (
        prop::sample::select(vec!["", "tokens", "floats"]),
        prop::collection::vec(dim, 0..5),
        prop::collection::vec(layer(), 0..7),
        prop::bool::ANY,
    )
        .prop_map(|(prefix, dims, layers, trailing_comma)| {
            let mut body = layers.join(", ");
            if trailing_comma && !body.is_empty() {
                body += ",";
            }
            format!("pub struct Net: {prefix}[{}] {{ {body} }}", dims.join(", "))
        })
}

/// A plausible value of an argument of kind `kind`: the right kind, random sizes (kernels
/// larger than their input included), sometimes a named constant left to rustc.
fn plausible_value(kind: ArgKind) -> BoxedStrategy<String> {
    let small = || (1usize..6).prop_map(|v| v.to_string());
    let words = |w: &[&'static str]| prop::sample::select(w.to_vec()).prop_map(str::to_string);
    match kind {
        ArgKind::Count => prop_oneof![
            3 => small(),
            3 => (1usize..40).prop_map(|v| v.to_string()),
            1 => words(&["K", "2 * C"]),
        ]
        .boxed(),
        ArgKind::Size => prop_oneof![
            3 => small(),
            1 => (small(), small()).prop_map(|(h, w)| format!("({h}, {w})")),
            1 => words(&["K"]),
        ]
        .boxed(),
        ArgKind::Padding { pair: true } => {
            words(&["valid", "same", "0", "1", "2", "(1, 2)", "PAD"]).boxed()
        }
        ArgKind::Padding { pair: false } => words(&["valid", "same", "1"]).boxed(),
        ArgKind::Zeros { pair } => {
            let one = (0usize..3).prop_map(|v| v.to_string());
            if pair {
                prop_oneof![
                    one,
                    (0usize..2, 0usize..2).prop_map(|(a, b)| format!("({a}, {b})"))
                ]
                .boxed()
            } else {
                one.boxed()
            }
        }
        ArgKind::Bool => words(&["true", "false"]).boxed(),
        ArgKind::Number(range) => {
            let candidates: Vec<&'static str> =
                ["0.0", "0.1", "0.5", "0.9", "1.0", "1e-5", "-0.5", "2.0"]
                    .into_iter()
                    .filter(|v| range.contains(v.parse().unwrap()))
                    .collect();
            words(&candidates).boxed()
        }
        ArgKind::Choice(choices) => words(choices).boxed(),
        ArgKind::Type => words(&["Encoder"]).boxed(),
        ArgKind::Sizes => words(&["[4]", "[2, 3]", "[3, 2, 2]", "[K, 2]", "[0, 5]"]).boxed(),
        ArgKind::Axes => words(&[
            "[1, 0]",
            "[0, 1]",
            "[2, 0, 1]",
            "[0, 2, 1]",
            "[1, 1]",
            "[3, 0]",
        ])
        .boxed(),
        ArgKind::Layer(kinds) => (
            prop::sample::select(kinds.to_vec()),
            1usize..20,
            prop::bool::ANY,
        )
            .prop_map(|(kind, units, sequences)| {
                format!("{kind}({units}, return_sequences = {sequences})")
            })
            .boxed(),
    }
}

/// A layer of any kind the table holds (joins aside) with arguments of the right kinds:
/// the required ones in order, each other one given by name half of the time. Most chains
/// reach the shape rules and the expansion.
fn plausible_layer() -> impl Strategy<Value = String> {
    let layers: Vec<BoxedStrategy<String>> = nn_dsl::kinds()
        .filter(|k| !k.join)
        .map(|k| {
            let args: Vec<BoxedStrategy<Option<String>>> = k
                .params
                .iter()
                .map(|p| {
                    let value = plausible_value(p.kind);
                    match p.default {
                        ArgDefault::Required => value.prop_map(Some).boxed(),
                        _ => {
                            let name = p.name;
                            prop::option::of(value.prop_map(move |v| format!("{name} = {v}")))
                                .boxed()
                        }
                    }
                })
                .collect();
            let name = k.name;
            args.prop_map(move |args| {
                let args: Vec<String> = args.into_iter().flatten().collect();
                if args.is_empty() {
                    name.to_string()
                } else {
                    format!("{name}({})", args.join(", "))
                }
            })
            .boxed()
        })
        .collect();
    prop::sample::select((0..layers.len()).collect::<Vec<_>>())
        .prop_flat_map(move |k| layers[k].clone())
}

#[test]
fn plausible_layers_cover_every_kind() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut seen = std::collections::BTreeSet::new();
    let strategy = plausible_layer();
    for _ in 0..2000 {
        let layer = strategy.new_tree(&mut runner).unwrap().current();
        let name: String = layer.chars().take_while(|c| c.is_alphanumeric()).collect();
        seen.insert(name);
    }
    for kind in nn_dsl::kinds().filter(|k| !k.join) {
        assert!(seen.contains(kind.name), "{} is never generated", kind.name);
    }
}

/// A plausible layer, or a join of chains of them (nested up to three deep).
fn plausible_or_join() -> impl Strategy<Value = String> {
    plausible_layer().prop_recursive(3, 24, 4, |inner| {
        let chain = prop::collection::vec(inner, 0..4).prop_map(|l| l.join(", "));
        prop_oneof![
            chain
                .clone()
                .prop_map(|body| format!("Residual {{ {body} }}")),
            (chain.clone(), chain.clone())
                .prop_map(|(body, short)| format!("Residual {{ {body} }} shortcut {{ {short} }}")),
            (
                prop::sample::select(vec!["Concat", "Add"]),
                prop::collection::vec(chain, 1..4)
            )
                .prop_map(|(kind, branches)| {
                    let branches: Vec<String> =
                        branches.iter().map(|b| format!("{{ {b} }}")).collect();
                    format!("{kind} {{ {} }}", branches.join(", "))
                }),
        ]
    })
}

fn plausible_network() -> impl Strategy<Value = String> {
    let dim = prop_oneof![
        4 => (1usize..20).prop_map(|d| d.to_string()),
        1 => Just("SIZE".to_string()),
    ];
    (
        prop::bool::weighted(0.15),
        // The names the sizes use, as named constants or as the network's parameters.
        prop::sample::select(vec![
            "",
            "",
            "<const SIZE: usize, const K: usize, const C: usize>",
        ]),
        prop::collection::vec(dim, 1..4),
        prop::collection::vec(plausible_or_join(), 1..6),
    )
        .prop_map(|(tokens, generics, dims, layers)| {
            let prefix = if tokens { "tokens" } else { "" };
            format!(
                "pub struct Net{generics}: {prefix}[{}] {{ {} }}",
                dims.join(", "),
                layers.join(", ")
            )
        })
}

/// Runs the macro on `source`; fails the property if it panics or returns something that
/// is not a list of items.
fn expands_to_items(source: &str) -> Result<(), TestCaseError> {
    let Ok(tokens) = source.parse::<TokenStream>() else {
        // Not a token stream at all (an unbalanced delimiter): rustc never calls the macro.
        return Ok(());
    };
    let output = std::panic::catch_unwind(|| nn_dsl::network(tokens))
        .map_err(|_| TestCaseError::fail(format!("panicked on `{source}`")))?;
    let text = output.to_string();
    let file = syn::parse2::<syn::File>(output).map_err(|e| {
        TestCaseError::fail(format!("`{source}` gave unparsable items ({e}): {text}"))
    })?;
    let has_error = text.contains("compile_error");
    let has_impl = file.items.iter().any(|i| matches!(i, syn::Item::Impl(_)));
    prop_assert!(
        has_error != has_impl,
        "`{source}` must give either errors or the network: {text}"
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn random_networks_give_items_or_spanned_errors(source in network_source()) {
        expands_to_items(&source)?;
    }

    #[test]
    fn plausible_networks_give_items_or_spanned_errors(source in plausible_network()) {
        expands_to_items(&source)?;
    }

    #[test]
    fn random_token_soup_gives_items_or_spanned_errors(
        words in prop::collection::vec(
            prop::sample::select(vec![
                "pub", "struct", "Net", ":", "tokens", "[", "]", "{", "}", "(", ")", "3", "0",
                "Residual", "shortcut", "Concat", "Add", "{ }", "{ Relu }",
                ",", "Dense", "Relu", "Conv2d", "=", "stride", "#", "!", "///", "doc", "::",
                "Net(Encoder)", "-", "1.5", "'a", "\"s\"", "LSTM", "<", ">", "const", "usize",
            ]),
            0..24,
        )
    ) {
        expands_to_items(&words.join(" "))?;
    }
}

#[test]
fn a_valid_network_expands_without_errors() {
    let tokens: TokenStream = "pub struct Net: [1, 28, 28] { Conv2d(8, 3), Relu, MaxPool2d(2), Flatten, Dense(10), Softmax }"
        .parse()
        .unwrap();
    let text = nn_dsl::network(tokens).to_string();
    assert!(!text.contains("compile_error"), "{text}");
    assert!(text.contains("ConvOn"), "{text}");
}
