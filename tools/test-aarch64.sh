#!/usr/bin/env bash
# Cross-compiles the tests for AArch64 Linux and runs them under QEMU's user-mode emulation:
# every kernel on every path an AArch64 CPU has (NEON and scalar) against the same f64
# references as on x86-64, then the layer tests that run those kernels end to end. For CI
# on a fresh Debian machine, as root (or with sudo); installs what is missing:
#
#   tools/test-aarch64.sh
#
# What runs, and why (times on a 2-core x86-64 machine, QEMU 7.2):
# - nn-runtime's tests, `cargo test -p nn-runtime` (unit tests and doctests): the kernels'
#   tests iterate `Arch::available()`, so every kernel runs on the NEON path and on the
#   scalar one, on the awkward sizes and random shapes the x86-64 paths are tested on;
#   `kernels::isa`'s test fails unless NEON is available there, so a run that exercised
#   only the scalar path cannot pass. About 15 s of emulation, 10 s of it the unit tests.
# - typed-nn's layer tests, 10 to 20 s of emulation in all: gradcheck (every layer's
#   backward pass against finite differences), inference, cnn (convolutions and fused
#   pooling on the NEON kernels), rnn, attention (a causal model's gradient
#   from later tokens must be exactly zero, which holds only because subnormals flush on
#   AArch64 too), numeric_edges (NaN and infinities through the layers: NEON's max and min
#   treat NaN differently from x86's) and sequences.
# - Left out: cnn's `short_mnist_cnn_training_learns` (8.5 minutes under QEMU) and
#   tests/training.rs (1.5 minutes, MNIST training too): trainings whose kernels the tests
#   above cover.
# From an empty target directory, with the packages installed, the whole script took
# 7 min 20 s there, all but half a minute of it compiling.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
target=aarch64-unknown-linux-gnu

# A cross linker with AArch64's C library (for std), and QEMU's user-mode emulator.
packages=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)
missing=()
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
    sudo_=()
    [[ $(id -u) -eq 0 ]] || sudo_=(sudo)
    "${sudo_[@]}" apt-get update -q
    DEBIAN_FRONTEND=noninteractive "${sudo_[@]}" apt-get install -y -q "${missing[@]}"
fi
rustup target list --installed | grep -qx "$target" || rustup target add "$target"

export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
# -L: where the emulated program's dynamic loader and C library are.
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu"
# Whatever the caller's environment forces, the widest path (NEON) runs.
unset TYPED_NN_ISA

echo "== nn-runtime on $target: which kernel paths run"
cargo test --locked -p nn-runtime --target "$target" --lib -- --exact --nocapture \
    kernels::isa::tests::the_architectures_paths_and_only_those_are_available
echo "== nn-runtime on $target: kernels (NEON and scalar paths), layers, losses, data"
cargo test --locked -p nn-runtime --target "$target"
echo "== typed-nn on $target: layer tests (on the NEON path)"
cargo test --locked --target "$target" \
    --test gradcheck --test inference --test cnn --test rnn --test attention \
    --test numeric_edges --test sequences \
    -- --skip short_mnist_cnn_training_learns
