//! Adam (L2 weight decay folded into the gradient, as `torch.optim.Adam`) and AdamW
//! (decoupled weight decay, as `torch.optim.AdamW`).

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::{check_range, ensure_state, Optimizer, OptimizerState};
use crate::error::Result;
use crate::kernels::{self, AdamStep};

/// Adam: `m = β₁m + (1−β₁)g; v = β₂v + (1−β₂)g²; p −= lr · m̂ / (√v̂ + ε)`, with the
/// bias corrections `m̂ = m / (1−β₁ᵗ)`, `v̂ = v / (1−β₂ᵗ)`.
#[derive(Clone, Debug)]
pub struct Adam {
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32,
    decoupled: bool,
    step: i32,
    m: Vec<f32>,
    v: Vec<f32>,
}

/// AdamW: Adam with weight decay applied to the parameters, not the gradient:
/// `p ← p · (1 − lr·wd)` before the Adam update. Default weight decay 0.01.
#[derive(Clone, Debug)]
pub struct AdamW(Adam);

impl AdamW {
    /// AdamW with learning rate `lr`, β = (0.9, 0.999), ε = 1e-8, weight decay 0.01.
    pub fn new(lr: f32) -> Self {
        AdamW(Adam {
            weight_decay: 0.01,
            decoupled: true,
            ..Adam::new(lr)
        })
    }

    /// Exponential decay rates of the moment estimates.
    pub fn betas(self, beta1: f32, beta2: f32) -> Self {
        AdamW(self.0.betas(beta1, beta2))
    }

    /// Term added to the denominator for stability.
    pub fn eps(self, eps: f32) -> Self {
        AdamW(self.0.eps(eps))
    }

    /// Decoupled weight decay.
    pub fn weight_decay(self, weight_decay: f32) -> Self {
        AdamW(self.0.weight_decay(weight_decay))
    }
}

impl Optimizer for AdamW {
    fn begin_step(&mut self, params: usize) -> Result<()> {
        self.0.begin_step(params)
    }
    fn update(&mut self, offset: usize, value: &mut [f32], grad: &[f32]) {
        self.0.update(offset, value, grad)
    }
    fn learning_rate(&self) -> f32 {
        self.0.lr
    }
    fn set_learning_rate(&mut self, lr: f32) {
        self.0.lr = lr
    }
    fn state(&self) -> OptimizerState {
        self.0.state()
    }
    fn set_state(&mut self, state: &OptimizerState) -> Result<()> {
        self.0.set_state(state)
    }
}

impl Adam {
    /// Adam with learning rate `lr`, β = (0.9, 0.999), ε = 1e-8, no weight decay.
    pub fn new(lr: f32) -> Self {
        Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled: false,
            step: 0,
            m: Vec::new(),
            v: Vec::new(),
        }
    }

    /// Exponential decay rates of the moment estimates.
    pub fn betas(mut self, beta1: f32, beta2: f32) -> Self {
        self.beta1 = beta1;
        self.beta2 = beta2;
        self
    }

    /// Term added to the denominator for stability.
    pub fn eps(mut self, eps: f32) -> Self {
        self.eps = eps;
        self
    }

    /// L2 weight decay added to the gradient (use [`AdamW`] for decoupled decay).
    pub fn weight_decay(mut self, weight_decay: f32) -> Self {
        self.weight_decay = weight_decay;
        self
    }

    /// Number of steps taken.
    pub fn steps(&self) -> i32 {
        self.step
    }
}

impl Optimizer for Adam {
    fn begin_step(&mut self, params: usize) -> Result<()> {
        check_range("lr", self.lr, 0.0, None, "a finite rate >= 0")?;
        check_range("beta1", self.beta1, 0.0, Some(1.0), "0 <= beta1 < 1")?;
        check_range("beta2", self.beta2, 0.0, Some(1.0), "0 <= beta2 < 1")?;
        check_range("eps", self.eps, f32::MIN_POSITIVE, None, "a finite eps > 0")?;
        check_range(
            "weight_decay",
            self.weight_decay,
            0.0,
            None,
            "a finite penalty >= 0",
        )?;
        if self.m.len() != params {
            self.step = 0;
        }
        ensure_state(&mut self.m, params);
        ensure_state(&mut self.v, params);
        self.step = self.step.saturating_add(1);
        Ok(())
    }

    fn update(&mut self, offset: usize, value: &mut [f32], grad: &[f32]) {
        let correction1 = 1.0 - self.beta1.powi(self.step);
        let correction2 = 1.0 - self.beta2.powi(self.step);
        let (decay, l2) = if self.decoupled {
            (1.0 - self.lr * self.weight_decay, 0.0)
        } else {
            (1.0, self.weight_decay)
        };
        let step = AdamStep {
            beta1: self.beta1,
            beta2: self.beta2,
            eps: self.eps,
            l2,
            decay,
            step_size: self.lr / correction1,
            inv_sqrt_correction2: 1.0 / correction2.sqrt(),
        };
        let range = offset..offset + value.len();
        kernels::adam_update(
            &step,
            value,
            grad,
            &mut self.m[range.clone()],
            &mut self.v[range],
        );
    }

    fn state(&self) -> OptimizerState {
        OptimizerState {
            steps: self.step as u64,
            tensors: vec![("m".into(), self.m.clone()), ("v".into(), self.v.clone())],
        }
    }
    fn set_state(&mut self, state: &OptimizerState) -> Result<()> {
        let [m, v] = state.vectors(["m", "v"])?;
        self.step = i32::try_from(state.steps).unwrap_or(i32::MAX);
        (self.m, self.v) = (m, v);
        Ok(())
    }
    fn learning_rate(&self) -> f32 {
        self.lr
    }

    fn set_learning_rate(&mut self, lr: f32) {
        self.lr = lr;
    }
}
