//! Stochastic gradient descent with momentum, Nesterov momentum and L2 weight decay
//! (PyTorch `torch.optim.SGD`, dampening 0).

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::{check_range, ensure_state, Optimizer, OptimizerState};
use crate::error::{Error, Result};

/// SGD: `g = ∇ + wd·p; b = μ·b + g; p −= lr · (nesterov ? g + μ·b : b)`.
#[derive(Clone, Debug)]
pub struct Sgd {
    lr: f32,
    momentum: f32,
    nesterov: bool,
    weight_decay: f32,
    velocity: Vec<f32>,
}

impl Sgd {
    /// Plain SGD with learning rate `lr`.
    pub fn new(lr: f32) -> Self {
        Sgd {
            lr,
            momentum: 0.0,
            nesterov: false,
            weight_decay: 0.0,
            velocity: Vec::new(),
        }
    }

    /// Heavy-ball momentum `μ` (0 ≤ μ < 1).
    pub fn momentum(mut self, momentum: f32) -> Self {
        self.momentum = momentum;
        self
    }

    /// Nesterov momentum `μ` (0 < μ < 1).
    pub fn nesterov(mut self, momentum: f32) -> Self {
        self.momentum = momentum;
        self.nesterov = true;
        self
    }

    /// L2 penalty added to the gradient.
    pub fn weight_decay(mut self, weight_decay: f32) -> Self {
        self.weight_decay = weight_decay;
        self
    }
}

impl Optimizer for Sgd {
    fn begin_step(&mut self, params: usize) -> Result<()> {
        check_range("lr", self.lr, 0.0, None, "a finite rate >= 0")?;
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
        if self.nesterov && self.momentum == 0.0 {
            return Err(Error::InvalidHyperparameter {
                name: "momentum",
                value: 0.0,
                expected: "Nesterov momentum needs momentum > 0",
            });
        }
        if self.momentum > 0.0 {
            ensure_state(&mut self.velocity, params);
        }
        Ok(())
    }

    fn update(&mut self, offset: usize, value: &mut [f32], grad: &[f32]) {
        let (lr, mu, wd) = (self.lr, self.momentum, self.weight_decay);
        if mu == 0.0 {
            for (p, &g) in value.iter_mut().zip(grad) {
                *p -= lr * (g + wd * *p);
            }
            return;
        }
        let velocity = &mut self.velocity[offset..offset + value.len()];
        for ((p, &g), b) in value.iter_mut().zip(grad).zip(velocity) {
            let g = g + wd * *p;
            // PyTorch starts the buffer at the first gradient; from zero, μ·0 + g is the same.
            *b = mu * *b + g;
            *p -= lr * if self.nesterov { g + mu * *b } else { *b };
        }
    }

    fn state(&self) -> OptimizerState {
        OptimizerState {
            steps: 0,
            tensors: vec![("velocity".into(), self.velocity.clone())],
        }
    }
    fn set_state(&mut self, state: &OptimizerState) -> Result<()> {
        let [velocity] = state.vectors(["velocity"])?;
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
