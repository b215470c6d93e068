//! The one dispatch point: which instruction set the kernels use, detected once.
//!
//! `TYPED_NN_ISA=scalar|avx2|avx512` (read once, at the first kernel call) or [`set_isa`]
//! force a path; tests call the `*_with` kernel variants to exercise every path the machine
//! has without touching the process-wide choice.

use crate::error::{Error, Result};
use std::sync::atomic::{AtomicU8, Ordering};

/// An instruction set the kernels have a path for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Isa {
    /// Portable Rust; the reference every SIMD path is tested against.
    Scalar,
    /// x86-64 AVX2 with FMA: 8 lanes.
    Avx2,
    /// x86-64 AVX-512F: 16 lanes, masked tails.
    Avx512,
}

impl Isa {
    /// Whether this machine can run the path.
    pub fn is_available(self) -> bool {
        match self {
            Isa::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => {
                std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
            }
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => std::is_x86_feature_detected!("avx512f"),
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// Every path this machine can run, widest last.
    pub fn available() -> Vec<Isa> {
        [Isa::Scalar, Isa::Avx2, Isa::Avx512]
            .into_iter()
            .filter(|i| i.is_available())
            .collect()
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
        }
    }

    fn code(self) -> u8 {
        match self {
            Isa::Scalar => 1,
            Isa::Avx2 => 2,
            Isa::Avx512 => 3,
        }
    }

    fn from_code(code: u8) -> Option<Isa> {
        match code {
            1 => Some(Isa::Scalar),
            2 => Some(Isa::Avx2),
            3 => Some(Isa::Avx512),
            _ => None,
        }
    }

    fn parse(name: &str) -> Option<Isa> {
        match name.trim().to_ascii_lowercase().as_str() {
            "scalar" => Some(Isa::Scalar),
            "avx2" => Some(Isa::Avx2),
            "avx512" | "avx512f" => Some(Isa::Avx512),
            _ => None,
        }
    }
}

/// 0 = not chosen yet.
static CURRENT: AtomicU8 = AtomicU8::new(0);

/// The path the kernels use: forced by [`set_isa`] or `TYPED_NN_ISA`, else the widest the
/// CPU has. An unknown or unavailable `TYPED_NN_ISA` falls back to detection.
#[inline]
pub fn isa() -> Isa {
    match Isa::from_code(CURRENT.load(Ordering::Relaxed)) {
        Some(isa) => isa,
        None => {
            let chosen = std::env::var("TYPED_NN_ISA")
                .ok()
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
        assert_eq!(Isa::parse("neon"), None);
        assert!(Isa::detect().is_available());
        assert!(isa().is_available());
        for unavailable in [Isa::Scalar, Isa::Avx2, Isa::Avx512]
            .into_iter()
            .filter(|i| !i.is_available())
        {
            assert!(matches!(
                set_isa(unavailable),
                Err(Error::UnsupportedIsa { .. })
            ));
        }
    }
}
