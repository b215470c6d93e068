//! Subnormal numbers flushed to zero while the library computes.
//!
//! Training drives gradients and Adam's moments towards zero, into the subnormal range,
//! where x86 arithmetic takes many times longer (a W3 training step: median 1.26 ms with
//! subnormals, 0.51 ms flushed, on the machine it was measured on). Like TensorFlow
//! (`ScopedFlushDenormal`), every library call sets the MXCSR's flush-to-zero and
//! denormals-are-zero bits on the calling thread for its duration and restores the
//! caller's MXCSR after; the kernels' worker threads flush while they work for the
//! library. Values below f32's smallest normal (1.2e-38) then read and compute as 0; no
//! trained network depends on them. `TYPED_NN_FLUSH_DENORMALS=0` or
//! [`set_flush_denormals`]`(false)` keeps IEEE subnormals.
//!
//! On AArch64 the same is FPCR's flush-to-zero bit (FZ, which flushes inputs and results
//! both). Few AArch64 cores are slow on subnormals; it is set so that results agree with
//! x86-64's where they are exact: the SIMD e^x gives e^−87.33 (1.18e-38, just above the
//! smallest normal) for every input below it, e^−∞ included, so a masked attention weight
//! is that, not 0, and what it is multiplied into must flush to 0 (a causal model's
//! gradient from later tokens is exactly zero: `tests/attention.rs`). Other architectures
//! keep IEEE subnormals.

use core::sync::atomic::{AtomicU8, Ordering};

/// 0 = not read yet, 1 = flush, 2 = keep subnormals.
static FLUSH: AtomicU8 = AtomicU8::new(0);

/// Whether library calls flush subnormals (the default; `TYPED_NN_FLUSH_DENORMALS=0` turns
/// it off).
pub fn flush_denormals() -> bool {
    match FLUSH.load(Ordering::Relaxed) {
        0 => {
            let off = crate::env::var("TYPED_NN_FLUSH_DENORMALS").is_some_and(|v| v == "0");
            FLUSH.store(if off { 2 } else { 1 }, Ordering::Relaxed);
            !off
        }
        v => v == 1,
    }
}

/// Turns flushing on or off for the calls that follow.
pub fn set_flush_denormals(on: bool) {
    FLUSH.store(if on { 1 } else { 2 }, Ordering::Relaxed);
}

// Under Miri, which cannot run inline assembly (and computes with IEEE subnormals
// whatever the control register says), the guard does nothing, as on other architectures.

/// The MXCSR bits: flush-to-zero (results) and denormals-are-zero (inputs).
#[cfg(all(target_arch = "x86_64", not(miri)))]
const FTZ_DAZ: u32 = (1 << 15) | (1 << 6);

/// The floating-point control register: the MXCSR on x86-64, FPCR on AArch64.
#[cfg(all(target_arch = "x86_64", not(miri)))]
type Control = u32;
#[cfg(all(target_arch = "aarch64", not(miri)))]
type Control = u64;

#[cfg(all(target_arch = "x86_64", not(miri)))]
fn read_mxcsr() -> u32 {
    let mut csr: u32 = 0;
    // SAFETY: `stmxcsr` stores the 32-bit MXCSR (SSE, part of x86-64's baseline) to the
    // given address: a live, aligned `u32` on this stack frame.
    unsafe {
        core::arch::asm!("stmxcsr [{}]", in(reg) &mut csr, options(nostack, preserves_flags))
    };
    csr
}

#[cfg(all(target_arch = "x86_64", not(miri)))]
fn write_mxcsr(csr: u32) {
    // SAFETY: `ldmxcsr` loads the MXCSR from the given address, a live `u32`. Every value
    // written here is one read from the register with only the FTZ and DAZ bits changed,
    // so no reserved bit is set (which would fault).
    unsafe {
        core::arch::asm!("ldmxcsr [{}]", in(reg) &csr, options(nostack, readonly, preserves_flags))
    };
}

#[cfg(all(target_arch = "x86_64", not(miri)))]
use {read_mxcsr as read_control, write_mxcsr as write_control, FTZ_DAZ as FLUSH_BITS};

/// FPCR's flush-to-zero bit (FZ): subnormal inputs and results of single- and
/// double-precision arithmetic, scalar and Advanced SIMD, are taken as zero.
#[cfg(all(target_arch = "aarch64", not(miri)))]
const FLUSH_BITS: u64 = 1 << 24;

#[cfg(all(target_arch = "aarch64", not(miri)))]
fn read_control() -> u64 {
    let fpcr: u64;
    // SAFETY: `mrs` copies FPCR, which user code may read on AArch64, into a register.
    unsafe { core::arch::asm!("mrs {}, fpcr", out(reg) fpcr, options(nostack, preserves_flags)) };
    fpcr
}

#[cfg(all(target_arch = "aarch64", not(miri)))]
fn write_control(fpcr: u64) {
    // SAFETY: `msr` sets FPCR, which user code may write on AArch64. Every value written
    // here is one read from the register with at most FZ changed, so no reserved bit is
    // set and no exception trap is enabled that was not.
    unsafe { core::arch::asm!("msr fpcr, {}", in(reg) fpcr, options(nostack, preserves_flags)) };
}

#[cfg(feature = "parallel")]
/// Flushes subnormals on this thread from now on (the library's own worker threads).
pub(crate) fn flush_this_thread() {
    #[cfg(all(any(target_arch = "x86_64", target_arch = "aarch64"), not(miri)))]
    if flush_denormals() {
        write_control(read_control() | FLUSH_BITS);
    }
}

/// Flushes subnormals on this thread until dropped, then restores the control register it
/// found. Does nothing when flushing is off, or the bits are already set, or off x86-64 and
/// AArch64.
#[must_use = "the flush ends when the guard is dropped"]
pub struct FlushDenormals {
    #[cfg(all(any(target_arch = "x86_64", target_arch = "aarch64"), not(miri)))]
    restore: Option<Control>,
}

impl FlushDenormals {
    /// Starts flushing on this thread (when [`flush_denormals`] is on).
    #[inline]
    pub fn new() -> Self {
        #[cfg(all(any(target_arch = "x86_64", target_arch = "aarch64"), not(miri)))]
        {
            if !flush_denormals() {
                return FlushDenormals { restore: None };
            }
            let csr = read_control();
            if csr & FLUSH_BITS == FLUSH_BITS {
                return FlushDenormals { restore: None };
            }
            write_control(csr | FLUSH_BITS);
            FlushDenormals { restore: Some(csr) }
        }
        #[cfg(not(all(any(target_arch = "x86_64", target_arch = "aarch64"), not(miri))))]
        FlushDenormals {}
    }
}

impl Default for FlushDenormals {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for FlushDenormals {
    #[inline]
    fn drop(&mut self) {
        #[cfg(all(any(target_arch = "x86_64", target_arch = "aarch64"), not(miri)))]
        if let Some(csr) = self.restore {
            write_control(csr);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnormals_flush_inside_the_guard_and_the_control_register_is_restored() {
        let tiny = core::hint::black_box(f32::MIN_POSITIVE);
        let half = core::hint::black_box(0.5f32);
        assert!(tiny * half > 0.0, "subnormals exist outside the guard");
        #[cfg(all(any(target_arch = "x86_64", target_arch = "aarch64"), not(miri)))]
        let before = read_control();
        {
            let _flush = FlushDenormals::new();
            let flushes = cfg!(all(
                any(target_arch = "x86_64", target_arch = "aarch64"),
                not(miri)
            ));
            if flush_denormals() && flushes {
                assert_eq!(
                    core::hint::black_box(tiny) * core::hint::black_box(half),
                    0.0
                );
            }
        }
        #[cfg(all(any(target_arch = "x86_64", target_arch = "aarch64"), not(miri)))]
        assert_eq!(
            read_control(),
            before,
            "the caller's control register is back"
        );
        assert!(tiny * half > 0.0);
    }
}
