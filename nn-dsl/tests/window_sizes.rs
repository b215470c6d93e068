//! The output sizes `network!` gives convolutions and poolings, and the configurations it
//! rejects, against a brute-force count of window positions: a window of k taps d apart
//! at position o covers padded positions o·s .. o·s + (k − 1)·d, and fits when that ends
//! inside the padded input. PyTorch's rules: the output is the number of windows that
//! fit, zero windows is an error, and pooling padding may be at most half the window.
//! TensorFlow's `same`: ⌈len / s⌉ windows, with the fewest zeros that make them fit, the
//! odd one after the input.

use proptest::prelude::*;

/// Windows of `k` taps `d` apart, moved by `s`, that fit in `padded` positions, counted one
/// position at a time.
fn fitting_windows(padded: usize, k: usize, s: usize, d: usize) -> usize {
    (0..=padded)
        .take_while(|o| o * s + (k - 1) * d < padded)
        .count()
}

/// TensorFlow's `same` by search: the fewest zeros around the input under which ⌈len/s⌉
/// windows fit; (zeros before, output size).
fn same_by_search(len: usize, k: usize, s: usize, d: usize) -> (usize, usize) {
    let out = len.div_ceil(s);
    let total = (0..)
        .find(|t| fitting_windows(len + t, k, s, d) >= out)
        .unwrap();
    (total / 2, out)
}

/// The expansion of `source`: the sizes of its layer of kind `kind`, in the order of that
/// named layer type's const parameters (`Conv2d<C, H, W, CO, KH, KW, SH, SW, PT, PL, OH, OW,
/// DH, DW, G>`), or the text of the first `compile_error!`. The expansion writes the layer
/// as `ConvOn<input sample, output sample, KH, KW, SH, SW, PT, PL, DH, DW, G, …>` or
/// `PoolOn<input, output, KH, KW, SH, SW, PT, PL, kind>`.
fn expand(source: &str, kind: &str) -> Result<Vec<usize>, String> {
    let out = nn_dsl::network(source.parse().expect("tokens")).to_string();
    if let Some(at) = out.find("compile_error") {
        return Err(out[at..].chars().take(300).collect());
    }
    let generic = if kind.starts_with("Conv") {
        "ConvOn"
    } else {
        "PoolOn"
    };
    let head = format!("layers :: {generic} <");
    let at = out
        .find(&head)
        .unwrap_or_else(|| panic!("no {generic} in {out}"));
    // The numbers up to the type's closing `>`.
    let (mut depth, mut n) = (1, Vec::new());
    for token in out[at + head.len()..].split_whitespace() {
        match token {
            "<" => depth += 1,
            ">" => depth -= 1,
            t => n.extend(
                t.strip_suffix("usize")
                    .and_then(|v| v.parse::<usize>().ok()),
            ),
        }
        if depth == 0 {
            break;
        }
    }
    let order: &[usize] = match kind {
        "Conv2d" => &[0, 1, 2, 3, 6, 7, 8, 9, 10, 11, 4, 5, 12, 13, 14],
        "Conv1d" => &[0, 1, 2, 5, 7, 9, 3, 11, 12],
        "MaxPool1d" => &[0, 1, 5, 7, 3, 9],
        _ => &[0, 1, 2, 6, 7, 8, 9, 4, 5, 10, 11],
    };
    Ok(order.iter().map(|&i| n[i]).collect())
}

/// What the brute force says one dimension of a convolution should give: the zeros
/// before and the output size, or `None` when no window fits.
fn conv_dim(
    len: usize,
    k: usize,
    s: usize,
    d: usize,
    pad: Option<usize>,
) -> Option<(usize, usize)> {
    match pad {
        None => Some(same_by_search(len, k, s, d)),
        Some(p) => match fitting_windows(len + 2 * p, k, s, d) {
            0 => None,
            out => Some((p, out)),
        },
    }
}

fn padding_text(p: Option<(usize, usize)>) -> String {
    match p {
        None => "same".to_string(),
        Some((h, w)) => format!("({h}, {w})"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn conv2d_sizes_match_the_brute_force_count(
        (h, w) in (1usize..30, 1usize..30),
        (kh, kw) in (1usize..8, 1usize..8),
        (sh, sw) in (1usize..6, 1usize..6),
        (dh, dw) in (1usize..4, 1usize..4),
        padding in prop::option::weighted(0.8, (0usize..8, 0usize..8)),
    ) {
        let source = format!(
            "pub struct Net: [2, {h}, {w}] {{ Conv2d(3, ({kh}, {kw}), stride = ({sh}, {sw}), \
             padding = {}, dilation = ({dh}, {dw})) }}",
            padding_text(padding)
        );
        let rows = conv_dim(h, kh, sh, dh, padding.map(|p| p.0));
        let cols = conv_dim(w, kw, sw, dw, padding.map(|p| p.1));
        match (rows, cols, expand(&source, "Conv2d")) {
            (Some((pt, oh)), Some((pl, ow)), Ok(args)) => {
                // c, h, w, filters, kh, kw, sh, sw, pt, pl, oh, ow, dh, dw, groups
                prop_assert_eq!(&args[8..12], &[pt, pl, oh, ow], "{}", source);
            }
            (Some(_), Some(_), Err(e)) => prop_assert!(false, "{} rejected: {}", source, e),
            (_, _, Ok(args)) => prop_assert!(false, "{} accepted: {:?}", source, args),
            (_, _, Err(e)) => prop_assert!(e.contains("is larger than its input"), "{}", e),
        }
    }

    #[test]
    fn conv1d_sizes_match_the_brute_force_count(
        len in 1usize..60,
        k in 1usize..10,
        s in 1usize..6,
        d in 1usize..5,
        pad in prop::option::weighted(0.8, 0usize..10),
    ) {
        let padding = pad.map_or("same".to_string(), |p| p.to_string());
        let source = format!(
            "pub struct Net: [2, {len}] {{ Conv1d(3, {k}, {s}, padding = {padding}, dilation = {d}) }}"
        );
        match (conv_dim(len, k, s, d, pad), expand(&source, "Conv1d")) {
            // c, l, filters, k, s, before, out, d, groups
            (Some((before, out)), Ok(args)) => {
                prop_assert_eq!(&args[5..7], &[before, out], "{}", source)
            }
            (Some(_), Err(e)) => prop_assert!(false, "{} rejected: {}", source, e),
            (None, Ok(args)) => prop_assert!(false, "{} accepted: {:?}", source, args),
            (None, Err(e)) => prop_assert!(e.contains("is larger than its input"), "{}", e),
        }
    }

    /// Pooling: the padding check (at most half the window) comes first, then the count.
    #[test]
    fn pool2d_sizes_match_the_brute_force_count(
        max in any::<bool>(),
        (h, w) in (1usize..30, 1usize..30),
        (kh, kw) in (1usize..8, 1usize..8),
        stride in prop::option::of((1usize..6, 1usize..6)),
        (ph, pw) in (0usize..5, 0usize..5),
    ) {
        let kind = if max { "MaxPool2d" } else { "AvgPool2d" };
        // The stride defaults to the window.
        let (sh, sw) = stride.unwrap_or((kh, kw));
        let stride_arg = stride.map_or(String::new(), |(a, b)| format!(", stride = ({a}, {b})"));
        let source = format!(
            "pub struct Net: [2, {h}, {w}] {{ {kind}(({kh}, {kw}){stride_arg}, padding = ({ph}, {pw})) }}"
        );
        let got = expand(&source, kind);
        if 2 * ph > kh || 2 * pw > kw {
            let e = got.expect_err("padding over half the window accepted");
            prop_assert!(e.contains("more than half the pooling window"), "{}", e);
            return Ok(());
        }
        let (oh, ow) = (fitting_windows(h + 2 * ph, kh, sh, 1), fitting_windows(w + 2 * pw, kw, sw, 1));
        match got {
            // c, h, w, kh, kw, sh, sw, oh, ow, ph, pw
            Ok(args) => {
                prop_assert!(oh > 0 && ow > 0, "{} accepted: {:?}", source, args);
                prop_assert_eq!(&args[7..11], &[oh, ow, ph, pw], "{}", source);
            }
            Err(e) => {
                prop_assert!(oh == 0 || ow == 0, "{} rejected: {}", source, e);
                prop_assert!(e.contains("is larger than its input"), "{}", e);
            }
        }
    }

    #[test]
    fn pool1d_sizes_match_the_brute_force_count(
        len in 1usize..60,
        k in 1usize..10,
        s in prop::option::of(1usize..6),
        p in 0usize..6,
    ) {
        let stride_arg = s.map_or(String::new(), |s| format!(", stride = {s}"));
        let source = format!("pub struct Net: [2, {len}] {{ MaxPool1d({k}{stride_arg}, padding = {p}) }}");
        let got = expand(&source, "MaxPool1d");
        if 2 * p > k {
            let e = got.expect_err("padding over half the window accepted");
            prop_assert!(e.contains("more than half the pooling window"), "{}", e);
            return Ok(());
        }
        let out = fitting_windows(len + 2 * p, k, s.unwrap_or(k), 1);
        match got {
            // c, l, k, s, out, padding
            Ok(args) => {
                prop_assert!(out > 0, "{} accepted: {:?}", source, args);
                prop_assert_eq!(args[4], out, "{}", source);
            }
            Err(e) => {
                prop_assert_eq!(out, 0, "{} rejected: {}", source, e);
                prop_assert!(e.contains("is larger than its input"), "{}", e);
            }
        }
    }
}

/// Found by the pooling properties: pooling padding was read as a positive size, so an
/// explicit `padding = 0` (the documented default, and PyTorch's) was rejected with "the
/// padding must be at least 1".
#[test]
fn pooling_takes_an_explicit_padding_of_zero() {
    let pool2d = |args: &str| {
        expand(
            &format!("pub struct Net: [2, 6, 5] {{ MaxPool2d({args}) }}"),
            "MaxPool2d",
        )
    };
    assert_eq!(pool2d("2, padding = 0").unwrap()[7..11], [3, 2, 0, 0]);
    assert_eq!(pool2d("2, padding = (0, 1)").unwrap()[7..11], [3, 3, 0, 1]);
    let pool1d = expand(
        "pub struct Net: [2, 7] { MaxPool1d(3, padding = 0) }",
        "MaxPool1d",
    );
    assert_eq!(pool1d.unwrap()[4], 2);
    let avg = expand(
        "pub struct Net: [2, 4, 4] { AvgPool2d(3, stride = 1, padding = (1, 0)) }",
        "AvgPool2d",
    );
    assert_eq!(avg.unwrap()[7..11], [4, 2, 1, 0]);
    // Still not a pair where one number is wanted, nor a word.
    let e = expand(
        "pub struct Net: [2, 7] { MaxPool1d(3, padding = (1, 0)) }",
        "MaxPool1d",
    );
    assert!(e
        .unwrap_err()
        .contains("the padding must be a number of zeros"));
    let e = expand(
        "pub struct Net: [2, 7, 7] { MaxPool2d(3, padding = same) }",
        "MaxPool2d",
    );
    assert!(e.is_err());
}
