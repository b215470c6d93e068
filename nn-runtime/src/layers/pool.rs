//! Pooling: max (gradients routed to the arg-max), average (gradients spread evenly) and
//! global average. Windows lie inside the input ("valid", as Keras's default); the stride
//! defaults to the window in `network!`.

use super::{Layer, ParamVisitor, Path};
use crate::kernels::conv::{
    avg_pool_backward, avg_pool_forward, max_pool_backward, max_pool_forward, PoolGeom,
};
use crate::tensor::{Batch, Sample, Tensor1, Tensor2, Tensor3};

use crate::Rng;

/// `g`, or a compile error when its windows do not fit the input.
const fn checked(g: PoolGeom) -> PoolGeom {
    assert!(g.kh >= 1 && g.kw >= 1 && g.sh >= 1 && g.sw >= 1 && g.oh >= 1 && g.ow >= 1);
    assert!(
        g.kh <= g.h && g.kw <= g.w,
        "pooling window larger than its input"
    );
    assert!(
        (g.oh - 1) * g.sh + g.kh <= g.h && (g.ow - 1) * g.sw + g.kw <= g.w,
        "output larger than the input allows"
    );
    g
}

macro_rules! pool_layer {
    (
        $(#[$doc:meta])* $name:ident < $($p:ident),* >, kind $kind:literal,
        in $in:ty, out $out:ty, geometry $geom:expr, max $is_max:literal
    ) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default)]
        pub struct $name<$(const $p: usize),*>;

        impl<$(const $p: usize),*> $name<$($p),*> {
            const GEOMETRY: PoolGeom = $geom;
        }

        impl<$(const $p: usize),*> Layer for $name<$($p),*> {
            type In = $in;
            type Out = $out;
            /// Arg-max positions (max pooling only).
            type Cache = Vec<u32>;
            type Workspace = ();
            const PARAMS: usize = 0;
            const KIND: &'static str = $kind;

            fn init(_rng: &mut Rng) -> Self {
                $name
            }

            fn forward_into(&self, x: &Self::In, y: &mut Self::Out) {
                let g = Self::GEOMETRY;
                if $is_max {
                    max_pool_forward(&g, x.as_slice(), y.as_mut_slice(), None, 1);
                } else {
                    avg_pool_forward(&g, x.as_slice(), y.as_mut_slice(), 1);
                }
            }

            fn forward_batch_into(&self, x: &Batch<Self::In>, y: &mut Batch<Self::Out>, _ws: &mut ()) {
                let g = Self::GEOMETRY;
                y.set_rows(x.rows());
                if $is_max {
                    max_pool_forward(&g, x.as_slice(), y.as_mut_slice(), None, x.rows());
                } else {
                    avg_pool_forward(&g, x.as_slice(), y.as_mut_slice(), x.rows());
                }
            }

            fn forward_train(&self, x: &Batch<Self::In>, y: &mut Batch<Self::Out>, argmax: &mut Vec<u32>, _rng: &mut Rng) {
                let g = Self::GEOMETRY;
                y.set_rows(x.rows());
                if $is_max {
                    argmax.resize(x.rows() * <Self::Out as Sample>::LEN, 0);
                    max_pool_forward(&g, x.as_slice(), y.as_mut_slice(), Some(argmax), x.rows());
                } else {
                    avg_pool_forward(&g, x.as_slice(), y.as_mut_slice(), x.rows());
                }
            }

            fn backward(&mut self, x: &Batch<Self::In>, _y: &Batch<Self::Out>, argmax: &mut Vec<u32>, dy: &Batch<Self::Out>, dx: Option<&mut Batch<Self::In>>) {
                let Some(dx) = dx else { return };
                let g = Self::GEOMETRY;
                dx.set_rows(x.rows());
                if $is_max {
                    max_pool_backward(&g, dy.as_slice(), argmax, dx.as_mut_slice(), x.rows());
                } else {
                    avg_pool_backward(&g, dy.as_slice(), dx.as_mut_slice(), x.rows());
                }
            }

            fn visit_params<V: ParamVisitor>(&mut self, _path: &Path<'_>, _visitor: &mut V) {}
        }
    };
}

pool_layer! {
    /// Max over `KH×KW` windows with stride `SH×SW`: `[C, H, W]` to `[C, OH, OW]`.
    MaxPool2d<C, H, W, KH, KW, SH, SW, OH, OW>, kind "MaxPool2d",
    in Tensor3<C, H, W>, out Tensor3<C, OH, OW>,
    geometry checked(PoolGeom { c: C, h: H, w: W, kh: KH, kw: KW, sh: SH, sw: SW, oh: OH, ow: OW }), max true
}

pool_layer! {
    /// Mean over `KH×KW` windows with stride `SH×SW`: `[C, H, W]` to `[C, OH, OW]`.
    AvgPool2d<C, H, W, KH, KW, SH, SW, OH, OW>, kind "AvgPool2d",
    in Tensor3<C, H, W>, out Tensor3<C, OH, OW>,
    geometry checked(PoolGeom { c: C, h: H, w: W, kh: KH, kw: KW, sh: SH, sw: SW, oh: OH, ow: OW }), max false
}

pool_layer! {
    /// Mean over each channel: `[C, H, W]` to `[C]`.
    GlobalAvgPool2d<C, H, W>, kind "GlobalAvgPool2d",
    in Tensor3<C, H, W>, out Tensor1<C>,
    geometry checked(PoolGeom { c: C, h: H, w: W, kh: H, kw: W, sh: H, sw: W, oh: 1, ow: 1 }), max false
}

pool_layer! {
    /// Max over windows of `K` with stride `S`: `[C, L]` to `[C, OL]`.
    MaxPool1d<C, L, K, S, OL>, kind "MaxPool1d",
    in Tensor2<C, L>, out Tensor2<C, OL>,
    geometry checked(PoolGeom { c: C, h: 1, w: L, kh: 1, kw: K, sh: 1, sw: S, oh: 1, ow: OL }), max true
}
