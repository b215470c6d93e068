//! Tile tables two instruction sets share: AVX2 and WebAssembly simd128 have 16 vector
//! registers and the same tile shapes (4 × 2 vectors), so the same `dispatch_tile!` and
//! `dispatch_taps!`, which each imports under those names.

/// The direct convolution's tiles of a path with `MAX_NV = 2`: up to 4 rows by up to 2
/// vectors.
macro_rules! taps_4x2 {
    ($go:ident, $rows:expr, $nv:expr) => {
        match ($rows, $nv) {
            (1, 1) => $go!(1, 1),
            (1, _) => $go!(1, 2),
            (2, 1) => $go!(2, 1),
            (2, _) => $go!(2, 2),
            (3, 1) => $go!(3, 1),
            (3, _) => $go!(3, 2),
            (_, 1) => $go!(4, 1),
            (_, _) => $go!(4, 2),
        }
    };
}

/// The GEMM tiles of a path with `MR = 4`, `MAX_NV = 2` and `GEMV_NV = 8`: every remainder of
/// rows by every vector count, and the one-row panels.
macro_rules! tile_4x2 {
    ($go:ident, $rows:expr, $nv:expr) => {
        match ($rows, $nv) {
            (1, 1) => $go!(1, 1),
            (1, 2) => $go!(1, 2),
            (1, 3) => $go!(1, 3),
            (1, 4) => $go!(1, 4),
            (1, 5) => $go!(1, 5),
            (1, 6) => $go!(1, 6),
            (1, 7) => $go!(1, 7),
            (1, _) => $go!(1, 8),
            (2, 1) => $go!(2, 1),
            (2, _) => $go!(2, 2),
            (3, 1) => $go!(3, 1),
            (3, _) => $go!(3, 2),
            (_, 1) => $go!(4, 1),
            (_, _) => $go!(4, 2),
        }
    };
}

pub(super) use {taps_4x2, tile_4x2};
