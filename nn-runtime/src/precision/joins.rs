//! Residual blocks in any precision: each path converted, their outputs summed in f32.

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::{Infer, Lower, Precision, TensorMap};
use crate::error::Result;
use crate::layers::{Identity, Layer, Path, Residual};
use crate::tensor::{Batch, Sample};

/// A converted [`Residual`]: `y = body(x) + shortcut(x)`.
pub struct LowResidual<A: Infer, B: Infer<In = A::In, Out = A::Out>> {
    /// The block's main path.
    pub body: A,
    /// Its shortcut (an identity, or a projection).
    pub shortcut: B,
}

/// The paths' outputs and scratch.
pub struct LowResidualWorkspace<A: Infer, B: Infer> {
    a_out: Batch<A::Out>,
    b_out: Batch<B::Out>,
    a: A::Workspace,
    b: B::Workspace,
}

impl<A: Infer, B: Infer> Default for LowResidualWorkspace<A, B> {
    fn default() -> Self {
        LowResidualWorkspace {
            a_out: Batch::zeros(0),
            b_out: Batch::zeros(0),
            a: Default::default(),
            b: Default::default(),
        }
    }
}

impl<A: Infer, B: Infer<In = A::In, Out = A::Out>> Infer for LowResidual<A, B> {
    type In = A::In;
    type Out = A::Out;
    type Workspace = LowResidualWorkspace<A, B>;

    fn infer_batch(&self, x: &Batch<A::In>, y: &mut Batch<A::Out>, ws: &mut Self::Workspace) {
        self.body.infer_batch(x, &mut ws.a_out, &mut ws.a);
        self.shortcut.infer_batch(x, &mut ws.b_out, &mut ws.b);
        y.set_rows(x.rows());
        for ((o, a), b) in y
            .as_mut_slice()
            .iter_mut()
            .zip(ws.a_out.as_slice())
            .zip(ws.b_out.as_slice())
        {
            *o = a + b;
        }
        y.copy_lengths_from(&ws.a_out);
    }

    fn store(&self, path: &Path<'_>, out: &mut TensorMap) -> Result<()> {
        self.body.store(&path.child("body"), out)?;
        self.shortcut.store(&path.child("shortcut"), out)
    }

    fn restore(path: &Path<'_>, src: &TensorMap) -> Result<Self> {
        Ok(LowResidual {
            body: A::restore(&path.child("body"), src)?,
            shortcut: B::restore(&path.child("shortcut"), src)?,
        })
    }
}

impl<P: Precision, A, B> Lower<P> for Residual<A, B>
where
    A: Lower<P>,
    B: Layer<In = A::In, Out = A::Out> + Lower<P>,
    <B as Lower<P>>::Lowered: Infer<In = A::In, Out = A::Out>,
{
    type Lowered = LowResidual<<A as Lower<P>>::Lowered, <B as Lower<P>>::Lowered>;

    fn lower(&self, calibration: &Batch<A::In>) -> Result<Self::Lowered> {
        Ok(LowResidual {
            body: self.body.lower(calibration)?,
            shortcut: self.shortcut.lower(calibration)?,
        })
    }
}

impl<P: Precision, S: Sample> Lower<P> for Identity<S> {
    type Lowered = Identity<S>;
    fn lower(&self, _calibration: &Batch<S>) -> Result<Identity<S>> {
        Ok(Identity::default())
    }
}
