//! Explicit SIMD paths: x86-64 AVX-512F and AVX2+FMA, AArch64 NEON, WebAssembly simd128.
//! Each path is compiled with its `#[target_feature]` and chosen at run time by `isa()`,
//! never by `-C target-cpu`; WebAssembly, which cannot detect features at run time, has its
//! path exactly when it is compiled with `-C target-feature=+simd128`.
//!
//! # Layout
//!
//! - One module per instruction set (`avx512.rs`, `avx2.rs`, `neon.rs`, `simd128.rs`)
//!   holds only that set's primitives (listed below) and its tile shapes, then instantiates
//!   every kernel family with `simd_kernels!`. Each is compiled only for its architecture.
//! - One file per kernel family holds the family's bodies, written once as a macro over the
//!   primitives: `math.rs` (e^x, tanh, sigmoid, activations, `map`), `reduce.rs` (max,
//!   Σ e^(x − shift), scale, sum), `gemm_tile.rs` (GEMM tiles, the FMA peak probe),
//!   `conv_taps.rs` (direct convolution), `recurrence.rs` (RNN steps), `optim.rs` (Adam),
//!   `norm.rs` (the passes of batch, layer and group normalisation).
//! - A kernel only one instruction set has lives in a child of that set's module
//!   (`avx512/max_pool.rs`); the other paths take its scalar fallback.
//!
//! # Primitives
//!
//! Each instruction-set module defines `V` (a vector of f32), `M` (a lane mask), `LANES`,
//! the tile shapes `MR`, `MAX_NV`, `GEMV_NV`, `KC`, `NT_MR`, `NT_NR` and the tile tables
//! `dispatch_tile!` and `dispatch_taps!`, and the functions `splat`, `load`, `load_m`,
//! `load_m_or`, `store`, `store_m`, `mask`, `zero_outside`, `add`, `sub`, `mul`, `div`,
//! `fma`, `sqrt`, `max`, `min`, `round`, `pow2i`, `abs`, `copy_sign`, `select_lt`,
//! `reduce_add`, `reduce_max`.
//!
//! `mask(n)` selects the first `min(n, LANES)` lanes, and the masked loads and stores touch
//! only the lanes their mask selects: a tail of `n − i` values is read and written through
//! `mask(n − i)` without going past the `n` values the caller vouches for. AVX-512 and AVX2
//! have masked loads and stores; NEON and simd128 do not, so there `M` is a lane count and
//! a partial access moves its lanes one at a time.
//!
//! The primitives agree with each other where the families depend on it, not bit for bit:
//! `fma` is fused except on simd128 (which has no fused multiply-add: a multiply and an
//! add), `max`/`min` let NaN through in the operand order the families use (x86 returns its
//! second operand when one is NaN, NEON returns NaN), `round` is to nearest with ties to
//! even. Every path is tested against the same f64 references, not against another path.
//!
//! # Soundness
//!
//! Calling into a path from outside it is `unsafe`: the CPU must have the path's features.
//! The safe wrappers reach a path only through [`dispatch!`], which picks it from an `Arch`
//! token, and a token can only be made after checking that the CPU has the path's features;
//! the wrappers also check the slice bounds that the pointer kernels' `# Safety` sections
//! ask for. Inside a path, the arithmetic and the pointer-free kernels (`exp`, `tanh`, ...)
//! are safe `#[target_feature]` functions; only what touches memory is an `unsafe fn`.
//!
//! # Dispatch
//!
//! A safe wrapper writes its SIMD call once, with one `// SAFETY:` comment, and its scalar
//! fallback:
//!
//! ```ignore
//! dispatch!(
//!     arch,
//!     // SAFETY: <the bounds checked above>; `arch` proves this CPU has the path's features.
//!     simd => unsafe { simd::sum(x.as_ptr(), x.len()) },
//!     scalar => x.iter().sum(),
//! )
//! ```
//!
//! which expands to a `match arch.isa()` with one arm per SIMD path, where `simd` names that
//! path's module, and the scalar expression for every other path. A kernel that one path
//! alone has is reached the same way with `avx512 => …, other => …`. Adding a path (say
//! AArch64 NEON) is a primitives module here, its arm in [`dispatch!`] (the one place that
//! names the paths' modules), and its `Isa` variant and feature check in `isa.rs`: no
//! wrapper changes.

mod conv_taps;
mod gemm_tile;
mod math;
mod norm;
mod optim;
mod recurrence;
mod reduce;

pub use conv_taps::{TapsInput, TapsOutput};
pub use gemm_tile::{chains, PROBE_CHAINS};
pub use math::EpilogueAct;
pub use optim::AdamStep;

/// Writes every kernel family into the enclosing instruction-set module, over its
/// primitives; `$features` is the module's `#[target_feature]` list. A new family is one
/// more line here.
macro_rules! simd_kernels {
    ($features:literal) => {
        use $crate::kernels::simd::{EpilogueAct, TapsInput, TapsOutput, PROBE_CHAINS};

        $crate::kernels::simd::math::math_kernels!($features);
        $crate::kernels::simd::reduce::reduce_kernels!($features);
        $crate::kernels::simd::norm::norm_kernels!($features);
        $crate::kernels::simd::optim::optim_kernels!($features);
        $crate::kernels::simd::gemm_tile::gemm_kernels!($features);
        $crate::kernels::simd::recurrence::recurrence_kernels!($features);
        $crate::kernels::simd::conv_taps::conv_taps_kernels!($features);
    };
}

/// Tests of the enclosing instruction-set module's primitives, on what the families rely on
/// and the kernels' tests cannot see: that a masked store writes its lanes and no others,
/// that a masked load reads up to the last value it is given (from an allocation of exactly
/// those values, so that ASan, in `tools/sanitize.sh`, sees any read past them on x86-64),
/// and the semantics the module docs promise (NaN through `max`/`min` in the families'
/// operand order, ties to even). `$isa`
/// names the path (the test does nothing where the CPU lacks it), `$features` is the
/// module's `#[target_feature]` list.
#[cfg(test)]
macro_rules! primitive_tests {
    ($isa:ident, $features:literal) => {
        #[cfg(test)]
        mod primitive_tests {
            use super::*;

            /// The lanes of `v`.
            #[target_feature(enable = $features)]
            fn lanes(v: V) -> [f32; LANES] {
                let mut out = [0.0; LANES];
                // SAFETY: `out` holds `LANES` values.
                unsafe { store(out.as_mut_ptr(), v) };
                out
            }

            #[target_feature(enable = $features)]
            fn check() {
                for n in 0..=LANES + 1 {
                    let k = n.min(LANES);
                    let m = mask(n);
                    // Exactly k values, in an allocation of their own.
                    let src: Vec<f32> = (1..=k).map(|i| i as f32).collect();
                    let want = |fill: f32| -> [f32; LANES] {
                        core::array::from_fn(|l| if l < k { src[l] } else { fill })
                    };
                    let p = src.as_ptr();
                    // SAFETY: `m` selects the first k lanes, and `src` holds k values.
                    let (z, f) = unsafe { (load_m(p, m), load_m_or(p, m, splat(7.0))) };
                    assert_eq!(lanes(z), want(0.0), "load_m, {n} lanes");
                    assert_eq!(lanes(f), want(7.0), "load_m_or, {n} lanes");
                    let ones = zero_outside(splat(1.0), m);
                    let count = lanes(ones).iter().filter(|&&x| x == 1.0).count();
                    assert_eq!(count, k, "zero_outside, {n} lanes");
                    assert_eq!(
                        lanes(ones)[..k],
                        vec![1.0; k][..],
                        "zero_outside, {n} lanes"
                    );

                    let mut dst = vec![-1.0f32; LANES + 2];
                    // SAFETY: `m` selects k ≤ LANES lanes from dst[1], inside its LANES + 2.
                    unsafe { store_m(dst.as_mut_ptr().add(1), splat(5.0), m) };
                    for (l, &x) in dst.iter().enumerate() {
                        let written = (1..=k).contains(&l);
                        assert_eq!(x, if written { 5.0 } else { -1.0 }, "store_m, {n} lanes");
                    }
                }

                let nan = splat(f32::NAN);
                // The operand orders of `exp`'s clamp and of ReLU (`math.rs`).
                assert!(lanes(max(splat(-87.33), nan))[0].is_nan(), "max hides NaN");
                assert!(lanes(min(splat(88.0), nan))[0].is_nan(), "min hides NaN");
                assert!(lanes(max(splat(0.0), nan))[0].is_nan(), "ReLU hides NaN");

                let ramp: [f32; LANES] = core::array::from_fn(|l| l as f32 - 1.5);
                // SAFETY: `ramp` holds `LANES` values.
                let r = unsafe { load(ramp.as_ptr()) };
                let rounded = lanes(round(r));
                for (&x, &y) in ramp.iter().zip(&rounded) {
                    let even = x.round_ties_even();
                    assert!(y == even && y.is_sign_negative() == even.is_sign_negative());
                }
                assert_eq!(lanes(round(splat(2.5))), [2.0; LANES]);
                assert_eq!(lanes(pow2i(splat(-3.0))), [0.125; LANES]);
                assert_eq!(reduce_add(r), ramp.iter().sum::<f32>());
                assert_eq!(reduce_max(r), ramp[LANES - 1]);
                assert_eq!(lanes(copy_sign(splat(-2.0), splat(-0.0))), [-2.0; LANES]);
                assert_eq!(lanes(copy_sign(splat(-2.0), splat(1.0))), [2.0; LANES]);
                let picked = lanes(select_lt(r, splat(0.0), splat(1.0), splat(2.0)));
                for (&x, &y) in ramp.iter().zip(&picked) {
                    assert_eq!(y, if x < 0.0 { 1.0 } else { 2.0 });
                }
            }

            #[test]
            // Needed where the path is detected at run time, redundant where the whole
            // build has its features (simd128).
            #[allow(unused_unsafe)]
            fn masked_accesses_and_semantics() {
                if $crate::kernels::Arch::new($crate::kernels::Isa::$isa).is_some() {
                    // SAFETY: the token exists, so this CPU has the path's features.
                    unsafe { check() }
                }
            }
        }
    };
}

/// Runs a wrapper's SIMD expression on the path an `Arch` token names, or its scalar
/// expression (see the module docs). The SIMD expression is written once and compiled once
/// per path, with `$simd` naming that path's module: its `// SAFETY:` comment has to hold
/// for every path, which the token's feature check and the wrapper's own bounds checks
/// make it do. An `Arch` can only be made for a path this CPU runs, so no arm here can
/// reach an instruction the CPU lacks.
macro_rules! dispatch {
    // A kernel the AVX-512F path alone has: `$vector` with `avx512` naming its module when
    // `$arch` is that path, `$other` on every other path.
    ($arch:expr, avx512 => $vector:expr, other => $other:expr $(,)?) => {
        match $arch.isa() {
            #[cfg(target_arch = "x86_64")]
            $crate::kernels::Isa::Avx512 => {
                use $crate::kernels::simd::avx512;
                $vector
            }
            _ => $other,
        }
    };
    ($arch:expr, $simd:ident => $vector:expr, scalar => $scalar:expr $(,)?) => {
        match $arch.isa() {
            #[cfg(target_arch = "x86_64")]
            $crate::kernels::Isa::Avx512 => {
                use $crate::kernels::simd::avx512 as $simd;
                $vector
            }
            #[cfg(target_arch = "x86_64")]
            $crate::kernels::Isa::Avx2 => {
                use $crate::kernels::simd::avx2 as $simd;
                $vector
            }
            #[cfg(target_arch = "aarch64")]
            $crate::kernels::Isa::Neon => {
                use $crate::kernels::simd::neon as $simd;
                $vector
            }
            // simd128 is on for the whole build wherever this path exists, so calling one of
            // its pointer-free kernels (`fma_probe`) needs no `unsafe` here, while it does on
            // the paths detected at run time: the wrapper's block is written for those.
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            #[allow(unused_unsafe)]
            $crate::kernels::Isa::Simd128 => {
                use $crate::kernels::simd::simd128 as $simd;
                $vector
            }
            _ => $scalar,
        }
    };
}
pub(super) use dispatch;

#[cfg(target_arch = "x86_64")]
pub mod avx2;
#[cfg(target_arch = "x86_64")]
pub mod avx512;
#[cfg(target_arch = "aarch64")]
pub mod neon;
/// Tile tables AVX2 and simd128 share.
#[cfg(any(
    target_arch = "x86_64",
    all(target_arch = "wasm32", target_feature = "simd128")
))]
mod tiles;
// WebAssembly cannot detect features at run time: the path exists when compiled in.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub mod simd128;
