//! Flatten and Reshape: any sample shape to another of the same values in the same
//! row-major order (PyTorch's `nn.Flatten` on NCHW, so a Dense after it matches PyTorch's
//! weights, and `x.reshape(batch, …)`).

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::{Layer, Path, Walk};
use crate::io::onnx::OnnxGraph;
use crate::tensor::{Batch, Sample, Tensor1};
use crate::Rng;
use core::marker::PhantomData;

/// `S` to `[N]`, where `N` must equal `S::LEN` (checked at compile time).
pub type Flatten<S, const N: usize> = FlattenOn<S, Tensor1<N>>;

/// `S` to `Y`, any sample shape of the same length (checked at compile time): what the
/// `Reshape([…])` layer is.
pub type Reshape<S, Y> = FlattenOn<S, Y, true>;

/// `S` to `Y`, a sample of the same length (checked at compile time): [`Flatten`] when `Y`
/// is a vector of const length, a generic network's flattened shape otherwise, and
/// [`Reshape`] (named so in summaries) when `RESHAPE`.
pub struct FlattenOn<S: Sample, Y: Sample, const RESHAPE: bool = false>(
    PhantomData<fn() -> (S, Y)>,
);

impl<S: Sample, Y: Sample, const RESHAPE: bool> FlattenOn<S, Y, RESHAPE> {
    const SAME_LENGTH: () = assert!(
        S::LEN == Y::LEN,
        "Flatten's or Reshape's output length must equal its input's"
    );
}

impl<S: Sample, Y: Sample, const RESHAPE: bool> Default for FlattenOn<S, Y, RESHAPE> {
    fn default() -> Self {
        FlattenOn(PhantomData)
    }
}

impl<S: Sample, Y: Sample, const RESHAPE: bool> Clone for FlattenOn<S, Y, RESHAPE> {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl<S: Sample, Y: Sample, const RESHAPE: bool> core::fmt::Debug for FlattenOn<S, Y, RESHAPE> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}{:?} -> {:?}", Self::KIND, S::SHAPE, Y::SHAPE)
    }
}

impl<S: Sample, Y: Sample, const RESHAPE: bool> Layer for FlattenOn<S, Y, RESHAPE> {
    type In = S;
    type Out = Y;
    type Cache = ();
    type Workspace = ();
    const PARAMS: usize = 0;
    const KIND: &'static str = if RESHAPE { "Reshape" } else { "Flatten" };

    /// Row-major values kept as they are: a `Reshape` to the output's shape.
    fn to_onnx(&self, g: &mut OnnxGraph, path: &Path<'_>, input: &str) -> crate::Result<String> {
        Ok(g.reshape(&path.to_string(), input, Y::SHAPE))
    }

    fn init(_rng: &mut Rng) -> Self {
        let () = Self::SAME_LENGTH;
        Self::default()
    }

    fn forward_into(&self, x: &S, y: &mut Y, _ws: &mut ()) {
        let () = Self::SAME_LENGTH;
        y.as_mut_slice().copy_from_slice(x.as_slice());
    }

    fn forward_batch_into(&self, x: &Batch<S>, y: &mut Batch<Y>, _ws: &mut ()) {
        let () = Self::SAME_LENGTH;
        y.set_rows(x.rows());
        y.as_mut_slice().copy_from_slice(x.as_slice());
    }

    fn forward_train(&self, x: &Batch<S>, y: &mut Batch<Y>, _cache: &mut (), _rng: &mut Rng) {
        self.forward_batch_into(x, y, &mut ());
    }

    fn backward(
        &mut self,
        x: &Batch<S>,
        _y: &Batch<Y>,
        _cache: &mut (),
        dy: &Batch<Y>,
        dx: Option<&mut Batch<S>>,
    ) {
        if let Some(dx) = dx {
            dx.set_rows(x.rows());
            dx.as_mut_slice().copy_from_slice(dy.as_slice());
        }
    }

    fn walk<W: Walk<Self>>(_: &mut W) {}
}
