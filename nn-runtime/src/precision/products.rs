//! The low-precision products of the layers whose f32 pass takes its products as a closure
//! (recurrences, attention): the pass is run unchanged on the weights' low-precision values,
//! and each product whose right operand is one of those weights is computed on the int8 or
//! bf16 kernels from its packing instead.

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::dense::{quantize_rows, LowpWorkspace};
use super::{act_quant, finite_range, TensorMap};
use crate::error::Result;
use crate::kernels::lowp::{self, Bf16Arch, Int8Arch, PackedBf16, PackedI8};
use crate::kernels::{self, MatMul};

/// `[K, N]` (a transposed PyTorch weight) to `[N, K]`.
pub(crate) fn rows_of(w_t: &[f32], k: usize, n: usize) -> Vec<f32> {
    let mut out = vec![0.0; w_t.len()];
    kernels::transpose(w_t, k, n, &mut out);
    out
}

/// `[N, K]` to `[K, N]`.
pub(crate) fn transposed_back(w: &[f32], k: usize, n: usize) -> Vec<f32> {
    let mut out = vec![0.0; w.len()];
    kernels::transpose(w, n, k, &mut out);
    out
}

/// Whether a product is one the low-precision kernels take: A's rows dense along k, B the
/// whole weight, the bias per column, no activation.
fn plain(m: &MatMul) -> bool {
    m.csa == 1 && m.rsb == m.n && !m.row_bias && m.act == kernels::EpilogueAct::None
}

/// Writes (or adds) `c` (`m` rows of `n`) plus `bias` into `out`, rows `rsc` apart.
fn write_out(m: &MatMul, c: &[f32], bias: Option<&[f32]>, out: &mut [f32]) {
    for i in 0..m.m {
        let row = &mut out[i * m.rsc..][..m.n];
        for (j, (o, &v)) in row.iter_mut().zip(&c[i * m.n..(i + 1) * m.n]).enumerate() {
            let v = v + bias.map_or(0.0, |b| b[j]);
            *o = if m.accumulate { *o + v } else { v };
        }
    }
}

/// A layer's weights in bf16, as stored and packed.
pub struct Bf16Weights {
    raw: Vec<Vec<u16>>,
    packed: Vec<PackedBf16>,
}

impl Bf16Weights {
    /// From bf16 weights in PyTorch's layout (`[N, K]`, with `dims` their `(k, n)`); with
    /// their values as the f32 pass reads them (`[K, N]`).
    fn new(
        raw: Vec<Vec<u16>>,
        dims: impl Iterator<Item = (usize, usize)>,
    ) -> (Self, Vec<Vec<f32>>) {
        let dims: Vec<(usize, usize)> = dims.collect();
        let values_t = raw
            .iter()
            .zip(&dims)
            .map(|(w, &(k, n))| {
                let values: Vec<f32> = w.iter().map(|&v| lowp::from_bf16(v)).collect();
                transposed_back(&values, k, n)
            })
            .collect();
        let packed = raw
            .iter()
            .zip(&dims)
            .map(|(w, &(k, n))| PackedBf16::pack(w, n, k))
            .collect();
        (Bf16Weights { raw, packed }, values_t)
    }

    /// `out (+)= a · weight i + bias` on the bf16 kernels.
    fn bf16_product(
        &self,
        i: usize,
        s: &mut LowpWorkspace,
        m: &MatMul,
        a: &[f32],
        bias: Option<&[f32]>,
        out: &mut [f32],
    ) {
        let packed = &self.packed[i];
        let kp = packed.k_padded();
        s.h.clear();
        s.h.resize(m.m * kp, 0);
        for i in 0..m.m {
            lowp::to_bf16_slice(&a[i * m.rsa..][..m.k], &mut s.h[i * kp..]);
        }
        s.sums.resize(m.m * m.n, 0.0);
        lowp::gemm_bf16(Bf16Arch::current(), m.m, &s.h, packed, &mut s.sums);
        write_out(m, &s.sums, bias, out);
    }
}

/// A layer's weights in int8, per-row quantised: as stored (with their scales) and packed.
pub struct Int8Weights {
    raw: Vec<Vec<i8>>,
    scales: Vec<Vec<f32>>,
    packed: Vec<PackedI8>,
}

impl Int8Weights {
    /// From int8 weights in PyTorch's layout (`[N, K]`, with `dims` their `(k, n)`) and
    /// their per-row scales; with their dequantised values as the f32 pass reads them
    /// (`[K, N]`).
    fn new(
        quantised: Vec<(Vec<i8>, Vec<f32>)>,
        dims: impl Iterator<Item = (usize, usize)>,
    ) -> (Self, Vec<Vec<f32>>) {
        let dims: Vec<(usize, usize)> = dims.collect();
        let values_t = quantised
            .iter()
            .zip(&dims)
            .map(|((w, scales), &(k, n))| {
                let values: Vec<f32> = w
                    .iter()
                    .enumerate()
                    .map(|(i, &q)| q as f32 * scales[i / k])
                    .collect();
                transposed_back(&values, k, n)
            })
            .collect();
        let packed = quantised
            .iter()
            .zip(&dims)
            .map(|((w, _), &(k, n))| PackedI8::pack(w, n, k))
            .collect();
        let (raw, scales) = quantised.into_iter().unzip();
        (
            Int8Weights {
                raw,
                scales,
                packed,
            },
            values_t,
        )
    }

    /// `out (+)= a · weight i + bias` on the int8 kernels, the input quantised on this
    /// product's own range.
    fn int8_product(
        &self,
        i: usize,
        s: &mut LowpWorkspace,
        m: &MatMul,
        a: &[f32],
        bias: Option<&[f32]>,
        out: &mut [f32],
    ) {
        let (packed, scales) = (&self.packed[i], &self.scales[i]);
        let (lo, hi) = (0..m.m)
            .map(|i| finite_range(&a[i * m.rsa..][..m.k]))
            .fold((0.0f32, 0.0f32), |(l, h), (a, b)| (l.min(a), h.max(b)));
        let q = act_quant(lo, hi);
        let kp = packed.k_padded();
        s.q.clear();
        s.q.resize(m.m * kp, 0);
        for i in 0..m.m {
            lowp::quantize_u8(
                &a[i * m.rsa..][..m.k],
                1.0 / q.scale,
                q.zero,
                &mut s.q[i * kp..],
            );
        }
        s.acc.resize(m.m * m.n, 0);
        lowp::gemm_u8i8(Int8Arch::current(), m.m, &s.q, packed, &mut s.acc);
        s.sums.resize(m.m * m.n, 0.0);
        let (zero, col) = (q.zero as i32, packed.col_sums());
        for (row_sums, row_acc) in s.sums.chunks_exact_mut(m.n).zip(s.acc.chunks_exact(m.n)) {
            for j in 0..m.n {
                row_sums[j] = (row_acc[j] - zero * col[j]) as f32 * (q.scale * scales[j]);
            }
        }
        write_out(m, &s.sums, bias, out);
    }
}

/// The low-precision weights of a layer whose f32 pass takes its products as a closure:
/// int8 ([`Int8Weights`]) or bf16 ([`Bf16Weights`]). Each weight is given as `(k, n)`: the
/// pass reads it `[K, N]`, files hold it `[N, K]` (PyTorch's layout). Converting or
/// restoring gives the weights' low-precision values too, as the f32 pass reads them: the
/// layer keeps those for its pass, and its products find them by address
/// ([`product`](LowWeights::product)).
pub trait LowWeights: Send + Sync + Sized {
    /// Converts f32 weights given as the pass reads them.
    fn convert(weights: &[(&[f32], usize, usize)]) -> (Self, Vec<Vec<f32>>);
    /// `out (+)= a · weight i + bias` on the low-precision kernels (`m` plain, of weight
    /// `i`'s sizes).
    fn product_of(
        &self,
        i: usize,
        s: &mut LowpWorkspace,
        m: &MatMul,
        a: &[f32],
        bias: Option<&[f32]>,
        out: &mut [f32],
    );
    /// Weight `i`'s depth and outputs.
    fn dims(&self, i: usize) -> (usize, usize);
    /// Stores weight `i` (`[n, k]`) as `name` (and what it needs beside).
    fn store(&self, i: usize, name: &str, n: usize, k: usize, out: &mut TensorMap);
    /// The weights [`store`](LowWeights::store) wrote, `(name, k, n)` each.
    fn restore(
        src: &TensorMap,
        weights: &[(String, usize, usize)],
    ) -> Result<(Self, Vec<Vec<f32>>)>;

    /// `out (+)= a · b + bias`: on the low-precision kernels when `b` is one of `values`
    /// (the layer's own copies of the weights' values, in this order) and the product is a
    /// plain one of its sizes, else in f32.
    #[allow(clippy::too_many_arguments)]
    fn product(
        &self,
        values: &[&[f32]],
        s: &mut LowpWorkspace,
        m: &MatMul,
        a: &[f32],
        b: &[f32],
        bias: Option<&[f32]>,
        out: &mut [f32],
    ) {
        match values
            .iter()
            .position(|w| core::ptr::eq(w.as_ptr(), b.as_ptr()))
        {
            Some(i) if plain(m) && self.dims(i) == (m.k, m.n) => {
                self.product_of(i, s, m, a, bias, out)
            }
            _ => kernels::gemm(m, a, b, bias, out),
        }
    }
}

impl LowWeights for Bf16Weights {
    fn convert(weights: &[(&[f32], usize, usize)]) -> (Self, Vec<Vec<f32>>) {
        let rounded: Vec<Vec<u16>> = weights
            .iter()
            .map(|&(w_t, k, n)| {
                rows_of(w_t, k, n)
                    .iter()
                    .map(|&v| lowp::to_bf16(v))
                    .collect()
            })
            .collect();
        Bf16Weights::new(rounded, weights.iter().map(|&(_, k, n)| (k, n)))
    }
    fn product_of(
        &self,
        i: usize,
        s: &mut LowpWorkspace,
        m: &MatMul,
        a: &[f32],
        bias: Option<&[f32]>,
        out: &mut [f32],
    ) {
        self.bf16_product(i, s, m, a, bias, out)
    }
    fn dims(&self, i: usize) -> (usize, usize) {
        (self.packed[i].k(), self.packed[i].n())
    }
    fn store(&self, i: usize, name: &str, n: usize, k: usize, out: &mut TensorMap) {
        out.insert_bf16(name.to_string(), &[n, k], &self.raw[i]);
    }
    fn restore(
        src: &TensorMap,
        weights: &[(String, usize, usize)],
    ) -> Result<(Self, Vec<Vec<f32>>)> {
        let raw = weights
            .iter()
            .map(|(name, k, n)| src.bf16(name, &[*n, *k]))
            .collect::<Result<Vec<_>>>()?;
        Ok(Bf16Weights::new(
            raw,
            weights.iter().map(|&(_, k, n)| (k, n)),
        ))
    }
}

impl LowWeights for Int8Weights {
    fn convert(weights: &[(&[f32], usize, usize)]) -> (Self, Vec<Vec<f32>>) {
        let quantised: Vec<(Vec<i8>, Vec<f32>)> = weights
            .iter()
            .map(|&(w_t, k, n)| quantize_rows(&rows_of(w_t, k, n), n, k))
            .collect();
        Int8Weights::new(quantised, weights.iter().map(|&(_, k, n)| (k, n)))
    }
    fn product_of(
        &self,
        i: usize,
        s: &mut LowpWorkspace,
        m: &MatMul,
        a: &[f32],
        bias: Option<&[f32]>,
        out: &mut [f32],
    ) {
        self.int8_product(i, s, m, a, bias, out)
    }
    fn dims(&self, i: usize) -> (usize, usize) {
        (self.packed[i].k(), self.packed[i].n())
    }
    fn store(&self, i: usize, name: &str, n: usize, k: usize, out: &mut TensorMap) {
        out.insert_i8(name.to_string(), &[n, k], &self.raw[i]);
        out.insert_f32(format!("{name}_scale"), &[n], &self.scales[i]);
    }
    fn restore(
        src: &TensorMap,
        weights: &[(String, usize, usize)],
    ) -> Result<(Self, Vec<Vec<f32>>)> {
        let mut raw = Vec::new();
        for (name, k, n) in weights {
            raw.push((
                src.i8(name, &[*n, *k])?,
                src.f32(&format!("{name}_scale"), &[*n])?,
            ));
        }
        Ok(Int8Weights::new(
            raw,
            weights.iter().map(|&(_, k, n)| (k, n)),
        ))
    }
}
