//! One training step on one thread: the forward pass, the loss, the backward pass, and the
//! optimizer's update after its checks (no NaN or infinite gradient) and clipping. The
//! data-parallel step (`parallel`) runs the same passes on every share and the same update
//! once the shares are merged, so both live here.

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::buffers::{Buffers, StepBuffers};
use super::exchange::{overlapped_step, GradientExchange};
use super::flat::{set_buffers, GatherBuffers};
use super::freeze::Frozen;
use super::network::Network;
use crate::data::TargetBatch;
use crate::error::{Error, Result};
use crate::layers::{Layout, ParamVisitor, Path};
use crate::loss::Loss;
use crate::optim::Optimizer;
use crate::tensor::Batch;
use crate::Rng;

pub(super) fn step_with<N, T, L, O>(
    net: &mut N,
    st: &mut Buffers<N>,
    x: &Batch<N::In>,
    targets: &T,
    loss: &L,
    opt: &mut O,
    exchange: Option<&mut dyn GradientExchange>,
) -> Result<f32>
where
    N: Network,
    T: TargetBatch,
    L: Loss<N::Head, N::Out, T>,
    O: Optimizer + ?Sized,
{
    // Backward moves running statistics; a step that fails puts them back.
    st.saved_buffers.clear();
    net.visit_buffers(&Path::ROOT, &mut GatherBuffers(&mut st.saved_buffers));
    let result = match exchange {
        Some(ex) => overlapped_step(net, st, ex, x, targets, loss),
        None => {
            let value = forward_backward(net, &mut st.step, &mut st.rng, x, targets, loss);
            if value.is_finite() {
                Ok(value)
            } else {
                Err(Error::NonFiniteLoss { loss: value })
            }
        }
    }
    .and_then(|value| update(net, opt).map(|()| value));
    if result.is_err() {
        set_buffers(net, &st.saved_buffers);
    }
    result
}

/// The forward pass, the loss and, when it is finite, the backward pass; returns the loss.
pub(super) fn forward_backward<N, T, L>(
    net: &mut N,
    st: &mut StepBuffers<N>,
    rng: &mut Rng,
    x: &Batch<N::In>,
    targets: &T,
    loss: &L,
) -> f32
where
    N: Network,
    T: TargetBatch,
    L: Loss<N::Head, N::Out, T>,
{
    net.forward_train(x, &mut st.output, &mut st.cache, rng);
    let value = loss.loss_and_grad(
        N::logits(&st.cache, &st.output),
        &st.output,
        targets,
        &mut st.dlogits,
    );
    if value.is_finite() {
        net.backward_from_logits(x, &st.output, &mut st.cache, &st.dlogits);
    }
    value
}

/// Clipping, then the optimizer's update of every parameter from its gradient. A NaN or
/// infinite gradient (a finite loss can have one: an infinite input to a saturated gate
/// gives 0 · ∞) is an error before anything changes, optimizer state included.
///
/// Frozen parameters (`NetworkExt::freeze`) are left out of all three: their gradients are
/// not checked, not counted in the norm, and the optimizer does not move them (its state for
/// them stays as it was).
pub(super) fn update<N: Network, O: Optimizer + ?Sized>(net: &mut N, opt: &mut O) -> Result<()> {
    // Out of the network while its parameters are visited, and back after: no copy per step.
    let frozen = core::mem::take(&mut net.buffers().frozen);
    let result = update_trainable(net, opt, &frozen);
    net.buffers().frozen = frozen;
    result
}

fn update_trainable<N: Network, O: Optimizer + ?Sized>(
    net: &mut N,
    opt: &mut O,
    frozen: &Frozen,
) -> Result<()> {
    let mut check = Trainable {
        frozen,
        inner: FirstNonFiniteGrad(None),
    };
    net.visit_params(&Path::ROOT, &mut check);
    if let Some(parameter) = check.inner.0 {
        return Err(Error::NonFiniteGradient { parameter });
    }
    opt.begin_step(N::PARAMS)?;
    if let Some(max) = opt.max_grad_norm() {
        let mut norm = Trainable {
            frozen,
            inner: GradNorm(0.0),
        };
        net.visit_params(&Path::ROOT, &mut norm);
        let norm = norm.inner.0.sqrt();
        if norm > max as f64 {
            let scale = ScaleGrads((max as f64 / norm) as f32);
            net.visit_params(
                &Path::ROOT,
                &mut Trainable {
                    frozen,
                    inner: scale,
                },
            );
        }
    }
    let mut apply = Trainable {
        frozen,
        inner: ApplyOptimizer { opt, offset: 0 },
    };
    net.visit_params(&Path::ROOT, &mut apply);
    Ok(())
}

/// Σ g² over every gradient, in f64.
struct GradNorm(f64);

/// The name of the first parameter with a NaN or infinite gradient.
struct FirstNonFiniteGrad(Option<String>);

impl ParamVisitor for FirstNonFiniteGrad {
    fn visit(
        &mut self,
        path: &Path<'_>,
        _shape: &[usize],
        _layout: Layout,
        _value: &mut [f32],
        grad: &mut [f32],
    ) {
        // Without the sign bit, a NaN or infinity is the largest bit pattern: an integer
        // maximum, which vectorises, finds one in a single pass with no branch per value.
        const INFINITY_BITS: u32 = 0x7f80_0000;
        let largest = grad
            .iter()
            .fold(0u32, |m, g| m.max(g.to_bits() & 0x7fff_ffff));
        if self.0.is_none() && largest >= INFINITY_BITS {
            self.0 = Some(path.to_string());
        }
    }
}

impl ParamVisitor for GradNorm {
    fn visit(
        &mut self,
        _path: &Path<'_>,
        _shape: &[usize],
        _layout: Layout,
        _value: &mut [f32],
        grad: &mut [f32],
    ) {
        self.0 += grad.iter().map(|&g| g as f64 * g as f64).sum::<f64>();
    }
}

/// g ← factor · g.
pub(super) struct ScaleGrads(pub(super) f32);

impl ParamVisitor for ScaleGrads {
    fn visit(
        &mut self,
        _path: &Path<'_>,
        _shape: &[usize],
        _layout: Layout,
        _value: &mut [f32],
        grad: &mut [f32],
    ) {
        grad.iter_mut().for_each(|g| *g *= self.0);
    }
}

/// `inner` on the parameters not frozen; the frozen ones only advance an optimizer's offset
/// (so that each parameter keeps its place in the optimizer's state).
struct Trainable<'f, V> {
    frozen: &'f Frozen,
    inner: V,
}

impl<V: ParamVisitor + SkipFrozen> ParamVisitor for Trainable<'_, V> {
    fn visit(
        &mut self,
        path: &Path<'_>,
        shape: &[usize],
        layout: Layout,
        value: &mut [f32],
        grad: &mut [f32],
    ) {
        // Names are built only when something is frozen.
        if !self.frozen.is_empty() && self.frozen.covers(&path.to_string()) {
            self.inner.skip(value.len());
        } else {
            self.inner.visit(path, shape, layout, value, grad);
        }
    }
}

/// What a visitor does with a frozen parameter of `len` values: nothing, but for an
/// optimizer's offset.
trait SkipFrozen {
    fn skip(&mut self, _len: usize) {}
}

impl SkipFrozen for FirstNonFiniteGrad {}
impl SkipFrozen for GradNorm {}
impl SkipFrozen for ScaleGrads {}
impl<O: Optimizer + ?Sized> SkipFrozen for ApplyOptimizer<'_, O> {
    fn skip(&mut self, len: usize) {
        self.offset += len;
    }
}

struct ApplyOptimizer<'o, O: ?Sized> {
    opt: &'o mut O,
    offset: usize,
}

impl<O: Optimizer + ?Sized> ParamVisitor for ApplyOptimizer<'_, O> {
    fn visit(
        &mut self,
        _path: &Path<'_>,
        _shape: &[usize],
        _layout: Layout,
        value: &mut [f32],
        grad: &mut [f32],
    ) {
        self.opt.update(self.offset, value, grad);
        self.offset += value.len();
    }
}
