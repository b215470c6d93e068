#!/usr/bin/env bash
# Builds nn-runtime's unit tests for WebAssembly (wasm32-wasip1) and runs them under
# Node's WASI (tools/wasi-run.mjs), twice: compiled with simd128, where the kernels' tests
# run every kernel on the simd128 path and the scalar one, and without it, where the
# scalar path is the only one (WebAssembly cannot detect features at run time: a build
# has the simd128 path or not). For CI on a fresh Debian machine, as root (or with sudo);
# installs what is missing:
#
#   tools/test-wasm.sh
#
# Needs Node 20 or later (`node:wasi` with `version: "preview1"`); Debian 12's nodejs is
# 18, so there install a newer Node first.
#
# Left out:
# - `const_message::tests::builds_text_and_numbers_at_compile_time`: it expects usize::MAX
#   to print as a 64-bit number, and usize is 32 bits wide on wasm32.
# - `fit::history::tests::figures_round_trip_through_text_and_plot`: it writes to
#   `std::env::temp_dir()`, which panics on WASI.
# - The doctests and typed-nn's tests: the kernels are what differs on WebAssembly.
# A test that panics aborts the whole run there (wasm32-wasip1 has no unwinding), so a
# failure is the last test named in the output.
#
# From an empty target directory the script took 3 minutes on a 2-core machine, about
# 3 s of it running tests.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
target=wasm32-wasip1

if ! command -v node >/dev/null; then
    sudo_=()
    [[ $(id -u) -eq 0 ]] || sudo_=(sudo)
    "${sudo_[@]}" apt-get update -q
    DEBIAN_FRONTEND=noninteractive "${sudo_[@]}" apt-get install -y -q nodejs
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if ((node_major < 20)); then
    echo "Node $(node --version) is too old for tools/wasi-run.mjs: Node 20 or later" >&2
    exit 1
fi
rustup target list --installed | grep -qx "$target" || rustup target add "$target"

# Absolute: cargo runs the tests from the package's directory. `node:wasi` is still marked
# experimental, which Node would say on every run.
export CARGO_TARGET_WASM32_WASIP1_RUNNER="node --no-warnings $PWD/tools/wasi-run.mjs"
unset TYPED_NN_ISA
skips=(
    --skip const_message::tests::builds_text_and_numbers_at_compile_time
    --skip fit::history::tests::figures_round_trip_through_text_and_plot
)
paths_test=kernels::isa::tests::the_architectures_paths_and_only_those_are_available

# The two builds differ in RUSTFLAGS, which cargo keeps apart in one target directory.
for simd in "+simd128" ""; do
    if [[ -n $simd ]]; then
        export RUSTFLAGS="-C target-feature=$simd"
    else
        unset RUSTFLAGS
    fi
    echo "== nn-runtime on $target ${simd:-without simd128}: which kernel paths run"
    cargo test --locked -p nn-runtime --target "$target" --lib -- --exact --nocapture "$paths_test"
    echo "== nn-runtime on $target ${simd:-without simd128}: kernels, layers, losses, data"
    cargo test --locked -p nn-runtime --target "$target" --lib -- "${skips[@]}"
done
