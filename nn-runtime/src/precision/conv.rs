//! Convolutions in int8 and bf16: the input quantised (or rounded) once and laid out
//! channels-last, unfolded into one row per output position (so each kernel tap copies a
//! run of `C` values), and one product over every position of the batch.

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::dense::{par_gemm_bf16, par_gemm_u8i8, Int8Tensors, LowpWorkspace};
use super::{Bf16, Infer, Int8Mode, Lower, TensorMap};
use crate::error::Result;
use crate::kernels::conv::ConvGeom;
use crate::kernels::{
    self,
    lowp::{self, PackedBf16, PackedI8, MAX_INT8_DEPTH},
};
use crate::layers::{ConvLayer, ConvOn, ConvPadding, FusedActivation, Layer, Path};
use crate::tensor::{Batch, Sample};
use core::marker::PhantomData;

/// The weights `[C_OUT, C_IN, KH, KW]` reordered to `[C_OUT, KH, KW, C_IN]`: the depth
/// order of the unfolded rows.
fn taps_last<T: Copy + Default>(g: &ConvGeom, w: &[T]) -> Vec<T> {
    let (c, kk) = (g.c_in, g.kh * g.kw);
    let mut out = vec![T::default(); w.len()];
    for o in 0..g.c_out {
        for ci in 0..c {
            for t in 0..kk {
                out[(o * kk + t) * c + ci] = w[(o * c + ci) * kk + t];
            }
        }
    }
    out
}

/// One sample `[C, H, W]` (already converted) to channels-last `[H, W, C]`.
fn channels_last<T: Copy>(g: &ConvGeom, x: &[T], out: &mut [T]) {
    let hw = g.h * g.w;
    if g.c_in == 1 {
        out[..hw].copy_from_slice(&x[..hw]);
        return;
    }
    for c in 0..g.c_in {
        for p in 0..hw {
            out[p * g.c_in + c] = x[c * hw + p];
        }
    }
}

/// Copies `len` values from `src[from..]` to `dst[at..]`; a copy of at most `N` values moves
/// `N` (one 16-byte load and store) when both slices have room for them: the values after
/// `len` in `dst` are then overwritten with whatever followed in `src`, which the callers
/// write again afterwards. Short copies are most of an unfolding (a 3-channel row of 3 taps
/// is 9 bytes), and a call to `memmove` for each would cost more than the product.
#[inline(always)]
fn copy_run<T: Copy, const N: usize>(dst: &mut [T], at: usize, src: &[T], from: usize, len: usize) {
    if len <= N && at + N <= dst.len() && from + N <= src.len() {
        let chunk: [T; N] = src[from..from + N].try_into().unwrap();
        dst[at..at + N].copy_from_slice(&chunk);
    } else {
        dst[at..at + len].copy_from_slice(&src[from..from + len]);
    }
}

/// The unfolded rows of one channels-last sample: row `(oy, ox)` holds, for each tap
/// `(i, j)`, the `C` input values under it (`pad` outside the input), rows `kp` apart. The
/// taps of one kernel row are one run of `KW · C` values when the window lies inside the
/// input along x and the dilation is 1. Rows are written in order, so a copy that runs past
/// its end (see [`copy_run`]) is overwritten by the next one.
fn unfold<T: Copy + Default, const N: usize>(
    g: &ConvGeom,
    x: &[T],
    pad: T,
    kp: usize,
    rows: &mut [T],
) {
    let c = g.c_in;
    let run = g.kw * c;
    for oy in 0..g.oh {
        for ox in 0..g.ow {
            let at = (oy * g.ow + ox) * kp;
            let x0 = (ox * g.sw) as isize - g.pl as isize;
            let inside_x = g.dw == 1 && x0 >= 0 && x0 as usize + g.kw <= g.w;
            for i in 0..g.kh {
                let y = (oy * g.sh + i * g.dh) as isize - g.pt as isize;
                let dst = at + i * run;
                if y < 0 || y >= g.h as isize {
                    rows[dst..dst + run].fill(pad);
                } else if inside_x {
                    let from = (y as usize * g.w + x0 as usize) * c;
                    copy_run::<T, N>(rows, dst, x, from, run);
                } else {
                    for j in 0..g.kw {
                        let xx = x0 + (j * g.dw) as isize;
                        let d = &mut rows[dst + j * c..dst + (j + 1) * c];
                        if xx < 0 || xx >= g.w as isize {
                            d.fill(pad);
                        } else {
                            let from = (y as usize * g.w + xx as usize) * c;
                            d.copy_from_slice(&x[from..from + c]);
                        }
                    }
                }
            }
            // A copy past the taps may have left values in the depth padding.
            rows[at + g.kh * run..at + kp].fill(T::default());
        }
    }
}

/// Converts each sample of `x` with `convert` (into `converted`, `[C, H, W]`), then lays it
/// out channels-last (in `last`) and unfolds it into `rows` (`positions` rows of `kp` per
/// sample).
fn unfold_batch<T: Copy + Default, const N: usize>(
    g: &ConvGeom,
    x: &[f32],
    samples: usize,
    pad: T,
    kp: usize,
    [rows, converted, last]: [&mut Vec<T>; 3],
    mut convert: impl FnMut(&[f32], &mut [T]),
) {
    let (len, p) = (g.c_in * g.h * g.w, g.positions());
    converted.resize(len, T::default());
    last.resize(len, T::default());
    rows.resize(samples * p * kp, T::default());
    for s in 0..samples {
        convert(&x[s * len..(s + 1) * len], converted);
        channels_last(g, converted, last);
        unfold::<T, N>(g, last, pad, kp, &mut rows[s * p * kp..(s + 1) * p * kp]);
    }
}

/// A convolution `C` in int8 (ungrouped): inputs quantised as [`Int8Dense`]'s, the
/// product on the int8 kernels, the bias and the fused activation in f32.
///
/// [`Int8Dense`]: super::Int8Dense
pub struct Int8Conv<C: ConvLayer, M: Int8Mode> {
    /// The weight `[C_OUT, C_IN, KH, KW]` with its scales, the bias, the input quantisation.
    pub tensors: Int8Tensors,
    packed: PackedI8,
    /// A shallow convolution runs in f32 on the weights' int8 values (see [`SHALLOW`]).
    shallow: Option<C>,
    _m: PhantomData<fn() -> (C, M)>,
}

/// Convolutions whose products are this shallow or shallower (input channels × kernel
/// taps: a first layer on 1 or 3 channels) compute in f32, on their low-precision weight
/// values, inside a low-precision network: their products are too shallow for the int8 or
/// bf16 kernels to repay quantising, unfolding and transposing (the MNIST CNN's 1 → 32 3×3
/// convolution, depth 9, took longer in int8 than the f32 direct convolution), and their
/// weights are few. fbgemm's own first-layer kernels are special cases for the same reason.
pub const SHALLOW: usize = 27;

/// The checks every low-precision convolution makes at compile time.
const fn check_geometry(g: &ConvGeom, int8: bool) {
    assert!(
        g.groups == 1,
        "grouped and depthwise convolutions have no int8 or bf16 conversion yet"
    );
    assert!(
        !int8 || g.c_in * g.kh * g.kw <= MAX_INT8_DEPTH,
        "int8 convolution too deep: its i32 sums could overflow"
    );
}

/// The f32 convolution `C` with `weight` and `bias`, if it is [`SHALLOW`].
fn shallow<C: ConvLayer>(weight: impl FnOnce() -> Vec<f32>, bias: &[f32]) -> Option<C> {
    (C::CONV.ckk() <= SHALLOW).then(|| {
        let mut conv = C::init(&mut crate::Rng::seed(0));
        conv.conv_params_mut().weight = weight();
        conv.conv_params_mut().bias = bias.to_vec();
        conv
    })
}

impl<C: ConvLayer, M: Int8Mode> Int8Conv<C, M> {
    const CHECKED: () = check_geometry(&C::CONV, true);

    fn new(tensors: Int8Tensors) -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::CHECKED;
        let g = C::CONV;
        let packed = PackedI8::pack(&taps_last(&g, &tensors.weight), g.c_out, g.ckk());
        let per_channel = g.ckk();
        let values = || {
            (tensors.weight.iter().enumerate())
                .map(|(i, &q)| q as f32 * tensors.weight_scale[i / per_channel])
                .collect()
        };
        let shallow = shallow::<C>(values, &tensors.bias);
        Int8Conv {
            tensors,
            packed,
            shallow,
            _m: PhantomData,
        }
    }

    fn shape() -> [usize; 4] {
        let g = C::CONV;
        [g.c_out, g.c_in, g.kh, g.kw]
    }
}

/// Positions per block of the output transpose: a block's sums (`BLOCK · C_OUT` values)
/// stay in L1 while each channel's run of them is written.
const BLOCK: usize = 32;

/// Writes the products' sums (`samples · positions` rows of `c_out`, position-major) into
/// `y` channel-major: `y[o, pos] = value(sums[pos, o], o) + bias[o]`, then the activation.
fn fold_out<S: Copy, Y: Sample>(
    g: &ConvGeom,
    samples: usize,
    sums: &[S],
    value: impl Fn(S, usize) -> f32,
    bias: &[f32],
    act: kernels::EpilogueAct,
    y: &mut Batch<Y>,
) {
    let (p, co) = (g.positions(), g.c_out);
    y.set_rows(samples);
    let out = y.as_mut_slice();
    for s in 0..samples {
        let sample = &mut out[s * co * p..(s + 1) * co * p];
        let sums = &sums[s * p * co..(s + 1) * p * co];
        for p0 in (0..p).step_by(BLOCK) {
            let len = BLOCK.min(p - p0);
            for o in 0..co {
                let b = if bias.is_empty() { 0.0 } else { bias[o] };
                let run = &mut sample[o * p + p0..o * p + p0 + len];
                for (t, v) in run.iter_mut().enumerate() {
                    *v = value(sums[(p0 + t) * co + o], o) + b;
                }
            }
        }
    }
    kernels::activation_forward_in_place(act, out);
}

impl<C: ConvLayer + Send + Sync, M: Int8Mode> Infer for Int8Conv<C, M> {
    type In = C::In;
    type Out = C::Out;
    type Workspace = LowpWorkspace;

    fn infer_batch(&self, x: &Batch<C::In>, y: &mut Batch<C::Out>, ws: &mut LowpWorkspace) {
        if let Some(conv) = &self.shallow {
            return conv.forward_batch_into(x, y, &mut ws.conv);
        }
        let (g, samples, t) = (C::CONV, x.rows(), &self.tensors);
        let a = t.input_for::<M>(x.as_slice());
        let (kp, inv) = (self.packed.k_padded(), 1.0 / a.scale);
        unfold_batch::<u8, 16>(
            &g,
            x.as_slice(),
            samples,
            a.zero,
            kp,
            [&mut ws.q, &mut ws.q_sample, &mut ws.q_last],
            |src, dst| lowp::quantize_u8(src, inv, a.zero, dst),
        );
        let m = samples * g.positions();
        ws.acc.resize(m * g.c_out, 0);
        par_gemm_u8i8(m, &ws.q, &self.packed, &mut ws.acc);
        t.dequantisation(a, self.packed.col_sums(), &mut ws.corr, &mut ws.scale);
        let (corr, scale) = (&ws.corr, &ws.scale);
        let value = |acc: i32, o: usize| (acc - corr[o]) as f32 * scale[o];
        fold_out(&g, samples, &ws.acc, value, &t.bias, C::ACT, y);
    }

    fn store(&self, path: &Path<'_>, out: &mut TensorMap) -> Result<()> {
        self.tensors.store::<M>(path, &Self::shape(), out);
        Ok(())
    }

    fn restore(path: &Path<'_>, src: &TensorMap) -> Result<Self> {
        Ok(Self::new(Int8Tensors::restore::<M>(
            path,
            &Self::shape(),
            C::BIASED,
            src,
        )?))
    }
}

/// A convolution `C` in bf16 (ungrouped), as [`Bf16Dense`](super::Bf16Dense).
pub struct Bf16Conv<C: ConvLayer> {
    /// `[C_OUT, C_IN, KH, KW]`, bf16 bit patterns.
    pub weight: Vec<u16>,
    /// `[C_OUT]`, or empty.
    pub bias: Vec<f32>,
    packed: PackedBf16,
    /// A shallow convolution runs in f32 on the weights' bf16 values (see [`SHALLOW`]).
    shallow: Option<C>,
    _m: PhantomData<fn() -> C>,
}

impl<C: ConvLayer> Bf16Conv<C> {
    const CHECKED: () = check_geometry(&C::CONV, false);

    fn new(weight: Vec<u16>, bias: Vec<f32>) -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::CHECKED;
        let g = C::CONV;
        let packed = PackedBf16::pack(&taps_last(&g, &weight), g.c_out, g.ckk());
        let values = || weight.iter().map(|&v| lowp::from_bf16(v)).collect();
        let shallow = shallow::<C>(values, &bias);
        Bf16Conv {
            weight,
            bias,
            packed,
            shallow,
            _m: PhantomData,
        }
    }
}

impl<C: ConvLayer + Send + Sync> Infer for Bf16Conv<C> {
    type In = C::In;
    type Out = C::Out;
    type Workspace = LowpWorkspace;

    fn infer_batch(&self, x: &Batch<C::In>, y: &mut Batch<C::Out>, ws: &mut LowpWorkspace) {
        if let Some(conv) = &self.shallow {
            return conv.forward_batch_into(x, y, &mut ws.conv);
        }
        let g = C::CONV;
        let samples = x.rows();
        let kp = self.packed.k_padded();
        unfold_batch::<u16, 8>(
            &g,
            x.as_slice(),
            samples,
            0u16,
            kp,
            [&mut ws.h, &mut ws.h_sample, &mut ws.h_last],
            lowp::to_bf16_slice,
        );
        let m = samples * g.positions();
        ws.sums.resize(m * g.c_out, 0.0);
        par_gemm_bf16(m, &ws.h, &self.packed, &mut ws.sums);
        fold_out(&g, samples, &ws.sums, |v, _| v, &self.bias, C::ACT, y);
    }

    fn store(&self, path: &Path<'_>, out: &mut TensorMap) -> Result<()> {
        let g = C::CONV;
        let shape = [g.c_out, g.c_in, g.kh, g.kw];
        out.insert_bf16(path.child("weight").to_string(), &shape, &self.weight);
        if !self.bias.is_empty() {
            out.insert_f32(path.child("bias").to_string(), &[g.c_out], &self.bias);
        }
        Ok(())
    }

    fn restore(path: &Path<'_>, src: &TensorMap) -> Result<Self> {
        let g = C::CONV;
        let shape = [g.c_out, g.c_in, g.kh, g.kw];
        let weight = src.bf16(&path.child("weight").to_string(), &shape)?;
        let bias = if C::BIASED {
            src.f32(&path.child("bias").to_string(), &[g.c_out])?
        } else {
            Vec::new()
        };
        Ok(Self::new(weight, bias))
    }
}

/// Every ungrouped convolution converts to int8 (static or dynamic) …
impl<C: ConvLayer + Send + Sync, M: Int8Mode> LowerConv<M> for C {
    type Lowered = Int8Conv<C, M>;

    fn lower_conv(&self, calibration: &Batch<C::In>) -> Result<Int8Conv<C, M>> {
        let p = self.conv_params();
        let t = Int8Tensors::convert::<M, C::In>(&p.weight, C::CONV.c_out, &p.bias, calibration)?;
        Ok(Int8Conv::new(t))
    }
}

/// … and to bf16.
impl<C: ConvLayer + Send + Sync> LowerConv<Bf16> for C {
    type Lowered = Bf16Conv<C>;

    fn lower_conv(&self, _calibration: &Batch<C::In>) -> Result<Bf16Conv<C>> {
        let weight = self
            .conv_params()
            .weight
            .iter()
            .map(|&w| lowp::to_bf16(w))
            .collect();
        Ok(Bf16Conv::new(weight, self.conv_params().bias.clone()))
    }
}

/// The conversion of a convolution, generic over the convolution type (whose own type has
/// a dozen parameters); [`Lower`] for `ConvOn` forwards to it.
pub trait LowerConv<P: super::Precision>: ConvLayer {
    type Lowered: Infer<In = Self::In, Out = Self::Out>;
    fn lower_conv(&self, calibration: &Batch<Self::In>) -> Result<Self::Lowered>;
}

impl<
        P: super::Precision,
        X: Sample,
        Y: Sample,
        const KH: usize,
        const KW: usize,
        const SH: usize,
        const SW: usize,
        Pad: ConvPadding,
        const DH: usize,
        const DW: usize,
        const G: usize,
        F: FusedActivation,
        const BIAS: bool,
    > Lower<P> for ConvOn<X, Y, KH, KW, SH, SW, Pad, DH, DW, G, F, BIAS>
where
    Self: LowerConv<P>,
{
    type Lowered = <Self as LowerConv<P>>::Lowered;

    fn lower(&self, calibration: &Batch<<Self as Layer>::In>) -> Result<Self::Lowered> {
        self.lower_conv(calibration)
    }
}
