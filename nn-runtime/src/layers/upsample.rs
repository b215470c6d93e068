//! Upsampling: `Upsample` by an integer scale factor (PyTorch's `nn.Upsample`, nearest or
//! (bi)linear, `align_corners` as PyTorch) and `PixelShuffle` (sub-pixel convolution's
//! rearrangement of channels into space).

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::{planes, Layer, Marker, Path};
use crate::io::onnx::{attr, OnnxGraph};
use crate::tensor::Sample;
use core::marker::PhantomData;

/// How `Upsample` reads its input between samples: [`Nearest`] or [`Bilinear`].
pub trait Interpolation: Send + Sync + 'static {
    /// PyTorch's name of the mode (for the summary).
    const MODE: &'static str;
    /// ONNX `Resize`'s `mode` and `coordinate_transformation_mode` that read the input so.
    const ONNX_RESIZE: [&'static str; 2];
    /// The output positions' sources along one axis of `n` inputs upsampled to `m`: input
    /// indices `(i0, i1)` and the weight `λ` of `i1` (`1 − λ` of `i0`).
    fn taps(n: usize, m: usize) -> Vec<(usize, usize, f32)>;
}

/// The nearest input (PyTorch's `mode="nearest"`): output `o` reads input `⌊o / scale⌋`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Nearest;

impl Interpolation for Nearest {
    const MODE: &'static str = "nearest";
    const ONNX_RESIZE: [&'static str; 2] = ["nearest", "asymmetric"];
    fn taps(n: usize, m: usize) -> Vec<(usize, usize, f32)> {
        let scale = m / n.max(1);
        (0..m)
            .map(|o| {
                let i = (o / scale.max(1)).min(n - 1);
                (i, i, 0.0)
            })
            .collect()
    }
}

/// Linear interpolation along each axis (PyTorch's `mode="bilinear"` on `[C, H, W]`,
/// `"linear"` on `[C, L]`): with `ALIGN_CORNERS` the first and last outputs sit on the first
/// and last inputs; without, output `o`'s centre maps to `(o + ½)/scale − ½`, clamped at 0
/// (PyTorch's default).
#[derive(Clone, Copy, Debug, Default)]
pub struct Bilinear<const ALIGN_CORNERS: bool>;

impl<const ALIGN_CORNERS: bool> Interpolation for Bilinear<ALIGN_CORNERS> {
    const MODE: &'static str = if ALIGN_CORNERS {
        "bilinear, align_corners"
    } else {
        "bilinear"
    };
    // PyTorch's `align_corners=False` is ONNX's half-pixel mapping, positions before the
    // first input clamped to it.
    const ONNX_RESIZE: [&'static str; 2] = if ALIGN_CORNERS {
        ["linear", "align_corners"]
    } else {
        ["linear", "half_pixel"]
    };
    fn taps(n: usize, m: usize) -> Vec<(usize, usize, f32)> {
        (0..m)
            .map(|o| {
                // PyTorch computes the source position in f32 with the inverse scale.
                let src = if ALIGN_CORNERS {
                    if m > 1 {
                        o as f32 * ((n - 1) as f32 / (m - 1) as f32)
                    } else {
                        0.0
                    }
                } else {
                    let inverse = n as f32 / m as f32;
                    ((o as f32 + 0.5) * inverse - 0.5).max(0.0)
                };
                let i0 = (src as usize).min(n - 1);
                let i1 = (i0 + 1).min(n - 1);
                (i0, i1, src - i0 as f32)
            })
            .collect()
    }
}

/// `X` samples `[C, H, W]` (or `[C, L]`) into `Y` samples `[C, H·s, W·t]` (or `[C, L·t]`)
/// for integer scale factors, reading the input as `M` interpolates it. The macro computes
/// `Y`; `FITS` checks it again.
pub struct Upsample<X: Sample, Y: Sample, M: Interpolation>(Marker<X, Y, M>);

/// The taps of both axes of an `Upsample` from `x` to `y` samples.
struct Taps {
    rows: Vec<(usize, usize, f32)>,
    cols: Vec<(usize, usize, f32)>,
}

impl<X: Sample, Y: Sample, M: Interpolation> Upsample<X, Y, M> {
    const FITS: () = {
        let ((c, h, w), (co, ho, wo)) = (planes(X::SHAPE), planes(Y::SHAPE));
        assert!(
            X::SHAPE.len() == Y::SHAPE.len()
                && c == co
                && h > 0
                && w > 0
                && ho % h == 0
                && wo % w == 0
                && ho >= h
                && wo >= w,
            "Upsample: the output is the input's planes scaled by whole factors"
        );
    };

    fn taps() -> Taps {
        let ((_, h, w), (_, ho, wo)) = (planes(X::SHAPE), planes(Y::SHAPE));
        Taps {
            rows: M::taps(h, ho),
            cols: M::taps(w, wo),
        }
    }

    fn forward(x: &[f32], y: &mut [f32]) {
        let ((_, h, w), (_, ho, wo)) = (planes(X::SHAPE), planes(Y::SHAPE));
        let t = Self::taps();
        for (xp, yp) in x.chunks_exact(h * w).zip(y.chunks_exact_mut(ho * wo)) {
            for (yrow, &(r0, r1, a)) in yp.chunks_exact_mut(wo).zip(&t.rows) {
                let (x0, x1) = (&xp[r0 * w..][..w], &xp[r1 * w..][..w]);
                for (v, &(c0, c1, b)) in yrow.iter_mut().zip(&t.cols) {
                    let top = x0[c0] + b * (x0[c1] - x0[c0]);
                    let bottom = x1[c0] + b * (x1[c1] - x1[c0]);
                    *v = top + a * (bottom - top);
                }
            }
        }
    }

    /// Each output's gradient back to the inputs it read, with their weights.
    fn backward(dy: &[f32], dx: &mut [f32]) {
        let ((_, h, w), (_, ho, wo)) = (planes(X::SHAPE), planes(Y::SHAPE));
        let t = Self::taps();
        dx.fill(0.0);
        for (dp, gp) in dx.chunks_exact_mut(h * w).zip(dy.chunks_exact(ho * wo)) {
            for (grow, &(r0, r1, a)) in gp.chunks_exact(wo).zip(&t.rows) {
                for (&g, &(c0, c1, b)) in grow.iter().zip(&t.cols) {
                    let (top, bottom) = (g * (1.0 - a), g * a);
                    dp[r0 * w + c0] += top * (1.0 - b);
                    dp[r0 * w + c1] += top * b;
                    dp[r1 * w + c0] += bottom * (1.0 - b);
                    dp[r1 * w + c1] += bottom * b;
                }
            }
        }
    }
}

impl<X: Sample, Y: Sample, M: Interpolation> Default for Upsample<X, Y, M> {
    fn default() -> Self {
        let () = Self::FITS;
        Upsample(PhantomData)
    }
}

impl<X: Sample, Y: Sample, M: Interpolation> Layer for Upsample<X, Y, M> {
    const KIND: &'static str = "Upsample";

    /// `Resize` by the whole factors between the input's and output's planes.
    fn to_onnx(&self, g: &mut OnnxGraph, path: &Path<'_>, input: &str) -> crate::Result<String> {
        let scope = path.to_string();
        let mut scales = vec![1.0, 1.0];
        scales.extend(
            X::SHAPE[1..]
                .iter()
                .zip(&Y::SHAPE[1..])
                .map(|(&x, &y)| y as f32 / x as f32),
        );
        let scales = g.const_f32(&scope, "scales", &[scales.len()], &scales);
        let [mode, coordinates] = M::ONNX_RESIZE;
        let attrs = vec![
            attr::string("mode", mode),
            attr::string("coordinate_transformation_mode", coordinates),
            attr::string("nearest_mode", "floor"),
        ];
        Ok(g.op("Resize", &scope, &[input, "", &scales], attrs))
    }
    /// The first dimension is channels, not steps.
    const KEEPS_STEPS: bool = false;
    rearranging_passes!();
}

/// PyTorch's `nn.PixelShuffle(R)`: `[C·R², H, W]` into `[C, H·R, W·R]`, output `(c, h·R + i,
/// w·R + j)` from input channel `c·R² + i·R + j` at `(h, w)`.
pub struct PixelShuffle<X: Sample, Y: Sample, const R: usize>(PhantomData<fn() -> (X, Y)>);

impl<X: Sample, Y: Sample, const R: usize> PixelShuffle<X, Y, R> {
    const FITS: () = {
        let ((c, h, w), (co, ho, wo)) = (planes(X::SHAPE), planes(Y::SHAPE));
        assert!(
            X::SHAPE.len() == 3
                && Y::SHAPE.len() == 3
                && R > 0
                && c == co * R * R
                && ho == h * R
                && wo == w * R,
            "PixelShuffle: [C·R², H, W] into [C, H·R, W·R]"
        );
    };

    /// `(output index, input index)` of every value of one sample, in output order.
    fn pairs() -> impl Iterator<Item = (usize, usize)> {
        let ((_, h, w), (co, ho, wo)) = (planes(X::SHAPE), planes(Y::SHAPE));
        (0..co * ho * wo).map(move |o| {
            let (c, oy, ox) = (o / (ho * wo), (o / wo) % ho, o % wo);
            let channel = c * R * R + (oy % R) * R + ox % R;
            (o, (channel * h + oy / R) * w + ox / R)
        })
    }

    fn forward(x: &[f32], y: &mut [f32]) {
        for (xs, ys) in x.chunks_exact(X::LEN).zip(y.chunks_exact_mut(Y::LEN)) {
            for (o, i) in Self::pairs() {
                ys[o] = xs[i];
            }
        }
    }

    fn backward(dy: &[f32], dx: &mut [f32]) {
        for (dxs, dys) in dx.chunks_exact_mut(X::LEN).zip(dy.chunks_exact(Y::LEN)) {
            for (o, i) in Self::pairs() {
                dxs[i] = dys[o];
            }
        }
    }
}

impl<X: Sample, Y: Sample, const R: usize> Default for PixelShuffle<X, Y, R> {
    fn default() -> Self {
        let () = Self::FITS;
        PixelShuffle(PhantomData)
    }
}

impl<X: Sample, Y: Sample, const R: usize> Layer for PixelShuffle<X, Y, R> {
    const KIND: &'static str = "PixelShuffle";
    const KEEPS_STEPS: bool = false;
    rearranging_passes!();

    /// `DepthToSpace` in mode `CRD`: output channel `c` at offset `(i, j)` reads input
    /// channel `c·R² + i·R + j`, PyTorch's order (the default mode `DCR` is TensorFlow's).
    fn to_onnx(&self, g: &mut OnnxGraph, path: &Path<'_>, input: &str) -> crate::Result<String> {
        let attrs = vec![
            attr::int("blocksize", R as i64),
            attr::string("mode", "CRD"),
        ];
        Ok(g.op("DepthToSpace", &path.to_string(), &[input], attrs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taps_follow_pytorchs_source_positions() {
        // PyTorch: upsampling 3 → 6, align_corners=False: sources −0.25 (clamped to 0),
        // 0.25, 0.75, 1.25, 1.75, 2.25 (whose second tap is clamped to the last input).
        let t = Bilinear::<false>::taps(3, 6);
        let src: Vec<f32> = t.iter().map(|&(i0, _, l)| i0 as f32 + l).collect();
        assert_eq!(src, [0.0, 0.25, 0.75, 1.25, 1.75, 2.25]);
        assert_eq!(t[5], (2, 2, 0.25));
        // align_corners=True: 0, 0.4, 0.8, 1.2, 1.6, 2.
        let t = Bilinear::<true>::taps(3, 6);
        let src: Vec<f32> = t.iter().map(|&(i0, _, l)| i0 as f32 + l).collect();
        for (got, want) in src.iter().zip([0.0, 0.4, 0.8, 1.2, 1.6, 2.0]) {
            assert!((got - want).abs() < 1e-6, "{src:?}");
        }
        let t = Nearest::taps(2, 6);
        assert_eq!(
            t.iter().map(|t| t.0).collect::<Vec<_>>(),
            [0, 0, 0, 1, 1, 1]
        );
    }
}
