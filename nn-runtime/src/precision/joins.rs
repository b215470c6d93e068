//! Residual blocks and sums of paths (`Add`) in any precision: each path converted, their
//! outputs summed in f32.

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::{Infer, Lower, Precision, TensorMap};
use crate::error::Result;
use crate::layers::{Identity, Layer, Path, Residual, Sum};
use crate::tensor::{Batch, Sample};
use crate::Rng;

/// A converted [`Residual`] (`y = body(x) + shortcut(x)`) or [`Sum`] (`y = a(x) + b(x)`):
/// the paths `A` and `B`, stored under `names` (`J`: the f32 join, whose `init` knows them).
pub struct LowSum<J, A: Infer, B: Infer<In = A::In, Out = A::Out>> {
    /// The first path (a residual block's body).
    pub a: A,
    /// The second (a residual block's shortcut).
    pub b: B,
    names: [&'static str; 2],
    _join: super::Marker<J>,
}

/// A converted residual block.
pub type LowResidual<FA, FB, A, B> = LowSum<Residual<FA, FB>, A, B>;

/// The joins whose converted form is a [`LowSum`]: their paths' names.
pub trait SumJoin: Layer {
    /// The names the paths' tensors are stored under.
    fn path_names() -> [&'static str; 2];
}

impl<A: Layer, B: Layer<In = A::In, Out = A::Out>> SumJoin for Residual<A, B> {
    fn path_names() -> [&'static str; 2] {
        ["body", "shortcut"]
    }
}

impl<A: Layer, B: Layer<In = A::In, Out = A::Out>> SumJoin for Sum<A, B> {
    /// The names of an `Add` whose branches `network!` did not name. A network restores its
    /// joins through [`Lower::restore_lowered`], which reads the names off the f32 join.
    fn path_names() -> [&'static str; 2] {
        Self::init(&mut Rng::seed(0)).names
    }
}

/// The paths' outputs and scratch.
pub struct LowSumWorkspace<A: Infer, B: Infer> {
    a_out: Batch<A::Out>,
    b_out: Batch<B::Out>,
    a: A::Workspace,
    b: B::Workspace,
}

impl<A: Infer, B: Infer> Default for LowSumWorkspace<A, B> {
    fn default() -> Self {
        LowSumWorkspace {
            a_out: Batch::zeros(0),
            b_out: Batch::zeros(0),
            a: Default::default(),
            b: Default::default(),
        }
    }
}

impl<J: SumJoin + Send + Sync, A: Infer, B: Infer<In = A::In, Out = A::Out>> Infer
    for LowSum<J, A, B>
{
    type In = A::In;
    type Out = A::Out;
    type Workspace = LowSumWorkspace<A, B>;

    fn infer_batch(&self, x: &Batch<A::In>, y: &mut Batch<A::Out>, ws: &mut Self::Workspace) {
        self.a.infer_batch(x, &mut ws.a_out, &mut ws.a);
        self.b.infer_batch(x, &mut ws.b_out, &mut ws.b);
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
        self.a.store(&path.child(self.names[0]), out)?;
        self.b.store(&path.child(self.names[1]), out)
    }

    fn restore(path: &Path<'_>, src: &TensorMap) -> Result<Self> {
        let names = J::path_names();
        Ok(LowSum {
            a: A::restore(&path.child(names[0]), src)?,
            b: B::restore(&path.child(names[1]), src)?,
            names,
            _join: core::marker::PhantomData,
        })
    }
}

macro_rules! lower_sum {
    ($join:ident, $a:ident, $b:ident) => {
        impl<P: Precision, A, B> Lower<P> for $join<A, B>
        where
            A: Lower<P>,
            B: Layer<In = A::In, Out = A::Out> + Lower<P>,
            <B as Lower<P>>::Lowered: Infer<In = A::In, Out = A::Out>,
            Self: Send + Sync,
        {
            type Lowered = LowSum<Self, <A as Lower<P>>::Lowered, <B as Lower<P>>::Lowered>;

            fn lower(&self, calibration: &Batch<A::In>) -> Result<Self::Lowered> {
                Ok(LowSum {
                    a: self.$a.lower(calibration)?,
                    b: self.$b.lower(calibration)?,
                    names: self.path_names_of(),
                    _join: core::marker::PhantomData,
                })
            }

            fn restore_lowered(&self, path: &Path<'_>, src: &TensorMap) -> Result<Self::Lowered> {
                let names = self.path_names_of();
                Ok(LowSum {
                    a: self.$a.restore_lowered(&path.child(names[0]), src)?,
                    b: self.$b.restore_lowered(&path.child(names[1]), src)?,
                    names,
                    _join: core::marker::PhantomData,
                })
            }
        }
    };
}

/// A join's paths' names, read off the join itself where it has them.
trait NamesOf {
    fn path_names_of(&self) -> [&'static str; 2];
}
impl<A: Layer, B: Layer<In = A::In, Out = A::Out>> NamesOf for Residual<A, B> {
    fn path_names_of(&self) -> [&'static str; 2] {
        Self::path_names()
    }
}
impl<A: Layer, B: Layer<In = A::In, Out = A::Out>> NamesOf for Sum<A, B> {
    fn path_names_of(&self) -> [&'static str; 2] {
        self.names
    }
}

lower_sum!(Residual, body, shortcut);
lower_sum!(Sum, a, b);

impl<P: Precision, S: Sample> Lower<P> for Identity<S> {
    type Lowered = Identity<S>;
    fn lower(&self, _calibration: &Batch<S>) -> Result<Identity<S>> {
        Ok(Identity::default())
    }
}
