//! RMSprop (PyTorch `torch.optim.RMSprop`, not centred).

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::{check_range, ensure_state, Optimizer, OptimizerState};
use crate::error::Result;

/// RMSprop: `g = ∇ + wd·p; s = α·s + (1−α)·g²; p −= lr · g / (√s + ε)`, or with momentum μ:
/// `b = μ·b + g / (√s + ε); p −= lr · b`.
#[derive(Clone, Debug)]
pub struct RmsProp {
    lr: f32,
    alpha: f32,
    eps: f32,
    momentum: f32,
    weight_decay: f32,
    square_avg: Vec<f32>,
    velocity: Vec<f32>,
}

impl RmsProp {
    /// RMSprop with learning rate `lr`, α = 0.99, ε = 1e-8 (PyTorch's defaults).
    pub fn new(lr: f32) -> Self {
        RmsProp {
            lr,
            alpha: 0.99,
            eps: 1e-8,
            momentum: 0.0,
            weight_decay: 0.0,
            square_avg: Vec::new(),
            velocity: Vec::new(),
        }
    }

    /// Smoothing constant of the squared-gradient average (Keras calls it `rho`).
    pub fn alpha(mut self, alpha: f32) -> Self {
        self.alpha = alpha;
        self
    }

    /// Term added to the denominator for stability.
    pub fn eps(mut self, eps: f32) -> Self {
        self.eps = eps;
        self
    }

    /// Momentum μ (0 ≤ μ < 1).
    pub fn momentum(mut self, momentum: f32) -> Self {
        self.momentum = momentum;
        self
    }

    /// L2 penalty added to the gradient.
    pub fn weight_decay(mut self, weight_decay: f32) -> Self {
        self.weight_decay = weight_decay;
        self
    }
}

impl Optimizer for RmsProp {
    fn begin_step(&mut self, params: usize) -> Result<()> {
        check_range("lr", self.lr, 0.0, None, "a finite rate >= 0")?;
        check_range("alpha", self.alpha, 0.0, Some(1.0), "0 <= alpha < 1")?;
        check_range("eps", self.eps, f32::MIN_POSITIVE, None, "a finite eps > 0")?;
        check_range(
            "momentum",
            self.momentum,
            0.0,
            Some(1.0),
            "0 <= momentum < 1",
        )?;
        check_range(
            "weight_decay",
            self.weight_decay,
            0.0,
            None,
            "a finite penalty >= 0",
        )?;
        ensure_state(&mut self.square_avg, params);
        if self.momentum > 0.0 {
            ensure_state(&mut self.velocity, params);
        }
        Ok(())
    }

    fn update(&mut self, offset: usize, value: &mut [f32], grad: &[f32]) {
        let (lr, a, eps, mu, wd) = (
            self.lr,
            self.alpha,
            self.eps,
            self.momentum,
            self.weight_decay,
        );
        let range = offset..offset + value.len();
        let square_avg = &mut self.square_avg[range.clone()];
        if mu == 0.0 {
            for ((p, &g), s) in value.iter_mut().zip(grad).zip(square_avg) {
                let g = g + wd * *p;
                *s = a * *s + (1.0 - a) * g * g;
                *p -= lr * g / (s.sqrt() + eps);
            }
        } else {
            let velocity = &mut self.velocity[range];
            for (((p, &g), s), b) in value.iter_mut().zip(grad).zip(square_avg).zip(velocity) {
                let g = g + wd * *p;
                *s = a * *s + (1.0 - a) * g * g;
                *b = mu * *b + g / (s.sqrt() + eps);
                *p -= lr * *b;
            }
        }
    }

    fn state(&self) -> OptimizerState {
        OptimizerState {
            steps: 0,
            tensors: vec![
                ("square_avg".into(), self.square_avg.clone()),
                ("velocity".into(), self.velocity.clone()),
            ],
        }
    }
    fn set_state(&mut self, state: &OptimizerState) -> Result<()> {
        let [square_avg, velocity] = state.vectors(["square_avg", "velocity"])?;
        self.square_avg = square_avg;
        self.velocity = velocity;
        Ok(())
    }
    fn learning_rate(&self) -> f32 {
        self.lr
    }

    fn set_learning_rate(&mut self, lr: f32) {
        self.lr = lr;
    }
}
