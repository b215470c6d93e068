//! nalgebra interop: a model drops into robotics or control code that already holds its
//! state in `SVector`/`SMatrix`. Conversions copy (tensors are row-major, nalgebra
//! column-major) and allocate nothing.
//!
//! ```
//! use nalgebra::{SMatrix, SVector};
//! use nn_runtime::{Tensor1, Tensor2};
//!
//! let state = SVector::<f32, 4>::new(0.1, -0.2, 0.05, 0.0);
//! let t: Tensor1<4> = state.into();
//! assert_eq!(t.data, [0.1, -0.2, 0.05, 0.0]);
//! assert_eq!(SVector::from(t), state);
//!
//! let m = SMatrix::<f32, 2, 3>::new(1.0, 2.0, 3.0, 4.0, 5.0, 6.0);
//! let t: Tensor2<2, 3> = m.into();
//! assert_eq!(t.data, [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
//! assert_eq!(SMatrix::from(t), m);
//! ```

use crate::tensor::{Tensor1, Tensor2};
use nalgebra::{SMatrix, SVector};

impl<const N: usize> From<SVector<f32, N>> for Tensor1<N> {
    fn from(v: SVector<f32, N>) -> Self {
        Tensor1 {
            data: core::array::from_fn(|i| v[i]),
        }
    }
}

impl<const N: usize> From<Tensor1<N>> for SVector<f32, N> {
    fn from(t: Tensor1<N>) -> Self {
        SVector::from_fn(|i, _| t.data[i])
    }
}

impl<const R: usize, const C: usize> From<SMatrix<f32, R, C>> for Tensor2<R, C> {
    fn from(m: SMatrix<f32, R, C>) -> Self {
        Tensor2 {
            data: core::array::from_fn(|r| core::array::from_fn(|c| m[(r, c)])),
        }
    }
}

impl<const R: usize, const C: usize> From<Tensor2<R, C>> for SMatrix<f32, R, C> {
    fn from(t: Tensor2<R, C>) -> Self {
        SMatrix::from_fn(|r, c| t.data[r][c])
    }
}
