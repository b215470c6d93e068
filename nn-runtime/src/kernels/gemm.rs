//! Matrix products C (+)= A·B with a fused epilogue (+ bias, activation), dispatched to the
//! instruction set chosen once (`isa()`) and, above a size threshold, to the `gemm` crate's
//! packed kernels; large products are split across threads. [`gemm_with`] runs the path of
//! an [`Arch`] token, which only exists for paths this CPU has.
//!
//! Operands: A element (i, p) at `a[i·rsa + p·csa]` (so a transposed A is free), B row p at
//! `b[p·rsb..]` (contiguous columns), C row i at `c[i·rsc..]`.
//!
//! [`fma_peak_probe`] measures the core's FMA peak, which the benches compare the products'
//! throughput with.

use super::isa::{Arch, Isa};
use super::simd::{dispatch, EpilogueAct};
use super::threads::{in_pool, join, threads_here, PARALLEL_MIN_FLOPS};

/// Sizes, strides and epilogue of one product.
#[derive(Clone, Copy, Debug)]
pub struct MatMul {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub rsa: usize,
    pub csa: usize,
    pub rsb: usize,
    pub rsc: usize,
    /// Add to C instead of overwriting it.
    pub accumulate: bool,
    /// The bias holds one value per row of C (`m`, a convolution's output channels)
    /// instead of one per column (`n`).
    pub row_bias: bool,
    /// Applied after the bias.
    pub act: EpilogueAct,
}

impl MatMul {
    /// Row-major A [m×k], B [k×n], C [m×n], overwrite, no activation.
    pub fn new(m: usize, n: usize, k: usize) -> Self {
        MatMul {
            m,
            n,
            k,
            rsa: k,
            csa: 1,
            rsb: n,
            rsc: n,
            accumulate: false,
            row_bias: false,
            act: EpilogueAct::None,
        }
    }

    /// Multiply-adds as FLOPs.
    pub fn flops(&self) -> usize {
        2 * self.m * self.n * self.k
    }
}

/// A product C (+)= A·B (+ bias) by some backend, for the passes that run either on the
/// threads and backends [`gemm()`] picks or, in an arena, on the own kernels on one thread
/// (`gemm_with(arch, Backend::Own, 1, …)`, which allocates nothing).
pub type Product<'a> = dyn Fn(&MatMul, &[f32], &[f32], Option<&[f32]>, &mut [f32]) + 'a;

/// Which implementation computes a product.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// By size: register-tiled kernels of our own for small products, the `gemm` crate for
    /// large ones (see [`LIBRARY_MIN_FLOPS`]).
    Auto,
    /// Our own register-tiled kernels (or the scalar loop on the scalar path).
    Own,
    /// The `gemm` crate's packed kernels.
    Library,
}

/// Products of at least this many FLOPs (at least [`LIBRARY_MIN_DIM`] rows and columns,
/// and [`LIBRARY_MIN_DEPTH`] deep) go to the `gemm` crate, whose packing pays off from there; measured in
/// BENCHMARKS.md (GEMM shapes, own vs library).
pub const LIBRARY_MIN_FLOPS: usize = 16 << 20;
/// See [`LIBRARY_MIN_FLOPS`].
pub const LIBRARY_MIN_DIM: usize = 128;
/// The depth from which a product whose other sides are at least [`LIBRARY_MIN_DIM`] goes
/// to the `gemm` crate: from k = 64 its packing was as fast or faster on every shape
/// measured (2048×1024×64, an LSTM's input projection of a batch of sequences: 98 against
/// 68 GFLOP/s, our panels re-reading A from L2 once per 64 columns of a wide C).
pub const LIBRARY_MIN_DEPTH: usize = 64;

/// C (+)= A·B, then + bias and the activation, on the process-wide path.
pub fn gemm(p: &MatMul, a: &[f32], b: &[f32], bias: Option<&[f32]>, c: &mut [f32]) {
    if super::lowp::mixed::bf16_products() {
        check_bounds(p, a, b, bias, c);
        return super::lowp::mixed::gemm(p, a, b, bias, c);
    }
    // `Arch::current()` makes no feature check (the process-wide path was checked when it
    // was chosen), so this hot path costs none; and small products never ask how many
    // threads there are.
    let threads = if p.flops() >= PARALLEL_MIN_FLOPS {
        threads_here()
    } else {
        1
    };
    gemm_on(Arch::current(), Backend::Auto, threads, p, a, b, bias, c)
}

/// Products of an inference pass from this many FLOPs are split over threads (training's
/// stay whole below [`PARALLEL_MIN_FLOPS`]). Called back to back, as a batch-inference loop
/// does, the pool's workers are awake: W2's 12.8-MFLOP first product split over two
/// threads took the call from 122 to 82 µs, where the same split inside W3's training step
/// made the step slower (320 against 420–744 µs; BENCHMARKS.md).
pub const INFERENCE_MIN_FLOPS: usize = 8 << 20;

/// [`gemm()`] for an inference pass: split over threads from [`INFERENCE_MIN_FLOPS`].
pub fn gemm_inference(p: &MatMul, a: &[f32], b: &[f32], bias: Option<&[f32]>, c: &mut [f32]) {
    if p.flops() < INFERENCE_MIN_FLOPS || p.flops() >= PARALLEL_MIN_FLOPS {
        return gemm(p, a, b, bias, c);
    }
    if super::lowp::mixed::bf16_products() {
        check_bounds(p, a, b, bias, c);
        return super::lowp::mixed::gemm(p, a, b, bias, c);
    }
    gemm_on(
        Arch::current(),
        Backend::Auto,
        threads_here(),
        p,
        a,
        b,
        bias,
        c,
    )
}

/// [`gemm()`] on a given path: split over threads by size, as [`gemm()`] does.
pub(crate) fn gemm_in(
    arch: Arch,
    p: &MatMul,
    a: &[f32],
    b: &[f32],
    bias: Option<&[f32]>,
    c: &mut [f32],
) {
    if super::lowp::mixed::bf16_products() {
        check_bounds(p, a, b, bias, c);
        return super::lowp::mixed::gemm(p, a, b, bias, c);
    }
    let threads = if p.flops() >= PARALLEL_MIN_FLOPS {
        threads_here()
    } else {
        1
    };
    gemm_on(arch, Backend::Auto, threads, p, a, b, bias, c)
}

/// [`gemm()`] on a given path, backend and thread count (for tests and benches):
/// with `threads > 1` the product is split whatever its size.
#[allow(clippy::too_many_arguments)]
pub fn gemm_with(
    arch: Arch,
    backend: Backend,
    threads: usize,
    p: &MatMul,
    a: &[f32],
    b: &[f32],
    bias: Option<&[f32]>,
    c: &mut [f32],
) {
    gemm_on(arch, backend, threads, p, a, b, bias, c)
}

/// The body of [`gemm_with`], inlined into [`gemm()`], the hot path.
#[allow(clippy::too_many_arguments)]
#[inline]
fn gemm_on(
    arch: Arch,
    backend: Backend,
    threads: usize,
    p: &MatMul,
    a: &[f32],
    b: &[f32],
    bias: Option<&[f32]>,
    c: &mut [f32],
) {
    check_bounds(p, a, b, bias, c);
    if p.m == 0 || p.n == 0 {
        return;
    }
    let library = match backend {
        Backend::Library => true,
        Backend::Own => false,
        Backend::Auto => {
            p.flops() >= LIBRARY_MIN_FLOPS
                && p.m.min(p.n) >= LIBRARY_MIN_DIM
                && p.k >= LIBRARY_MIN_DEPTH
        }
    };
    if library && arch.isa() != Isa::Scalar {
        library_gemm(p, a, b, bias, c, threads);
        return;
    }
    let blocks = if threads > 1 {
        threads.min(p.m.div_ceil(4))
    } else {
        1
    };
    if blocks <= 1 {
        own_gemm(arch, p, a, b, bias, c);
        return;
    }
    // Split C by rows: blocks of whole rows are disjoint slices, and each reads all of B.
    // `rayon::join` runs the halves on stack-allocated jobs: no heap allocation per call,
    // which keeps a warm training step allocation-free.
    let rows_per_block = p.m.div_ceil(blocks).next_multiple_of(4);
    split_rows(arch, p, a, b, bias, c, rows_per_block);
}

fn split_rows(
    arch: Arch,
    p: &MatMul,
    a: &[f32],
    b: &[f32],
    bias: Option<&[f32]>,
    c: &mut [f32],
    rows_per_block: usize,
) {
    if p.m <= rows_per_block {
        own_gemm(arch, p, a, b, bias, c);
        return;
    }
    let top_rows = (p.m / 2)
        .next_multiple_of(rows_per_block)
        .min(p.m - 1)
        .max(1);
    let (c_top, c_bottom) = c.split_at_mut(top_rows * p.rsc);
    let top = MatMul { m: top_rows, ..*p };
    let bottom = MatMul {
        m: p.m - top_rows,
        ..*p
    };
    // With k = 0 no value of A is read and A may be empty (`check_bounds` asks for none),
    // so the bottom rows' start may lie past its end.
    let a_bottom = a.get(top_rows * p.rsa..).unwrap_or_default();
    // A bias per row splits with the rows.
    let bias_bottom = match bias {
        Some(bias) if p.row_bias => Some(&bias[top_rows..]),
        other => other,
    };
    join(
        || split_rows(arch, &top, a, b, bias, c_top, rows_per_block),
        || {
            split_rows(
                arch,
                &bottom,
                a_bottom,
                b,
                bias_bottom,
                c_bottom,
                rows_per_block,
            )
        },
    );
}

#[inline]
fn check_bounds(p: &MatMul, a: &[f32], b: &[f32], bias: Option<&[f32]>, c: &[f32]) {
    if p.m == 0 || p.n == 0 {
        return;
    }
    assert!(p.rsc >= p.n, "rows of C overlap: rsc {} < n {}", p.rsc, p.n);
    assert!(c.len() > (p.m - 1) * p.rsc + p.n - 1, "C too short");
    if let Some(bias) = bias {
        let len = if p.row_bias { p.m } else { p.n };
        assert!(bias.len() >= len, "bias too short");
    }
    if p.k > 0 {
        assert!(
            a.len() > (p.m - 1) * p.rsa + (p.k - 1) * p.csa,
            "A too short"
        );
        assert!(b.len() > (p.k - 1) * p.rsb + p.n - 1, "B too short");
    }
}

#[inline]
fn own_gemm(arch: Arch, p: &MatMul, a: &[f32], b: &[f32], bias: Option<&[f32]>, c: &mut [f32]) {
    dispatch!(
        arch,
        // SAFETY: `check_bounds` proved every index the kernel touches (A up to
        // (m−1)·rsa + (k−1)·csa, B up to (k−1)·rsb + n − 1, C up to (m−1)·rsc + n − 1, bias
        // up to m − 1 or n − 1) lies inside the slices, and C's rows do not overlap
        // (rsc ≥ n); C is a `&mut` slice, so it aliases none of A, B, bias; `arch` proves
        // this CPU has the path's features.
        simd => unsafe {
            simd::gemm(
                p.m,
                p.n,
                p.k,
                a.as_ptr(),
                p.rsa,
                p.csa,
                b.as_ptr(),
                p.rsb,
                c.as_mut_ptr(),
                p.rsc,
                p.accumulate,
                bias.map_or(core::ptr::null(), |b| b.as_ptr()),
                p.row_bias,
                p.act,
            )
        },
        scalar => scalar_gemm(p, a, b, bias, c),
    )
}

fn library_gemm(
    p: &MatMul,
    a: &[f32],
    b: &[f32],
    bias: Option<&[f32]>,
    c: &mut [f32],
    threads: usize,
) {
    #[cfg(feature = "parallel")]
    let parallelism = if threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    #[cfg(not(feature = "parallel"))]
    let parallelism = {
        let _ = threads;
        gemm::Parallelism::None
    };
    let product = |c: &mut [f32]| {
        // SAFETY: `check_bounds` proved the strided extents of A, B and C lie inside the
        // slices; C's rows do not overlap (rsc ≥ n), and C does not alias A or B (a `&mut`
        // slice).
        unsafe {
            gemm::gemm(
                p.m,
                p.n,
                p.k,
                c.as_mut_ptr(),
                1,
                p.rsc as isize,
                p.accumulate,
                a.as_ptr(),
                p.csa as isize,
                p.rsa as isize,
                b.as_ptr(),
                1,
                p.rsb as isize,
                1.0,
                1.0,
                false,
                false,
                false,
                parallelism,
            );
        }
    };
    // Its parallel tasks run on the library's pool, whose workers flush subnormals.
    if threads > 1 {
        in_pool(|| product(&mut *c));
    } else {
        product(c);
    }
    if bias.is_some() || p.act != EpilogueAct::None {
        for i in 0..p.m {
            let row = &mut c[i * p.rsc..i * p.rsc + p.n];
            add_bias(p, bias, i, row);
            super::activation::activation_forward_in_place(p.act, row);
        }
    }
}

/// The scalar path: i-p-j loops (axpy over rows of B), the reference the SIMD paths are
/// tested against.
fn scalar_gemm(p: &MatMul, a: &[f32], b: &[f32], bias: Option<&[f32]>, c: &mut [f32]) {
    for i in 0..p.m {
        let row = &mut c[i * p.rsc..i * p.rsc + p.n];
        if !p.accumulate {
            row.fill(0.0);
        }
        for q in 0..p.k {
            let aiq = a[i * p.rsa + q * p.csa];
            for (y, &bv) in row.iter_mut().zip(&b[q * p.rsb..q * p.rsb + p.n]) {
                *y += aiq * bv;
            }
        }
        add_bias(p, bias, i, row);
        super::activation::activation_forward_with(Arch::scalar(), p.act, row);
    }
}

/// Row `i` of C += its bias: `bias[i]` everywhere with `row_bias`, else `bias[j]` at j.
fn add_bias(p: &MatMul, bias: Option<&[f32]>, i: usize, row: &mut [f32]) {
    match bias {
        Some(bias) if p.row_bias => row.iter_mut().for_each(|y| *y += bias[i]),
        Some(bias) => row.iter_mut().zip(bias).for_each(|(y, b)| *y += b),
        None => {}
    }
}

/// Sizes and strides of C[m×n] (+)= A[m×k]·B[n×k]ᵀ, where both operands' rows run along
/// k (row i of A at `a[i·rsa..]`, row j of B at `b[j·rsb..]`) and C row i is at
/// `c[i·rsc..]`: the product of two matrices that share their contiguous dimension, such as
/// a convolution's weight gradient dZ·colsᵀ.
#[derive(Clone, Copy, Debug)]
pub struct MatMulNt {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub rsa: usize,
    pub rsb: usize,
    pub rsc: usize,
    /// Add to C instead of overwriting it.
    pub accumulate: bool,
}

impl MatMulNt {
    /// Multiply-adds as FLOPs.
    pub fn flops(&self) -> usize {
        2 * self.m * self.n * self.k
    }

    /// Dense A [m×k], B [n×k], C [m×n], overwrite.
    pub fn new(m: usize, n: usize, k: usize) -> Self {
        MatMulNt {
            m,
            n,
            k,
            rsa: k,
            rsb: k,
            rsc: n,
            accumulate: false,
        }
    }
}

/// C (+)= A·Bᵀ (see [`MatMulNt`]) on the process-wide path, on this thread.
pub fn gemm_nt(p: &MatMulNt, a: &[f32], b: &[f32], c: &mut [f32]) {
    if super::lowp::mixed::bf16_products() && p.m > 0 && p.n > 0 {
        assert!(p.rsc >= p.n, "rows of C overlap: rsc {} < n {}", p.rsc, p.n);
        assert!(c.len() > (p.m - 1) * p.rsc + p.n - 1, "C too short");
        assert!(a.len() >= (p.m - 1) * p.rsa + p.k, "A too short");
        assert!(b.len() >= (p.n - 1) * p.rsb + p.k, "B too short");
        return super::lowp::mixed::gemm_nt(p, a, b, c);
    }
    gemm_nt_with(Arch::current(), p, a, b, c)
}

/// [`gemm_nt`] split over the threads by rows of C from [`PARALLEL_MIN_FLOPS`], as
/// [`gemm()`] splits: each half reads all of B. A Dense layer's input gradient dZ·W_tᵀ
/// takes it, which would otherwise need the weight transposed (a 12544×128 weight: 1.2 ms
/// to transpose, where the whole product takes 1.6 ms this way).
pub fn gemm_nt_split(p: &MatMulNt, a: &[f32], b: &[f32], c: &mut [f32]) {
    let threads = if p.flops() >= PARALLEL_MIN_FLOPS && !super::lowp::mixed::bf16_products() {
        threads_here()
    } else {
        1
    };
    split_rows_nt(threads, p, a, b, c);
}

/// [`gemm_nt`] over `threads` threads, by halves of C's rows.
pub(crate) fn split_rows_nt(threads: usize, p: &MatMulNt, a: &[f32], b: &[f32], c: &mut [f32]) {
    // Halves of at least 4 rows (the kernel's row tile), else on this thread.
    if threads < 2 || p.m < 8 {
        return gemm_nt(p, a, b, c);
    }
    let top_rows = (p.m / 2).next_multiple_of(4).min(p.m - 1);
    let (c_top, c_bottom) = c.split_at_mut(top_rows * p.rsc);
    let top = MatMulNt { m: top_rows, ..*p };
    let bottom = MatMulNt {
        m: p.m - top_rows,
        ..*p
    };
    // With k = 0 no value of A is read and A may be empty.
    let a_bottom = a.get(top_rows * p.rsa..).unwrap_or_default();
    let half = threads / 2;
    join(
        || split_rows_nt(half, &top, a, b, c_top),
        || split_rows_nt(threads - half, &bottom, a_bottom, b, c_bottom),
    );
}

/// [`gemm_nt`] on a given path.
pub fn gemm_nt_with(arch: Arch, p: &MatMulNt, a: &[f32], b: &[f32], c: &mut [f32]) {
    if p.m == 0 || p.n == 0 {
        return;
    }
    assert!(p.rsc >= p.n, "rows of C overlap: rsc {} < n {}", p.rsc, p.n);
    assert!(c.len() > (p.m - 1) * p.rsc + p.n - 1, "C too short");
    if p.k > 0 {
        assert!(a.len() >= (p.m - 1) * p.rsa + p.k, "A too short");
        assert!(b.len() >= (p.n - 1) * p.rsb + p.k, "B too short");
    }
    dispatch!(
        arch,
        // SAFETY: the asserts above put A up to (m−1)·rsa + k − 1, B up to (n−1)·rsb + k − 1
        // and C up to (m−1)·rsc + n − 1 inside the slices, C's rows do not overlap, and C (a
        // `&mut` slice) aliases neither operand; `arch` proves this CPU has the path's
        // features.
        simd => unsafe {
            simd::gemm_nt(
                p.m,
                p.n,
                p.k,
                a.as_ptr(),
                p.rsa,
                b.as_ptr(),
                p.rsb,
                c.as_mut_ptr(),
                p.rsc,
                p.accumulate,
            )
        },
        scalar => scalar_gemm_nt(p, a, b, c),
    )
}

/// The scalar path of [`gemm_nt_with`]: one dot product per element of C.
fn scalar_gemm_nt(p: &MatMulNt, a: &[f32], b: &[f32], c: &mut [f32]) {
    for i in 0..p.m {
        let ai = &a[i * p.rsa..][..p.k];
        for j in 0..p.n {
            let dot: f32 = ai
                .iter()
                .zip(&b[j * p.rsb..][..p.k])
                .map(|(x, y)| x * y)
                .sum();
            let out = &mut c[i * p.rsc + j];
            *out = if p.accumulate { *out + dot } else { dot };
        }
    }
}

/// Runs `iters` rounds of independent FMAs on `arch` and returns how many FLOPs that was
/// (the benches divide by the time to get the core's peak); `None` for the scalar path.
pub fn fma_peak_probe(arch: Arch, iters: usize) -> Option<u64> {
    let flops = (iters * super::simd::PROBE_CHAINS * arch.isa().lanes() * 2) as u64;
    let sink = dispatch!(
        arch,
        // SAFETY: touches registers only; `arch` proves this CPU has the path's features.
        simd => unsafe { simd::fma_probe(iters) },
        scalar => return None,
    );
    core::hint::black_box(sink);
    Some(flops)
}
