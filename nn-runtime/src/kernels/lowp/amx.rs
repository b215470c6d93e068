//! AMX (Advanced Matrix Extensions) detection: whether this CPU has the tile unit with its
//! int8 and bf16 products, and whether the operating system lets this process use the tile
//! state (on Linux it must be asked for, once per process, with
//! `arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)`; without that the first tile
//! instruction kills the process).
//!
//! typed-nn has no AMX kernels yet: the low-precision products run on AVX-512 VNNI / BF16
//! or AVX2 where AMX is present too. [`amx`] is what a test or a benchmark prints so that a
//! run says which paths there were.

/// What this machine offers of AMX.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AmxSupport {
    /// The CPU has the tile unit (CPUID.(7,0):EDX bit 24).
    pub tile: bool,
    /// … its int8 products (`tdpbusd` and friends, EDX bit 25).
    pub int8: bool,
    /// … its bf16 products (`tdpbf16ps`, EDX bit 22).
    pub bf16: bool,
    /// The operating system granted this process the tile data state.
    pub permitted: bool,
}

impl AmxSupport {
    /// Whether tile instructions may run in this process.
    pub fn usable(self) -> bool {
        self.tile && self.permitted
    }
}

/// This machine's AMX support, asking Linux for the tile state the first time (the answer
/// is kept: the request is per process).
#[cfg(all(target_arch = "x86_64", feature = "std"))]
pub fn amx() -> AmxSupport {
    use std::sync::OnceLock;
    static SUPPORT: OnceLock<AmxSupport> = OnceLock::new();
    *SUPPORT.get_or_init(|| {
        // CPUID is in every x86-64 CPU; leaf 7 exists when leaf 0 reports it.
        let edx = if core::arch::x86_64::__cpuid(0).eax >= 7 {
            core::arch::x86_64::__cpuid_count(7, 0).edx
        } else {
            0
        };
        let bit = |n: u32| edx & (1 << n) != 0;
        let (tile, int8, bf16) = (bit(24), bit(25), bit(22));
        let permitted = tile && request_tile_state();
        AmxSupport {
            tile,
            int8,
            bf16,
            permitted,
        }
    })
}

/// Without the standard library (or off x86-64) nothing asks the operating system, so the
/// tile unit is never used.
#[cfg(not(all(target_arch = "x86_64", feature = "std")))]
pub fn amx() -> AmxSupport {
    AmxSupport::default()
}

/// `arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)`: true if Linux granted it.
#[cfg(all(target_arch = "x86_64", target_os = "linux", feature = "std"))]
fn request_tile_state() -> bool {
    const SYS_ARCH_PRCTL: usize = 158;
    const ARCH_REQ_XCOMP_PERM: usize = 0x1023;
    const XFEATURE_XTILEDATA: usize = 18;
    let ret: isize;
    // SAFETY: arch_prctl with ARCH_REQ_XCOMP_PERM only changes this process's permitted
    // extended state; it reads no memory of ours. The syscall clobbers rcx and r11.
    unsafe {
        core::arch::asm!(
            "syscall",
            inlateout("rax") SYS_ARCH_PRCTL as isize => ret,
            in("rdi") ARCH_REQ_XCOMP_PERM,
            in("rsi") XFEATURE_XTILEDATA,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    ret == 0
}

/// Other operating systems grant the tile state without asking (Windows) or are not known
/// to; typed-nn does not assume.
#[cfg(all(target_arch = "x86_64", not(target_os = "linux"), feature = "std"))]
fn request_tile_state() -> bool {
    false
}

#[cfg(test)]
mod tests {
    #[test]
    fn amx_support_is_consistent() {
        let s = super::amx();
        // Products without the tile unit, or permission without it, would be a misreading.
        assert!(s.tile || (!s.int8 && !s.bf16 && !s.permitted));
        assert_eq!(s, super::amx(), "asked once, the same answer after");
        std::println!("AMX on this machine: {s:?}");
    }
}
