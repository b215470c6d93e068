//! Flatten: any sample shape to a vector of the same values, row-major (PyTorch's
//! `nn.Flatten` on NCHW, so a Dense after it matches PyTorch's weights).

use super::{Layer, Walk};
use crate::tensor::{Batch, Sample, Tensor1};
use crate::Rng;
use std::marker::PhantomData;

/// `S` to `[N]`, where `N` must equal `S::LEN` (checked at compile time).
pub type Flatten<S, const N: usize> = FlattenOn<S, Tensor1<N>>;

/// `S` to `Y`, a sample of the same length (checked at compile time): [`Flatten`] when `Y`
/// is a vector of const length, a generic network's flattened shape otherwise.
pub struct FlattenOn<S: Sample, Y: Sample>(PhantomData<fn() -> (S, Y)>);

impl<S: Sample, Y: Sample> FlattenOn<S, Y> {
    const SAME_LENGTH: () = assert!(
        S::LEN == Y::LEN,
        "Flatten's output length must equal its input's"
    );
}

impl<S: Sample, Y: Sample> Default for FlattenOn<S, Y> {
    fn default() -> Self {
        FlattenOn(PhantomData)
    }
}

impl<S: Sample, Y: Sample> Clone for FlattenOn<S, Y> {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl<S: Sample, Y: Sample> std::fmt::Debug for FlattenOn<S, Y> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Flatten{:?} -> {:?}", S::SHAPE, Y::SHAPE)
    }
}

impl<S: Sample, Y: Sample> Layer for FlattenOn<S, Y> {
    type In = S;
    type Out = Y;
    type Cache = ();
    type Workspace = ();
    const PARAMS: usize = 0;
    const KIND: &'static str = "Flatten";

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
