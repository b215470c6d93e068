//! The macro never panics: random layer lists (known, misspelt and unknown kinds), random
//! arguments (good and bad values, unknown names, too many) and random input shapes — and
//! random token soup — all come back as Rust items: the network, or spanned
//! `compile_error!`s beside a placeholder struct.

use proc_macro2::TokenStream;
use proptest::prelude::*;

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
    let names = [
        "units",
        "filters",
        "kernel",
        "stride",
        "strides",
        "padding",
        "window",
        "return_sequences",
        "activation",
        "alpha",
        "vocabulary",
        "dimension",
        "network",
        "foo",
        "dilation",
        "groups",
        "bias",
        "rate",
        "momentum",
        "eps",
        "features",
    ];
    prop_oneof![
        value(),
        (
            prop::sample::select(names.map(str::to_string).to_vec()),
            value()
        )
            .prop_map(|(n, v)| format!("{n} = {v}")),
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

/// A layer with arguments of the right kinds and random sizes, so that most chains reach
/// the shape rules and the expansion (kernels larger than their input included).
fn plausible_layer() -> impl Strategy<Value = String> {
    let n = || 1usize..40;
    let word = |w: &'static [&'static str]| prop::sample::select(w.to_vec());
    // A kernel as a literal or as a named constant (left to rustc's const evaluation).
    let kernel = prop_oneof![
        3 => (1usize..6).prop_map(|v| v.to_string()),
        1 => prop::sample::select(vec!["K".to_string(), "2 * C".to_string()]),
    ];
    prop_oneof![
        (n(), prop::bool::ANY).prop_map(|(u, b)| format!("Dense({u}, bias = {b})")),
        (
            n(),
            kernel,
            1usize..3,
            word(&["valid", "same", "0", "1", "2", "(1, 2)", "PAD"]),
            1usize..3,
            1usize..3
        )
            .prop_map(|(f, k, s, p, d, g)| format!(
                "Conv2d({f}, {k}, stride = {s}, padding = {p}, dilation = {d}, groups = {g})"
            )),
        (
            n(),
            1usize..6,
            1usize..3,
            word(&["valid", "same", "1"]),
            1usize..3
        )
            .prop_map(|(f, k, s, p, d)| format!(
                "Conv1d({f}, {k}, {s}, padding = {p}, dilation = {d})"
            )),
        (1usize..4, 1usize..3, 0usize..3)
            .prop_map(|(k, s, p)| format!("MaxPool2d({k}, stride = {s}, padding = {p})")),
        (1usize..4).prop_map(|k| format!("AvgPool2d(({k}, 1))")),
        (1usize..4, 0usize..2).prop_map(|(k, p)| format!("MaxPool1d({k}, padding = {p})")),
        word(&[
            "GlobalAvgPool2d",
            "GlobalMaxPool2d",
            "BatchNorm2d",
            "BatchNorm1d",
            "LayerNorm"
        ])
        .prop_map(str::to_string),
        (0usize..12).prop_map(|r| format!("Dropout(0.{r})")),
        (n(), 0usize..10).prop_map(|(f, m)| format!("BatchNorm1d({f}, momentum = 0.{m})")),
        Just("Flatten".to_string()),
        word(&["Relu", "Tanh", "Sigmoid", "Softmax", "LeakyRelu(0.2)"]).prop_map(str::to_string),
        (word(&["SimpleRNN", "LSTM", "GRU"]), n(), prop::bool::ANY)
            .prop_map(|(k, u, s)| format!("{k}({u}, return_sequences = {s})")),
        (n(), n()).prop_map(|(v, d)| format!("Embedding({v}, {d})")),
    ]
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
