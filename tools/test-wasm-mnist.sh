#!/usr/bin/env bash
# CI step for embedded/wasm-mnist: the inference core built for WebAssembly, run under
# Node (V8), so that a change that breaks the no-std build, traps on wasm32 or gets the
# arithmetic wrong there fails here rather than in someone's browser.
#
#   tools/test-wasm-mnist.sh
#   RUSTFLAGS="-C target-feature=+simd128" tools/test-wasm-mnist.sh   # with wasm SIMD
#
# 1. builds the WASI program (wasm32-wasip1) and the module for JavaScript
#    (wasm32-unknown-unknown, a cdylib) in the `wasm` profile of the root Cargo.toml;
# 2. prints their sizes (and, where binaryen's wasm-opt is installed, the size after it);
# 3. runs the WASI program under Node's WASI: it fails below 90 of the 100 embedded test
#    digits right, and a trap fails too;
# 4. runs classify.mjs on the module: digits 0, 1 and 2 (a 7, a 2 and a 1) must be
#    classified as their labels, and at least 97 of the 100 digits, as the same weights
#    are natively.
#
# RUSTFLAGS reach only the wasm crates (every build names its --target), so the one above
# turns on simd128 without touching the proc macros. Needs rustup, cargo and Node 20 or
# later (node:wasi). Warm, the step takes seconds; from a clean target directory, the two
# builds take a few minutes.
set -euo pipefail

cd "$(dirname "$0")/.."

crate=embedded/wasm-mnist
profile=wasm
# At least what the native build gets on the same 100 digits (see src/lib.rs's test).
min_correct=97

if ! command -v node >/dev/null; then
    echo "error: node (20 or later) is needed to run the WebAssembly builds" >&2
    exit 1
fi
# Node 20's WASI warns that it is experimental on every run; the flag that silences just
# that warning arrived in 20.11.
node_flags=()
if node --disable-warning=ExperimentalWarning -e '' 2>/dev/null; then
    node_flags=(--disable-warning=ExperimentalWarning)
fi

missing=()
for target in wasm32-wasip1 wasm32-unknown-unknown; do
    if ! rustup target list --installed | grep -qx "$target"; then
        missing+=("$target")
    fi
done
if ((${#missing[@]})); then
    rustup target add "${missing[@]}"
fi

echo "== build (profile $profile, RUSTFLAGS=${RUSTFLAGS:-none})"
cargo build --locked -p wasm-mnist --bin wasm-mnist --target wasm32-wasip1 --profile "$profile"
cargo build --locked -p wasm-mnist --lib --target wasm32-unknown-unknown --profile "$profile"

target_dir=$(cargo metadata --locked --format-version 1 --no-deps |
    node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => console.log(JSON.parse(s).target_directory))')
wasi_wasm="$target_dir/wasm32-wasip1/$profile/wasm-mnist.wasm"
module_wasm="$target_dir/wasm32-unknown-unknown/$profile/wasm_mnist.wasm"

size() {
    printf '%-72s %7d bytes, %7d gzipped\n' "$1" "$(wc -c <"$1")" "$(gzip -9 -c "$1" | wc -c)"
}

echo "== sizes"
size "$wasi_wasm"
size "$module_wasm"
# binaryen's optimiser, where it is installed (`apt-get install binaryen`): not needed,
# but it shows what a web deployment could save.
opt_wasi=""
opt_module=""
if command -v wasm-opt >/dev/null; then
    # Stripped modules have no target_features section for wasm-opt to read the features
    # from: these are the ones rustc enables on wasm32 by default, and SIMD, which gemm's
    # packing code uses whatever RUSTFLAGS say.
    features=(--enable-bulk-memory --enable-sign-ext --enable-mutable-globals
        --enable-nontrapping-float-to-int --enable-reference-types --enable-multivalue
        --enable-simd)
    opt_wasi="${wasi_wasm%.wasm}.opt.wasm"
    opt_module="${module_wasm%.wasm}.opt.wasm"
    wasm-opt -Oz "${features[@]}" "$wasi_wasm" -o "$opt_wasi"
    wasm-opt -Oz "${features[@]}" "$module_wasm" -o "$opt_module"
    size "$opt_wasi"
    size "$opt_module"
else
    echo "(wasm-opt not installed: no optimised sizes)"
fi

echo "== WASI program under Node $(node --version)"
node "${node_flags[@]}" "$crate/run-wasi.mjs" --wasm "$wasi_wasm"

echo "== module under Node $(node --version), through its C ABI"
node "$crate/classify.mjs" --wasm "$module_wasm" --check --min-correct "$min_correct" 0 1 2

# What wasm-opt rewrote must still compute what the originals do.
if [[ -n "$opt_wasi" ]]; then
    echo "== the same, optimised by wasm-opt"
    node "${node_flags[@]}" "$crate/run-wasi.mjs" --wasm "$opt_wasi"
    node "$crate/classify.mjs" --wasm "$opt_module" --min-correct "$min_correct"
fi

echo "wasm-mnist: OK"
