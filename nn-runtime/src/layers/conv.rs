//! Convolutions, PyTorch layout: input `[C, H, W]` (or `[C, L]`), weight
//! `[C_OUT, C / G, KH, KW]` (or `[C_OUT, C / G, K]`) for `G` channel groups, bias `[C_OUT]`
//! unless `BIAS` is false; optionally an element-wise activation fused in (as for `Dense`).
//! Output sizes and padding are const parameters the `network!` macro computes; a set no
//! PyTorch or Keras layer would produce fails to compile (`GEOMETRY`).

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::{planes, FusedActivation, Layer, Layout, Linear, Marker, Path, Walk};
use crate::io::onnx::{attr, window_attrs, LayerState, OnnxGraph};
use crate::kernels::conv::{
    conv2d_backward, conv2d_forward, conv2d_max_pool_backward, ConvGeom, ConvWorkspace, PoolGeom,
};
use crate::kernels::EpilogueAct;
use crate::tensor::{Batch, Sample, Tensor2, Tensor3};
use crate::Rng;
use core::marker::PhantomData;
use nn_onnx::AttributeProto;

/// Parameters and gradients shared by the 1-D and 2-D convolutions.
#[derive(Clone, Debug)]
pub struct ConvParams {
    /// `[C_OUT, C / G, KH, KW]`, row-major.
    pub weight: Vec<f32>,
    /// `[C_OUT]`; empty for a layer without bias (`BIAS = false`).
    pub bias: Vec<f32>,
    pub weight_grad: Vec<f32>,
    pub bias_grad: Vec<f32>,
}

impl ConvParams {
    /// Glorot-uniform weights: U(−l, l), l = √(6 / (fan_in + fan_out)), with the fans of the
    /// weight's shape as Keras's `Conv2D(groups=G)` and PyTorch's `xavier_uniform_` take
    /// them: fan_in = (C / G)·KH·KW, fan_out = C_OUT·KH·KW. Zero bias.
    /// With `biases` zero biases: the convolution's `c_out`, the transposed convolution's
    /// `c_in` (its output channels), or none.
    pub(super) fn glorot_uniform(g: &ConvGeom, biases: usize, rng: &mut Rng) -> Self {
        let mut p = Self::zeros(g, biases);
        let receptive = g.kh * g.kw;
        let limit = (6.0 / ((g.c_in / g.groups + g.c_out) * receptive) as f32).sqrt();
        rng.fill_uniform(&mut p.weight, limit);
        p
    }

    fn zeros(g: &ConvGeom, b: usize) -> Self {
        let n = g.weight_len();
        ConvParams {
            weight: vec![0.0; n],
            bias: vec![0.0; b],
            weight_grad: vec![0.0; n],
            bias_grad: vec![0.0; b],
        }
    }

    /// The bias, `None` for a layer without one.
    pub(super) fn bias(&self) -> Option<&[f32]> {
        (!self.bias.is_empty()).then_some(&self.bias)
    }

    fn forward(
        &self,
        g: &ConvGeom,
        act: crate::kernels::EpilogueAct,
        x: &[f32],
        y: &mut [f32],
        rows: usize,
        ws: &mut ConvWorkspace,
    ) {
        conv2d_forward(g, &self.weight, self.bias(), act, x, y, rows, ws);
    }

    #[allow(clippy::too_many_arguments)]
    fn backward(
        &mut self,
        g: &ConvGeom,
        act: crate::kernels::EpilogueAct,
        x: &[f32],
        y: &[f32],
        dy: &[f32],
        rows: usize,
        dx: Option<&mut [f32]>,
        ws: &mut ConvWorkspace,
    ) {
        let dbias = (!self.bias_grad.is_empty()).then_some(&mut self.bias_grad[..]);
        conv2d_backward(
            g,
            &self.weight,
            act,
            x,
            y,
            dy,
            rows,
            &mut self.weight_grad,
            dbias,
            dx,
            ws,
        );
    }

    /// The gradients through a max pooling fused after the convolution, from the pooled
    /// output `y`, its gradient `dy` and the pooling's choices (`conv2d_max_pool_backward`).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn backward_max_pooled(
        &mut self,
        g: &ConvGeom,
        pool: &PoolGeom,
        act: EpilogueAct,
        x: &[f32],
        pooled: (&[f32], &[f32], &[u32]),
        rows: usize,
        dx: Option<&mut [f32]>,
        ws: &mut ConvWorkspace,
    ) {
        let dbias = (!self.bias_grad.is_empty()).then_some(&mut self.bias_grad[..]);
        conv2d_max_pool_backward(
            g,
            pool,
            &self.weight,
            act,
            x,
            pooled,
            rows,
            &mut self.weight_grad,
            dbias,
            dx,
            ws,
        );
    }
}

/// One spatial dimension's sizes are ones PyTorch or Keras makes: output length `out` for a
/// kernel `k` dilated by `d`, stride `s` and `pad` zeros before an input of `len`. The
/// windows span `(out − 1)·s + (k − 1)·d + 1` positions; the zeros after the input are
/// whatever that span implies. With PyTorch's symmetric padding the span falls short of the
/// padded length `len + 2·pad` by less than a stride; Keras's and PyTorch's `same` put an
/// odd zero after the input, overrunning it by one. So the span lies in
/// `(len + 2·pad − s, len + 2·pad + 1]`. Padding may exceed the kernel, as PyTorch allows.
const fn dim_fits(len: usize, k: usize, s: usize, d: usize, pad: usize, out: usize) -> bool {
    let span = (out - 1) * s + (k - 1) * d + 1;
    let padded = len + 2 * pad;
    span + s > padded && span <= padded + 1
}

/// Why no PyTorch or Keras convolution has the sizes `g`, or `None` when one does.
pub(super) const fn problem(g: &ConvGeom) -> Option<&'static str> {
    if g.c_in == 0 || g.h == 0 || g.w == 0 || g.c_out == 0 || g.oh == 0 || g.ow == 0 {
        Some("convolution sizes must be positive")
    } else if g.kh == 0 || g.kw == 0 || g.sh == 0 || g.sw == 0 || g.dh == 0 || g.dw == 0 {
        Some("kernel sizes, strides and dilations must be positive")
    } else if g.groups == 0 || !g.c_in.is_multiple_of(g.groups) || !g.c_out.is_multiple_of(g.groups)
    {
        Some("groups must divide both the input and the output channels")
    } else if !dim_fits(g.h, g.kh, g.sh, g.dh, g.pt, g.oh) {
        Some("output height inconsistent with the input height, kernel, stride, dilation and padding")
    } else if !dim_fits(g.w, g.kw, g.sw, g.dw, g.pl, g.ow) {
        Some("output width inconsistent with the input width, kernel, stride, dilation and padding")
    } else {
        None
    }
}

/// `g`, or a compile error (in a `GEOMETRY` constant) saying why no PyTorch or Keras
/// convolution has these sizes.
const fn checked(g: ConvGeom) -> ConvGeom {
    if let Some(problem) = problem(&g) {
        panic!("{}", problem);
    }
    g
}

/// The forward and backward passes of a convolution layer, the same for 1-D and 2-D: all
/// the shape knowledge is in `Self::GEOMETRY`.
macro_rules! conv_passes {
    () => {
        // y = F(W ⋆ x + b), each group's output channels from its input channels.
        fn forward_into(&self, x: &Self::In, y: &mut Self::Out, ws: &mut ConvWorkspace) {
            self.params.forward(
                &Self::GEOMETRY,
                F::EPILOGUE,
                x.as_slice(),
                y.as_mut_slice(),
                1,
                ws,
            );
        }

        // The columns in the arena, the products on this thread (see
        // `conv2d_forward_arena`).
        fn forward_arena(&self, x: &Self::In, y: &mut Self::Out, arena: &mut [f32]) {
            crate::kernels::conv::conv2d_forward_arena(
                &Self::GEOMETRY,
                &self.params.weight,
                self.params.bias(),
                F::EPILOGUE,
                x.as_slice(),
                y.as_mut_slice(),
                arena,
            );
        }

        fn forward_batch_into(
            &self,
            x: &Batch<Self::In>,
            y: &mut Batch<Self::Out>,
            ws: &mut ConvWorkspace,
        ) {
            y.set_rows(x.rows());
            self.params.forward(
                &Self::GEOMETRY,
                F::EPILOGUE,
                x.as_slice(),
                y.as_mut_slice(),
                x.rows(),
                ws,
            );
        }

        fn forward_train(
            &self,
            x: &Batch<Self::In>,
            y: &mut Batch<Self::Out>,
            cache: &mut ConvCache,
            _rng: &mut Rng,
        ) {
            y.set_rows(x.rows());
            self.params.forward(
                &Self::GEOMETRY,
                F::EPILOGUE,
                x.as_slice(),
                y.as_mut_slice(),
                x.rows(),
                cache,
            );
        }

        // dz = dy · F′(y); ∂W = dz ⋆ x, ∂b = Σ dz, ∂x = the transposed convolution of dz.
        fn backward(
            &mut self,
            x: &Batch<Self::In>,
            y: &Batch<Self::Out>,
            cache: &mut ConvCache,
            dy: &Batch<Self::Out>,
            dx: Option<&mut Batch<Self::In>>,
        ) {
            let dx = dx.map(|dx| {
                dx.set_rows(x.rows());
                dx.as_mut_slice()
            });
            self.params.backward(
                &Self::GEOMETRY,
                F::EPILOGUE,
                x.as_slice(),
                y.as_slice(),
                dy.as_slice(),
                x.rows(),
                dx,
                cache,
            );
        }
    };
}

/// 2-D convolution from `[C, H, W]` to `[CO, OH, OW]`: kernel `KH×KW`, stride `SH×SW`, `PT`
/// zero rows above and `PL` zero columns to the left (the bottom and right padding follow
/// from the output size), dilation `DH×DW`, `G` channel groups (`G = C` is a depthwise
/// convolution), and a bias unless `BIAS` is false.
///
/// ```
/// use nn_runtime::prelude::*;
/// // PyTorch's `Conv2d(4, 8, 3, stride=2, padding=1, groups=4, bias=False)` on [4, 9, 9]:
/// // depthwise with a channel multiplier of 2, output [8, 5, 5].
/// type Depthwise = Conv2d<4, 9, 9, 8, 3, 3, 2, 2, 1, 1, 5, 5, 1, 1, 4, Linear, false>;
/// let layer = Depthwise::init(&mut Rng::seed(0));
/// assert_eq!(layer.params.weight.len(), 8 * 1 * 3 * 3);
/// assert_eq!(Depthwise::PARAMS, 72);
/// ```
///
/// Sizes no PyTorch or Keras layer has fail to build (a post-monomorphization error, which
/// `cargo check` does not report): here 3 channels do not split into 2 groups.
///
/// ```compile_fail,E0080
/// use nn_runtime::prelude::*;
/// let _ = Conv2d::<3, 5, 5, 4, 3, 3, 1, 1, 1, 1, 5, 5, 1, 1, 2>::init(&mut Rng::seed(0));
/// ```
#[allow(clippy::type_complexity)]
pub type Conv2d<
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
    F = Linear,
    const BIAS: bool = true,
> = ConvOn<Tensor3<C, H, W>, Tensor3<CO, OH, OW>, KH, KW, SH, SW, Pad<PT, PL>, DH, DW, G, F, BIAS>;

/// 1-D convolution from `[C, L]` to `[CO, OL]`: kernel `K`, stride `S`, `P` zeros on the left
/// (the right padding follows from the output size), dilation `D`, `G` channel groups, and a
/// bias unless `BIAS` is false.
pub type Conv1d<
    const C: usize,
    const L: usize,
    const CO: usize,
    const K: usize,
    const S: usize,
    const P: usize,
    const OL: usize,
    const D: usize = 1,
    const G: usize = 1,
    F = Linear,
    const BIAS: bool = true,
> = ConvOn<Tensor2<C, L>, Tensor2<CO, OL>, 1, K, 1, S, Pad<0, P>, 1, D, G, F, BIAS>;

/// A convolution from `X` samples to `Y` samples, both `[C, L]` (1-D) or both `[C, H, W]`
/// (2-D), with the kernel, stride, padding (a [`ConvPadding`]), dilation and groups of
/// [`Conv2d`] (a 1-D convolution has `KH = SH = DH = 1` and no padding above). [`Conv2d`] and [`Conv1d`] are it between
/// samples of const sizes; a generic network's shapes are `Shaped` samples.
#[derive(Clone, Debug)]
pub struct ConvOn<
    X: Sample,
    Y: Sample,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    P: ConvPadding,
    const DH: usize,
    const DW: usize,
    const G: usize,
    F: FusedActivation,
    const BIAS: bool,
> {
    pub params: ConvParams,
    _act: Marker<X, Y, (F, P)>,
}

/// The cache of a convolution: its per-thread scratch.
pub type ConvCache = ConvWorkspace;

/// The zeros a convolution adds above and to the left of its input, as a type (the zeros
/// below and to the right follow from the output size): [`Pad`], or [`Same`].
pub trait ConvPadding {
    const RULE: PaddingRule;
}

/// How a convolution's zeros before its input are given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PaddingRule {
    /// This many zero rows above and zero columns to the left.
    Before { top: usize, left: usize },
    /// TensorFlow's `same`: the fewest zeros under which the output's windows fit, the odd
    /// one after the input, computed from the layer's sizes.
    Same,
}

/// `PT` zero rows above the input and `PL` zero columns to its left.
#[derive(Clone, Copy, Debug, Default)]
pub struct Pad<const PT: usize, const PL: usize>;

impl<const PT: usize, const PL: usize> ConvPadding for Pad<PT, PL> {
    const RULE: PaddingRule = PaddingRule::Before { top: PT, left: PL };
}

/// TensorFlow's `same` padding, computed from the layer's sizes: what `network!` writes
/// where those zeros depend on a generic network's parameters (a kernel size `K`), which a
/// const argument cannot compute on stable Rust.
#[derive(Clone, Copy, Debug, Default)]
pub struct Same;

impl ConvPadding for Same {
    const RULE: PaddingRule = PaddingRule::Same;
}

/// The zeros before an input of `len` under `same` padding, for `out` windows of `k` taps
/// `d` apart moved by `s`.
const fn same_before(len: usize, k: usize, s: usize, d: usize, out: usize) -> usize {
    if out == 0 || k == 0 {
        return 0;
    }
    ((out - 1) * s + (k - 1) * d + 1).saturating_sub(len) / 2
}

/// The sizes of a convolution from `x` to `y`-shaped samples with `[KH, KW, SH, SW, DH, DW,
/// G]` and `padding`.
const fn conv_geometry(x: &[usize], y: &[usize], k: [usize; 7], padding: PaddingRule) -> ConvGeom {
    let ((c_in, h, w), (c_out, oh, ow)) = (planes(x), planes(y));
    if x.len() != y.len() || x.len() < 2 {
        panic!("a convolution takes and gives [C, L] or [C, H, W] samples");
    }
    let [kh, kw, sh, sw, dh, dw, groups] = k;
    let (pt, pl) = match padding {
        PaddingRule::Before { top, left } => (top, left),
        PaddingRule::Same => (
            same_before(h, kh, sh, dh, oh),
            same_before(w, kw, sw, dw, ow),
        ),
    };
    ConvGeom {
        c_in,
        h,
        w,
        c_out,
        kh,
        kw,
        sh,
        sw,
        dh,
        dw,
        pt,
        pl,
        oh,
        ow,
        groups,
    }
}

/// The window attributes of a convolution of sizes `g` (see [`window_attrs`]): over
/// the one spatial axis of a 1-D convolution, or the two of a 2-D one.
pub(super) fn conv_window_attrs(g: &ConvGeom, one_d: bool) -> Vec<AttributeProto> {
    if one_d {
        window_attrs(&[g.w], &[g.ow], &[g.kw], &[g.sw], &[g.dw], &[g.pl])
    } else {
        window_attrs(
            &[g.h, g.w],
            &[g.oh, g.ow],
            &[g.kh, g.kw],
            &[g.sh, g.sw],
            &[g.dh, g.dw],
            &[g.pt, g.pl],
        )
    }
}

/// Input channels per group (all of them for an impossible zero groups, which `checked`
/// reports).
pub(super) const fn group_in(g: &ConvGeom) -> usize {
    match g.c_in.checked_div(g.groups) {
        Some(n) => n,
        None => g.c_in,
    }
}

/// The generic parameters of [`ConvOn`], for its impls.
macro_rules! conv_on_impl {
    ($($item:tt)*) => {
        impl<
                X: Sample,
                Y: Sample,
                const KH: usize,
                const KW: usize,
                const SH: usize,
                const SW: usize,
                P: ConvPadding,
                const DH: usize,
                const DW: usize,
                const G: usize,
                F: FusedActivation,
                const BIAS: bool,
            > $($item)*
    };
}

conv_on_impl! {
    ConvOn<X, Y, KH, KW, SH, SW, P, DH, DW, G, F, BIAS> {
        /// The sizes as given, unchecked: what `PARAMS` and `FLOPS` count (so that a
        /// network's totals, evaluated by `cargo check`, do not repeat the error below).
        const SIZES: ConvGeom = conv_geometry(
            X::SHAPE,
            Y::SHAPE,
            [KH, KW, SH, SW, DH, DW, G],
            P::RULE,
        );

        /// Fails to compile for sizes no PyTorch or Keras convolution has (see [`checked`]).
        const GEOMETRY: ConvGeom = checked(Self::SIZES);

        /// Glorot-uniform weights (Keras's default for Conv2D), zero bias.
        pub fn glorot_uniform(rng: &mut Rng) -> Self {
            let g = Self::GEOMETRY;
            ConvOn {
                params: ConvParams::glorot_uniform(&g, if BIAS { g.c_out } else { 0 }, rng),
                _act: PhantomData,
            }
        }
    }
}

conv_on_impl! {
    Layer for ConvOn<X, Y, KH, KW, SH, SW, P, DH, DW, G, F, BIAS> {
        type In = X;
        type Out = Y;
        type Cache = ConvCache;
        type Workspace = ConvWorkspace;
        const SAMPLE_WORKSPACE: bool = true;
        const ARENA: usize =
            crate::kernels::arena::padded(crate::kernels::conv::conv2d_arena_floats(&Self::SIZES));
        const ARENA_READY: bool = true;
        /// The first dimension is channels, not steps.
        const KEEPS_STEPS: bool = false;
        const PARAMS: usize = {
            let g = Self::SIZES;
            g.c_out * group_in(&g) * g.kh * g.kw + if BIAS { g.c_out } else { 0 }
        };
        const FLOPS: usize = {
            let g = Self::SIZES;
            2 * g.c_out * group_in(&g) * g.kh * g.kw * g.oh * g.ow
        };
        const KIND: &'static str = if X::SHAPE.len() == 2 {
            "Conv1d"
        } else {
            "Conv2d"
        };

        fn init(rng: &mut Rng) -> Self {
            Self::glorot_uniform(rng)
        }

        conv_passes!();

        /// `Conv` with the layer's geometry, and the fused activation.
        fn to_onnx(&self, g: &mut OnnxGraph, path: &Path<'_>, input: &str) -> crate::Result<String> {
            let scope = path.to_string();
            let state = LayerState::of(self, path);
            let weight = state.initializer(g, "weight")?;
            let bias = state.optional_initializer(g, "bias");
            let mut inputs = vec![input, weight.as_str()];
            inputs.extend(bias.as_deref());
            let mut attrs = conv_window_attrs(&Self::GEOMETRY, X::SHAPE.len() == 2);
            attrs.push(attr::int("group", Self::GEOMETRY.groups as i64));
            let z = g.op("Conv", &scope, &inputs, attrs);
            F::default().to_onnx(g, &scope, &z)
        }

        /// PyTorch's weight shape: `[CO, C / G, K]` (1-D) or `[CO, C / G, KH, KW]` (2-D);
        /// no `bias` tensor without a bias, as in PyTorch's `state_dict`.
        fn walk<W: Walk<Self>>(walk: &mut W) {
            let g = Self::GEOMETRY;
            let (co, cg) = (g.c_out, g.c_in / g.groups);
            let (one_d, two_d) = ([co, cg, g.kw], [co, cg, g.kh, g.kw]);
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
                    &[co],
                    Layout::RowMajor,
                    |l| (&l.params.bias, &l.params.bias_grad),
                    |l| (&mut l.params.bias, &mut l.params.bias_grad),
                );
            }
        }
    }
}

/// A convolution layer a following pooling can fuse into ([`super::ConvPool`]).
pub trait ConvLayer: Layer<Cache = ConvCache, Workspace = ConvWorkspace> {
    /// Its sizes.
    const CONV: ConvGeom;
    /// The activation fused into it.
    const ACT: EpilogueAct;
    /// Whether it has a bias.
    const BIASED: bool;
    fn conv_params(&self) -> &ConvParams;
    /// Its parameters, to change.
    fn conv_params_mut(&mut self) -> &mut ConvParams;
}

conv_on_impl! {
    ConvLayer for ConvOn<X, Y, KH, KW, SH, SW, P, DH, DW, G, F, BIAS> {
        const CONV: ConvGeom = Self::GEOMETRY;
        const ACT: EpilogueAct = F::EPILOGUE;
        const BIASED: bool = BIAS;
        fn conv_params(&self) -> &ConvParams {
            &self.params
        }
        fn conv_params_mut(&mut self) -> &mut ConvParams {
            &mut self.params
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::fitting_windows;

    /// PyTorch's output length for `padding=pad`, when the kernel fits.
    fn torch_out(len: usize, k: usize, s: usize, d: usize, pad: usize) -> Option<usize> {
        let span = (k - 1) * d + 1;
        (len + 2 * pad >= span).then(|| (len + 2 * pad - span) / s + 1)
    }

    /// Keras's (and PyTorch's) `same`: the output length and the padding before the input.
    fn same(len: usize, k: usize, s: usize, d: usize) -> (usize, usize) {
        let out = len.div_ceil(s);
        let total = ((out - 1) * s + (k - 1) * d + 1).saturating_sub(len);
        (out, total / 2)
    }

    #[test]
    fn every_pytorch_and_keras_dimension_fits_and_other_output_sizes_do_not() {
        for len in 1..=13 {
            for k in 1..=5 {
                for s in 1..=4 {
                    for d in 1..=3 {
                        let (out, pad) = same(len, k, s, d);
                        assert!(dim_fits(len, k, s, d, pad, out), "same {len} {k} {s} {d}");
                        for pad in 0..=7 {
                            let Some(out) = torch_out(len, k, s, d, pad) else {
                                continue;
                            };
                            let at = format!("len {len} k {k} s {s} d {d} pad {pad}");
                            assert!(dim_fits(len, k, s, d, pad, out), "{at}: {out}");
                            assert!(!dim_fits(len, k, s, d, pad, out + 2), "{at}: {out} + 2");
                            if out > 1 {
                                assert!(!dim_fits(len, k, s, d, pad, out - 1), "{at}: {out} - 1");
                            }
                            // One more output only when it needs exactly one more zero after
                            // the input (Keras's `same` layout).
                            let overrun = out * s + (k - 1) * d + 1 - (len + 2 * pad);
                            assert_eq!(
                                dim_fits(len, k, s, d, pad, out + 1),
                                overrun == 1,
                                "{at}: {out} + 1"
                            );
                        }
                    }
                }
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 2000,
            ..proptest::prelude::ProptestConfig::default()
        })]

        /// `dim_fits` accepts exactly PyTorch's output (the windows that fit in the padded
        /// input, when there are any) and the one-zero-after layout of `same` (one more
        /// window, when it overruns the padded input by exactly one position), on sizes
        /// beyond the exhaustive test's small grid.
        #[test]
        fn dim_fits_accepts_the_brute_force_window_counts(
            len in 1usize..300,
            k in 1usize..12,
            s in 1usize..9,
            d in 1usize..6,
            pad in 0usize..15,
        ) {
            let padded = len + 2 * pad;
            let torch = fitting_windows(padded, k, s, d);
            let same_layout = fitting_windows(padded + 1, k, s, d);
            for out in 1..torch + 4 {
                proptest::prop_assert_eq!(
                    dim_fits(len, k, s, d, pad, out),
                    out == torch || out == same_layout,
                    "len {} k {} s {} d {} pad {} out {}", len, k, s, d, pad, out
                );
            }
        }
    }

    fn geom(c_in: usize, c_out: usize, groups: usize) -> ConvGeom {
        ConvGeom {
            c_in,
            h: 5,
            w: 6,
            c_out,
            kh: 3,
            kw: 3,
            sh: 1,
            sw: 2,
            dh: 2,
            dw: 1,
            pt: 3,
            pl: 4,
            oh: 7,
            ow: 6,
            groups,
        }
    }

    #[test]
    fn geometry_accepts_groups_dilation_and_large_padding_and_says_what_is_wrong() {
        // Depthwise with a channel multiplier of 2, dilation 2, padding beyond the kernel.
        assert_eq!(problem(&geom(4, 8, 4)), None);
        assert_eq!(problem(&geom(4, 6, 2)), None);
        assert_eq!(problem(&geom(4, 4, 1)), None);
        let groups = Some("groups must divide both the input and the output channels");
        assert_eq!(problem(&geom(4, 6, 4)), groups);
        assert_eq!(problem(&geom(3, 6, 2)), groups);
        assert_eq!(problem(&geom(4, 8, 0)), groups);
        let zero = Some("kernel sizes, strides and dilations must be positive");
        assert_eq!(
            problem(&ConvGeom {
                sh: 0,
                ..geom(4, 8, 4)
            }),
            zero
        );
        assert_eq!(
            problem(&ConvGeom {
                dw: 0,
                ..geom(4, 8, 4)
            }),
            zero
        );
        assert_eq!(
            problem(&ConvGeom {
                kh: 0,
                ..geom(4, 8, 4)
            }),
            zero
        );
        let sizes = Some("convolution sizes must be positive");
        assert_eq!(
            problem(&ConvGeom {
                c_in: 0,
                ..geom(4, 8, 4)
            }),
            sizes
        );
        assert_eq!(
            problem(&ConvGeom {
                w: 0,
                ..geom(4, 8, 4)
            }),
            sizes
        );
        assert_eq!(
            problem(&ConvGeom {
                oh: 0,
                ..geom(4, 8, 4)
            }),
            sizes
        );
        assert!(problem(&ConvGeom {
            oh: 6,
            ..geom(4, 8, 4)
        })
        .is_some_and(|p| p.starts_with("output height")));
        assert!(problem(&ConvGeom {
            ow: 5,
            ..geom(4, 8, 4)
        })
        .is_some_and(|p| p.starts_with("output width")));
    }

    #[test]
    fn layers_without_bias_have_no_bias_tensor() {
        let names = |tensors: Vec<crate::io::named::NamedTensor>| -> Vec<(String, Vec<usize>)> {
            tensors.into_iter().map(|t| (t.name, t.shape)).collect()
        };
        let mut rng = Rng::seed(1);
        type Depthwise = Conv2d<4, 5, 6, 8, 3, 3, 1, 2, 3, 4, 7, 6, 2, 1, 4, Linear, false>;
        let depthwise = Depthwise::init(&mut rng);
        assert_eq!(
            names(crate::io::named::named_parameters(&depthwise)),
            [("weight".to_string(), vec![8, 1, 3, 3])]
        );
        assert_eq!(Depthwise::PARAMS, 8 * 9);
        type Grouped = Conv1d<4, 9, 6, 3, 2, 1, 4, 2, 2>;
        let grouped = Grouped::init(&mut rng);
        assert_eq!(
            names(crate::io::named::named_parameters(&grouped)),
            [
                ("weight".to_string(), vec![6, 2, 3]),
                ("bias".to_string(), vec![6])
            ]
        );
        assert_eq!(Grouped::PARAMS, 6 * 2 * 3 + 6);
    }

    #[test]
    fn ungrouped_initialisation_is_unchanged_and_grouped_takes_the_kernel_shape_fans() {
        // Non-grouped: l = √(6 / ((C + CO)·KH·KW)), as before groups existed, so seeded
        // networks keep their weights.
        let plain = Conv2d::<3, 8, 8, 4, 3, 3, 1, 1, 0, 0, 6, 6>::init(&mut Rng::seed(5));
        let mut want = vec![0.0; 4 * 3 * 9];
        Rng::seed(5).fill_uniform(&mut want, (6.0 / ((3 + 4) * 9) as f32).sqrt());
        assert_eq!(plain.params.weight, want);
        // Grouped: fan_in = (C/G)·KH·KW, fan_out = CO·KH·KW (Keras's `Conv2D(groups=G)`,
        // PyTorch's `xavier_uniform_`).
        let grouped =
            Conv2d::<4, 8, 8, 6, 3, 3, 1, 1, 1, 1, 8, 8, 1, 1, 2>::init(&mut Rng::seed(5));
        let mut want = vec![0.0; 6 * 2 * 9];
        Rng::seed(5).fill_uniform(&mut want, (6.0 / ((2 + 6) * 9) as f32).sqrt());
        assert_eq!(grouped.params.weight, want);
    }
}
