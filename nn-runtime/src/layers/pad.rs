//! Zero padding around the planes of `[channels, height, width]` samples (PyTorch's
//! `nn.ZeroPad2d`).

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::{planes, Layer, Path};
use crate::io::onnx::{attr, OnnxGraph};
use crate::tensor::Sample;
use core::marker::PhantomData;

/// `X` samples `[C, H, W]` into `Y` samples `[C, H + 2·TOP, W + 2·LEFT]`, each plane at
/// `(TOP, LEFT)` in zeros (the macro computes `Y`; `FITS` checks it again).
pub struct ZeroPad2d<X: Sample, Y: Sample, const TOP: usize, const LEFT: usize>(
    PhantomData<fn() -> (X, Y)>,
);

impl<X: Sample, Y: Sample, const TOP: usize, const LEFT: usize> ZeroPad2d<X, Y, TOP, LEFT> {
    const FITS: () = {
        let ((c, h, w), (co, ho, wo)) = (planes(X::SHAPE), planes(Y::SHAPE));
        assert!(
            c == co && ho == h + 2 * TOP && wo == w + 2 * LEFT,
            "ZeroPad2d: the output is the input with TOP rows and LEFT columns of zeros on each side"
        );
    };

    /// Copies each plane of `x` (rows of `X`) into the middle of `y`'s (rows of `Y`);
    /// `y`'s border is zero.
    fn forward(x: &[f32], y: &mut [f32]) {
        let ((_, h, w), (_, _, wo)) = (planes(X::SHAPE), planes(Y::SHAPE));
        let (plane_in, plane_out) = (h * w, Y::LEN / planes(Y::SHAPE).0.max(1));
        y.fill(0.0);
        for (xp, yp) in x.chunks_exact(plane_in).zip(y.chunks_exact_mut(plane_out)) {
            for (r, row) in xp.chunks_exact(w).enumerate() {
                let at = (r + TOP) * wo + LEFT;
                yp[at..at + w].copy_from_slice(row);
            }
        }
    }

    /// The middle of each plane of `dy` (rows of `Y`) into `dx` (rows of `X`).
    fn backward(dy: &[f32], dx: &mut [f32]) {
        let ((_, h, w), (_, _, wo)) = (planes(X::SHAPE), planes(Y::SHAPE));
        let (plane_in, plane_out) = (h * w, Y::LEN / planes(Y::SHAPE).0.max(1));
        for (dp, gp) in dx
            .chunks_exact_mut(plane_in)
            .zip(dy.chunks_exact(plane_out))
        {
            for (r, row) in dp.chunks_exact_mut(w).enumerate() {
                let at = (r + TOP) * wo + LEFT;
                row.copy_from_slice(&gp[at..at + w]);
            }
        }
    }
}

impl<X: Sample, Y: Sample, const TOP: usize, const LEFT: usize> Default
    for ZeroPad2d<X, Y, TOP, LEFT>
{
    fn default() -> Self {
        let () = Self::FITS;
        ZeroPad2d(PhantomData)
    }
}

impl<X: Sample, Y: Sample, const TOP: usize, const LEFT: usize> Layer
    for ZeroPad2d<X, Y, TOP, LEFT>
{
    const KIND: &'static str = "ZeroPad2d";
    rearranging_passes!();

    /// `Pad` with zeros: `TOP` rows above and below, `LEFT` columns either side of each
    /// plane; none on the batch and channel axes (a `[C, L]` sample has only columns).
    fn to_onnx(&self, g: &mut OnnxGraph, path: &Path<'_>, input: &str) -> crate::Result<String> {
        let scope = path.to_string();
        let spatial: &[i64] = match X::SHAPE.len() {
            3 => &[TOP as i64, LEFT as i64],
            2 => &[LEFT as i64],
            _ => &[],
        };
        // ONNX's pads: every axis's start, then every axis's end.
        let side: Vec<i64> = [0, 0].iter().chain(spatial).copied().collect();
        let pads: Vec<i64> = side.iter().chain(&side).copied().collect();
        let pads = g.const_i64(&scope, "pads", &[pads.len()], &pads);
        Ok(g.op(
            "Pad",
            &scope,
            &[input, &pads],
            vec![attr::string("mode", "constant")],
        ))
    }
}
