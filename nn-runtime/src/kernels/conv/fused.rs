//! A convolution followed by a pooling, each sample pooled as soon as its convolution is
//! computed, while it is in cache.

use super::backward::{conv2d_backward_from, OutputGradient};
use super::forward::conv2d_forward_with;
use super::geom::{ConvGeom, PoolGeom};
use super::plan::ForwardPlan;
use super::pool::{avg_pool_forward, max_pool_forward_with};
use super::workspace::{for_each_chunk, ConvWorkspace, Rows};
use crate::kernels::isa::Arch;
use crate::kernels::simd::EpilogueAct;
use core::sync::atomic::{AtomicBool, Ordering};

/// A pooling that follows a convolution: its sizes, and whether it takes the maximum (else
/// the mean) of each window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolAfter {
    pub geom: PoolGeom,
    pub max: bool,
}

impl PoolAfter {
    fn apply(&self, arch: Arch, x: &[f32], y: &mut [f32], argmax: Option<&mut [u32]>) {
        if self.max {
            max_pool_forward_with(arch, &self.geom, x, y, argmax, 1);
        } else {
            avg_pool_forward(&self.geom, x, y, 1);
        }
    }
}

/// Turns the fused convolution + pooling off (`set_fused_pooling`).
static NO_FUSED_POOLING: AtomicBool = AtomicBool::new(false);

/// Whether a convolution followed by a pooling pools each sample's output as soon as it is
/// computed, while it is in cache ([`conv2d_pool_forward`]; on by default), or convolves the
/// whole batch and then pools it, so that benchmarks can time both. In training, fused max
/// pooling also keeps only the pooled output and its choices for the backward pass
/// ([`conv2d_max_pool_backward`]); unfused, the layer keeps the convolution's whole output
/// and runs the pooling's and the convolution's backward passes one after the other.
/// Results are the same.
pub fn set_fused_pooling(on: bool) {
    NO_FUSED_POOLING.store(!on, Ordering::Relaxed);
}

/// Whether pooling is fused into the convolution before it ([`set_fused_pooling`]).
pub fn fused_pooling() -> bool {
    !NO_FUSED_POOLING.load(Ordering::Relaxed)
}

/// Gradients of y = maxpool(act(W ⋆ x + b)) for `rows` samples from what the fused forward
/// pass kept: `pooled` = (the pooled output y, its gradient dy, the pooling's choices)
/// ([`conv2d_pool_forward`] with no `pre`). Only the chosen positions of the convolution's
/// output have a gradient, and there its value is the pooled one, so each sample's dz is
/// the pooling's backward pass of dy · act′(y), built in cache: the convolution's whole
/// output is neither stored by the forward pass nor read back here. Overwrites `dweight`
/// and `dbias` when given, writes `dx` when given, as [`conv2d_backward`] does.
///
/// [`conv2d_backward`]: super::conv2d_backward
#[allow(clippy::too_many_arguments)]
pub fn conv2d_max_pool_backward(
    g: &ConvGeom,
    pool: &PoolGeom,
    weight: &[f32],
    act: EpilogueAct,
    x: &[f32],
    pooled: (&[f32], &[f32], &[u32]),
    rows: usize,
    dweight: &mut [f32],
    dbias: Option<&mut [f32]>,
    dx: Option<&mut [f32]>,
    ws: &mut ConvWorkspace,
) {
    conv2d_max_pool_backward_with(
        Arch::current(),
        g,
        pool,
        weight,
        act,
        x,
        pooled,
        rows,
        dweight,
        dbias,
        dx,
        ws,
    )
}

/// [`conv2d_max_pool_backward`] on a given path.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_max_pool_backward_with(
    arch: Arch,
    g: &ConvGeom,
    pool: &PoolGeom,
    weight: &[f32],
    act: EpilogueAct,
    x: &[f32],
    (y, dy, argmax): (&[f32], &[f32], &[u32]),
    rows: usize,
    dweight: &mut [f32],
    dbias: Option<&mut [f32]>,
    dx: Option<&mut [f32]>,
    ws: &mut ConvWorkspace,
) {
    let grad = OutputGradient::MaxPooled {
        pool,
        y,
        dy,
        argmax,
    };
    conv2d_backward_from(arch, g, weight, act, x, grad, rows, dweight, dbias, dx, ws);
}

/// y = pool(act(W ⋆ x + b)) for `rows` samples, each sample pooled as soon as its
/// convolution is computed, while it is in cache (the batch's convolution output, several
/// times the size of L2 in a training batch, is never read back from memory). `pre`, when
/// given, receives the convolution's output and `argmax` the max pooling's choices (both
/// for the backward pass); otherwise the convolution of one sample at a time lives in the
/// chunk's scratch.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_pool_forward(
    g: &ConvGeom,
    pool: &PoolAfter,
    weight: &[f32],
    bias: Option<&[f32]>,
    act: EpilogueAct,
    x: &[f32],
    pre: Option<&mut [f32]>,
    y: &mut [f32],
    argmax: Option<&mut [u32]>,
    rows: usize,
    ws: &mut ConvWorkspace,
) {
    let arch = Arch::current();
    let (in_len, out_len, pool_len) = (g.in_len(), g.out_len(), pool.geom.out_len());
    assert_eq!(
        pool.geom.in_len(),
        out_len,
        "the pooling takes the convolution's output"
    );
    assert!(x.len() >= rows * in_len && y.len() >= rows * pool_len);
    let (mut no_pre, mut no_argmax): ([f32; 0], [u32; 0]) = ([], []);
    let pre = match pre {
        Some(pre) => Rows {
            data: &mut pre[..rows * out_len],
            len: out_len,
        },
        None => Rows {
            data: &mut no_pre[..],
            len: 0,
        },
    };
    let argmax = match argmax {
        Some(a) if pool.max => Rows {
            data: &mut a[..rows * pool_len],
            len: pool_len,
        },
        _ => Rows {
            data: &mut no_argmax[..],
            len: 0,
        },
    };
    if NO_FUSED_POOLING.load(Ordering::Relaxed) {
        // The whole batch's convolution, then its pooling.
        let mut pre = pre;
        let mut whole = core::mem::take(&mut ws.unfused);
        if pre.len == 0 {
            whole.resize(rows * out_len, 0.0);
            pre.data = &mut whole[..];
        }
        conv2d_forward_with(arch, g, weight, bias, act, x, pre.data, rows, ws);
        for r in 0..rows {
            let pre_r = &pre.data[r * out_len..][..out_len];
            let argmax_r = (argmax.len > 0).then(|| &mut argmax.data[r * pool_len..][..pool_len]);
            pool.apply(arch, pre_r, &mut y[r * pool_len..][..pool_len], argmax_r);
        }
        ws.unfused = whole;
        return;
    }
    let plan = ForwardPlan::new(g, act);
    let chunks = ws.chunks(rows, g.flops());
    let y = Rows {
        data: &mut y[..rows * pool_len],
        len: pool_len,
    };
    for_each_chunk(chunks, 0..rows, (y, (pre, argmax)), &|s,
                                                          range,
                                                          (
        y,
        (pre, argmax),
    )| {
        plan.prepare(g, weight, s);
        let mut own = core::mem::take(&mut s.pre);
        own.resize(out_len, 0.0);
        for (n, r) in range.enumerate() {
            let xr = &x[r * in_len..(r + 1) * in_len];
            let pre_r = if pre.len > 0 {
                &mut pre.data[n * out_len..][..out_len]
            } else {
                &mut own[..]
            };
            plan.sample(arch, g, weight, bias, act, xr, pre_r, s);
            let argmax_r = (argmax.len > 0).then(|| &mut argmax.data[n * pool_len..][..pool_len]);
            pool.apply(
                arch,
                pre_r,
                &mut y.data[n * pool_len..][..pool_len],
                argmax_r,
            );
        }
        s.pre = own;
    });
}
