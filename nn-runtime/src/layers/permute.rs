//! Permute: a sample's dimensions in another order (PyTorch's `x.permute(0, …)` with the
//! batch first).

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::{Layer, Marker, Path};
use crate::io::onnx::OnnxGraph;
use crate::tensor::Sample;

/// `X` samples of rank 2 or 3 into `Y` samples whose dimension `i` is `X`'s dimension `Ai`
/// (`A2` is 2 for rank 2, and unused). The macro computes `Y`; `FITS` checks it again.
pub struct Permute<X: Sample, Y: Sample, const A0: usize, const A1: usize, const A2: usize>(
    Marker<X, Y, ()>,
);

impl<X: Sample, Y: Sample, const A0: usize, const A1: usize, const A2: usize>
    Permute<X, Y, A0, A1, A2>
{
    const FITS: () = {
        let (x, y, rank) = (X::SHAPE, Y::SHAPE, X::SHAPE.len());
        let axes = [A0, A1, A2];
        assert!(
            (rank == 2 || rank == 3) && y.len() == rank && A2 < 3,
            "Permute takes and gives samples of rank 2 or 3"
        );
        let mut seen = [false; 3];
        let mut i = 0;
        while i < rank {
            assert!(
                axes[i] < rank && !seen[axes[i]] && y[i] == x[axes[i]],
                "Permute: output dimension i is input dimension Ai, each input dimension once"
            );
            seen[axes[i]] = true;
            i += 1;
        }
    };

    /// For each output position in order, the input position it reads.
    fn sources() -> Vec<usize> {
        let x = X::SHAPE;
        // Row-major strides of the input, as rank 3 (a rank-2 input has a leading 1).
        let mut dims = [1usize; 3];
        let offset = 3 - x.len();
        dims[offset..].copy_from_slice(x);
        let strides = [dims[1] * dims[2], dims[2], 1];
        let axes = [A0, A1, A2];
        let out: Vec<usize> = (0..x.len()).map(|i| axes[i] + offset).collect();
        let y = Y::SHAPE;
        let mut ydims = [1usize; 3];
        ydims[offset..].copy_from_slice(y);
        let mut stride_of = [0usize; 3];
        for (i, &axis) in out.iter().enumerate() {
            stride_of[i + offset] = strides[axis];
        }
        let mut sources = Vec::with_capacity(Y::LEN);
        for a in 0..ydims[0] {
            for b in 0..ydims[1] {
                for c in 0..ydims[2] {
                    sources.push(a * stride_of[0] + b * stride_of[1] + c * stride_of[2]);
                }
            }
        }
        sources
    }

    fn forward(x: &[f32], y: &mut [f32]) {
        let sources = Self::sources();
        for (xs, ys) in x.chunks_exact(X::LEN).zip(y.chunks_exact_mut(Y::LEN)) {
            for (v, &i) in ys.iter_mut().zip(&sources) {
                *v = xs[i];
            }
        }
    }

    fn backward(dy: &[f32], dx: &mut [f32]) {
        let sources = Self::sources();
        for (dxs, dys) in dx.chunks_exact_mut(X::LEN).zip(dy.chunks_exact(Y::LEN)) {
            for (&g, &i) in dys.iter().zip(&sources) {
                dxs[i] = g;
            }
        }
    }
}

impl<X: Sample, Y: Sample, const A0: usize, const A1: usize, const A2: usize> Default
    for Permute<X, Y, A0, A1, A2>
{
    fn default() -> Self {
        let () = Self::FITS;
        Permute(core::marker::PhantomData)
    }
}

impl<X: Sample, Y: Sample, const A0: usize, const A1: usize, const A2: usize> Layer
    for Permute<X, Y, A0, A1, A2>
{
    const KIND: &'static str = "Permute";
    /// Steps do not stay steps across a permutation.
    const KEEPS_STEPS: bool = false;
    rearranging_passes!();

    /// `Transpose` of the sample's axes, the batch axis staying first.
    fn to_onnx(&self, g: &mut OnnxGraph, path: &Path<'_>, input: &str) -> crate::Result<String> {
        let axes = [A0, A1, A2];
        let perm: Vec<i64> = core::iter::once(0)
            .chain(axes[..X::SHAPE.len()].iter().map(|&a| a as i64 + 1))
            .collect();
        Ok(g.transpose(&path.to_string(), input, &perm))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::{Tensor2, Tensor3};

    #[test]
    fn output_positions_read_the_permuted_input_positions() {
        // [2, 3] transposed: y[j][i] = x[i][j].
        let s = Permute::<Tensor2<2, 3>, Tensor2<3, 2>, 1, 0, 2>::sources();
        assert_eq!(s, [0, 3, 1, 4, 2, 5]);
        // [2, 3, 4] → [4, 2, 3]: y[c][a][b] = x[a][b][c] at a·12 + b·4 + c.
        let s = Permute::<Tensor3<2, 3, 4>, Tensor3<4, 2, 3>, 2, 0, 1>::sources();
        for c in 0..4 {
            for a in 0..2 {
                for b in 0..3 {
                    assert_eq!(s[(c * 2 + a) * 3 + b], a * 12 + b * 4 + c);
                }
            }
        }
    }
}
