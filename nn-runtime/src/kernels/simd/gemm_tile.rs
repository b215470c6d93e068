//! Matrix products on the SIMD paths: register tiles of C = A·B (strided A, contiguous B
//! rows, fused bias and activation) and of C = A·Bᵀ (both operands contiguous in k), the
//! loops that cover C with them, and the FMA peak probe the benches measure them against.
//!
//! The tile shapes each instruction set compiles are its own (`MR`, `MAX_NV`, `GEMV_NV`,
//! `GEMV_WIDE`, `KC`, `NT_MR`, `NT_NR` and `dispatch_tile!` in its module): they follow its register
//! count.

/// Partial sums over k a tile of `rows × vectors` accumulators keeps, so that at least
/// four FMA chains are in flight.
pub const fn chains(rows: usize, vectors: usize) -> usize {
    match rows * vectors {
        1 => 4,
        2..=4 => 2,
        _ => 1,
    }
}

/// Independent accumulators in the FMA peak probe.
pub const PROBE_CHAINS: usize = 12;

/// Writes `fma_probe`, `gemm` and `gemm_nt` (with their tiles) into the enclosing
/// instruction-set module, over its primitives (see `simd/mod.rs`); `$features` is the
/// module's `#[target_feature]` list.
macro_rules! gemm_kernels {
    ($features:literal) => {
        /// Calibration: `iters` rounds of FMAs on 12 independent accumulators (enough to
        /// cover the FMA latency on both pipes), so FLOPs / time is the core's FMA peak.
        #[target_feature(enable = $features)]
        pub fn fma_probe(iters: usize) -> f32 {
            let (a, b) = (splat(0.999_999), splat(1e-7));
            let mut acc = [splat(1.0); PROBE_CHAINS];
            for _ in 0..iters {
                for v in acc.iter_mut() {
                    *v = fma(*v, a, b);
                }
            }
            acc.iter().map(|&v| reduce_add(v)).sum()
        }

        /// One register tile of C = A·B: `R` rows by `NV` vectors of columns, the last
        /// vector masked by `last`. A is strided (`rsa`, `csa`: a transposed operand costs
        /// nothing, its elements are broadcast one at a time); B rows are contiguous.
        /// Epilogue while the tile is in registers: + C (when accumulating), + bias (one
        /// value per column, or with `row_bias` one per row), and the activation `ACT` (a
        /// const, so each tile holds only its own activation's constants; kept out of line
        /// so a call does not set up every variant's).
        ///
        /// # Safety
        /// With `cols` = (NV − 1)·LANES + the lanes `last` selects, for every i < R, p < k
        /// and j < cols: `a + i·rsa + p·csa` and `b + p·rsb + j` must be valid for reads,
        /// `c + i·rsc + j` for reads and writes, and unless `bias` is null, `bias + i` (with
        /// `row_bias`) or `bias + j` (without) for reads.
        #[doc = concat!("The CPU must support `", $features, "`.")]
        #[inline(never)]
        #[target_feature(enable = $features)]
        #[allow(clippy::too_many_arguments)]
        unsafe fn tile<const R: usize, const NV: usize, const CH: usize, const ACT: u8>(
            k: usize,
            a: *const f32,
            rsa: usize,
            csa: usize,
            b: *const f32,
            rsb: usize,
            c: *mut f32,
            rsc: usize,
            last: M,
            accumulate: bool,
            bias: *const f32,
            row_bias: bool,
        ) {
            // CH independent partial sums over k: a tile with few accumulators would
            // otherwise wait on each FMA's latency (tiny layers, batch 1).
            let mut acc = [[[splat(0.0); NV]; R]; CH];
            let step = |p: usize, acc: &mut [[V; NV]; R]| {
                // SAFETY: called with p < k only: row p of B, columns [0, cols) (the last
                // vector masked by `last`), and A's elements (i, p) for i < R are inside the
                // ranges our caller vouches for.
                unsafe {
                    let row = b.add(p * rsb);
                    let mut bv = [splat(0.0); NV];
                    for v in 0..NV {
                        bv[v] = if v + 1 == NV {
                            load_m(row.add(v * LANES), last)
                        } else {
                            load(row.add(v * LANES))
                        };
                    }
                    for i in 0..R {
                        let ai = splat(*a.add(i * rsa + p * csa));
                        for v in 0..NV {
                            acc[i][v] = fma(ai, bv[v], acc[i][v]);
                        }
                    }
                }
            };
            let mut p = 0;
            while p + CH <= k {
                for (c, partial) in acc.iter_mut().enumerate() {
                    step(p + c, partial);
                }
                p += CH;
            }
            while p < k {
                step(p, &mut acc[0]);
                p += 1;
            }
            let mut total = acc[0];
            for partial in &acc[1..] {
                for i in 0..R {
                    for v in 0..NV {
                        total[i][v] = add(total[i][v], partial[i][v]);
                    }
                }
            }
            let acc = total;
            for i in 0..R {
                for v in 0..NV {
                    let m = if v + 1 == NV { last } else { mask(LANES) };
                    // SAFETY: row i < R of C, and the lanes of `m` at column v·LANES lie in
                    // [0, cols): inside C's and bias's ranges our caller vouches for; `bias`
                    // is read only when non-null.
                    unsafe {
                        let out = c.add(i * rsc + v * LANES);
                        let mut r = acc[i][v];
                        if accumulate {
                            r = add(r, load_m(out, m));
                        }
                        if !bias.is_null() {
                            r = add(
                                r,
                                if row_bias {
                                    splat(*bias.add(i))
                                } else {
                                    load_m(bias.add(v * LANES), m)
                                },
                            );
                        }
                        store_m(out, activate(r, EpilogueAct::from_code(ACT)), m);
                    }
                }
            }
        }

        /// C[m×n] (+)= A[m×k] · B[k×n], then + bias (bias[n], or with `row_bias` bias[m])
        /// and the activation. A element (i, p) is at `a + i·rsa + p·csa`; B row p at
        /// `b + p·rsb`; C row i at `c + i·rsc`. `bias` may be null.
        ///
        /// # Safety
        /// For every i < m, p < k and j < n: `a + i·rsa + p·csa` and `b + p·rsb + j` must be
        /// valid for reads, `c + i·rsc + j` for reads and writes, and unless `bias` is null,
        /// `bias + i` (with `row_bias`) or `bias + j` (without) for reads. (With k = 0, A and
        /// B are never read and may be empty.)
        #[doc = concat!("The CPU must support `", $features, "`.")]
        #[target_feature(enable = $features)]
        #[allow(clippy::too_many_arguments)]
        pub unsafe fn gemm(
            m: usize,
            n: usize,
            k: usize,
            a: *const f32,
            rsa: usize,
            csa: usize,
            b: *const f32,
            rsb: usize,
            c: *mut f32,
            rsc: usize,
            accumulate: bool,
            bias: *const f32,
            row_bias: bool,
            act: EpilogueAct,
        ) {
            // One row at a time (a vector-matrix product) is bound by loads, not FMAs: use
            // wider tiles so enough independent accumulators hide the FMA latency.
            let mut j = 0;
            while j < n {
                let nv_max = match m {
                    1 if n - j >= GEMV_WIDE * LANES => GEMV_WIDE,
                    1 => GEMV_NV,
                    _ => MAX_NV,
                };
                let panel = nv_max * LANES;
                let cols = panel.min(n - j);
                let nv = cols.div_ceil(LANES);
                let last = mask(cols - (nv - 1) * LANES);
                // A and B may be empty when k = 0, so their tile origins are computed with
                // `wrapping_add` (no claim to be in bounds); they are read only when k > 0,
                // where the contract puts them in bounds.
                // k in blocks of at most KC rows of B, so that the panel of B the tiles share
                // stays in L1 while every row of A passes over it; C accumulates between
                // blocks and takes the bias and activation after the last.
                // Only where B is wide (a convolution's positions): blocking an MLP layer's
                // product (64×784×128) made it slower. A single row of A passes over B once:
                // nothing to keep in L1.
                let blocks = if m == 1 || n < 4 * panel {
                    1
                } else {
                    k.div_ceil(KC).max(1)
                };
                let kc = k.div_ceil(blocks);
                let mut k0 = 0;
                for block in 0..blocks {
                    let kk = kc.min(k - k0);
                    let final_block = block + 1 == blocks;
                    let accumulate = accumulate || k0 > 0;
                    let act = if final_block { act } else { EpilogueAct::None };
                    let bj = b.wrapping_add(j + k0 * rsb);
                    let mut i = 0;
                    while i < m {
                        let rows = MR.min(m - i);
                        let bias_j = if bias.is_null() || !final_block {
                            core::ptr::null()
                        } else {
                            // SAFETY: i < m and j < n, and a non-null `bias` holds `m` values
                            // (with `row_bias`) or `n` (without).
                            unsafe { bias.add(if row_bias { i } else { j }) }
                        };
                        let ai = a.wrapping_add(i * rsa + k0 * csa);
                        // SAFETY: i < m and j < n: C's element (i, j) is in bounds.
                        let ci = unsafe { c.add(i * rsc + j) };
                        // The activation is a const parameter of the tile: one arm per kind.
                        macro_rules! tile_with {
                            ($r:literal, $nv:literal, $act:literal) => {
                                tile::<$r, $nv, { super::chains($r, $nv) }, $act>(
                                    kk, ai, rsa, csa, bj, rsb, ci, rsc, last, accumulate, bias_j,
                                    row_bias,
                                )
                            };
                        }
                        macro_rules! go {
                            ($r:literal, $nv:literal) => {
                                match act {
                                    EpilogueAct::None => tile_with!($r, $nv, 0),
                                    EpilogueAct::Relu => tile_with!($r, $nv, 1),
                                    EpilogueAct::Tanh => tile_with!($r, $nv, 2),
                                    EpilogueAct::Sigmoid => tile_with!($r, $nv, 3),
                                }
                            };
                        }
                        // SAFETY: `dispatch_tile!` runs the tile with R = rows and NV = nv: rows
                        // [i, i + rows) ⊆ [0, m) by columns [j, j + cols) ⊆ [0, n) over k rows
                        // [k0, k0 + kk) ⊆ [0, k), `last` selecting the cols − (nv − 1)·LANES
                        // columns of its last vector, so every element it touches is one our
                        // caller vouches for.
                        unsafe { dispatch_tile!(go, rows, nv) };
                        i += rows;
                    }
                    k0 += kk;
                }
                j += cols;
            }
        }

        /// One register tile of C = A·Bᵀ with both operands' rows contiguous in k: `R` rows
        /// of A by `S` rows of B, each output a vector of partial sums over k reduced once
        /// at the end (so neither operand needs transposing: a weight gradient
        /// dW = dZ·colsᵀ reads both as they are).
        ///
        /// # Safety
        /// For every i < R, s < S and p < k: `a + i·rsa + p` and `b + s·rsb + p` must be
        /// valid for reads, and `c + i·rsc + s` for reads and writes.
        #[doc = concat!("The CPU must support `", $features, "`.")]
        #[inline(never)]
        #[target_feature(enable = $features)]
        #[allow(clippy::too_many_arguments)]
        unsafe fn tile_nt<const R: usize, const S: usize>(
            k: usize,
            a: *const f32,
            rsa: usize,
            b: *const f32,
            rsb: usize,
            c: *mut f32,
            rsc: usize,
            accumulate: bool,
        ) {
            let mut acc = [[splat(0.0); S]; R];
            // One loop for the whole vectors and the masked tail: a separate tail loop over
            // the same accumulators made LLVM keep one of them on the stack.
            let mut p = 0;
            while p < k {
                let m = mask(k - p);
                // SAFETY: p < k, and the mask keeps every load to [p, min(p + LANES, k)) of
                // its row, inside the ranges our caller vouches for; lanes past k are zero in
                // both operands, so they add nothing.
                unsafe {
                    let mut bv = [splat(0.0); S];
                    for (s, v) in bv.iter_mut().enumerate() {
                        *v = load_m(b.add(s * rsb + p), m);
                    }
                    for (i, row) in acc.iter_mut().enumerate() {
                        let av = load_m(a.add(i * rsa + p), m);
                        for (s, v) in row.iter_mut().enumerate() {
                            *v = fma(av, bv[s], *v);
                        }
                    }
                }
                p += LANES;
            }
            for (i, row) in acc.iter().enumerate() {
                for (s, &v) in row.iter().enumerate() {
                    // SAFETY: i < R, s < S: an element of C our caller vouches for.
                    unsafe {
                        let out = c.add(i * rsc + s);
                        let sum = reduce_add(v);
                        *out = if accumulate { *out + sum } else { sum };
                    }
                }
            }
        }

        /// C[m×n] (+)= A[m×k] · B[n×k]ᵀ: row i of A at `a + i·rsa`, row j of B at
        /// `b + j·rsb`, both contiguous in k; C row i at `c + i·rsc`.
        ///
        /// # Safety
        /// For every i < m, j < n and p < k: `a + i·rsa + p` and `b + j·rsb + p` must be valid
        /// for reads, and `c + i·rsc + j` for reads and writes.
        #[doc = concat!("The CPU must support `", $features, "`.")]
        #[target_feature(enable = $features)]
        #[allow(clippy::too_many_arguments)]
        pub unsafe fn gemm_nt(
            m: usize,
            n: usize,
            k: usize,
            a: *const f32,
            rsa: usize,
            b: *const f32,
            rsb: usize,
            c: *mut f32,
            rsc: usize,
            accumulate: bool,
        ) {
            let mut i = 0;
            while i < m {
                let rows = NT_MR.min(m - i);
                let mut j = 0;
                while j < n {
                    let cols = NT_NR.min(n - j);
                    // Tile origins by `wrapping_add`: with k = 0 the operands may be empty,
                    // and they are read only when k > 0, where the contract puts them in
                    // bounds.
                    let (ai, bj) = (a.wrapping_add(i * rsa), b.wrapping_add(j * rsb));
                    // SAFETY: i < m and j < n: C's element (i, j) is in bounds.
                    let cij = unsafe { c.add(i * rsc + j) };
                    macro_rules! go {
                        ($r:literal, $s:literal) => {
                            tile_nt::<$r, $s>(k, ai, rsa, bj, rsb, cij, rsc, accumulate)
                        };
                    }
                    // SAFETY: the tile covers rows [i, i + rows) ⊆ [0, m) of A and C and rows
                    // [j, j + cols) ⊆ [0, n) of B (columns of C): elements our caller
                    // vouches for.
                    unsafe {
                        // rows ≤ NT_MR ≤ 4 and cols ≤ NT_NR = 3.
                        match (rows, cols) {
                            (1, 1) => go!(1, 1),
                            (1, 2) => go!(1, 2),
                            (1, _) => go!(1, 3),
                            (2, 1) => go!(2, 1),
                            (2, 2) => go!(2, 2),
                            (2, _) => go!(2, 3),
                            (3, 1) => go!(3, 1),
                            (3, 2) => go!(3, 2),
                            (3, _) => go!(3, 3),
                            (_, 1) => go!(4, 1),
                            (_, 2) => go!(4, 2),
                            (_, _) => go!(4, 3),
                        }
                    }
                    j += cols;
                }
                i += rows;
            }
        }
    };
}
pub(super) use gemm_kernels;
