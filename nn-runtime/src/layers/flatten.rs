//! Flatten: any sample shape to a vector of the same values, row-major (PyTorch's
//! `nn.Flatten` on NCHW, so a Dense after it matches PyTorch's weights).

use super::{Layer, ParamVisitor, Path};
use crate::tensor::{Batch, Sample, Tensor1};
use crate::Rng;
use std::marker::PhantomData;

/// `S` to `[N]`, where `N` must equal `S::LEN` (checked at compile time).
pub struct Flatten<S: Sample, const N: usize>(PhantomData<fn() -> S>);

impl<S: Sample, const N: usize> Flatten<S, N> {
    const SAME_LENGTH: () = assert!(
        S::LEN == N,
        "Flatten's output length must equal its input's"
    );
}

impl<S: Sample, const N: usize> Default for Flatten<S, N> {
    fn default() -> Self {
        Flatten(PhantomData)
    }
}

impl<S: Sample, const N: usize> Clone for Flatten<S, N> {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl<S: Sample, const N: usize> std::fmt::Debug for Flatten<S, N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Flatten{:?} -> [{N}]", S::SHAPE)
    }
}

impl<S: Sample, const N: usize> Layer for Flatten<S, N> {
    type In = S;
    type Out = Tensor1<N>;
    type Cache = ();
    type Workspace = ();
    const PARAMS: usize = 0;
    const KIND: &'static str = "Flatten";

    fn init(_rng: &mut Rng) -> Self {
        let () = Self::SAME_LENGTH;
        Self::default()
    }

    fn forward_into(&self, x: &S, y: &mut Tensor1<N>) {
        let () = Self::SAME_LENGTH;
        y.data.copy_from_slice(x.as_slice());
    }

    fn forward_batch_into(&self, x: &Batch<S>, y: &mut Batch<Tensor1<N>>, _ws: &mut ()) {
        let () = Self::SAME_LENGTH;
        y.set_rows(x.rows());
        y.as_mut_slice().copy_from_slice(x.as_slice());
    }

    fn forward_train(
        &self,
        x: &Batch<S>,
        y: &mut Batch<Tensor1<N>>,
        _cache: &mut (),
        _rng: &mut Rng,
    ) {
        self.forward_batch_into(x, y, &mut ());
    }

    fn backward(
        &mut self,
        x: &Batch<S>,
        _y: &Batch<Tensor1<N>>,
        _cache: &mut (),
        dy: &Batch<Tensor1<N>>,
        dx: Option<&mut Batch<S>>,
    ) {
        if let Some(dx) = dx {
            dx.set_rows(x.rows());
            dx.as_mut_slice().copy_from_slice(dy.as_slice());
        }
    }

    fn visit_params<V: ParamVisitor>(&mut self, _path: &Path<'_>, _visitor: &mut V) {}
}
