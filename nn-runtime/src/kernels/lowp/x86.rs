//! The x86-64 paths of the low-precision products (AVX-512 VNNI, AVX2, AVX-512 BF16).

use super::{gemm_bf16_scalar, gemm_u8i8_scalar, PackedBf16, PackedI8};

/// Whether this CPU has AVX-512 VNNI (with F and BW, which the kernel also uses).
pub fn has_vnni() -> bool {
    #[cfg(feature = "std")]
    {
        std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512vnni")
    }
    #[cfg(not(feature = "std"))]
    {
        cfg!(all(
            target_feature = "avx512f",
            target_feature = "avx512bw",
            target_feature = "avx512vnni"
        ))
    }
}

/// Whether this CPU has AVX-512 BF16 (with F and BW).
pub fn has_bf16() -> bool {
    #[cfg(feature = "std")]
    {
        std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512bf16")
    }
    #[cfg(not(feature = "std"))]
    {
        cfg!(all(
            target_feature = "avx512f",
            target_feature = "avx512bw",
            target_feature = "avx512bf16"
        ))
    }
}

/// PLACEHOLDER until the SIMD kernel lands.
pub unsafe fn gemm_u8i8_vnni(m: usize, a: &[u8], b: &PackedI8, c: &mut [i32]) {
    gemm_u8i8_scalar(m, a, b, c)
}

/// PLACEHOLDER until the SIMD kernel lands.
pub unsafe fn gemm_u8i8_avx2(m: usize, a: &[u8], b: &PackedI8, c: &mut [i32]) {
    gemm_u8i8_scalar(m, a, b, c)
}

/// PLACEHOLDER until the SIMD kernel lands.
pub unsafe fn gemm_bf16_avx512(m: usize, a: &[u16], b: &PackedBf16, c: &mut [f32]) {
    gemm_bf16_scalar(m, a, b, c)
}
