//! Dense layers in int8 and bf16.

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::{
    act_quant, calibrate, finite_range, ActQuant, Bf16, Infer, Int8Mode, Lower, TensorMap,
};
use crate::error::Result;
use crate::kernels::{
    self,
    lowp::{self, Bf16Arch, Int8Arch, PackedBf16, PackedI8, MAX_INT8_DEPTH},
};
use crate::layers::{DenseOn, FusedActivation, Path};
use crate::tensor::{Batch, Sample};
use core::marker::PhantomData;

/// Per-output-channel symmetric quantisation of `rows` rows of `cols` weights: the int8
/// values and each row's scale (`w ≈ scale · q`, `q` in `-127..=127`).
pub(crate) fn quantize_rows(w: &[f32], rows: usize, cols: usize) -> (Vec<i8>, Vec<f32>) {
    let max = lowp::WEIGHT_MAX as f32;
    let mut q = vec![0i8; rows * cols];
    let mut scales = vec![1.0f32; rows];
    for r in 0..rows {
        let row = &w[r * cols..(r + 1) * cols];
        let amax = row
            .iter()
            .filter(|v| v.is_finite())
            .fold(0.0f32, |m, v| m.max(v.abs()));
        let scale = if amax > 0.0 { amax / max } else { 1.0 };
        scales[r] = scale;
        for (o, &v) in q[r * cols..(r + 1) * cols].iter_mut().zip(row) {
            *o = (v / scale).round_ties_even().clamp(-max, max) as i8;
        }
    }
    (q, scales)
}

/// An int8 layer's tensors: its weight (of the layer's shape, output channels first) with a
/// scale per output channel, its bias (empty without), its calibrated input quantisation
/// (static mode; unused in dynamic mode).
pub struct Int8Tensors {
    /// The weight, output channels first (PyTorch's layout).
    pub weight: Vec<i8>,
    /// One scale per output channel: `w ≈ scale · q`.
    pub weight_scale: Vec<f32>,
    /// One per output channel, or empty.
    pub bias: Vec<f32>,
    /// The calibrated input quantisation.
    pub input: ActQuant,
}

impl Int8Tensors {
    /// `weight` (`[out, in]`, f32) quantised per output channel, `bias` kept, the input
    /// quantisation calibrated in static mode.
    pub(crate) fn convert<M: Int8Mode, S: Sample>(
        weight: &[f32],
        outputs: usize,
        bias: &[f32],
        calibration: &Batch<S>,
    ) -> Result<Self> {
        let input = if M::STATIC {
            calibrate(calibration)?
        } else {
            ActQuant::UNSET
        };
        let (weight, weight_scale) = quantize_rows(weight, outputs, weight.len() / outputs);
        Ok(Int8Tensors {
            weight,
            weight_scale,
            bias: bias.to_vec(),
            input,
        })
    }

    /// Stores them under `path`: `weight` (I8, `shape`), `weight_scale`, `bias`, and in static
    /// mode `input_scale` and `input_zero_point`.
    pub(crate) fn store<M: Int8Mode>(&self, path: &Path<'_>, shape: &[usize], out: &mut TensorMap) {
        let n = shape[0];
        out.insert_i8(path.child("weight").to_string(), shape, &self.weight);
        out.insert_f32(
            path.child("weight_scale").to_string(),
            &[n],
            &self.weight_scale,
        );
        if !self.bias.is_empty() {
            out.insert_f32(path.child("bias").to_string(), &[n], &self.bias);
        }
        if M::STATIC {
            out.insert_f32(
                path.child("input_scale").to_string(),
                &[],
                &[self.input.scale],
            );
            out.insert_u8(
                path.child("input_zero_point").to_string(),
                &[],
                &[self.input.zero],
            );
        }
    }

    /// What [`store`](Self::store) wrote under `path`, checked against `shape` (and a bias
    /// when `biased`).
    pub(crate) fn restore<M: Int8Mode>(
        path: &Path<'_>,
        shape: &[usize],
        biased: bool,
        src: &TensorMap,
    ) -> Result<Self> {
        let n = shape[0];
        let weight = src.i8(&path.child("weight").to_string(), shape)?;
        let weight_scale = src.f32(&path.child("weight_scale").to_string(), &[n])?;
        let bias = if biased {
            src.f32(&path.child("bias").to_string(), &[n])?
        } else {
            Vec::new()
        };
        let input = if M::STATIC {
            ActQuant {
                scale: src.f32(&path.child("input_scale").to_string(), &[])?[0],
                zero: src.u8(&path.child("input_zero_point").to_string(), &[])?[0]
                    .min(lowp::ACT_MAX),
            }
        } else {
            ActQuant::UNSET
        };
        Ok(Int8Tensors {
            weight,
            weight_scale,
            bias,
            input,
        })
    }

    /// The quantisation of a batch `x`: the calibrated one (static), or `x`'s own range's.
    pub(crate) fn input_for<M: Int8Mode>(&self, x: &[f32]) -> ActQuant {
        if M::STATIC {
            self.input
        } else {
            let (lo, hi) = finite_range(x);
            act_quant(lo, hi)
        }
    }

    /// Per output channel, into `corr` and `scale`: the zero point's share of the integer
    /// sums (`zero · Σ q_w`) and the scale from sums to values (`s_x · s_w`).
    pub(crate) fn dequantisation(
        &self,
        a: ActQuant,
        col_sums: &[i32],
        corr: &mut Vec<i32>,
        scale: &mut Vec<f32>,
    ) {
        corr.clear();
        corr.extend(col_sums.iter().map(|&c| a.zero as i32 * c));
        scale.clear();
        scale.extend(self.weight_scale.iter().map(|&s| a.scale * s));
    }
}

/// Products smaller than this many multiply-adds stay on one thread: a split hands work to
/// another worker, which from outside the pool costs tens of microseconds (measured: W2's
/// 6.4 M multiply-adds took 77 µs split over two threads against 50 µs on one, W5 475 µs
/// against 304).
const PARALLEL_MIN_MACS: usize = 1 << 24;

/// `c = a · b` on the int8 kernels, its rows split over the library's threads when large.
pub(crate) fn par_gemm_u8i8(m: usize, a: &[u8], b: &PackedI8, c: &mut [i32]) {
    let (kp, n) = (b.k_padded(), b.n());
    split_rows(m, m * kp * n, kp, n, a, c, &|rows, a, c| {
        lowp::gemm_u8i8(Int8Arch::current(), rows, a, b, c)
    });
}

/// `c = a · b` on the bf16 kernels, its rows split over the library's threads when large.
pub(crate) fn par_gemm_bf16(m: usize, a: &[u16], b: &PackedBf16, c: &mut [f32]) {
    let (kp, n) = (b.k_padded(), b.n());
    split_rows(m, m * kp * n, kp, n, a, c, &|rows, a, c| {
        lowp::gemm_bf16(Bf16Arch::current(), rows, a, b, c)
    });
}

/// A product over some rows: `(rows, a, c)`.
type RowsProduct<'f, A, C> = &'f (dyn Fn(usize, &[A], &mut [C]) + Sync);

/// Runs `f` on `m` rows of `a` (`row_a` apart) and `c` (`row_c` apart), halving the rows
/// between threads while there are threads left and `work` (multiply-adds) repays it.
#[allow(clippy::too_many_arguments)]
fn split_rows<A: Sync, C: Send>(
    m: usize,
    work: usize,
    row_a: usize,
    row_c: usize,
    a: &[A],
    c: &mut [C],
    f: RowsProduct<'_, A, C>,
) {
    fn go<A: Sync, C: Send>(
        threads: usize,
        m: usize,
        row_a: usize,
        row_c: usize,
        a: &[A],
        c: &mut [C],
        f: RowsProduct<'_, A, C>,
    ) {
        if threads <= 1 || m < 8 {
            return f(m, &a[..m * row_a], &mut c[..m * row_c]);
        }
        let half = m / 2;
        let (a0, a1) = a.split_at(half * row_a);
        let (c0, c1) = c.split_at_mut(half * row_c);
        let t0 = threads / 2;
        kernels::join(
            || go(t0, half, row_a, row_c, a0, c0, f),
            || go(threads - t0, m - half, row_a, row_c, a1, c1, f),
        );
    }
    let threads = if work >= PARALLEL_MIN_MACS {
        kernels::threads()
    } else {
        1
    };
    go(threads, m, row_a, row_c, a, c, f)
}

/// Scratch of the low-precision dense layers and convolutions: the quantised (or rounded)
/// inputs, their unfolding (convolutions), the products' sums.
#[derive(Default)]
pub struct LowpWorkspace {
    pub(crate) q: Vec<u8>,
    pub(crate) h: Vec<u16>,
    pub(crate) acc: Vec<i32>,
    pub(crate) sums: Vec<f32>,
    /// Per output channel: the zero point's share of the sums, the dequantising scale.
    pub(crate) corr: Vec<i32>,
    pub(crate) scale: Vec<f32>,
    /// A convolution's sample converted, then laid out channels-last (int8, bf16).
    pub(crate) q_sample: Vec<u8>,
    pub(crate) q_last: Vec<u8>,
    pub(crate) h_sample: Vec<u16>,
    pub(crate) h_last: Vec<u16>,
    /// A shallow convolution's f32 scratch (see `conv.rs`).
    pub(crate) conv: crate::kernels::conv::ConvWorkspace,
}

/// `Dense` in int8: `y = F(s_x · s_w · (q_x · q_w − zero · Σq_w) + b)`, the product on the
/// int8 kernels ([`lowp::gemm_u8i8`]). `M` is [`Int8`](super::Int8) (input scale calibrated)
/// or [`Int8Dynamic`](super::Int8Dynamic) (computed per batch).
pub struct Int8Dense<X: Sample, Y: Sample, F: FusedActivation, const BIAS: bool, M: Int8Mode> {
    /// The weight `[OUT, IN]` with its scales, the bias, the input quantisation.
    pub tensors: Int8Tensors,
    packed: PackedI8,
    _m: super::Marker<(X, Y, F, M)>,
}

impl<X: Sample, Y: Sample, F: FusedActivation, const BIAS: bool, M: Int8Mode>
    Int8Dense<X, Y, F, BIAS, M>
{
    /// Sums of `X::LEN` products of 7-bit activations and 8-bit weights fit an `i32`:
    /// a compile error otherwise (evaluated when a network with this layer converts).
    const DEPTH_FITS: () = assert!(
        X::LEN <= MAX_INT8_DEPTH,
        "int8 dense layer too deep: its i32 sums could overflow"
    );

    fn new(tensors: Int8Tensors) -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::DEPTH_FITS;
        let packed = PackedI8::pack(&tensors.weight, Y::LEN, X::LEN);
        Int8Dense {
            tensors,
            packed,
            _m: PhantomData,
        }
    }
}

/// Quantises the `rows` rows of `x` (each `k` values) into `q`, rows `kp` apart (the padding
/// zero).
pub(crate) fn quantize_rows_u8(
    x: &[f32],
    rows: usize,
    k: usize,
    kp: usize,
    a: ActQuant,
    q: &mut Vec<u8>,
) {
    q.resize(rows * kp, 0);
    for r in 0..rows {
        lowp::quantize_u8(
            &x[r * k..(r + 1) * k],
            1.0 / a.scale,
            a.zero,
            &mut q[r * kp..],
        );
    }
}

impl<X: Sample, Y: Sample, F: FusedActivation, const BIAS: bool, M: Int8Mode> Infer
    for Int8Dense<X, Y, F, BIAS, M>
{
    type In = X;
    type Out = Y;
    type Workspace = LowpWorkspace;

    fn infer_batch(&self, x: &Batch<X>, y: &mut Batch<Y>, ws: &mut LowpWorkspace) {
        let (rows, n, t) = (x.rows(), Y::LEN, &self.tensors);
        let a = t.input_for::<M>(x.as_slice());
        let kp = self.packed.k_padded();
        quantize_rows_u8(x.as_slice(), rows, X::LEN, kp, a, &mut ws.q);
        ws.acc.resize(rows * n, 0);
        par_gemm_u8i8(rows, &ws.q, &self.packed, &mut ws.acc);
        t.dequantisation(a, self.packed.col_sums(), &mut ws.corr, &mut ws.scale);
        y.set_rows(rows);
        for (out, acc) in y
            .as_mut_slice()
            .chunks_exact_mut(n)
            .zip(ws.acc.chunks_exact(n))
        {
            for j in 0..n {
                let v = (acc[j] - ws.corr[j]) as f32 * ws.scale[j];
                out[j] = if BIAS { v + t.bias[j] } else { v };
            }
        }
        kernels::activation_forward_in_place(F::EPILOGUE, y.as_mut_slice());
        crate::layers::carry_lengths::<DenseOn<X, Y, F, BIAS>>(x, y);
    }

    fn store(&self, path: &Path<'_>, out: &mut TensorMap) -> Result<()> {
        self.tensors.store::<M>(path, &[Y::LEN, X::LEN], out);
        Ok(())
    }

    fn restore(path: &Path<'_>, src: &TensorMap) -> Result<Self> {
        Ok(Self::new(Int8Tensors::restore::<M>(
            path,
            &[Y::LEN, X::LEN],
            BIAS,
            src,
        )?))
    }
}

impl<X: Sample, Y: Sample, F: FusedActivation, const BIAS: bool, M: Int8Mode> Lower<M>
    for DenseOn<X, Y, F, BIAS>
{
    type Lowered = Int8Dense<X, Y, F, BIAS, M>;

    fn lower(&self, calibration: &Batch<X>) -> Result<Self::Lowered> {
        let t = Int8Tensors::convert::<M, X>(&self.weight(), Y::LEN, &self.bias, calibration)?;
        Ok(Int8Dense::new(t))
    }
}

/// `Dense` in bf16: weights and inputs rounded to bf16, products summed in f32
/// ([`lowp::gemm_bf16`]), the bias added in f32.
pub struct Bf16Dense<X: Sample, Y: Sample, F: FusedActivation, const BIAS: bool> {
    /// `[OUT, IN]`, bf16 bit patterns.
    pub weight: Vec<u16>,
    /// `[OUT]`, empty without bias.
    pub bias: Vec<f32>,
    packed: PackedBf16,
    _m: super::Marker<(X, Y, F)>,
}

impl<X: Sample, Y: Sample, F: FusedActivation, const BIAS: bool> Bf16Dense<X, Y, F, BIAS> {
    fn new(weight: Vec<u16>, bias: Vec<f32>) -> Self {
        let packed = PackedBf16::pack(&weight, Y::LEN, X::LEN);
        Bf16Dense {
            weight,
            bias,
            packed,
            _m: PhantomData,
        }
    }
}

/// Rounds the `rows` rows of `x` (each `k` values) to bf16 into `h`, rows `kp` apart.
pub(crate) fn bf16_rows(x: &[f32], rows: usize, k: usize, kp: usize, h: &mut Vec<u16>) {
    h.resize(rows * kp, 0);
    for r in 0..rows {
        lowp::to_bf16_slice(&x[r * k..(r + 1) * k], &mut h[r * kp..]);
    }
}

impl<X: Sample, Y: Sample, F: FusedActivation, const BIAS: bool> Infer
    for Bf16Dense<X, Y, F, BIAS>
{
    type In = X;
    type Out = Y;
    type Workspace = LowpWorkspace;

    fn infer_batch(&self, x: &Batch<X>, y: &mut Batch<Y>, ws: &mut LowpWorkspace) {
        let (rows, n) = (x.rows(), Y::LEN);
        bf16_rows(
            x.as_slice(),
            rows,
            X::LEN,
            self.packed.k_padded(),
            &mut ws.h,
        );
        y.set_rows(rows);
        par_gemm_bf16(rows, &ws.h, &self.packed, y.as_mut_slice());
        if BIAS {
            for out in y.as_mut_slice().chunks_exact_mut(n) {
                for (o, b) in out.iter_mut().zip(&self.bias) {
                    *o += b;
                }
            }
        }
        kernels::activation_forward_in_place(F::EPILOGUE, y.as_mut_slice());
        crate::layers::carry_lengths::<DenseOn<X, Y, F, BIAS>>(x, y);
    }

    fn store(&self, path: &Path<'_>, out: &mut TensorMap) -> Result<()> {
        let (n, k) = (Y::LEN, X::LEN);
        out.insert_bf16(path.child("weight").to_string(), &[n, k], &self.weight);
        if BIAS {
            out.insert_f32(path.child("bias").to_string(), &[n], &self.bias);
        }
        Ok(())
    }

    fn restore(path: &Path<'_>, src: &TensorMap) -> Result<Self> {
        let (n, k) = (Y::LEN, X::LEN);
        let weight = src.bf16(&path.child("weight").to_string(), &[n, k])?;
        let bias = if BIAS {
            src.f32(&path.child("bias").to_string(), &[n])?
        } else {
            Vec::new()
        };
        Ok(Self::new(weight, bias))
    }
}

impl<X: Sample, Y: Sample, F: FusedActivation, const BIAS: bool> Lower<Bf16>
    for DenseOn<X, Y, F, BIAS>
{
    type Lowered = Bf16Dense<X, Y, F, BIAS>;

    fn lower(&self, _calibration: &Batch<X>) -> Result<Self::Lowered> {
        let weight = self.weight().iter().map(|&w| lowp::to_bf16(w)).collect();
        Ok(Bf16Dense::new(weight, self.bias.clone()))
    }
}
