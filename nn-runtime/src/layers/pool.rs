//! Pooling: max (gradients routed to the arg-max), average (gradients spread evenly), global
//! average and global max, with PyTorch's semantics. Windows may start `PT` rows above and
//! `PL` columns left of the input (at most half a window, as PyTorch requires): max pooling
//! pads with −∞, which never wins; average pooling pads with zeros and always divides by the
//! window's size (PyTorch's default `count_include_pad=True`). The stride defaults to the
//! window in `network!`.

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::{planes, Layer, Marker, Path, Walk};
use crate::io::onnx::{attr, window_attrs, OnnxGraph};
use crate::kernels::conv::{
    avg_pool_backward, avg_pool_forward, max_pool_backward, max_pool_forward, PoolAfter, PoolGeom,
};
use crate::tensor::{Batch, Sample, Tensor1, Tensor2, Tensor3};
use core::marker::PhantomData;

use crate::Rng;

/// Why no PyTorch pooling layer has the sizes `g`, or `None` when one does: the output must
/// be PyTorch's `(len + 2·pad − k) / s + 1` in each dimension, with padding at most half
/// the window.
const fn problem(g: &PoolGeom) -> Option<&'static str> {
    if g.c == 0 || g.h == 0 || g.w == 0 || g.oh == 0 || g.ow == 0 {
        Some("pooling sizes must be positive")
    } else if g.kh == 0 || g.kw == 0 || g.sh == 0 || g.sw == 0 {
        Some("pooling windows and strides must be positive")
    } else if 2 * g.pt > g.kh || 2 * g.pl > g.kw {
        Some("pooling padding must be at most half the window")
    } else if g.kh > g.h + 2 * g.pt || g.kw > g.w + 2 * g.pl {
        Some("pooling window larger than its padded input")
    } else if g.oh != (g.h + 2 * g.pt - g.kh) / g.sh + 1
        || g.ow != (g.w + 2 * g.pl - g.kw) / g.sw + 1
    {
        Some("pooling output size inconsistent with the input, window, stride and padding")
    } else {
        None
    }
}

/// `g`, or a compile error (in a `GEOMETRY` constant) saying why no PyTorch pooling layer
/// has these sizes.
const fn checked(g: PoolGeom) -> PoolGeom {
    if let Some(problem) = problem(&g) {
        panic!("{}", problem);
    }
    g
}

/// How a pooling combines the values of a window: a type, [`PoolMax`] or [`PoolAvg`].
pub trait PoolOp {
    /// Whether it takes the maximum (else the mean).
    const MAX: bool;
    /// Its name in a kind: `Max`, `Avg`.
    const NAME: &'static str;
}

/// The maximum of each window (gradients routed to the arg-max).
#[derive(Clone, Copy, Debug, Default)]
pub struct PoolMax;

/// The mean of each window (gradients spread evenly).
#[derive(Clone, Copy, Debug, Default)]
pub struct PoolAvg;

impl PoolOp for PoolMax {
    const MAX: bool = true;
    const NAME: &'static str = "Max";
}

impl PoolOp for PoolAvg {
    const MAX: bool = false;
    const NAME: &'static str = "Avg";
}

/// Which windows a pooling takes: a type, [`PoolWindow`] or [`PoolGlobal`].
pub trait PoolExtent {
    /// `[KH, KW, SH, SW, PT, PL]` of sliding windows; `None` for whole planes.
    const WINDOW: Option<[usize; 6]>;
}

/// Windows of `KH×KW` with stride `SH×SW`, starting `PT` rows above and `PL` columns left
/// of the input.
#[derive(Clone, Copy, Debug, Default)]
pub struct PoolWindow<
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const PT: usize,
    const PL: usize,
>;

impl<
        const KH: usize,
        const KW: usize,
        const SH: usize,
        const SW: usize,
        const PT: usize,
        const PL: usize,
    > PoolExtent for PoolWindow<KH, KW, SH, SW, PT, PL>
{
    const WINDOW: Option<[usize; 6]> = Some([KH, KW, SH, SW, PT, PL]);
}

/// Each channel's whole plane as one window.
#[derive(Clone, Copy, Debug, Default)]
pub struct PoolGlobal;

impl PoolExtent for PoolGlobal {
    const WINDOW: Option<[usize; 6]> = None;
}

/// The sizes of a pooling from `x` to `y`-shaped samples over `window` (`None`: whole
/// planes).
const fn pool_geometry(x: &[usize], y: &[usize], window: Option<[usize; 6]>) -> PoolGeom {
    let ((c, h, w), (yc, oh, ow)) = (planes(x), planes(y));
    if yc != c {
        panic!("a pooling keeps its input's channels");
    }
    let [kh, kw, sh, sw, pt, pl] = match window {
        Some(window) => window,
        None => [h, w, h, w, 0, 0],
    };
    PoolGeom {
        c,
        h,
        w,
        kh,
        kw,
        sh,
        sw,
        pt,
        pl,
        oh,
        ow,
    }
}

/// The kind of pooling `Op` over `E` on samples of `rank` dimensions, as a user writes it.
const fn pool_kind_name(max: bool, global: bool, rank: usize) -> &'static str {
    match (max, global, rank) {
        (true, true, _) => "GlobalMaxPool2d",
        (false, true, _) => "GlobalAvgPool2d",
        (true, false, 2) => "MaxPool1d",
        (false, false, 2) => "AvgPool1d",
        (true, false, _) => "MaxPool2d",
        (false, false, _) => "AvgPool2d",
    }
}

/// A pooling from `X` samples to `Y` samples combining windows with `Op` ([`PoolMax`],
/// [`PoolAvg`]) over `E` ([`PoolWindow`], or [`PoolGlobal`] for whole planes). The named
/// pooling layers are it between samples of const sizes; a generic network's shapes are
/// `Shaped` samples.
pub struct PoolOn<X: Sample, Y: Sample, Op: PoolOp, E: PoolExtent>(Marker<X, Y, (Op, E)>);

/// The generic parameters of [`PoolOn`], for its impls.
macro_rules! pool_on_impl {
    ($($item:tt)*) => {
        impl<X: Sample, Y: Sample, Op: PoolOp, E: PoolExtent> $($item)*
    };
}

pool_on_impl! {
    PoolOn<X, Y, Op, E> {
        const GEOMETRY: PoolGeom = checked(pool_geometry(X::SHAPE, Y::SHAPE, E::WINDOW));
        const MAX: bool = Op::MAX;
    }
}

pool_on_impl! {
    Default for PoolOn<X, Y, Op, E> {
        fn default() -> Self {
            PoolOn(PhantomData)
        }
    }
}

pool_on_impl! {
    Clone for PoolOn<X, Y, Op, E> {
        fn clone(&self) -> Self {
            *self
        }
    }
}

pool_on_impl! {
    Copy for PoolOn<X, Y, Op, E> {}
}

pool_on_impl! {
    core::fmt::Debug for PoolOn<X, Y, Op, E> {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            write!(f, "{}{:?} -> {:?}", <Self as Layer>::KIND, X::SHAPE, Y::SHAPE)
        }
    }
}

pool_on_impl! {
    Layer for PoolOn<X, Y, Op, E> {
        type In = X;
        type Out = Y;
        /// Arg-max positions (max pooling only).
        type Cache = Vec<u32>;
        type Workspace = ();
        const PARAMS: usize = 0;
        const KIND: &'static str = pool_kind_name(Op::MAX, E::WINDOW.is_none(), X::SHAPE.len());

        /// `MaxPool` or `AveragePool` (zeros counted, as PyTorch's default), or the global
        /// poolings and a reshape to the output's shape.
        fn to_onnx(&self, g: &mut OnnxGraph, path: &Path<'_>, input: &str) -> crate::Result<String> {
            let scope = path.to_string();
            let p = Self::GEOMETRY;
            if E::WINDOW.is_none() {
                let op = if Op::MAX { "GlobalMaxPool" } else { "GlobalAveragePool" };
                let pooled = g.op(op, &scope, &[input], vec![]);
                return Ok(g.reshape(&scope, &pooled, Y::SHAPE));
            }
            let mut attrs = if X::SHAPE.len() == 2 {
                window_attrs(&[p.w], &[p.ow], &[p.kw], &[p.sw], &[1], &[p.pl])
            } else {
                window_attrs(&[p.h, p.w], &[p.oh, p.ow], &[p.kh, p.kw], &[p.sh, p.sw], &[1, 1], &[p.pt, p.pl])
            };
            let op = if Op::MAX {
                "MaxPool"
            } else {
                // AveragePool has no dilations.
                attrs.retain(|a| a.name != "dilations");
                attrs.push(attr::int("count_include_pad", 1));
                "AveragePool"
            };
            Ok(g.op(op, &scope, &[input], attrs))
        }

        fn init(_rng: &mut Rng) -> Self {
            // An impossible geometry fails to compile here already, as a convolution's
            // does, not only once a forward pass is compiled.
            let _ = Self::GEOMETRY;
            Self::default()
        }

        fn forward_into(&self, x: &X, y: &mut Y, _ws: &mut ()) {
            let g = Self::GEOMETRY;
            if Self::MAX {
                max_pool_forward(&g, x.as_slice(), y.as_mut_slice(), None, 1);
            } else {
                avg_pool_forward(&g, x.as_slice(), y.as_mut_slice(), 1);
            }
        }

        fn forward_batch_into(&self, x: &Batch<X>, y: &mut Batch<Y>, _ws: &mut ()) {
            let g = Self::GEOMETRY;
            y.set_rows(x.rows());
            if Self::MAX {
                max_pool_forward(&g, x.as_slice(), y.as_mut_slice(), None, x.rows());
            } else {
                avg_pool_forward(&g, x.as_slice(), y.as_mut_slice(), x.rows());
            }
        }

        fn forward_train(&self, x: &Batch<X>, y: &mut Batch<Y>, argmax: &mut Vec<u32>, _rng: &mut Rng) {
            let g = Self::GEOMETRY;
            y.set_rows(x.rows());
            if Self::MAX {
                argmax.resize(x.rows() * Y::LEN, 0);
                max_pool_forward(&g, x.as_slice(), y.as_mut_slice(), Some(argmax), x.rows());
            } else {
                avg_pool_forward(&g, x.as_slice(), y.as_mut_slice(), x.rows());
            }
        }

        fn backward(
            &mut self,
            x: &Batch<X>,
            _y: &Batch<Y>,
            argmax: &mut Vec<u32>,
            dy: &Batch<Y>,
            dx: Option<&mut Batch<X>>,
        ) {
            let Some(dx) = dx else { return };
            let g = Self::GEOMETRY;
            dx.set_rows(x.rows());
            if Self::MAX {
                max_pool_backward(&g, dy.as_slice(), argmax, dx.as_mut_slice(), x.rows());
            } else {
                avg_pool_backward(&g, dy.as_slice(), dx.as_mut_slice(), x.rows());
            }
        }

        fn walk<W: Walk<Self>>(_: &mut W) {}
    }
}

/// A pooling layer that can follow a convolution in one fused layer ([`super::ConvPool`]); its
/// cache is the max pooling's arg-max.
pub trait PoolLayer: Layer<Cache = Vec<u32>> + Default {
    const POOL: PoolAfter;
}

pool_on_impl! {
    PoolLayer for PoolOn<X, Y, Op, E> {
        const POOL: PoolAfter = PoolAfter {
            geom: Self::GEOMETRY,
            max: Self::MAX,
        };
    }
}

/// Max over `KH×KW` windows with stride `SH×SW` and −∞ padding, PyTorch's
/// `padding=(PT, PL)`: `[C, H, W]` to `[C, OH, OW]`.
///
/// ```
/// use nn_runtime::prelude::*;
/// // PyTorch's `MaxPool2d(3, stride=2, padding=1)` on [1, 5, 5]: output [1, 3, 3].
/// let _ = MaxPool2d::<1, 5, 5, 3, 3, 2, 2, 3, 3, 1, 1>::init(&mut Rng::seed(0));
/// ```
///
/// Sizes no PyTorch layer has fail to build: padding over half the window, here.
///
/// ```compile_fail,E0080
/// use nn_runtime::prelude::*;
/// let _ = MaxPool2d::<1, 5, 5, 3, 3, 2, 2, 4, 2, 2, 0>::init(&mut Rng::seed(0));
/// ```
pub type MaxPool2d<
    const C: usize,
    const H: usize,
    const W: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const OH: usize,
    const OW: usize,
    const PT: usize = 0,
    const PL: usize = 0,
> = PoolOn<Tensor3<C, H, W>, Tensor3<C, OH, OW>, PoolMax, PoolWindow<KH, KW, SH, SW, PT, PL>>;

/// Mean over `KH×KW` windows with stride `SH×SW` and zero padding, PyTorch's
/// `padding=(PT, PL)`, divided by `KH·KW` wherever the window lies: `[C, H, W]` to
/// `[C, OH, OW]`.
pub type AvgPool2d<
    const C: usize,
    const H: usize,
    const W: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const OH: usize,
    const OW: usize,
    const PT: usize = 0,
    const PL: usize = 0,
> = PoolOn<Tensor3<C, H, W>, Tensor3<C, OH, OW>, PoolAvg, PoolWindow<KH, KW, SH, SW, PT, PL>>;

/// Mean over each channel: `[C, H, W]` to `[C]`.
pub type GlobalAvgPool2d<const C: usize, const H: usize, const W: usize> =
    PoolOn<Tensor3<C, H, W>, Tensor1<C>, PoolAvg, PoolGlobal>;

/// Max over each channel (NaN if the channel holds one; the gradient goes to the first
/// largest position): `[C, H, W]` to `[C]`.
pub type GlobalMaxPool2d<const C: usize, const H: usize, const W: usize> =
    PoolOn<Tensor3<C, H, W>, Tensor1<C>, PoolMax, PoolGlobal>;

/// Max over windows of `K` with stride `S` and −∞ padding, PyTorch's `padding=P`:
/// `[C, L]` to `[C, OL]`.
pub type MaxPool1d<
    const C: usize,
    const L: usize,
    const K: usize,
    const S: usize,
    const OL: usize,
    const P: usize = 0,
> = PoolOn<Tensor2<C, L>, Tensor2<C, OL>, PoolMax, PoolWindow<1, K, 1, S, 0, P>>;

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(len: usize, k: usize, s: usize, pad: usize, out: usize) -> PoolGeom {
        PoolGeom {
            c: 2,
            h: 1,
            w: len,
            kh: 1,
            kw: k,
            sh: 1,
            sw: s,
            pt: 0,
            pl: pad,
            oh: 1,
            ow: out,
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 2000,
            ..proptest::prelude::ProptestConfig::default()
        })]

        /// `problem` accepts exactly PyTorch's pooling: padding at most half the window,
        /// at least one window inside the padded input, and the output the number of
        /// windows that fit, counted one position at a time.
        #[test]
        fn geometry_accepts_the_brute_force_window_count(
            len in 1usize..300,
            k in 1usize..12,
            s in 1usize..9,
            pad in 0usize..8,
            off in 0usize..4,
        ) {
            let padded = len + 2 * pad;
            let fitting = crate::layers::fitting_windows(padded, k, s, 1);
            // Around the count (and 1..4 when no window fits).
            let out = (fitting + off).saturating_sub(1).max(1);
            let accepted = 2 * pad <= k && fitting > 0 && out == fitting;
            proptest::prop_assert_eq!(
                problem(&pool(len, k, s, pad, out)).is_none(),
                accepted,
                "len {} k {} s {} pad {} out {}", len, k, s, pad, out
            );
            // The same along the rows.
            let rows = PoolGeom { h: len, kh: k, sh: s, pt: pad, oh: out, w: 1, kw: 1, sw: 1, pl: 0, ow: 1, ..pool(1, 1, 1, 0, 1) };
            proptest::prop_assert_eq!(problem(&rows).is_none(), accepted);
        }
    }

    #[test]
    fn geometry_accepts_pytorch_pooling_and_nothing_else() {
        for len in 1..=13 {
            for k in 1..=6 {
                for s in 1..=4 {
                    for pad in 0..=k / 2 {
                        if k > len + 2 * pad {
                            let err = problem(&pool(len, k, s, pad, 1));
                            assert_eq!(err, Some("pooling window larger than its padded input"));
                            continue;
                        }
                        let out = (len + 2 * pad - k) / s + 1;
                        let at = format!("len {len} k {k} s {s} pad {pad}");
                        assert_eq!(problem(&pool(len, k, s, pad, out)), None, "{at}");
                        let wrong = Some(
                            "pooling output size inconsistent with the input, window, stride and padding",
                        );
                        assert_eq!(problem(&pool(len, k, s, pad, out + 1)), wrong, "{at}");
                        if out > 1 {
                            assert_eq!(problem(&pool(len, k, s, pad, out - 1)), wrong, "{at}");
                        }
                    }
                    let over = problem(&pool(len + 2 * k, k, s, k / 2 + 1, 1));
                    assert_eq!(
                        over,
                        Some("pooling padding must be at most half the window")
                    );
                }
            }
        }
        let zero = Some("pooling windows and strides must be positive");
        assert_eq!(problem(&pool(5, 2, 0, 0, 2)), zero);
        assert_eq!(problem(&pool(5, 0, 1, 0, 2)), zero);
        let sizes = Some("pooling sizes must be positive");
        assert_eq!(
            problem(&PoolGeom {
                c: 0,
                ..pool(5, 2, 2, 0, 2)
            }),
            sizes
        );
        assert_eq!(problem(&pool(5, 2, 2, 0, 0)), sizes);
    }

    #[test]
    fn global_max_pooling_is_a_parameterless_layer() {
        assert_eq!(GlobalMaxPool2d::<3, 4, 5>::PARAMS, 0);
        assert_eq!(GlobalMaxPool2d::<3, 4, 5>::KIND, "GlobalMaxPool2d");
        let mut y = Tensor1::<2>::zeros();
        let x = Tensor3::<2, 2, 3> {
            data: [
                [[1.0, 5.0, 2.0], [5.0, 0.0, 3.0]],
                [[-2.0, -1.0, -4.0], [-3.0, -1.0, -9.0]],
            ],
        };
        GlobalMaxPool2d::default().forward_into(&x, &mut y, &mut ());
        assert_eq!(y.data, [5.0, -1.0]);
    }
}
