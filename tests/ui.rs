//! Shape errors are compile errors: each file in tests/ui holds one mistake, and its
//! `.stderr` the message a user sees.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    // A passing case makes trybuild build rather than check, so that shape rules evaluated
    // per instantiation of a generic network (after monomorphization) are reported too.
    t.pass("tests/ui_pass/*.rs");
}
