//! The one dispatch point: which instruction set the kernels use, detected once.
//!
//! `TYPED_NN_ISA=scalar|avx2|avx512|neon|simd128` (read once, at the first kernel call,
//! with the `std` feature) or [`set_isa`] force a path; tests call the `*_with` kernel
//! variants to exercise every path the machine has without touching the process-wide
//! choice.
//!
//! An [`Isa`] only names a path; the kernels take an [`Arch`], a token that can only be made
//! after checking that this CPU has the path's features. So no safe function can be handed
//! a path the CPU cannot run, and the SIMD code behind it needs no check of its own.
//!
//! The check is made at run time with the `std` feature (the standard library's feature
//! detection); without it, from the features the crate was compiled for
//! (`-C target-feature`, `-C target-cpu`), which every CPU that runs the build has.
//! WebAssembly has no run-time detection at all: simd128 is there when compiled in.

#[allow(unused_imports)]
use crate::core_prelude::*;

use crate::error::{Error, Result};
use core::sync::atomic::{AtomicU8, Ordering};

/// Whether this x86-64 CPU has every feature named: detected at run time with the standard
/// library, else known at compile time.
#[cfg(all(target_arch = "x86_64", feature = "std"))]
macro_rules! x86_has {
    ($($feature:tt),+) => {
        $(std::is_x86_feature_detected!($feature))&&+
    };
}
#[cfg(all(target_arch = "x86_64", not(feature = "std")))]
macro_rules! x86_has {
    ($($feature:tt),+) => {
        cfg!(all($(target_feature = $feature),+))
    };
}

/// Whether this AArch64 CPU has a feature, as `x86_has!`.
#[cfg(all(target_arch = "aarch64", feature = "std"))]
macro_rules! aarch64_has {
    ($feature:tt) => {
        std::arch::is_aarch64_feature_detected!($feature)
    };
}
#[cfg(all(target_arch = "aarch64", not(feature = "std")))]
macro_rules! aarch64_has {
    ($feature:tt) => {
        cfg!(target_feature = $feature)
    };
}

/// An instruction set the kernels have a path for: a name (for [`set_isa`], `TYPED_NN_ISA`
/// and printing). Running a path takes an [`Arch`], which [`Arch::new`] makes from this.
///
/// Every variant exists on every target; those of other architectures are never available.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Isa {
    /// Portable Rust; the reference every SIMD path is tested against.
    Scalar,
    /// x86-64 AVX2 with FMA: 8 lanes.
    Avx2,
    /// x86-64 AVX-512F: 16 lanes, masked tails.
    Avx512,
    /// AArch64 NEON (Advanced SIMD): 4 lanes. Every AArch64 Linux, macOS or Windows CPU
    /// has it.
    Neon,
    /// WebAssembly simd128: 4 lanes, no fused multiply-add. Available exactly when the
    /// crate is compiled with `-C target-feature=+simd128`.
    Simd128,
}

/// Every path, each architecture's widest last (one architecture's paths are the only
/// ones available, so "widest last" holds for the available ones).
const ALL: [Isa; 5] = [Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Neon, Isa::Simd128];

impl Isa {
    /// Whether this machine can run the path.
    pub fn is_available(self) -> bool {
        match self {
            Isa::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => x86_has!("avx2", "fma"),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => x86_has!("avx512f"),
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => aarch64_has!("neon"),
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            Isa::Simd128 => true,
            _ => false,
        }
    }

    /// Every path this machine can run, widest last.
    pub fn available() -> Vec<Isa> {
        ALL.into_iter().filter(|i| i.is_available()).collect()
    }

    /// The widest available path.
    pub fn detect() -> Isa {
        *Isa::available().last().unwrap_or(&Isa::Scalar)
    }

    /// f32 lanes per vector.
    pub fn lanes(self) -> usize {
        match self {
            Isa::Scalar => 1,
            Isa::Avx2 => 8,
            Isa::Avx512 => 16,
            Isa::Neon | Isa::Simd128 => 4,
        }
    }

    fn code(self) -> u8 {
        match self {
            Isa::Scalar => 1,
            Isa::Avx2 => 2,
            Isa::Avx512 => 3,
            Isa::Neon => 4,
            Isa::Simd128 => 5,
        }
    }

    fn from_code(code: u8) -> Option<Isa> {
        match code {
            1 => Some(Isa::Scalar),
            2 => Some(Isa::Avx2),
            3 => Some(Isa::Avx512),
            4 => Some(Isa::Neon),
            5 => Some(Isa::Simd128),
            _ => None,
        }
    }

    /// The path a `TYPED_NN_ISA` value names, in any case (no allocation: this builds
    /// without the standard library too).
    // Without `std` nothing reads the environment, and only the tests parse.
    #[cfg_attr(not(feature = "std"), allow(dead_code))]
    fn parse(name: &str) -> Option<Isa> {
        const NAMES: [(&str, Isa); 6] = [
            ("scalar", Isa::Scalar),
            ("avx2", Isa::Avx2),
            ("avx512", Isa::Avx512),
            ("avx512f", Isa::Avx512),
            ("neon", Isa::Neon),
            ("simd128", Isa::Simd128),
        ];
        let name = name.trim();
        NAMES
            .into_iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, isa)| isa)
    }
}

/// A path this CPU can run: an [`Isa`] whose features were checked when the token was made.
///
/// The field is private, so every way to get one goes through a feature check (or through
/// [`isa`], which only ever holds checked paths); the kernels' SIMD code relies on that.
/// Copying it around costs nothing: it is one byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Arch {
    isa: Isa,
}

impl Arch {
    /// The token for `isa`, or `None` if this CPU cannot run it.
    pub fn new(isa: Isa) -> Option<Arch> {
        isa.is_available().then_some(Arch { isa })
    }

    /// The portable path, which every CPU runs.
    pub fn scalar() -> Arch {
        Arch { isa: Isa::Scalar }
    }

    /// Every path this CPU can run, widest last.
    pub fn available() -> Vec<Arch> {
        ALL.into_iter().filter_map(Arch::new).collect()
    }

    /// The widest path this CPU can run.
    pub fn detect() -> Arch {
        Arch::available()
            .last()
            .copied()
            .unwrap_or_else(Arch::scalar)
    }

    /// The process-wide path ([`isa`]): what the kernels without a `_with` use.
    #[inline]
    pub fn current() -> Arch {
        // Unchecked on purpose (this is on every kernel call): `isa()` only ever returns a
        // path that passed `is_available`: `set_isa` refuses the others, `TYPED_NN_ISA` is
        // filtered through it, and detection only picks among available paths.
        Arch { isa: isa() }
    }

    /// The path this token is for.
    #[inline]
    pub fn isa(self) -> Isa {
        self.isa
    }
}

/// 0 = not chosen yet.
static CURRENT: AtomicU8 = AtomicU8::new(0);

/// The path the kernels use: forced by [`set_isa`] or `TYPED_NN_ISA` (with the `std`
/// feature), else the widest the CPU has. An unknown or unavailable `TYPED_NN_ISA` falls
/// back to detection.
#[inline]
pub fn isa() -> Isa {
    match Isa::from_code(CURRENT.load(Ordering::Relaxed)) {
        Some(isa) => isa,
        None => {
            let chosen = crate::env::var("TYPED_NN_ISA")
                .and_then(|v| Isa::parse(&v))
                .filter(|i| i.is_available())
                .unwrap_or_else(Isa::detect);
            CURRENT.store(chosen.code(), Ordering::Relaxed);
            chosen
        }
    }
}

/// Forces every kernel onto `isa` from now on; an error if this machine cannot run it.
pub fn set_isa(isa: Isa) -> Result<()> {
    if !isa.is_available() {
        return Err(Error::UnsupportedIsa {
            isa: format!("{isa:?}"),
        });
    }
    CURRENT.store(isa.code(), Ordering::Relaxed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalar_is_always_available_and_names_parse() {
        assert!(Isa::available().contains(&Isa::Scalar));
        assert_eq!(Isa::parse("AVX512"), Some(Isa::Avx512));
        assert_eq!(Isa::parse("avx512f"), Some(Isa::Avx512));
        assert_eq!(Isa::parse(" neon\n"), Some(Isa::Neon));
        assert_eq!(Isa::parse("Simd128"), Some(Isa::Simd128));
        assert_eq!(Isa::parse("sse2"), None);
        for i in ALL {
            assert_eq!(Isa::from_code(i.code()), Some(i));
        }
        assert!(Isa::detect().is_available());
        assert!(isa().is_available());
        for unavailable in ALL.into_iter().filter(|i| !i.is_available()) {
            assert!(matches!(
                set_isa(unavailable),
                Err(Error::UnsupportedIsa { .. })
            ));
        }
    }

    /// Each architecture's paths are available where its CPUs always have them, and no
    /// other architecture's ever are: this is what tells a cross-compiled test run (QEMU,
    /// a WebAssembly engine) that it exercised the SIMD path and not only the scalar one.
    #[test]
    fn the_architectures_paths_and_only_those_are_available() {
        let widest = Isa::detect();
        println!(
            "kernel paths available: {:?}; widest {widest:?}",
            Isa::available()
        );
        let x86 = [Isa::Avx2, Isa::Avx512];
        #[cfg(target_arch = "aarch64")]
        {
            // AArch64 Linux requires Advanced SIMD; so do macOS and Windows on Arm.
            assert!(Isa::Neon.is_available());
            assert_eq!(widest, Isa::Neon);
        }
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        assert_eq!(widest, Isa::Simd128);
        #[cfg(all(target_arch = "wasm32", not(target_feature = "simd128")))]
        assert_eq!(widest, Isa::Scalar);
        if !cfg!(target_arch = "x86_64") {
            assert!(x86.iter().all(|i| !i.is_available()));
        }
        if !cfg!(target_arch = "aarch64") {
            assert!(!Isa::Neon.is_available());
        }
        if !cfg!(all(target_arch = "wasm32", target_feature = "simd128")) {
            assert!(!Isa::Simd128.is_available());
        }
    }

    /// Miri reports only the baseline x86-64 features, so feature detection must leave
    /// the scalar path alone: Miri runs the kernels' tests on it, and cannot run the
    /// intrinsics of the others.
    #[cfg(miri)]
    #[test]
    fn miri_sees_only_the_scalar_path() {
        assert_eq!(Arch::available(), [Arch::scalar()]);
        assert_eq!(isa(), Isa::Scalar);
    }

    #[test]
    fn arch_tokens_exist_only_for_available_paths() {
        for i in ALL {
            match Arch::new(i) {
                Some(arch) => {
                    assert!(i.is_available(), "{i:?} has a token but is not available");
                    assert_eq!(arch.isa(), i);
                }
                None => assert!(!i.is_available(), "{i:?} is available but has no token"),
            }
        }
        let available: Vec<Isa> = Arch::available().into_iter().map(Arch::isa).collect();
        assert_eq!(available, Isa::available());
        assert_eq!(Arch::detect().isa(), Isa::detect());
        assert_eq!(Arch::scalar().isa(), Isa::Scalar);
        assert_eq!(Arch::current().isa(), isa());
    }
}
