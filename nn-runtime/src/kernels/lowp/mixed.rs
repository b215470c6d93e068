//! Bf16 products inside f32 training: a network declared `#[mixed_precision(bf16)]` runs
//! its training passes inside a [`Bf16Products`] scope, and while one is open on a thread
//! every product that thread starts through [`gemm()`](crate::kernels::gemm),
//! [`gemm_nt`](crate::kernels::gemm_nt) or the convolutions' products rounds both operands
//! to bf16 and multiplies them on the bf16 kernels ([`gemm_bf16`](super::gemm_bf16)), with
//! f32 sums, bias, activation and accumulation: PyTorch's `autocast(bfloat16)` for
//! matrix products, with the parameters (the master weights), gradients and optimizer
//! state in f32.
//!
//! The scope is per thread and per pass: a data-parallel step's copies of the network open
//! their own on the threads that run them, and nothing outside the passes (inference,
//! other networks) is affected. Without the standard library there are no scopes and
//! products stay f32.

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::{gemm_bf16, to_bf16, Bf16Arch, PackedBf16, BF16_GROUP, PANEL};
use crate::kernels::{activation_forward_in_place, MatMul, MatMulNt};

#[cfg(feature = "std")]
std::thread_local! {
    static ON: core::cell::Cell<bool> = const { core::cell::Cell::new(false) };
    static SCRATCH: core::cell::RefCell<Scratch> = core::cell::RefCell::new(Scratch::default());
}

#[derive(Default)]
struct Scratch {
    a: Vec<u16>,
    b: PackedBf16,
    c: Vec<f32>,
}

/// Whether products on this thread are in bf16 now.
#[inline]
pub fn bf16_products() -> bool {
    #[cfg(feature = "std")]
    {
        ON.with(core::cell::Cell::get)
    }
    #[cfg(not(feature = "std"))]
    {
        false
    }
}

/// While alive, this thread's products are bf16 (see the module docs); dropping it
/// restores what was before.
pub struct Bf16Products {
    #[cfg(feature = "std")]
    previous: bool,
}

impl Bf16Products {
    /// Opens the scope on this thread.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        #[cfg(feature = "std")]
        {
            Bf16Products {
                previous: ON.with(|on| on.replace(true)),
            }
        }
        #[cfg(not(feature = "std"))]
        {
            Bf16Products {}
        }
    }
}

impl Drop for Bf16Products {
    fn drop(&mut self) {
        #[cfg(feature = "std")]
        ON.with(|on| on.set(self.previous));
    }
}

impl PackedBf16 {
    /// Packs `b` read as `[K, N]` with rows `rsb` apart (`transposed`: `[N, K]`, rows `rsb`
    /// apart), rounding to bf16, into this buffer's allocation. Written panel by panel, pair
    /// of depths by pair, so that the rounding loops vectorise.
    fn repack(&mut self, b: &[f32], rsb: usize, k: usize, n: usize, transposed: bool) {
        let (kp, np) = (super::round_up(k, BF16_GROUP), super::round_up(n, PANEL));
        self.k = k;
        self.n = n;
        self.data.clear();
        self.data.resize(kp * np, 0);
        let groups = kp / BF16_GROUP;
        if transposed {
            // Column j of the packing is row j of `b`: its depths in pairs.
            for j in 0..n {
                let row = &b[j * rsb..j * rsb + k];
                let (panel, col) = (j / PANEL, j % PANEL);
                for g in 0..groups {
                    let at = (panel * groups + g) * PANEL * BF16_GROUP + col * BF16_GROUP;
                    let i = g * BF16_GROUP;
                    self.data[at] = to_bf16(row[i]);
                    if i + 1 < k {
                        self.data[at + 1] = to_bf16(row[i + 1]);
                    }
                }
            }
            return;
        }
        let zeros = [0.0f32; PANEL];
        for g in 0..groups {
            let i = g * BF16_GROUP;
            let r0 = &b[i * rsb..i * rsb + n];
            let r1 = if i + 1 < k {
                &b[(i + 1) * rsb..(i + 1) * rsb + n]
            } else {
                &b[..0]
            };
            for panel in 0..np / PANEL {
                let j0 = panel * PANEL;
                let width = PANEL.min(n - j0);
                let at = (panel * groups + g) * PANEL * BF16_GROUP;
                let out = &mut self.data[at..at + PANEL * BF16_GROUP];
                let lo = &r0[j0..j0 + width];
                let hi = if r1.is_empty() {
                    &zeros[..width]
                } else {
                    &r1[j0..j0 + width]
                };
                for ((pair, &l), &h) in out.chunks_exact_mut(2).zip(lo).zip(hi) {
                    pair[0] = to_bf16(l);
                    pair[1] = to_bf16(h);
                }
            }
        }
    }
}

/// `a`'s `m` rows of `k` (rows `rsa` apart, columns `csa`) rounded to bf16, rows `kp` apart.
fn round_rows(
    out: &mut Vec<u16>,
    a: &[f32],
    m: usize,
    k: usize,
    rsa: usize,
    csa: usize,
    kp: usize,
) {
    out.clear();
    out.resize(m * kp, 0);
    if csa == 1 {
        for i in 0..m {
            super::to_bf16_slice(&a[i * rsa..i * rsa + k], &mut out[i * kp..i * kp + k]);
        }
    } else if rsa == 1 {
        // A transposed view (a weight gradient's Xᵀ): its rows are the columns of what is
        // stored. Blocks of 16 rows: each stored row is read along 16 values and written
        // into 16 rows that stay in L1.
        for i0 in (0..m).step_by(16) {
            let rows = 16.min(m - i0);
            for q in 0..k {
                let src = &a[q * csa + i0..q * csa + i0 + rows];
                for (r, &v) in src.iter().enumerate() {
                    out[(i0 + r) * kp + q] = to_bf16(v);
                }
            }
        }
    } else {
        for i in 0..m {
            for q in 0..k {
                out[i * kp + q] = to_bf16(a[i * rsa + q * csa]);
            }
        }
    }
}

/// `c = act(A·B + bias)` (or `c += …` with `accumulate`, the activation after), as
/// [`gemm()`](crate::kernels::gemm), with A and B rounded to bf16.
pub(crate) fn gemm(p: &MatMul, a: &[f32], b: &[f32], bias: Option<&[f32]>, c: &mut [f32]) {
    with_scratch(|s| {
        s.b.repack(b, p.rsb, p.k, p.n, false);
        round_rows(&mut s.a, a, p.m, p.k, p.rsa, p.csa, s.b.k_padded());
        let arch = Bf16Arch::current();
        // Straight into C when its rows are dense and nothing is added to it.
        let direct = p.rsc == p.n && !p.accumulate;
        if direct {
            gemm_bf16(arch, p.m, &s.a, &s.b, &mut c[..p.m * p.n]);
        } else {
            s.c.resize(p.m * p.n, 0.0);
            gemm_bf16(arch, p.m, &s.a, &s.b, &mut s.c);
        }
        for i in 0..p.m {
            let row = &mut c[i * p.rsc..i * p.rsc + p.n];
            if !direct {
                let sums = &s.c[i * p.n..(i + 1) * p.n];
                if p.accumulate {
                    row.iter_mut().zip(sums).for_each(|(y, v)| *y += v);
                } else {
                    row.copy_from_slice(sums);
                }
            }
            match bias {
                Some(b) if p.row_bias => row.iter_mut().for_each(|y| *y += b[i]),
                Some(b) => row.iter_mut().zip(b).for_each(|(y, v)| *y += v),
                None => {}
            }
            activation_forward_in_place(p.act, row);
        }
    })
}

/// `c (+)= A·Bᵀ`, as [`gemm_nt`](crate::kernels::gemm_nt), with A and B rounded to bf16.
pub(crate) fn gemm_nt(p: &MatMulNt, a: &[f32], b: &[f32], c: &mut [f32]) {
    with_scratch(|s| {
        s.b.repack(b, p.rsb, p.k, p.n, true);
        round_rows(&mut s.a, a, p.m, p.k, p.rsa, 1, s.b.k_padded());
        s.c.resize(p.m * p.n, 0.0);
        gemm_bf16(Bf16Arch::current(), p.m, &s.a, &s.b, &mut s.c);
        for i in 0..p.m {
            let row = &mut c[i * p.rsc..i * p.rsc + p.n];
            for (y, &v) in row.iter_mut().zip(&s.c[i * p.n..(i + 1) * p.n]) {
                *y = if p.accumulate { *y + v } else { v };
            }
        }
    })
}

/// Runs `f` with this thread's scratch (a fresh one if a product is already using it).
fn with_scratch(f: impl FnOnce(&mut Scratch)) {
    #[cfg(feature = "std")]
    {
        let mut f = Some(f);
        SCRATCH.with(|s| {
            if let Ok(mut s) = s.try_borrow_mut() {
                (f.take().unwrap())(&mut s);
            }
        });
        if let Some(f) = f {
            f(&mut Scratch::default());
        }
    }
    #[cfg(not(feature = "std"))]
    f(&mut Scratch::default());
}
