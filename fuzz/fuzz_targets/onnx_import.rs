//! ONNX files to the importer behind `network! { … : onnx("…") }`: whatever the bytes, the
//! import gives Rust items — the network, or `compile_error!`s beside a placeholder struct —
//! and never panics (a panic in a macro is an internal compiler error for its user).
//!
//! The committed seeds (corpus/onnx_import) are the parity fixtures of tests/fixtures/onnx;
//! mutations of their protobuf reach the decoder, the constant folding and every operator.
//!
//! cargo +nightly fuzz run onnx_import corpus/onnx_import -- -max_total_time=600

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let items = nn_dsl::onnx_network_from_bytes(data);
    syn::parse2::<syn::File>(items).expect("the import's output is Rust items");
});
