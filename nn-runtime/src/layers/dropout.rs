//! Dropout: in training, each value is zeroed with probability `rate` and the others scaled
//! by 1/(1 − rate) (inverted dropout, PyTorch's `nn.Dropout`), so inference is the identity.

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::{Layer, Path, Walk};
use crate::io::onnx::OnnxGraph;
use crate::tensor::{Batch, Sample};
use crate::Rng;
use core::marker::PhantomData;

/// Inverted dropout on samples of shape `S`: elementwise, so it also drops single values of
/// a sequence or a feature map.
pub struct Dropout<S: Sample> {
    /// Probability of zeroing a value, in [0, 1) (the macro rejects others at compile time).
    pub rate: f32,
    _shape: PhantomData<fn() -> S>,
}

impl<S: Sample> Dropout<S> {
    /// Dropout with probability `rate`.
    pub fn new(rate: f32) -> Self {
        Dropout {
            rate,
            _shape: PhantomData,
        }
    }
}

impl<S: Sample> Clone for Dropout<S> {
    fn clone(&self) -> Self {
        Dropout::new(self.rate)
    }
}

impl<S: Sample> core::fmt::Debug for Dropout<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Dropout({}) on {:?}", self.rate, S::SHAPE)
    }
}

impl<S: Sample> Layer for Dropout<S> {
    type In = S;
    type Out = S;
    /// The factor each value was multiplied by: 0 or 1/(1 − rate).
    type Cache = Vec<f32>;
    type Workspace = ();
    const PARAMS: usize = 0;
    const KIND: &'static str = "Dropout";

    /// The identity at inference: no node.
    fn to_onnx(&self, _g: &mut OnnxGraph, _path: &Path<'_>, input: &str) -> crate::Result<String> {
        Ok(input.to_string())
    }

    /// `rate` 0; the macro builds it with `new`.
    fn init(_rng: &mut Rng) -> Self {
        Dropout::new(0.0)
    }

    fn forward_into(&self, x: &S, y: &mut S, _ws: &mut ()) {
        y.as_mut_slice().copy_from_slice(x.as_slice());
    }

    fn forward_batch_into(&self, x: &Batch<S>, y: &mut Batch<S>, _ws: &mut ()) {
        y.set_rows(x.rows());
        y.as_mut_slice().copy_from_slice(x.as_slice());
    }

    /// y = x ⊙ m, m = 0 with probability `rate`, else 1/(1 − rate).
    fn forward_train(&self, x: &Batch<S>, y: &mut Batch<S>, mask: &mut Vec<f32>, rng: &mut Rng) {
        y.set_rows(x.rows());
        let n = x.as_slice().len();
        mask.resize(n, 0.0);
        let keep = 1.0 / (1.0 - self.rate);
        for ((yv, &xv), m) in y
            .as_mut_slice()
            .iter_mut()
            .zip(x.as_slice())
            .zip(mask.iter_mut())
        {
            *m = if rng.next_f32() < self.rate {
                0.0
            } else {
                keep
            };
            *yv = xv * *m;
        }
    }

    /// dx = dy ⊙ m
    fn backward(
        &mut self,
        x: &Batch<S>,
        _y: &Batch<S>,
        mask: &mut Vec<f32>,
        dy: &Batch<S>,
        dx: Option<&mut Batch<S>>,
    ) {
        if let Some(dx) = dx {
            dx.set_rows(x.rows());
            for ((d, &g), &m) in dx
                .as_mut_slice()
                .iter_mut()
                .zip(dy.as_slice())
                .zip(mask.iter())
            {
                *d = g * m;
            }
        }
    }

    fn walk<W: Walk<Self>>(_: &mut W) {}
}
