#!/usr/bin/env bash
# Runs the kernel and layer tests under AddressSanitizer (nightly), then the scalar paths
# under Miri (tools/miri.sh), so that out-of-bounds reads and writes in the unsafe SIMD
# kernels, use after free and aliasing violations show up as errors rather than as wrong
# numbers or, worse, right ones.
#
#   tools/sanitize.sh          ASan, then Miri
#   tools/sanitize.sh asan     ASan only
#   tools/sanitize.sh miri     Miri only
#
# ASan notes:
# - `--target x86_64-unknown-linux-gnu` is given explicitly so that RUSTFLAGS reach only
#   the target's crates: the proc macros (nn-macros, derive crates) run inside rustc,
#   uninstrumented, as they must.
# - Without -Zbuild-std: the standard library stays uninstrumented. ASan replaces malloc,
#   free and the mem* functions, so every heap buffer still gets redzones and every access
#   from instrumented code (all of this workspace, kernels included) is checked; only
#   accesses made inside std's own code go unchecked. Rebuilding std would cost several
#   minutes on every clean build for that, and the code under test is ours.
# - Its own target directory (target/asan by default), so instrumented artefacts never mix
#   with the normal build's.
# - The root crate's layer-level integration tests; not tests/ui (trybuild runs rustc and
#   compares its messages, which an instrumented nightly build has nothing to add to).
set -euo pipefail

cd "$(dirname "$0")/.."

what="${1:-all}"
target="x86_64-unknown-linux-gnu"

run_asan() {
    export CARGO_TARGET_DIR="${ASAN_TARGET_DIR:-target/asan}"
    # Leak checking on: a kernel that loses a buffer should say so too.
    export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
    export RUSTFLAGS="-Zsanitizer=address"
    export RUSTDOCFLAGS="-Zsanitizer=address"
    echo "== ASan: nn-runtime (kernels, layers, losses, optimisers, data)"
    cargo +nightly test --target "$target" -p nn-runtime --lib
    echo "== ASan: typed-nn layer-level integration tests"
    cargo +nightly test --target "$target" -p typed-nn \
        --test gradcheck --test cnn --test rnn --test joins --test modes --test inference
}

case "$what" in
    asan) run_asan ;;
    miri) exec "$(dirname "$0")/miri.sh" ;;
    all)
        run_asan
        exec tools/miri.sh
        ;;
    *)
        echo "usage: $0 [asan|miri|all]" >&2
        exit 2
        ;;
esac
