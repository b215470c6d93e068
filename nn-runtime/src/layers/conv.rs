//! Convolutions, PyTorch layout: input `[C, H, W]` (or `[C, L]`), weight
//! `[C_OUT, C, KH, KW]` (or `[C_OUT, C, K]`), bias `[C_OUT]`; optionally an element-wise
//! activation fused in (as for `Dense`). Output sizes and padding are const parameters the
//! `network!` macro computes; an inconsistent set fails to compile (`GEOMETRY`).

use super::{FusedActivation, Layer, Layout, Linear, ParamVisitor, Path};
use crate::kernels::conv::{conv2d_backward, conv2d_forward, ConvGeom, ConvWorkspace};
use crate::tensor::{Batch, Sample, Tensor2, Tensor3};
use crate::Rng;
use std::cell::RefCell;
use std::marker::PhantomData;

thread_local! {
    /// Scratch of one-sample inference (`forward_into` has no workspace): allocated once per
    /// thread, then reused.
    static INFERENCE_SCRATCH: RefCell<ConvWorkspace> = RefCell::new(ConvWorkspace::default());
}

/// Parameters and gradients shared by the 1-D and 2-D convolutions.
#[derive(Clone, Debug)]
pub struct ConvParams {
    /// `[C_OUT, C, KH, KW]`, row-major.
    pub weight: Vec<f32>,
    /// `[C_OUT]`.
    pub bias: Vec<f32>,
    pub weight_grad: Vec<f32>,
    pub bias_grad: Vec<f32>,
}

impl ConvParams {
    fn glorot_uniform(g: &ConvGeom, rng: &mut Rng) -> Self {
        let mut p = Self::zeros(g);
        let receptive = g.kh * g.kw;
        let limit = (6.0 / ((g.c_in + g.c_out) * receptive) as f32).sqrt();
        rng.fill_uniform(&mut p.weight, limit);
        p
    }

    fn zeros(g: &ConvGeom) -> Self {
        let n = g.c_out * g.ckk();
        ConvParams {
            weight: vec![0.0; n],
            bias: vec![0.0; g.c_out],
            weight_grad: vec![0.0; n],
            bias_grad: vec![0.0; g.c_out],
        }
    }

    fn forward(
        &self,
        g: &ConvGeom,
        act: crate::kernels::EpilogueAct,
        x: &[f32],
        y: &mut [f32],
        rows: usize,
        ws: Option<&mut ConvWorkspace>,
    ) {
        match ws {
            Some(ws) => conv2d_forward(g, &self.weight, &self.bias, act, x, y, rows, ws),
            None => INFERENCE_SCRATCH.with(|ws| {
                conv2d_forward(
                    g,
                    &self.weight,
                    &self.bias,
                    act,
                    x,
                    y,
                    rows,
                    &mut ws.borrow_mut(),
                )
            }),
        }
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
        conv2d_backward(
            g,
            &self.weight,
            act,
            x,
            y,
            dy,
            rows,
            &mut self.weight_grad,
            &mut self.bias_grad,
            dx,
            ws,
        );
    }

    fn visit<V: ParamVisitor>(&mut self, path: &Path<'_>, weight_shape: &[usize], visitor: &mut V) {
        visitor.visit(
            &path.child("weight"),
            weight_shape,
            Layout::RowMajor,
            &mut self.weight,
            &mut self.weight_grad,
        );
        let out = [self.bias.len()];
        visitor.visit(
            &path.child("bias"),
            &out,
            Layout::RowMajor,
            &mut self.bias,
            &mut self.bias_grad,
        );
    }
}

/// The forward and backward passes of a convolution layer, the same for 1-D and 2-D: all
/// the shape knowledge is in `Self::GEOMETRY`.
macro_rules! conv_passes {
    () => {
        fn forward_into(&self, x: &Self::In, y: &mut Self::Out) {
            self.params.forward(
                &Self::GEOMETRY,
                F::EPILOGUE,
                x.as_slice(),
                y.as_mut_slice(),
                1,
                None,
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
                Some(ws),
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
                Some(cache),
            );
        }

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
/// from the output size).
#[derive(Clone, Debug)]
#[allow(clippy::type_complexity)]
pub struct Conv2d<
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
    F: FusedActivation = Linear,
> {
    pub params: ConvParams,
    _act: PhantomData<F>,
}

/// The cache of a convolution: its per-thread scratch.
pub type ConvCache = ConvWorkspace;

impl<
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
        F: FusedActivation,
    > Conv2d<C, H, W, CO, KH, KW, SH, SW, PT, PL, OH, OW, F>
{
    /// Fails to compile for sizes where an output window would start outside the padded
    /// input, or padding would exceed the kernel.
    const GEOMETRY: ConvGeom = {
        assert!(SH >= 1 && SW >= 1 && KH >= 1 && KW >= 1 && OH >= 1 && OW >= 1);
        assert!(
            PT < KH && PL < KW,
            "padding must be smaller than the kernel"
        );
        assert!(
            (OH - 1) * SH < H + PT && (OW - 1) * SW < W + PL,
            "output larger than the padded input allows"
        );
        assert!(
            KH <= H + 2 * PT + SH && KW <= W + 2 * PL + SW,
            "kernel larger than the padded input"
        );
        ConvGeom {
            c_in: C,
            h: H,
            w: W,
            c_out: CO,
            kh: KH,
            kw: KW,
            sh: SH,
            sw: SW,
            pt: PT,
            pl: PL,
            oh: OH,
            ow: OW,
        }
    };

    /// Glorot-uniform weights (Keras's default for Conv2D), zero bias.
    pub fn glorot_uniform(rng: &mut Rng) -> Self {
        Conv2d {
            params: ConvParams::glorot_uniform(&Self::GEOMETRY, rng),
            _act: PhantomData,
        }
    }
}

impl<
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
        F: FusedActivation,
    > Layer for Conv2d<C, H, W, CO, KH, KW, SH, SW, PT, PL, OH, OW, F>
{
    type In = Tensor3<C, H, W>;
    type Out = Tensor3<CO, OH, OW>;
    type Cache = ConvCache;
    type Workspace = ConvWorkspace;
    const PARAMS: usize = CO * C * KH * KW + CO;
    const KIND: &'static str = "Conv2d";

    fn init(rng: &mut Rng) -> Self {
        Self::glorot_uniform(rng)
    }

    conv_passes!();

    fn visit_params<V: ParamVisitor>(&mut self, path: &Path<'_>, visitor: &mut V) {
        self.params.visit(path, &[CO, C, KH, KW], visitor);
    }
}

/// 1-D convolution from `[C, L]` to `[CO, OL]`: kernel `K`, stride `S`, `P` zeros on the left.
#[derive(Clone, Debug)]
pub struct Conv1d<
    const C: usize,
    const L: usize,
    const CO: usize,
    const K: usize,
    const S: usize,
    const P: usize,
    const OL: usize,
    F: FusedActivation = Linear,
> {
    pub params: ConvParams,
    _act: PhantomData<F>,
}

impl<
        const C: usize,
        const L: usize,
        const CO: usize,
        const K: usize,
        const S: usize,
        const P: usize,
        const OL: usize,
        F: FusedActivation,
    > Conv1d<C, L, CO, K, S, P, OL, F>
{
    /// As for [`Conv2d::GEOMETRY`], with a height of one.
    const GEOMETRY: ConvGeom = {
        assert!(S >= 1 && K >= 1 && OL >= 1);
        assert!(P < K, "padding must be smaller than the kernel");
        assert!(
            (OL - 1) * S < L + P,
            "output larger than the padded input allows"
        );
        assert!(K <= L + 2 * P + S, "kernel larger than the padded input");
        ConvGeom {
            c_in: C,
            h: 1,
            w: L,
            c_out: CO,
            kh: 1,
            kw: K,
            sh: 1,
            sw: S,
            pt: 0,
            pl: P,
            oh: 1,
            ow: OL,
        }
    };

    /// Glorot-uniform weights, zero bias.
    pub fn glorot_uniform(rng: &mut Rng) -> Self {
        Conv1d {
            params: ConvParams::glorot_uniform(&Self::GEOMETRY, rng),
            _act: PhantomData,
        }
    }
}

impl<
        const C: usize,
        const L: usize,
        const CO: usize,
        const K: usize,
        const S: usize,
        const P: usize,
        const OL: usize,
        F: FusedActivation,
    > Layer for Conv1d<C, L, CO, K, S, P, OL, F>
{
    type In = Tensor2<C, L>;
    type Out = Tensor2<CO, OL>;
    type Cache = ConvCache;
    type Workspace = ConvWorkspace;
    const PARAMS: usize = CO * C * K + CO;
    const KIND: &'static str = "Conv1d";

    fn init(rng: &mut Rng) -> Self {
        Self::glorot_uniform(rng)
    }

    conv_passes!();

    fn visit_params<V: ParamVisitor>(&mut self, path: &Path<'_>, visitor: &mut V) {
        self.params.visit(path, &[CO, C, K], visitor);
    }
}
