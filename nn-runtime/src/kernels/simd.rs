//! Explicit SIMD paths (x86-64 AVX-512F and AVX2+FMA). The kernel bodies are written once,
//! in `simd_kernels!`, over a handful of per-ISA primitives; each path is compiled with its
//! `#[target_feature]` and chosen at run time by `isa()`, never by `-C target-cpu`.
//!
//! Calling into a path from outside it is `unsafe`: the CPU must have the path's features.
//! The safe wrappers (`gemm.rs`, `activation.rs`, `conv.rs`, `mod.rs`) prove that with an
//! `Arch` token, which can only be made after a feature check, and check the slice bounds
//! that the pointer kernels' `# Safety` sections ask for. Inside a path, the arithmetic and
//! the pointer-free kernels (`exp`, `tanh`, ...) are safe `#[target_feature]` functions;
//! only what touches memory is an `unsafe fn`.

/// Partial sums over k a tile of `rows × vectors` accumulators keeps, so that at least
/// four FMA chains are in flight.
pub const fn chains(rows: usize, vectors: usize) -> usize {
    match rows * vectors {
        1 => 4,
        2..=4 => 2,
        _ => 1,
    }
}

/// The per-step constants of an Adam update:
/// `g ← ∇ + l2·p; m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²;`
/// `p ← p·decay − step_size·m / (√v·inv_sqrt_correction2 + ε)`.
#[derive(Clone, Copy, Debug)]
pub struct AdamStep {
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub l2: f32,
    pub decay: f32,
    pub step_size: f32,
    pub inv_sqrt_correction2: f32,
}

/// Independent accumulators in the FMA peak probe.
pub const PROBE_CHAINS: usize = 12;

/// Activation applied in a GEMM epilogue or an element-wise pass, as a plain code so one
/// tile loop serves them all (the branch is taken once per output vector, not per FMA).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum EpilogueAct {
    None = 0,
    Relu = 1,
    Tanh = 2,
    Sigmoid = 3,
}

impl EpilogueAct {
    /// The activation of a `#[repr(u8)]` code (the const parameter of the tile kernels).
    pub const fn from_code(code: u8) -> EpilogueAct {
        match code {
            1 => EpilogueAct::Relu,
            2 => EpilogueAct::Tanh,
            3 => EpilogueAct::Sigmoid,
            _ => EpilogueAct::None,
        }
    }
}

/// The input of the direct convolution kernel (`conv_taps`): `c_in` zero-padded planes of
/// `plane` values, rows `pw` apart, and the offset of each kernel tap from an output
/// position.
pub struct TapsInput<'a> {
    pub x: *const f32,
    pub plane: usize,
    pub pw: usize,
    pub c_in: usize,
    pub offs: &'a [usize],
}

/// The output of the direct convolution kernel: `c_out` planes of `oh × ow`, activated.
pub struct TapsOutput {
    pub c_out: usize,
    pub oh: usize,
    pub ow: usize,
    pub act: EpilogueAct,
    pub y: *mut f32,
}

/// Writes the kernels over the primitives of the enclosing module: `V`, `M`, `LANES`,
/// `MR`, `MAX_NV`, `splat`, `load`, `load_m`, `load_m_or`, `store`, `store_m`, `mask`,
/// `zero_outside`, `add`, `sub`, `mul`, `div`, `fma`, `max`, `min`, `round`, `pow2i`,
/// `abs`, `copy_sign`, `select_lt`, `reduce_add`, `reduce_max`.
///
/// `mask(n)` selects the first `min(n, LANES)` lanes, and the masked loads and stores touch
/// only the lanes their mask selects: a tail of `n − i` values is read and written through
/// `mask(n − i)` without going past the `n` values the caller vouches for.
macro_rules! simd_kernels {
    ($features:literal) => {
        use super::{EpilogueAct, TapsInput, TapsOutput};

        /// e^x. Cephes' expf scheme: x = n·ln2 + r, |r| ≤ ln2/2, degree-6 polynomial, 2^n by
        /// exponent bits. Inputs are clamped to [−87.33, 88.0] (the normal f32 range), so
        /// the result is never infinite and never denormal; NaN stays NaN.
        #[inline]
        #[target_feature(enable = $features)]
        #[allow(clippy::excessive_precision)] // Cephes's coefficients, as published
        pub fn exp(x: V) -> V {
            // Operands in this order so that NaN passes through (max and min return their
            // second operand when one is NaN): a NaN input must not come out as a number.
            let x = min(splat(88.0), max(splat(-87.33), x));
            let n = round(mul(x, splat(std::f32::consts::LOG2_E)));
            let r = sub(
                sub(x, mul(n, splat(0.693_359_4))),
                mul(n, splat(-2.121_944_4e-4)),
            );
            let z = mul(r, r);
            let mut y = splat(1.987_569_1e-4);
            y = fma(y, r, splat(1.398_199_9e-3));
            y = fma(y, r, splat(8.333_452e-3));
            y = fma(y, r, splat(4.166_579_6e-2));
            y = fma(y, r, splat(1.666_666_5e-1));
            y = fma(y, r, splat(5.000_000_1e-1));
            y = add(fma(y, z, r), splat(1.0));
            mul(y, pow2i(n))
        }

        /// tanh: an odd polynomial below |x| = 0.625 (Cephes' tanhf), 1 − 2/(e^{2|x|} + 1)
        /// above, sign restored.
        #[inline]
        #[target_feature(enable = $features)]
        #[allow(clippy::excessive_precision)] // Cephes's coefficients, as published
        pub fn tanh(x: V) -> V {
            let z = abs(x);
            let big = sub(splat(1.0), div(splat(2.0), add(exp(add(z, z)), splat(1.0))));
            let s = mul(x, x);
            let mut p = splat(-5.704_988_7e-3);
            p = fma(p, s, splat(2.063_908_9e-2));
            p = fma(p, s, splat(-5.373_971_6e-2));
            p = fma(p, s, splat(1.333_144_2e-1));
            p = fma(p, s, splat(-3.333_328_2e-1));
            let small = fma(mul(p, s), z, z);
            copy_sign(select_lt(z, splat(0.625), small, big), x)
        }

        /// 1 / (1 + e^−x)
        #[inline]
        #[target_feature(enable = $features)]
        pub fn sigmoid(x: V) -> V {
            div(splat(1.0), add(splat(1.0), exp(sub(splat(0.0), x))))
        }

        #[inline]
        #[target_feature(enable = $features)]
        fn activate(v: V, act: EpilogueAct) -> V {
            match act {
                EpilogueAct::None => v,
                // Operand order matters: max returns its second operand when one is NaN, so NaN
                // propagates (a diverged run must not read as finite).
                EpilogueAct::Relu => max(splat(0.0), v),
                EpilogueAct::Tanh => tanh(v),
                EpilogueAct::Sigmoid => sigmoid(v),
            }
        }

        /// y = act(x) over `n` values.
        ///
        /// # Safety
        /// `x` must be valid for reads and `y` for writes of `n` values; they may be the same
        /// pointer (in place: each vector is loaded before it is stored).
        #[doc = concat!("The CPU must support `", $features, "`.")]
        #[target_feature(enable = $features)]
        pub unsafe fn map(x: *const f32, y: *mut f32, n: usize, act: EpilogueAct) {
            // SAFETY: `map_act` asks for what our caller guarantees, and runs with the same
            // target features as this function.
            unsafe {
                match act {
                    EpilogueAct::None => map_act::<0>(x, y, n),
                    EpilogueAct::Relu => map_act::<1>(x, y, n),
                    EpilogueAct::Tanh => map_act::<2>(x, y, n),
                    EpilogueAct::Sigmoid => map_act::<3>(x, y, n),
                }
            }
        }

        /// `map` for one activation, so that only its constants are set up.
        ///
        /// # Safety
        /// As for `map`: `x` valid for reads and `y` for writes of `n` values (possibly the
        /// same pointer).
        #[doc = concat!("The CPU must support `", $features, "`.")]
        #[inline(never)]
        #[target_feature(enable = $features)]
        unsafe fn map_act<const ACT: u8>(x: *const f32, y: *mut f32, n: usize) {
            let act = EpilogueAct::from_code(ACT);
            let mut i = 0;
            while i + LANES <= n {
                // SAFETY: i + LANES ≤ n: the vector at i lies within the `n` values of `x`
                // and of `y`.
                unsafe { store(y.add(i), activate(load(x.add(i)), act)) };
                i += LANES;
            }
            if i < n {
                let m = mask(n - i);
                // SAFETY: i < n, and the mask keeps the load and the store to x[i..n], y[i..n].
                unsafe { store_m(y.add(i), activate(load_m(x.add(i), m), act), m) };
            }
        }

        /// dx = dy · act′, with act′ read off the output y: [y > 0], 1 − y², y(1 − y).
        ///
        /// # Safety
        /// `y` and `dy` must be valid for reads and `dx` for writes of `n` values.
        #[doc = concat!("The CPU must support `", $features, "`.")]
        #[target_feature(enable = $features)]
        pub unsafe fn map_backward(
            y: *const f32,
            dy: *const f32,
            dx: *mut f32,
            n: usize,
            act: EpilogueAct,
        ) {
            #[inline]
            #[target_feature(enable = $features)]
            fn derivative(y: V, g: V, act: EpilogueAct) -> V {
                match act {
                    EpilogueAct::None => g,
                    EpilogueAct::Relu => select_lt(splat(0.0), y, g, splat(0.0)),
                    EpilogueAct::Tanh => mul(g, sub(splat(1.0), mul(y, y))),
                    EpilogueAct::Sigmoid => mul(g, mul(y, sub(splat(1.0), y))),
                }
            }
            let mut i = 0;
            while i + LANES <= n {
                // SAFETY: i + LANES ≤ n: the vector at i lies within the `n` values of `y`,
                // `dy` and `dx`.
                unsafe { store(dx.add(i), derivative(load(y.add(i)), load(dy.add(i)), act)) };
                i += LANES;
            }
            if i < n {
                let m = mask(n - i);
                // SAFETY: i < n, and the mask keeps the loads and the store to [i, n).
                unsafe {
                    store_m(
                        dx.add(i),
                        derivative(load_m(y.add(i), m), load_m(dy.add(i), m), act),
                        m,
                    )
                };
            }
        }

        /// Largest of `n` values (−∞ for none).
        ///
        /// # Safety
        /// `x` must be valid for reads of `n` values.
        #[doc = concat!("The CPU must support `", $features, "`.")]
        #[target_feature(enable = $features)]
        pub unsafe fn max_of(x: *const f32, n: usize) -> f32 {
            let mut acc = splat(f32::NEG_INFINITY);
            let mut i = 0;
            while i + LANES <= n {
                // SAFETY: i + LANES ≤ n: the vector at i lies within the `n` values of `x`.
                acc = max(acc, unsafe { load(x.add(i)) });
                i += LANES;
            }
            if i < n {
                // SAFETY: i < n, and the mask keeps the load to x[i..n].
                let tail = unsafe { load_m_or(x.add(i), mask(n - i), splat(f32::NEG_INFINITY)) };
                acc = max(acc, tail);
            }
            reduce_max(acc)
        }

        /// Writes y = e^(x − shift) when `y` is non-null, and returns Σ e^(x − shift).
        ///
        /// # Safety
        /// `x` must be valid for reads of `n` values, and `y` null or valid for writes of `n`
        /// values.
        #[doc = concat!("The CPU must support `", $features, "`.")]
        #[target_feature(enable = $features)]
        pub unsafe fn exp_shifted(x: *const f32, y: *mut f32, n: usize, shift: f32) -> f32 {
            let s = splat(shift);
            let mut sum = splat(0.0);
            let mut i = 0;
            while i + LANES <= n {
                // SAFETY: i + LANES ≤ n: the vector at i lies within the `n` values of `x`.
                let e = exp(sub(unsafe { load(x.add(i)) }, s));
                if !y.is_null() {
                    // SAFETY: as for `x`; `y` is non-null, so it holds `n` values.
                    unsafe { store(y.add(i), e) };
                }
                sum = add(sum, e);
                i += LANES;
            }
            if i < n {
                let m = mask(n - i);
                // SAFETY: i < n, and the mask keeps the load to x[i..n].
                let e = zero_outside(exp(sub(unsafe { load_m(x.add(i), m) }, s)), m);
                if !y.is_null() {
                    // SAFETY: as for `x`; `y` is non-null, so it holds `n` values.
                    unsafe { store_m(y.add(i), e, m) };
                }
                sum = add(sum, e);
            }
            reduce_add(sum)
        }

        /// y *= factor over `n` values.
        ///
        /// # Safety
        /// `y` must be valid for reads and writes of `n` values.
        #[doc = concat!("The CPU must support `", $features, "`.")]
        #[target_feature(enable = $features)]
        pub unsafe fn scale(y: *mut f32, n: usize, factor: f32) {
            let f = splat(factor);
            let mut i = 0;
            while i + LANES <= n {
                // SAFETY: i + LANES ≤ n: the vector at i lies within the `n` values of `y`.
                unsafe { store(y.add(i), mul(load(y.add(i)), f)) };
                i += LANES;
            }
            if i < n {
                let m = mask(n - i);
                // SAFETY: i < n, and the mask keeps the load and the store to y[i..n].
                unsafe { store_m(y.add(i), mul(load_m(y.add(i), m), f), m) };
            }
        }

        /// One Adam update of `n` parameters (see `AdamStep`).
        ///
        /// # Safety
        /// `p`, `m` and `v` must be valid for reads and writes, and `g` for reads, of `n`
        /// values each.
        #[doc = concat!("The CPU must support `", $features, "`.")]
        #[target_feature(enable = $features)]
        pub unsafe fn adam(
            p: *mut f32,
            g: *const f32,
            m: *mut f32,
            v: *mut f32,
            n: usize,
            c: &super::AdamStep,
        ) {
            #[inline]
            #[target_feature(enable = $features)]
            fn update(pv: V, gv: V, mv: V, vv: V, c: &super::AdamStep) -> (V, V, V) {
                let g = fma(splat(c.l2), pv, gv);
                let m = fma(splat(c.beta1), mv, mul(splat(1.0 - c.beta1), g));
                let v = fma(splat(c.beta2), vv, mul(splat(1.0 - c.beta2), mul(g, g)));
                let denom = fma(sqrt(v), splat(c.inv_sqrt_correction2), splat(c.eps));
                let p = sub(
                    mul(pv, splat(c.decay)),
                    div(mul(splat(c.step_size), m), denom),
                );
                (p, m, v)
            }
            let mut i = 0;
            while i + LANES <= n {
                // SAFETY: i + LANES ≤ n: the vector at i lies within the `n` values of each
                // of the four pointers.
                unsafe {
                    let (pn, mn, vn) = update(
                        load(p.add(i)),
                        load(g.add(i)),
                        load(m.add(i)),
                        load(v.add(i)),
                        c,
                    );
                    store(p.add(i), pn);
                    store(m.add(i), mn);
                    store(v.add(i), vn);
                }
                i += LANES;
            }
            if i < n {
                let k = mask(n - i);
                // SAFETY: i < n, and the mask keeps every load and store to [i, n).
                unsafe {
                    let (pn, mn, vn) = update(
                        load_m(p.add(i), k),
                        load_m(g.add(i), k),
                        load_m(m.add(i), k),
                        load_m(v.add(i), k),
                        c,
                    );
                    store_m(p.add(i), pn, k);
                    store_m(m.add(i), mn, k);
                    store_m(v.add(i), vn, k);
                }
            }
        }

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
            let nv_max = if m == 1 { GEMV_NV } else { MAX_NV };
            let panel = nv_max * LANES;
            let mut j = 0;
            while j < n {
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
                            std::ptr::null()
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

        /// The recurrence of a simple RNN over one sequence, in one call: for t = 0..T,
        /// h_t = act(gates_t + h_{t−1}·W) (no product at t = 0), written to both `gates` (in
        /// place of the input projection it started from) and `hs`. W is `[H, H]` with rows
        /// `rsw` apart, row p the weights from h_{t−1}[p]; each output panel of up to four vectors keeps four partial
        /// sums over p, so the step waits on FMA throughput rather than on one chain's
        /// latency, and no step pays a kernel dispatch.
        ///
        /// # Safety
        /// `w + p·rsw + j` must be valid for reads for p, j < h, `gates` and `hs` for reads and
        /// writes of t·h values each, the two not overlapping.
        #[doc = concat!("The CPU must support `", $features, "`.")]
        #[target_feature(enable = $features)]
        pub unsafe fn rnn_sequence(
            t_len: usize,
            h: usize,
            w: *const f32,
            rsw: usize,
            gates: *mut f32,
            hs: *mut f32,
            act: EpilogueAct,
        ) {
            // SAFETY: `rnn_sequence_act` asks for what our caller guarantees, and runs with the
            // same target features.
            unsafe {
                match act {
                    EpilogueAct::None => rnn_sequence_act::<0>(t_len, h, w, rsw, gates, hs),
                    EpilogueAct::Relu => rnn_sequence_act::<1>(t_len, h, w, rsw, gates, hs),
                    EpilogueAct::Tanh => rnn_sequence_act::<2>(t_len, h, w, rsw, gates, hs),
                    EpilogueAct::Sigmoid => rnn_sequence_act::<3>(t_len, h, w, rsw, gates, hs),
                }
            }
        }

        /// `rnn_sequence` for one activation.
        ///
        /// # Safety
        /// As for `rnn_sequence`.
        #[doc = concat!("The CPU must support `", $features, "`.")]
        #[inline(never)]
        #[target_feature(enable = $features)]
        unsafe fn rnn_sequence_act<const ACT: u8>(
            t_len: usize,
            h: usize,
            w: *const f32,
            rsw: usize,
            gates: *mut f32,
            hs: *mut f32,
        ) {
            for t in 0..t_len {
                // SAFETY: t < T: row t of `gates` and `hs` (and row t − 1 of `hs`) are inside
                // the t·h values our caller vouches for.
                let (g, out) = unsafe { (gates.add(t * h), hs.add(t * h)) };
                let prev = if t > 0 {
                    // SAFETY: as above, t − 1 < T.
                    unsafe { hs.add((t - 1) * h) as *const f32 }
                } else {
                    std::ptr::null()
                };
                let mut j = 0;
                while j < h {
                    let cols = (4 * LANES).min(h - j);
                    let nv = cols.div_ceil(LANES);
                    let last = mask(cols - (nv - 1) * LANES);
                    macro_rules! panel {
                        ($nv:literal) => {
                            rnn_panel::<$nv, ACT>(
                                h,
                                w.add(j),
                                rsw,
                                prev,
                                g.add(j),
                                out.add(j),
                                last,
                            )
                        };
                    }
                    // SAFETY: columns [j, j + cols) ⊆ [0, h) of rows of W, of row t of `gates`
                    // and `hs`, the last vector masked by `last`: inside our caller's ranges.
                    unsafe {
                        match nv {
                            1 => panel!(1),
                            2 => panel!(2),
                            3 => panel!(3),
                            _ => panel!(4),
                        }
                    }
                    j += cols;
                }
            }
        }

        /// One panel of `NV` vectors (the last masked by `last`) of one RNN step: out = g =
        /// act(g + prev·W), with W's rows `rsw` apart; no product when `prev` is null.
        ///
        /// # Safety
        /// With `cols` = (NV − 1)·LANES + the lanes of `last`: `w + p·rsw + c` valid for reads
        /// for p < h (when `prev` is non-null) and c < cols, `prev` null or valid for reads of
        /// h values, `g` and `out` for reads and writes of cols values.
        #[doc = concat!("The CPU must support `", $features, "`.")]
        #[inline]
        #[target_feature(enable = $features)]
        unsafe fn rnn_panel<const NV: usize, const ACT: u8>(
            h: usize,
            w: *const f32,
            rsw: usize,
            prev: *const f32,
            g: *mut f32,
            out: *mut f32,
            last: M,
        ) {
            const CH: usize = 4;
            let mut acc = [[splat(0.0); NV]; CH];
            let lane_mask = |v: usize| if v + 1 == NV { last } else { mask(LANES) };
            // acc += prev[q]·W[q, panel] into chain `c`.
            let step = |q: usize, partial: &mut [V; NV]| {
                // SAFETY: called with q < h only: element q of `prev` and row q of W, columns
                // inside the panel (masked), as our caller vouches.
                unsafe {
                    let hp = splat(*prev.add(q));
                    let row = w.add(q * rsw);
                    for (v, a) in partial.iter_mut().enumerate() {
                        *a = fma(hp, load_m(row.add(v * LANES), lane_mask(v)), *a);
                    }
                }
            };
            if !prev.is_null() {
                let mut p = 0;
                while p + CH <= h {
                    for (c, partial) in acc.iter_mut().enumerate() {
                        step(p + c, partial);
                    }
                    p += CH;
                }
                while p < h {
                    step(p, &mut acc[0]);
                    p += 1;
                }
            }
            for v in 0..NV {
                let m = lane_mask(v);
                let mut sum = add(add(acc[0][v], acc[1][v]), add(acc[2][v], acc[3][v]));
                // SAFETY: the lanes of `m` at v·LANES lie inside the panel's cols values of
                // `g` and `out`.
                unsafe {
                    sum = add(sum, load_m(g.add(v * LANES), m));
                    let r = activate(sum, EpilogueAct::from_code(ACT));
                    store_m(g.add(v * LANES), r, m);
                    store_m(out.add(v * LANES), r, m);
                }
            }
        }

        /// Σ of `n` values (four partial sums, so the adds pipeline).
        ///
        /// # Safety
        /// `x` must be valid for reads of `n` values.
        #[doc = concat!("The CPU must support `", $features, "`.")]
        #[target_feature(enable = $features)]
        pub unsafe fn sum(x: *const f32, n: usize) -> f32 {
            let mut acc = [splat(0.0); 4];
            let mut i = 0;
            while i + 4 * LANES <= n {
                for (u, v) in acc.iter_mut().enumerate() {
                    // SAFETY: i + 4·LANES ≤ n: the vector at i + u·LANES is inside `x`.
                    *v = add(*v, unsafe { load(x.add(i + u * LANES)) });
                }
                i += 4 * LANES;
            }
            while i < n {
                let m = mask(n - i);
                // SAFETY: i < n, and the mask keeps the load to x[i..n].
                acc[0] = add(acc[0], unsafe { load_m(x.add(i), m) });
                i += LANES;
            }
            reduce_add(add(add(acc[0], acc[1]), add(acc[2], acc[3])))
        }

        /// A direct convolution of stride 1 over zero-padded planes of rows `pw` apart (see
        /// `conv::direct_forward_sample`): for `co < c_out`, `oy < oh`, `ox < ow`,
        /// `y[(co·oh + oy)·ow + ox] = act(b[co] + Σ_c Σ_t w[(co·c_in + c)·taps + t] ·
        /// x[c·plane + oy·pw + ox + offs[t]])` with `taps = offs.len()` and `b` zero when
        /// `bias` is null. Tiles of up to `TAPS_ROWS` output channels by up to `MAX_NV`
        /// vectors of one output row keep every accumulator in a register; each tap loads
        /// its input vectors once for all the channels.
        ///
        /// # Safety
        /// `x` must be valid for reads of `(c_in − 1)·plane + (oh − 1)·pw + max(offs) + ow +
        /// TAPS_SPAN` values (whole vectors are loaded; the lanes past `ow` are computed and
        /// never stored); `w` for reads of `c_out·c_in·taps` values; `bias`, unless null, for
        /// reads of `c_out`; `y` for writes of `c_out·oh·ow` values.
        #[doc = concat!("The CPU must support `", $features, "`.")]
        #[inline(never)]
        #[target_feature(enable = $features)]
        pub unsafe fn conv_taps(
            x: TapsInput<'_>,
            w: *const f32,
            bias: *const f32,
            out: TapsOutput,
        ) {
            let TapsOutput {
                c_out,
                oh,
                ow,
                act,
                y,
            } = out;
            let taps = x.offs.len();
            let nv = ow.div_ceil(LANES).min(MAX_NV);
            let span = nv * LANES;
            let mut co = 0;
            while co < c_out {
                let rows = (c_out - co).min(TAPS_ROWS);
                // SAFETY: co < c_out: row co's weights and bias lie inside `w` and `bias`
                // (the bias pointer is only offset when it is not null).
                let (w_co, b_co) = unsafe {
                    (
                        w.add(co * x.c_in * taps),
                        if bias.is_null() { bias } else { bias.add(co) },
                    )
                };
                for oy in 0..oh {
                    let mut ox = 0;
                    while ox < ow {
                        // SAFETY: oy < oh and ox < ow: the tile's first input and output lie
                        // inside `x` and `y`.
                        let x_at = unsafe { x.x.add(oy * x.pw + ox) };
                        // SAFETY: as above.
                        let y_at = unsafe { y.add((co * oh + oy) * ow + ox) };
                        let tile = TapsTile {
                            x: x_at,
                            w: w_co,
                            bias: b_co,
                            y: y_at,
                            valid: ow - ox,
                            y_stride: oh * ow,
                            act,
                        };
                        macro_rules! go {
                            ($r:literal, $nv:literal) => {
                                // SAFETY: rows co..co + $r exist; the tile reads whole vectors
                                // within the span the caller vouches for and stores only the
                                // `valid` values of each row.
                                unsafe { conv_taps_tile::<$r, $nv>(&x, &tile) }
                            };
                        }
                        dispatch_taps!(go, rows, nv);
                        ox += span;
                    }
                }
                co += rows;
            }
        }

        /// The weight gradient of `conv_taps`: for `co < c_out`, `c < c_in`, `t < taps`,
        /// `dw[(co·c_in + c)·taps + t] (+)= Σ_{oy, ox} dz[(co·oh + oy)·ow + ox] ·
        /// x[c·plane + oy·pw + ox + offs[t]]` (added to when `accumulate`). Tiles of up to
        /// `TAPS_ROWS` channels by `TAPS_ROWS` (input channel, tap) pairs keep their sums in
        /// vector registers over every position, reduced once at the end.
        ///
        /// # Safety
        /// `x` as for `conv_taps`; `dz` must be valid for reads of `c_out·oh·ow` values and
        /// `dw` for reads and writes of `c_out·c_in·taps`.
        #[doc = concat!("The CPU must support `", $features, "`.")]
        #[inline(never)]
        #[target_feature(enable = $features)]
        pub unsafe fn conv_taps_dweight(
            x: TapsInput<'_>,
            dz: *const f32,
            (c_out, oh, ow): (usize, usize, usize),
            dw: *mut f32,
            accumulate: bool,
        ) {
            let pairs = x.c_in * x.offs.len();
            // A block of output rows at a time, so that the rows of dz and of the input that
            // its tiles read stay in L1 across the tiles.
            for oy0 in (0..oh).step_by(DWEIGHT_ROW_BLOCK) {
                let oys = oy0..(oy0 + DWEIGHT_ROW_BLOCK).min(oh);
                let accumulate = accumulate || oy0 > 0;
                let mut co = 0;
                while co < c_out {
                    let rows = (c_out - co).min(TAPS_ROWS);
                    let mut ct = 0;
                    while ct < pairs {
                        let cols = (pairs - ct).min(TAPS_ROWS);
                        let tile = DweightTile {
                            co,
                            ct,
                            oys: oys.clone(),
                            oh,
                            ow,
                            dz,
                            dw: dw.wrapping_add(co * pairs + ct),
                            pairs,
                            accumulate,
                        };
                        macro_rules! go {
                            ($r:literal, $t:literal) => {
                                // SAFETY: channels co..co + $r and pairs ct..ct + $t exist; the
                                // tile reads whole vectors of `x` within the caller's span and
                                // masked vectors of `dz` within its rows.
                                unsafe { conv_taps_dweight_tile::<$r, $t>(&x, &tile) }
                            };
                        }
                        match (rows, cols) {
                            (1, 1) => go!(1, 1),
                            (1, 2) => go!(1, 2),
                            (1, 3) => go!(1, 3),
                            (1, _) => go!(1, 4),
                            (2, 1) => go!(2, 1),
                            (2, 2) => go!(2, 2),
                            (2, 3) => go!(2, 3),
                            (2, _) => go!(2, 4),
                            (3, 1) => go!(3, 1),
                            (3, 2) => go!(3, 2),
                            (3, 3) => go!(3, 3),
                            (3, _) => go!(3, 4),
                            (_, 1) => go!(4, 1),
                            (_, 2) => go!(4, 2),
                            (_, 3) => go!(4, 3),
                            (_, _) => go!(4, 4),
                        }
                        ct += cols;
                    }
                    co += rows;
                }
            }
        }

        /// Output rows per block of `conv_taps_dweight`.
        const DWEIGHT_ROW_BLOCK: usize = 8;

        /// One tile of `conv_taps_dweight`: channels from `co`, (input channel, tap) pairs
        /// from `ct`; `dw` points at the tile's first sum.
        struct DweightTile {
            co: usize,
            ct: usize,
            oys: core::ops::Range<usize>,
            oh: usize,
            ow: usize,
            dz: *const f32,
            dw: *mut f32,
            pairs: usize,
            accumulate: bool,
        }

        /// # Safety
        /// As for `conv_taps_dweight`, with `R` channels from `tile.co` and `T` pairs from
        /// `tile.ct` inside their ranges.
        #[doc = concat!("The CPU must support `", $features, "`.")]
        #[inline]
        #[target_feature(enable = $features)]
        unsafe fn conv_taps_dweight_tile<const R: usize, const T: usize>(
            x: &TapsInput<'_>,
            tile: &DweightTile,
        ) {
            let taps = x.offs.len();
            let mut starts = [0usize; T];
            for (tt, start) in starts.iter_mut().enumerate() {
                let pair = tile.ct + tt;
                *start = (pair / taps) * x.plane + x.offs[pair % taps];
            }
            let plane_out = tile.oh * tile.ow;
            let mut acc = [[splat(0.0); T]; R];
            for oy in tile.oys.clone() {
                let mut ox = 0;
                while ox < tile.ow {
                    let m = mask(tile.ow - ox);
                    let full = ox + LANES <= tile.ow;
                    let mut dzv = [splat(0.0); R];
                    for (r, dzv) in dzv.iter_mut().enumerate() {
                        // SAFETY: ox < ow: the vector starts inside row oy of channel
                        // co + r of `dz`; a partial one is masked to its ow − ox values.
                        *dzv = unsafe {
                            let p = tile.dz.add((tile.co + r) * plane_out + oy * tile.ow + ox);
                            if full {
                                load(p)
                            } else {
                                load_m(p, m)
                            }
                        };
                    }
                    for (tt, &start) in starts.iter().enumerate() {
                        // SAFETY: within the span of `x` the caller vouches for (the lanes
                        // past ow meet zeros of dz).
                        let xv = unsafe { load(x.x.add(start + oy * x.pw + ox)) };
                        for (acc, &d) in acc.iter_mut().zip(&dzv) {
                            acc[tt] = fma(d, xv, acc[tt]);
                        }
                    }
                    ox += LANES;
                }
            }
            for (r, acc) in acc.iter().enumerate() {
                for (tt, &a) in acc.iter().enumerate() {
                    // SAFETY: channel co + r, pair ct + tt: inside `dw`.
                    unsafe {
                        let p = tile.dw.add(r * tile.pairs + tt);
                        let sum = reduce_add(a);
                        *p = if tile.accumulate { *p + sum } else { sum };
                    }
                }
            }
        }

        /// Output channels per tile of `conv_taps`.
        const TAPS_ROWS: usize = 4;

        /// The most positions of a tile of `conv_taps`.
        pub const TAPS_SPAN: usize = MAX_NV * LANES;

        /// One tile of `conv_taps`: where it starts and how many of its positions are
        /// stored.
        struct TapsTile {
            x: *const f32,
            w: *const f32,
            bias: *const f32,
            y: *mut f32,
            valid: usize,
            y_stride: usize,
            act: EpilogueAct,
        }

        /// One tile of `conv_taps`: `R` output channels by `NV` vectors of one output row,
        /// of which the first `tile.valid` positions are stored.
        ///
        /// # Safety
        /// As for `conv_taps`, with the tile's pointers at its first input, weight row, bias
        /// and output, `R` rows of weights, bias and outputs (`y_stride` apart) there.
        #[doc = concat!("The CPU must support `", $features, "`.")]
        #[inline]
        #[target_feature(enable = $features)]
        unsafe fn conv_taps_tile<const R: usize, const NV: usize>(
            x: &TapsInput<'_>,
            tile: &TapsTile,
        ) {
            let taps = x.offs.len();
            let mut acc = [[splat(0.0); NV]; R];
            for c in 0..x.c_in {
                for (t, &off) in x.offs.iter().enumerate() {
                    let mut xv = [splat(0.0); NV];
                    for (v, xv) in xv.iter_mut().enumerate() {
                        // SAFETY: the vector lies within the span of `x` the caller vouches
                        // for.
                        *xv = unsafe { load(tile.x.add(c * x.plane + off + v * LANES)) };
                    }
                    for (r, acc) in acc.iter_mut().enumerate() {
                        // SAFETY: r < R rows of c_in·taps weights each.
                        let wv = splat(unsafe { *tile.w.add((r * x.c_in + c) * taps + t) });
                        for (a, &xv) in acc.iter_mut().zip(&xv) {
                            *a = fma(wv, xv, *a);
                        }
                    }
                }
            }
            for (r, acc) in acc.iter().enumerate() {
                let b = if tile.bias.is_null() {
                    splat(0.0)
                } else {
                    // SAFETY: r < R rows of bias.
                    splat(unsafe { *tile.bias.add(r) })
                };
                for (v, &a) in acc.iter().enumerate() {
                    let p = v * LANES;
                    if p >= tile.valid {
                        break;
                    }
                    let out = activate(add(a, b), tile.act);
                    // SAFETY: p < valid: the vector starts inside row r's stretch of `y`,
                    // and the mask keeps the store to its first valid − p values.
                    unsafe {
                        store_m(tile.y.add(r * tile.y_stride + p), out, mask(tile.valid - p))
                    };
                }
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
pub mod avx512 {
    //! AVX-512F: 16 lanes, 32 registers: 4×4-vector tiles (16 accumulators).
    use super::PROBE_CHAINS;
    use core::arch::x86_64::*;

    type V = __m512;
    type M = __mmask16;
    pub const LANES: usize = 16;
    const MR: usize = 4;
    const MAX_NV: usize = 4;
    const GEMV_NV: usize = 8;
    /// Rows of B per k block: 160 rows of a 4-vector panel are 40 KiB.
    const KC: usize = 160;
    /// A·Bᵀ tiles: 4×3 outputs, 12 accumulators and 3 + 1 operand vectors (4×4 tiles
    /// were slower: LLVM kept one of their 16 accumulators on the stack).
    const NT_MR: usize = 4;
    const NT_NR: usize = 3;

    /// The direct convolution's tiles: up to `TAPS_ROWS` rows by up to `MAX_NV` vectors.
    macro_rules! dispatch_taps {
        ($go:ident, $rows:expr, $nv:expr) => {
            match ($rows, $nv) {
                (1, 1) => $go!(1, 1),
                (1, 2) => $go!(1, 2),
                (1, 3) => $go!(1, 3),
                (1, _) => $go!(1, 4),
                (2, 1) => $go!(2, 1),
                (2, 2) => $go!(2, 2),
                (2, 3) => $go!(2, 3),
                (2, _) => $go!(2, 4),
                (3, 1) => $go!(3, 1),
                (3, 2) => $go!(3, 2),
                (3, 3) => $go!(3, 3),
                (3, _) => $go!(3, 4),
                (_, 1) => $go!(4, 1),
                (_, 2) => $go!(4, 2),
                (_, 3) => $go!(4, 3),
                (_, _) => $go!(4, 4),
            }
        };
    }

    macro_rules! dispatch_tile {
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
                (2, 2) => $go!(2, 2),
                (2, 3) => $go!(2, 3),
                (2, _) => $go!(2, 4),
                (3, 1) => $go!(3, 1),
                (3, 2) => $go!(3, 2),
                (3, 3) => $go!(3, 3),
                (3, _) => $go!(3, 4),
                (_, 1) => $go!(4, 1),
                (_, 2) => $go!(4, 2),
                (_, 3) => $go!(4, 3),
                (_, _) => $go!(4, 4),
            }
        };
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    fn mask(n: usize) -> M {
        if n >= LANES {
            0xffff
        } else {
            ((1u32 << n) - 1) as M
        }
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn splat(x: f32) -> V {
        _mm512_set1_ps(x)
    }
    /// # Safety
    /// `p` must be valid for reads of `LANES` values (any alignment); the CPU must support
    /// `avx512f`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn load(p: *const f32) -> V {
        // SAFETY: the caller vouches for `LANES` values at `p`; the load is unaligned.
        unsafe { _mm512_loadu_ps(p) }
    }
    /// The lanes `m` selects, zero elsewhere.
    ///
    /// # Safety
    /// `p + l` must be valid for reads for every lane `l` that `m` selects (the others are
    /// not accessed); the CPU must support `avx512f`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn load_m(p: *const f32, m: M) -> V {
        // SAFETY: the caller vouches for the selected lanes; a masked load does not touch
        // (or fault on) the others.
        unsafe { _mm512_maskz_loadu_ps(m, p) }
    }
    /// The lanes `m` selects, `fill` elsewhere.
    ///
    /// # Safety
    /// As for `load_m`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn load_m_or(p: *const f32, m: M, fill: V) -> V {
        // SAFETY: as in `load_m`.
        unsafe { _mm512_mask_loadu_ps(fill, m, p) }
    }
    /// # Safety
    /// `p` must be valid for writes of `LANES` values (any alignment); the CPU must support
    /// `avx512f`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn store(p: *mut f32, v: V) {
        // SAFETY: the caller vouches for `LANES` values at `p`; the store is unaligned.
        unsafe { _mm512_storeu_ps(p, v) }
    }
    /// Writes the lanes `m` selects.
    ///
    /// # Safety
    /// `p + l` must be valid for writes for every lane `l` that `m` selects (the others are
    /// not accessed); the CPU must support `avx512f`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn store_m(p: *mut f32, v: V, m: M) {
        // SAFETY: the caller vouches for the selected lanes; a masked store does not touch
        // (or fault on) the others.
        unsafe { _mm512_mask_storeu_ps(p, m, v) }
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn zero_outside(v: V, m: M) -> V {
        _mm512_maskz_mov_ps(m, v)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn add(a: V, b: V) -> V {
        _mm512_add_ps(a, b)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn sub(a: V, b: V) -> V {
        _mm512_sub_ps(a, b)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn mul(a: V, b: V) -> V {
        _mm512_mul_ps(a, b)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn div(a: V, b: V) -> V {
        _mm512_div_ps(a, b)
    }
    /// a·b + c, one rounding.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn fma(a: V, b: V, c: V) -> V {
        _mm512_fmadd_ps(a, b, c)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn sqrt(a: V) -> V {
        _mm512_sqrt_ps(a)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn max(a: V, b: V) -> V {
        _mm512_max_ps(a, b)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn min(a: V, b: V) -> V {
        _mm512_min_ps(a, b)
    }
    /// Round to nearest integer.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn round(x: V) -> V {
        _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(x)
    }
    /// 2^n for integer-valued n in [−126, 127].
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn pow2i(n: V) -> V {
        let bits = _mm512_slli_epi32::<23>(_mm512_add_epi32(
            _mm512_cvtps_epi32(n),
            _mm512_set1_epi32(127),
        ));
        _mm512_castsi512_ps(bits)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn abs(x: V) -> V {
        _mm512_abs_ps(x)
    }
    /// |magnitude| with the sign of `sign`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn copy_sign(magnitude: V, sign: V) -> V {
        let s = _mm512_and_si512(_mm512_castps_si512(sign), _mm512_set1_epi32(i32::MIN));
        _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(abs(magnitude)), s))
    }
    /// if a < b { x } else { y }, lane-wise.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn select_lt(a: V, b: V, x: V, y: V) -> V {
        _mm512_mask_blend_ps(_mm512_cmp_ps_mask::<_CMP_LT_OQ>(a, b), y, x)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn reduce_add(v: V) -> f32 {
        _mm512_reduce_add_ps(v)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn reduce_max(v: V) -> f32 {
        _mm512_reduce_max_ps(v)
    }

    simd_kernels!("avx512f");

    /// Where `b` beats `a` in a max: larger, or NaN while `a` is not (NaN propagates; the
    /// earlier operand `a` wins ties).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn beats(b: V, a: V) -> M {
        _mm512_cmp_ps_mask::<_CMP_GT_OQ>(b, a)
            | (_mm512_cmp_ps_mask::<_CMP_UNORD_Q>(b, b) & _mm512_cmp_ps_mask::<_CMP_ORD_Q>(a, a))
    }

    /// 2×2 max pooling with stride 2 of one output row: `out[ox]` = the maximum of
    /// `row0[2ox..2ox+2]` and `row1[2ox..2ox+2]`, `argmax[ox]` (when non-null) its index,
    /// counting `row0[0]` as `first` and `row1[0]` as `first + w`.
    ///
    /// # Safety
    /// `row0` and `row1` must be valid for reads of `2·ow` values, `out` for writes of `ow`
    /// values, and `argmax` null or valid for writes of `ow` values; the CPU must support
    /// `avx512f`.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn max_pool_2x2_s2(
        row0: *const f32,
        row1: *const f32,
        ow: usize,
        first: u32,
        w: u32,
        out: *mut f32,
        argmax: *mut u32,
    ) {
        let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        let odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
        let mut ox = 0;
        while ox < ow {
            let n = (ow - ox).min(LANES);
            let (m_lo, m_hi) = (
                mask((2 * n).min(LANES)),
                mask((2 * n).saturating_sub(LANES)),
            );
            // row[2ox..2ox + 2n) as two masked halves. When n ≤ LANES / 2 the upper half's
            // mask is empty and its address may lie past the row, so it is computed with
            // `wrapping_add` (no claim to be in bounds).
            let pairs = |row: *const f32| {
                // SAFETY: 2ox < 2·ow keeps `row + 2ox` in bounds, and the lanes the masks
                // select are row[2ox..2ox + 2n), within the 2·ow values the caller vouches
                // for (ox + n ≤ ow).
                let (lo, hi) = unsafe {
                    (
                        load_m(row.add(2 * ox), m_lo),
                        load_m(row.wrapping_add(2 * ox + LANES), m_hi),
                    )
                };
                (
                    _mm512_permutex2var_ps(lo, even, hi),
                    _mm512_permutex2var_ps(lo, odd, hi),
                )
            };
            let ((e0, o0), (e1, o1)) = (pairs(row0), pairs(row1));
            // Index of row0[2ox + 2·lane].
            let i0 = _mm512_add_epi32(_mm512_set1_epi32((first as usize + 2 * ox) as i32), even);
            let one = _mm512_set1_epi32(1);
            let t0 = beats(o0, e0);
            let (v0, x0) = (
                _mm512_mask_blend_ps(t0, e0, o0),
                _mm512_mask_blend_epi32(t0, i0, _mm512_add_epi32(i0, one)),
            );
            let t1 = beats(o1, e1);
            let i1 = _mm512_add_epi32(i0, _mm512_set1_epi32(w as i32));
            let (v1, x1) = (
                _mm512_mask_blend_ps(t1, e1, o1),
                _mm512_mask_blend_epi32(t1, i1, _mm512_add_epi32(i1, one)),
            );
            let t = beats(v1, v0);
            let m = mask(n);
            // SAFETY: the lanes of `m` are out[ox..ox + n) and argmax[ox..ox + n), within the
            // `ow` values the caller vouches for; `argmax` is written only when non-null.
            unsafe {
                store_m(out.add(ox), _mm512_mask_blend_ps(t, v0, v1), m);
                if !argmax.is_null() {
                    _mm512_mask_storeu_epi32(
                        argmax.add(ox) as *mut i32,
                        m,
                        _mm512_mask_blend_epi32(t, x0, x1),
                    );
                }
            }
            ox += LANES;
        }
    }

    /// The backward pass of [`max_pool_2x2_s2`] for one output row: row0[2ox..2ox + 2] and
    /// row1[2ox..2ox + 2] get `dy[ox]` at the position `argmax[ox]` names (counting
    /// `row0[0]` as `first` and `row1[0]` as `first + w`) and zero at the other three.
    ///
    /// # Safety
    /// `dy` and `argmax` must be valid for reads of `ow` values, `row0` and `row1` for writes
    /// of `2·ow` values; the CPU must support `avx512f`.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn max_pool_2x2_s2_backward(
        dy: *const f32,
        argmax: *const u32,
        ow: usize,
        first: u32,
        w: u32,
        row0: *mut f32,
        row1: *mut f32,
    ) {
        let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        // Interleaving two vectors of 16 (values at even, values at odd positions): lanes
        // 0..16 and 16..32 of the pairs.
        let lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        let hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
        let one = _mm512_set1_epi32(1);
        let mut ox = 0;
        while ox < ow {
            let n = (ow - ox).min(LANES);
            let m = mask(n);
            // SAFETY: the lanes of `m` are dy[ox..ox + n) and argmax[ox..ox + n), within the
            // `ow` values the caller vouches for.
            let (d, at) = unsafe {
                (
                    load_m(dy.add(ox), m),
                    _mm512_maskz_loadu_epi32(m, argmax.add(ox) as *const i32),
                )
            };
            // Index of row0[2ox + 2·lane].
            let i0 = _mm512_add_epi32(_mm512_set1_epi32((first as usize + 2 * ox) as i32), even);
            let i1 = _mm512_add_epi32(i0, _mm512_set1_epi32(w as i32));
            let pick = |index| _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(at, index), d);
            let (e0, o0) = (pick(i0), pick(_mm512_add_epi32(i0, one)));
            let (e1, o1) = (pick(i1), pick(_mm512_add_epi32(i1, one)));
            let (m_lo, m_hi) = (
                mask((2 * n).min(LANES)),
                mask((2 * n).saturating_sub(LANES)),
            );
            // SAFETY: the lanes the masks select are row[2ox..2ox + 2n), within the 2·ow
            // values the caller vouches for (ox + n ≤ ow); when n ≤ LANES / 2 the upper
            // half's mask is empty and its address is computed with `wrapping_add` (no
            // claim to be in bounds, nothing written).
            unsafe {
                for (row, e, o) in [(row0, e0, o0), (row1, e1, o1)] {
                    store_m(row.add(2 * ox), _mm512_permutex2var_ps(e, lo, o), m_lo);
                    store_m(
                        row.wrapping_add(2 * ox + LANES),
                        _mm512_permutex2var_ps(e, hi, o),
                        m_hi,
                    );
                }
            }
            ox += LANES;
        }
    }
}

#[cfg(target_arch = "x86_64")]
pub mod avx2 {
    //! AVX2 + FMA: 8 lanes, 16 registers: 4×2-vector tiles (8 accumulators).
    use super::PROBE_CHAINS;
    use core::arch::x86_64::*;

    type V = __m256;
    type M = __m256i;
    pub const LANES: usize = 8;
    const MR: usize = 4;
    const MAX_NV: usize = 2;
    const GEMV_NV: usize = 8;
    /// Rows of B per k block (a 2-vector panel: 20 KiB).
    const KC: usize = 320;
    /// A·Bᵀ tiles: 2×3 outputs, 6 accumulators and 3 + 1 operand vectors (16 registers).
    const NT_MR: usize = 2;
    const NT_NR: usize = 3;

    /// The direct convolution's tiles: up to `TAPS_ROWS` rows by up to `MAX_NV` vectors.
    macro_rules! dispatch_taps {
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

    macro_rules! dispatch_tile {
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

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn mask(n: usize) -> M {
        _mm256_cmpgt_epi32(
            _mm256_set1_epi32(n.min(LANES) as i32),
            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
        )
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn splat(x: f32) -> V {
        _mm256_set1_ps(x)
    }
    /// # Safety
    /// `p` must be valid for reads of `LANES` values (any alignment); the CPU must support
    /// `avx2` and `fma`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn load(p: *const f32) -> V {
        // SAFETY: the caller vouches for `LANES` values at `p`; the load is unaligned.
        unsafe { _mm256_loadu_ps(p) }
    }
    /// The lanes `m` selects, zero elsewhere.
    ///
    /// # Safety
    /// `p + l` must be valid for reads for every lane `l` that `m` selects (the others are
    /// not accessed); the CPU must support `avx2` and `fma`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn load_m(p: *const f32, m: M) -> V {
        // SAFETY: the caller vouches for the selected lanes; a masked load does not touch
        // (or fault on) the others.
        unsafe { _mm256_maskload_ps(p, m) }
    }
    /// The lanes `m` selects, `fill` elsewhere.
    ///
    /// # Safety
    /// As for `load_m`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn load_m_or(p: *const f32, m: M, fill: V) -> V {
        // SAFETY: as in `load_m`.
        unsafe { _mm256_blendv_ps(fill, _mm256_maskload_ps(p, m), _mm256_castsi256_ps(m)) }
    }
    /// # Safety
    /// `p` must be valid for writes of `LANES` values (any alignment); the CPU must support
    /// `avx2` and `fma`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn store(p: *mut f32, v: V) {
        // SAFETY: the caller vouches for `LANES` values at `p`; the store is unaligned.
        unsafe { _mm256_storeu_ps(p, v) }
    }
    /// Writes the lanes `m` selects.
    ///
    /// # Safety
    /// `p + l` must be valid for writes for every lane `l` that `m` selects (the others are
    /// not accessed); the CPU must support `avx2` and `fma`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn store_m(p: *mut f32, v: V, m: M) {
        // SAFETY: the caller vouches for the selected lanes; a masked store does not touch
        // (or fault on) the others.
        unsafe { _mm256_maskstore_ps(p, m, v) }
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn zero_outside(v: V, m: M) -> V {
        _mm256_and_ps(v, _mm256_castsi256_ps(m))
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn add(a: V, b: V) -> V {
        _mm256_add_ps(a, b)
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn sub(a: V, b: V) -> V {
        _mm256_sub_ps(a, b)
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn mul(a: V, b: V) -> V {
        _mm256_mul_ps(a, b)
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn div(a: V, b: V) -> V {
        _mm256_div_ps(a, b)
    }
    /// a·b + c, one rounding.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn fma(a: V, b: V, c: V) -> V {
        _mm256_fmadd_ps(a, b, c)
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn sqrt(a: V) -> V {
        _mm256_sqrt_ps(a)
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn max(a: V, b: V) -> V {
        _mm256_max_ps(a, b)
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn min(a: V, b: V) -> V {
        _mm256_min_ps(a, b)
    }
    /// Round to nearest integer.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn round(x: V) -> V {
        _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(x)
    }
    /// 2^n for integer-valued n in [−126, 127].
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn pow2i(n: V) -> V {
        let bits = _mm256_slli_epi32::<23>(_mm256_add_epi32(
            _mm256_cvtps_epi32(n),
            _mm256_set1_epi32(127),
        ));
        _mm256_castsi256_ps(bits)
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn abs(x: V) -> V {
        _mm256_and_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32(i32::MAX)))
    }
    /// |magnitude| with the sign of `sign`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn copy_sign(magnitude: V, sign: V) -> V {
        let s = _mm256_and_ps(sign, _mm256_castsi256_ps(_mm256_set1_epi32(i32::MIN)));
        _mm256_or_ps(abs(magnitude), s)
    }
    /// if a < b { x } else { y }, lane-wise.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn select_lt(a: V, b: V, x: V, y: V) -> V {
        _mm256_blendv_ps(y, x, _mm256_cmp_ps::<_CMP_LT_OQ>(a, b))
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn reduce_add(v: V) -> f32 {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps::<1>(s, s)))
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn reduce_max(v: V) -> f32 {
        let s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let s = _mm_max_ps(s, _mm_movehl_ps(s, s));
        _mm_cvtss_f32(_mm_max_ss(s, _mm_shuffle_ps::<1>(s, s)))
    }

    simd_kernels!("avx2,fma");
}
