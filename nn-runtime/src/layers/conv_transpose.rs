//! Transposed convolutions (PyTorch's `nn.ConvTranspose1d/2d`): input `[C, H, W]` (or `[C,
//! L]`), weight `[C, CO / G, KH, KW]` (or `[C, CO / G, K]`) as PyTorch lays it out, bias
//! `[CO]` unless `BIAS` is false. The output size is a const parameter the `network!` macro
//! computes, `(H − 1)·SH − 2·PT + DH·(KH − 1) + output_padding + 1`; the output padding
//! (rows and columns that only the bias reaches) is whatever that size implies, less than
//! the stride.

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::conv::{group_in, problem, ConvParams};
use super::{planes, Layer, Layout, Path, Walk};
use crate::io::onnx::{attr, dims, LayerState, OnnxGraph};
use crate::kernels::conv::ConvWorkspace;
use crate::kernels::conv::{conv_transpose_backward, conv_transpose_forward, ConvGeom};
use crate::tensor::{Batch, Sample, Tensor2, Tensor3};
use crate::Rng;
use core::marker::PhantomData;

/// 2-D transposed convolution from `[C, H, W]` to `[CO, OH, OW]`: kernel `KH×KW`, stride
/// `SH×SW`, `PT` rows and `PL` columns of PyTorch's `padding` (removed from each side of the
/// full output), dilation `DH×DW`, `G` channel groups, a bias unless `BIAS` is false.
///
/// ```
/// use nn_runtime::prelude::*;
/// // PyTorch's `ConvTranspose2d(8, 4, 3, stride=2, padding=1, output_padding=1)` on
/// // [8, 7, 7]: output [4, 14, 14], weight [8, 4, 3, 3].
/// type Up = ConvTranspose2d<8, 7, 7, 4, 3, 3, 2, 2, 1, 1, 14, 14>;
/// let layer = Up::init(&mut Rng::seed(0));
/// assert_eq!(layer.params.weight.len(), 8 * 4 * 3 * 3);
/// assert_eq!(Up::PARAMS, 8 * 4 * 9 + 4);
/// ```
///
/// An output size no PyTorch layer gives fails to build: 15 rows here would need an output
/// padding of 2, not less than the stride.
///
/// ```compile_fail,E0080
/// use nn_runtime::prelude::*;
/// let _ = ConvTranspose2d::<8, 7, 7, 4, 3, 3, 2, 2, 1, 1, 15, 14>::init(&mut Rng::seed(0));
/// ```
#[allow(clippy::type_complexity)]
pub type ConvTranspose2d<
    const C: usize,
    const H: usize,
    const W: usize,
    const CO: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const PT: usize,
    const PL: usize,
    const OH: usize,
    const OW: usize,
    const DH: usize = 1,
    const DW: usize = 1,
    const G: usize = 1,
    const BIAS: bool = true,
> = ConvTransposeOn<Tensor3<C, H, W>, Tensor3<CO, OH, OW>, KH, KW, SH, SW, PT, PL, DH, DW, G, BIAS>;

/// 1-D transposed convolution from `[C, L]` to `[CO, OL]`: kernel `K`, stride `S`, padding
/// `P`, dilation `D`, `G` channel groups, a bias unless `BIAS` is false.
pub type ConvTranspose1d<
    const C: usize,
    const L: usize,
    const CO: usize,
    const K: usize,
    const S: usize,
    const P: usize,
    const OL: usize,
    const D: usize = 1,
    const G: usize = 1,
    const BIAS: bool = true,
> = ConvTransposeOn<Tensor2<C, L>, Tensor2<CO, OL>, 1, K, 1, S, 0, P, 1, D, G, BIAS>;

/// A transposed convolution from `X` to `Y` samples, both `[C, L]` or both `[C, H, W]`.
#[derive(Clone, Debug)]
pub struct ConvTransposeOn<
    X: Sample,
    Y: Sample,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const PT: usize,
    const PL: usize,
    const DH: usize,
    const DW: usize,
    const G: usize,
    const BIAS: bool,
> {
    /// `weight` `[C, CO / G, KH, KW]`, `bias` `[CO]`.
    pub params: ConvParams,
    _shapes: PhantomData<fn() -> (X, Y)>,
}

/// The convolution whose adjoint the layer from `x` to `y` samples is: from `y`-shaped
/// samples to `x`-shaped ones, with the layer's kernel, stride, padding and dilation.
const fn adjoint(x: &[usize], y: &[usize], k: [usize; 9]) -> ConvGeom {
    let ((c, h, w), (co, oh, ow)) = (planes(x), planes(y));
    if x.len() != y.len() || x.len() < 2 {
        panic!("a transposed convolution takes and gives [C, L] or [C, H, W] samples");
    }
    let [kh, kw, sh, sw, pt, pl, dh, dw, groups] = k;
    ConvGeom {
        c_in: co,
        h: oh,
        w: ow,
        c_out: c,
        kh,
        kw,
        sh,
        sw,
        dh,
        dw,
        pt,
        pl,
        oh: h,
        ow: w,
        groups,
    }
}

macro_rules! conv_transpose_impl {
    ($($item:tt)*) => {
        impl<
                X: Sample,
                Y: Sample,
                const KH: usize,
                const KW: usize,
                const SH: usize,
                const SW: usize,
                const PT: usize,
                const PL: usize,
                const DH: usize,
                const DW: usize,
                const G: usize,
                const BIAS: bool,
            > $($item)*
    };
}

conv_transpose_impl! {
    ConvTransposeOn<X, Y, KH, KW, SH, SW, PT, PL, DH, DW, G, BIAS> {
        /// The adjoint convolution's sizes as given, unchecked (what `PARAMS` counts).
        const SIZES: ConvGeom =
            adjoint(X::SHAPE, Y::SHAPE, [KH, KW, SH, SW, PT, PL, DH, DW, G]);

        /// Fails to compile for sizes no PyTorch transposed convolution has: exactly those
        /// whose adjoint is no PyTorch convolution.
        const GEOMETRY: ConvGeom = {
            if problem(&Self::SIZES).is_some() {
                panic!("ConvTranspose: the output size must be (input − 1)·stride − 2·padding + dilation·(kernel − 1) + output_padding + 1 with output_padding less than the stride, and groups must divide both channel counts");
            }
            Self::SIZES
        };

        /// Glorot-uniform weights over the fans of the weight `[C, CO / G, KH, KW]` (Keras's
        /// default for `Conv2DTranspose`), zero bias.
        pub fn glorot_uniform(rng: &mut Rng) -> Self {
            // The adjoint convolution's fans are the weight's: (CO / G + C)·KH·KW.
            let g = Self::GEOMETRY;
            ConvTransposeOn {
                params: ConvParams::glorot_uniform(&g, if BIAS { g.c_in } else { 0 }, rng),
                _shapes: PhantomData,
            }
        }

        fn forward(&self, x: &[f32], y: &mut [f32], rows: usize, ws: &mut ConvWorkspace) {
            let bias = (!self.params.bias.is_empty()).then_some(&self.params.bias[..]);
            conv_transpose_forward(&Self::GEOMETRY, &self.params.weight, bias, x, y, rows, ws);
        }
    }
}

conv_transpose_impl! {
    Layer for ConvTransposeOn<X, Y, KH, KW, SH, SW, PT, PL, DH, DW, G, BIAS> {
        type In = X;
        type Out = Y;
        type Cache = ConvWorkspace;
        type Workspace = ConvWorkspace;
        const SAMPLE_WORKSPACE: bool = true;
        const ARENA: usize =
            crate::kernels::arena::padded(crate::kernels::conv::conv2d_arena_floats(&Self::SIZES));
        const ARENA_READY: bool = true;
        /// The first dimension is channels, not steps.
        const KEEPS_STEPS: bool = false;
        const PARAMS: usize = {
            let g = Self::SIZES;
            let per_group = group_in(&g);
            g.c_out * per_group * g.kh * g.kw + if BIAS { g.c_in } else { 0 }
        };
        const FLOPS: usize = Self::SIZES.flops();
        const KIND: &'static str = if X::SHAPE.len() == 2 {
            "ConvTranspose1d"
        } else {
            "ConvTranspose2d"
        };

        fn init(rng: &mut Rng) -> Self {
            Self::glorot_uniform(rng)
        }

        fn forward_into(&self, x: &X, y: &mut Y, ws: &mut ConvWorkspace) {
            self.forward(x.as_slice(), y.as_mut_slice(), 1, ws);
        }

        fn forward_arena(&self, x: &X, y: &mut Y, arena: &mut [f32]) {
            let bias = (!self.params.bias.is_empty()).then_some(&self.params.bias[..]);
            crate::kernels::conv::conv_transpose_forward_arena(
                &Self::GEOMETRY,
                &self.params.weight,
                bias,
                x.as_slice(),
                y.as_mut_slice(),
                arena,
            );
        }

        fn forward_batch_into(&self, x: &Batch<X>, y: &mut Batch<Y>, ws: &mut ConvWorkspace) {
            y.set_rows(x.rows());
            self.forward(x.as_slice(), y.as_mut_slice(), x.rows(), ws);
        }

        fn forward_train(
            &self,
            x: &Batch<X>,
            y: &mut Batch<Y>,
            cache: &mut ConvWorkspace,
            _rng: &mut Rng,
        ) {
            self.forward_batch_into(x, y, cache);
        }

        fn backward(
            &mut self,
            x: &Batch<X>,
            _y: &Batch<Y>,
            cache: &mut ConvWorkspace,
            dy: &Batch<Y>,
            dx: Option<&mut Batch<X>>,
        ) {
            let dx = dx.map(|dx| {
                dx.set_rows(x.rows());
                dx.as_mut_slice()
            });
            let p = &mut self.params;
            let dbias = (!p.bias_grad.is_empty()).then_some(&mut p.bias_grad[..]);
            conv_transpose_backward(
                &Self::GEOMETRY,
                &p.weight,
                x.as_slice(),
                dy.as_slice(),
                x.rows(),
                &mut p.weight_grad,
                dbias,
                dx,
                cache,
            );
        }

        /// `ConvTranspose` with the layer's geometry (that of the convolution whose adjoint
        /// it is) and the output padding that gives the output's size.
        fn to_onnx(&self, g: &mut OnnxGraph, path: &Path<'_>, input: &str) -> crate::Result<String> {
            let scope = path.to_string();
            let state = LayerState::of(self, path);
            let weight = state.initializer(g, "weight")?;
            let bias = state.optional_initializer(g, "bias");
            let mut inputs = vec![input, weight.as_str()];
            inputs.extend(bias.as_deref());
            let a = Self::GEOMETRY;
            // Per spatial axis: input, output, kernel, stride, dilation, zeros before.
            let axes = [[a.oh, a.h, a.kh, a.sh, a.dh, a.pt], [a.ow, a.w, a.kw, a.sw, a.dw, a.pl]];
            let axes = if X::SHAPE.len() == 2 { &axes[1..] } else { &axes[..] };
            let (mut before, mut after, mut extra) = (vec![], vec![], vec![]);
            for &[len, out, k, s, d, p] in axes {
                // ONNX: out = s·(len − 1) + (k − 1)·d + 1 − before − after + output_padding.
                let full = s * (len - 1) + (k - 1) * d + 1;
                let cut = full as i64 - out as i64 - p as i64;
                before.push(p);
                after.push(cut.max(0) as usize);
                extra.push((-cut).max(0) as usize);
            }
            let column = |i: usize| -> Vec<i64> { axes.iter().map(|a| a[i] as i64).collect() };
            let pads: Vec<usize> = before.iter().chain(&after).copied().collect();
            let attrs = vec![
                attr::ints("kernel_shape", &column(2)),
                attr::ints("strides", &column(3)),
                attr::ints("dilations", &column(4)),
                attr::ints("pads", &dims(&pads)),
                attr::ints("output_padding", &dims(&extra)),
                attr::int("group", a.groups as i64),
            ];
            Ok(g.op("ConvTranspose", &scope, &inputs, attrs))
        }

        /// PyTorch's weight shape: `[C, CO / G, K]` (1-D) or `[C, CO / G, KH, KW]` (2-D);
        /// no `bias` tensor without a bias.
        fn walk<W: Walk<Self>>(walk: &mut W) {
            let g = Self::GEOMETRY;
            let (c, cog) = (g.c_out, g.c_in / g.groups);
            let (one_d, two_d) = ([c, cog, g.kw], [c, cog, g.kh, g.kw]);
            walk.param(
                "weight",
                if X::SHAPE.len() == 2 { &one_d } else { &two_d },
                Layout::RowMajor,
                |l| (&l.params.weight, &l.params.weight_grad),
                |l| (&mut l.params.weight, &mut l.params.weight_grad),
            );
            if BIAS {
                walk.param(
                    "bias",
                    &[g.c_in],
                    Layout::RowMajor,
                    |l| (&l.params.bias, &l.params.bias_grad),
                    |l| (&mut l.params.bias, &mut l.params.bias_grad),
                );
            }
        }
    }
}
