//! The layer reference in the README and in the crate docs is the table of layer kinds'
//! own (`nn_dsl::reference()`): this test fails when they differ, and with
//! `UPDATE_REFERENCE=1` rewrites them.

use std::path::Path;

const BEGIN: &str = "<!-- layer reference: generated from nn-dsl's table of layer kinds; UPDATE_REFERENCE=1 cargo test -p nn-dsl --test reference rewrites it -->";
const END: &str = "<!-- end of the layer reference -->";

/// Checks (or rewrites) the reference between the markers in `file`, each of whose lines
/// there starts with `prefix`.
fn check(file: &Path, prefix: &str, problems: &mut Vec<String>) {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let (begin, end) = (format!("{prefix}{BEGIN}\n"), format!("{prefix}{END}\n"));
    let (Some(start), Some(stop)) = (text.find(&begin), text.find(&end)) else {
        problems.push(format!("{}: no layer reference markers", file.display()));
        return;
    };
    let expected: String = nn_dsl::reference()
        .lines()
        .map(|line| format!("{prefix}{line}\n"))
        .collect();
    let body = start + begin.len();
    if text.get(body..stop) == Some(expected.as_str()) {
        return;
    }
    if std::env::var_os("UPDATE_REFERENCE").is_some() {
        let updated = format!("{}{expected}{}", &text[..body], &text[stop..]);
        std::fs::write(file, updated).unwrap();
    } else {
        problems.push(format!(
            "{}: the layer reference differs from the table; rerun with UPDATE_REFERENCE=1",
            file.display()
        ));
    }
}

#[test]
fn readme_and_crate_docs_list_the_table() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut problems = Vec::new();
    check(&root.join("README.md"), "", &mut problems);
    check(&root.join("src/lib.rs"), "//! ", &mut problems);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
