#!/usr/bin/env bash
# Runs the kernels' and layers' unit tests under Miri (nightly), which checks every memory
# access, pointer provenance and aliasing (Stacked Borrows, Miri's default) of the code it
# runs. Miri reports only the baseline x86-64 target features, so feature detection picks
# the scalar path (kernels::isa's `miri_sees_only_the_scalar_path` checks this): the unsafe
# SIMD kernels are ASan's to check (tools/sanitize.sh), the safe wrappers, the scalar
# paths, the layers and their buffers are Miri's.
#
# Miri interprets, a thousand times slower than native code, so:
# - the kernel property tests run 3 cases each under cfg(miri) (random small shapes on
#   the scalar path);
# - the fixed-size tests whose products run to millions of multiply-adds are skipped by
#   name; the properties cover the same kernels on small shapes here, and every
#   configuration natively;
# - the geometry properties (plain integer arithmetic, no memory to check) are skipped;
# - see below for the tests that run under Tree Borrows.
#
#   tools/miri.sh
set -euo pipefail

cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${MIRI_TARGET_DIR:-target/miri}"
# proptest reads and writes its regression files: file access needs isolation off.
# Miri perturbs the results of libm functions (exp, tanh) by a few ulps on purpose, to
# find code that relies on one libm's exact rounding; the accuracy tests check the SIMD
# approximations against bounds tight enough that the perturbation alone crosses them, so
# floats are made deterministic here.
export MIRIFLAGS="${MIRIFLAGS:--Zmiri-disable-isolation -Zmiri-deterministic-floats}"

# The tests that hand work to rayon's pool (products split over threads, the thread count,
# which starts the global pool): under Stacked Borrows, Miri stops inside
# crossbeam-epoch 0.9 (rayon's work-stealing deques), in `Local::element_of`, which
# retags a whole `Local` from a pointer to its first field. That is the dependency's code,
# not ours; Tree Borrows, the model that allows it, still checks our code's accesses in
# those tests, so they run under it, and everything else under Stacked Borrows.
threaded=(
    kernels::tests::empty_inner_dimension_split_over_threads_writes_the_epilogue
    kernels::tests::props::gemm_matches_f64_on_random_shapes_strides_and_epilogues
    kernels::threads::tests::zero_threads_is_an_error_and_the_count_is_positive
)
heavy=(
    gemm_matches_f64_reference_on_every_path_and_awkward_size
    gemm_nt_matches_f64_reference_on_every_path_and_awkward_size
    gemm_library_backend_and_threads_agree
    conv2d_forward_matches_the_direct_definition
    conv2d_backward_matches_the_direct_definition
    grouped_conv2d_backward_sums_weight_gradients_over_thread_chunks
    brute_force
)
skips=()
for t in "${threaded[@]}" "${heavy[@]}"; do skips+=(--skip "$t"); done

cargo +nightly miri setup
echo "== Miri (Stacked Borrows): kernels and layers"
cargo +nightly miri test -p nn-runtime --lib -- kernels:: layers:: "${skips[@]}"
echo "== Miri (Tree Borrows): the tests that run on rayon's pool"
# rayon's pool threads live until the process ends, never joined: Miri would call that an
# error (and the pool's allocations leaks) after the tests passed.
MIRIFLAGS="$MIRIFLAGS -Zmiri-tree-borrows -Zmiri-ignore-leaks" \
    cargo +nightly miri test -p nn-runtime --lib -- --exact "${threaded[@]}"
