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
// whatever the MXCSR says), the guard does nothing, as off x86-64.

/// The MXCSR bits: flush-to-zero (results) and denormals-are-zero (inputs).
#[cfg(all(target_arch = "x86_64", not(miri)))]
const FTZ_DAZ: u32 = (1 << 15) | (1 << 6);

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

#[cfg(feature = "parallel")]
/// Flushes subnormals on this thread from now on (the library's own worker threads).
pub(crate) fn flush_this_thread() {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    if flush_denormals() {
        write_mxcsr(read_mxcsr() | FTZ_DAZ);
    }
}

/// Flushes subnormals on this thread until dropped, then restores the MXCSR it found.
/// Does nothing when flushing is off, or the bits are already set, or off x86-64.
#[must_use = "the flush ends when the guard is dropped"]
pub struct FlushDenormals {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    restore: Option<u32>,
}

impl FlushDenormals {
    /// Starts flushing on this thread (when [`flush_denormals`] is on).
    #[inline]
    pub fn new() -> Self {
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        {
            if !flush_denormals() {
                return FlushDenormals { restore: None };
            }
            let csr = read_mxcsr();
            if csr & FTZ_DAZ == FTZ_DAZ {
                return FlushDenormals { restore: None };
            }
            write_mxcsr(csr | FTZ_DAZ);
            FlushDenormals { restore: Some(csr) }
        }
        #[cfg(not(all(target_arch = "x86_64", not(miri))))]
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
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        if let Some(csr) = self.restore {
            write_mxcsr(csr);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnormals_flush_inside_the_guard_and_the_mxcsr_is_restored() {
        let tiny = core::hint::black_box(f32::MIN_POSITIVE);
        let half = core::hint::black_box(0.5f32);
        assert!(tiny * half > 0.0, "subnormals exist outside the guard");
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        let before = read_mxcsr();
        {
            let _flush = FlushDenormals::new();
            if flush_denormals() && cfg!(all(target_arch = "x86_64", not(miri))) {
                assert_eq!(
                    core::hint::black_box(tiny) * core::hint::black_box(half),
                    0.0
                );
            }
        }
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        assert_eq!(read_mxcsr(), before, "the caller's MXCSR is back");
        assert!(tiny * half > 0.0);
    }
}
