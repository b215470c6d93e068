//! Shape errors are compile errors: each file in tests/ui holds one mistake, and its
//! `.stderr` the message a user sees.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
