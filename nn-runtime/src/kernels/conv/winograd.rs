//! Winograd's F(2×2, 3×3) for 3×3 convolutions of stride 1 (Lavin and Gray, 2015): the
//! output in 2×2 tiles, each from a 4×4 input tile, as 16 products
//! `M_ξ[c_out, tiles] = U_ξ[c_out, c_in] · V_ξ[c_in, tiles]` (ξ one of the 4×4 transformed
//! positions) in place of im2col's one `[c_out, 9·c_in] · [9·c_in, positions]`: 16 multiplies
//! per 2×2 outputs and input channel instead of 36, 2.25× fewer, for three linear transforms
//! of the weights (`U = G g Gᵀ`), the input tiles (`V = Bᵀ d B`) and the products
//! (`Y = Aᵀ m A`). The transforms only add and halve, so f32 results stay within a few ulps
//! of im2col's.
//!
//! Worth it only where the products dominate the transforms, which [`applies`] says from
//! measurements (`cargo bench --bench workloads -- conv`, one run, two threads): W5's second
//! convolution (32 → 64 channels, 29×29 out) 149 µs against im2col's 167 at batch 1, 2.40
//! ms against 2.90 at batch 32 (a later run); but 32 → 32 on 7×7 495 µs against 391 and
//! 16 → 16 on 14×14 398 against 366 at batch 32 (small planes waste part of their edge
//! tiles and run short rows; few channels make short products).

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::geom::ConvGeom;
use crate::kernels::activation::activation_forward_with;
use crate::kernels::gemm::{gemm_in, MatMul};
use crate::kernels::isa::Arch;
use crate::kernels::simd::EpilogueAct;

/// Fewest input and output channels for Winograd (see the module's measurements).
pub const MIN_CHANNELS: usize = 32;

/// Fewest output rows and columns for Winograd.
pub const MIN_OUTPUT_SIDE: usize = 16;

/// Whether a convolution is computed with F(2×2, 3×3): a 3×3 kernel, stride 1, no
/// dilation, one group, at least [`MIN_CHANNELS`] channels in and out and an output at least
/// [`MIN_OUTPUT_SIDE`] on each side. Every other shape takes im2col + GEMM.
pub fn applies(g: &ConvGeom) -> bool {
    computes(g)
        && g.c_in >= MIN_CHANNELS
        && g.c_out >= MIN_CHANNELS
        && g.oh >= MIN_OUTPUT_SIDE
        && g.ow >= MIN_OUTPUT_SIDE
}

/// Whether F(2×2, 3×3) computes this convolution at all: a 3×3 kernel, stride 1, no
/// dilation, one group.
fn computes(g: &ConvGeom) -> bool {
    g.kh == 3 && g.kw == 3 && g.sh == 1 && g.sw == 1 && g.dh == 1 && g.dw == 1 && g.groups == 1
}

/// Buffers one thread reuses: the transformed weights, input tiles and products, and the
/// rows the transforms work through.
#[derive(Default, Debug)]
pub struct WinogradScratch {
    /// The weights `u` was transformed from: `u` is reused while they are unchanged (a
    /// comparison costs a fraction of the transform).
    transformed: Vec<f32>,
    u: Vec<f32>,
    v: Vec<f32>,
    m: Vec<f32>,
    rows: RowScratch,
}

/// One row of tiles in the making.
#[derive(Default, Debug)]
struct RowScratch {
    rows: Vec<f32>,
    combined: Vec<f32>,
    even: Vec<f32>,
    odd: Vec<f32>,
}

/// Output tiles down and across.
fn tiles(g: &ConvGeom) -> (usize, usize) {
    (g.oh.div_ceil(2), g.ow.div_ceil(2))
}

/// `u[ξ][co][ci] = (G · weight[co][ci] · Gᵀ)[ξ]`, G = [[1, 0, 0], [½, ½, ½], [½, −½, ½],
/// [0, 0, 1]].
fn transform_weights(g: &ConvGeom, weight: &[f32], u: &mut Vec<f32>) {
    let (co_n, ci_n) = (g.c_out, g.c_in);
    u.resize(16 * co_n * ci_n, 0.0);
    for (k, w) in weight.chunks_exact(9).enumerate() {
        let row = |r: usize| [w[3 * r], w[3 * r + 1], w[3 * r + 2]];
        let (g0, g1, g2) = (row(0), row(1), row(2));
        let gg: [[f32; 3]; 4] = [
            g0,
            core::array::from_fn(|j| 0.5 * (g0[j] + g1[j] + g2[j])),
            core::array::from_fn(|j| 0.5 * (g0[j] - g1[j] + g2[j])),
            g2,
        ];
        for (i, t) in gg.iter().enumerate() {
            let cols = [
                t[0],
                0.5 * (t[0] + t[1] + t[2]),
                0.5 * (t[0] - t[1] + t[2]),
                t[2],
            ];
            for (j, &value) in cols.iter().enumerate() {
                u[(4 * i + j) * co_n * ci_n + k] = value;
            }
        }
    }
}

/// `v[ξ][c][t] = (Bᵀ · d · B)[ξ]` for every channel and tile, d the 4×4 input tile (zero
/// outside the input), Bᵀ = [[1, 0, −1, 0], [0, 1, 1, 0], [0, −1, 1, 0], [0, 1, 0, −1]].
/// A row of tiles at a time, as whole-row operations the compiler vectorises: Bᵀ combines
/// four padded input rows; B then combines each row's even and odd columns, which are the
/// tiles' first/third and second/fourth columns, so every result is a contiguous run over
/// the tiles of the row.
fn transform_input(g: &ConvGeom, x: &[f32], v: &mut [f32], s: &mut RowScratch) {
    let (th, tw) = tiles(g);
    let t_n = th * tw;
    let plane = g.c_in * t_n;
    // Input columns the row of tiles reads: from −pl, two per tile, and two more.
    let len = 2 * tw + 2;
    s.rows.resize(4 * len, 0.0);
    s.combined.resize(4 * len, 0.0);
    s.even.resize(tw + 1, 0.0);
    s.odd.resize(tw + 1, 0.0);
    for (c, xc) in x.chunks_exact(g.h * g.w).enumerate() {
        for ty in 0..th {
            for (i, row) in s.rows.chunks_exact_mut(len).enumerate() {
                row.fill(0.0);
                let yy = (2 * ty + i) as isize - g.pt as isize;
                if yy < 0 || yy >= g.h as isize {
                    continue;
                }
                // Input columns 0..w land at row[pl..pl + w], cut to the row.
                let line = &xc[yy as usize * g.w..(yy as usize + 1) * g.w];
                if g.pl < len {
                    let n = g.w.min(len - g.pl);
                    row[g.pl..g.pl + n].copy_from_slice(&line[..n]);
                }
            }
            {
                let (p01, p23) = s.rows.split_at(2 * len);
                let (p0, p1) = p01.split_at(len);
                let (p2, p3) = p23.split_at(len);
                let (r01, r23) = s.combined.split_at_mut(2 * len);
                let (r0, r1) = r01.split_at_mut(len);
                let (r2, r3) = r23.split_at_mut(len);
                for k in 0..len {
                    r0[k] = p0[k] - p2[k];
                    r1[k] = p1[k] + p2[k];
                    r2[k] = p2[k] - p1[k];
                    r3[k] = p1[k] - p3[k];
                }
            }
            let at = c * t_n + ty * tw;
            for (i, ri) in s.combined.chunks_exact(len).enumerate() {
                for k in 0..=tw {
                    s.even[k] = ri[2 * k];
                    s.odd[k] = ri[2 * k + 1];
                }
                let (e, o) = (&s.even, &s.odd);
                let out = |j: usize| (4 * i + j) * plane + at;
                let (v0, rest) = v[out(0)..].split_at_mut(plane);
                let (v1, rest) = rest.split_at_mut(plane);
                let (v2, v3) = rest.split_at_mut(plane);
                let (v0, v1, v2, v3) = (&mut v0[..tw], &mut v1[..tw], &mut v2[..tw], &mut v3[..tw]);
                let (e0, e1, o0, o1) = (&e[..tw], &e[1..=tw], &o[..tw], &o[1..=tw]);
                for tx in 0..tw {
                    v0[tx] = e0[tx] - e1[tx];
                    v1[tx] = o0[tx] + e1[tx];
                    v2[tx] = e1[tx] - o0[tx];
                    v3[tx] = o0[tx] - o1[tx];
                }
            }
        }
    }
}

/// y[co] = (Aᵀ · m · A) + bias[co] for every output channel and tile, cut at the output's
/// edge; Aᵀ = [[1, 1, 1, 0], [0, 1, −1, −1]]. Both combinations run over all of a channel's
/// tiles at once (long contiguous runs the compiler vectorises); only the last step, which
/// interleaves each tile's two output columns into the rows, goes tile by tile.
fn transform_output(
    g: &ConvGeom,
    m: &[f32],
    bias: Option<&[f32]>,
    y: &mut [f32],
    s: &mut RowScratch,
) {
    let (th, tw) = tiles(g);
    let t_n = th * tw;
    let plane = g.c_out * t_n;
    s.combined.resize(8 * t_n, 0.0);
    s.even.resize(2 * t_n, 0.0);
    s.odd.resize(2 * t_n, 0.0);
    for (co, yc) in y.chunks_exact_mut(g.oh * g.ow).enumerate() {
        let b = bias.map_or(0.0, |b| b[co]);
        let run = |xi: usize| &m[xi * plane + co * t_n..xi * plane + (co + 1) * t_n];
        // r[i][j] = Aᵀ's row i applied down the 4×4 index's first coordinate.
        let (r0, r1) = s.combined.split_at_mut(4 * t_n);
        for j in 0..4 {
            let (m0, m1, m2, m3) = (run(j), run(4 + j), run(8 + j), run(12 + j));
            let r0 = &mut r0[j * t_n..(j + 1) * t_n];
            let r1 = &mut r1[j * t_n..(j + 1) * t_n];
            for t in 0..t_n {
                r0[t] = m0[t] + m1[t] + m2[t];
                r1[t] = m1[t] - m2[t] - m3[t];
            }
        }
        // Then across the second coordinate: each tile's even and odd output column.
        for i in 0..2 {
            let r = &s.combined[4 * i * t_n..4 * (i + 1) * t_n];
            let (a0, a1, a2, a3) = (
                &r[..t_n],
                &r[t_n..2 * t_n],
                &r[2 * t_n..3 * t_n],
                &r[3 * t_n..],
            );
            let even = &mut s.even[i * t_n..(i + 1) * t_n];
            let odd = &mut s.odd[i * t_n..(i + 1) * t_n];
            for t in 0..t_n {
                even[t] = a0[t] + a1[t] + a2[t] + b;
                odd[t] = a1[t] - a2[t] - a3[t] + b;
            }
        }
        for ty in 0..th {
            for i in 0..2 {
                let oy = 2 * ty + i;
                if oy >= g.oh {
                    break;
                }
                let at = i * t_n + ty * tw;
                let (even, odd) = (&s.even[at..at + tw], &s.odd[at..at + tw]);
                let out = &mut yc[oy * g.ow..(oy + 1) * g.ow];
                let mut pairs = out.chunks_exact_mut(2);
                for ((pair, &e), &o) in (&mut pairs).zip(even).zip(odd) {
                    pair[0] = e;
                    pair[1] = o;
                }
                if let [last] = pairs.into_remainder() {
                    *last = even[g.ow / 2];
                }
            }
        }
    }
}

/// Makes `s` hold the transform of `weight`, computing it only if `s` does not already hold
/// that weight's: once per call, before [`forward_sample`] runs on its samples.
pub(crate) fn prepare(g: &ConvGeom, weight: &[f32], s: &mut WinogradScratch) {
    if s.transformed != weight {
        transform_weights(g, weight, &mut s.u);
        s.transformed.clear();
        s.transformed.extend_from_slice(weight);
    }
}

/// y = act(W ⋆ x + b) for one sample by F(2×2, 3×3), with the weights [`prepare`]d in `s`;
/// `g` must be a 3×3, stride-1, undilated, ungrouped convolution.
pub(crate) fn forward_sample(
    arch: Arch,
    g: &ConvGeom,
    bias: Option<&[f32]>,
    act: EpilogueAct,
    x: &[f32],
    y: &mut [f32],
    s: &mut WinogradScratch,
) {
    debug_assert!(computes(g) && s.u.len() == 16 * g.c_out * g.c_in);
    let (th, tw) = tiles(g);
    let t_n = th * tw;
    s.v.resize(16 * g.c_in * t_n, 0.0);
    s.m.resize(16 * g.c_out * t_n, 0.0);
    transform_input(g, x, &mut s.v, &mut s.rows);
    let product = MatMul::new(g.c_out, t_n, g.c_in);
    for ((u, v), m) in
        s.u.chunks_exact(g.c_out * g.c_in)
            .zip(s.v.chunks_exact(g.c_in * t_n))
            .zip(s.m.chunks_exact_mut(g.c_out * t_n))
    {
        gemm_in(arch, &product, u, v, None, m);
    }
    transform_output(g, &s.m, bias, y, &mut s.rows);
    if act != EpilogueAct::None {
        activation_forward_with(arch, act, y);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::conv::forward::conv2d_forward_with;
    use crate::kernels::conv::workspace::ConvWorkspace;
    use crate::Rng;

    /// Direct convolution in f64, PyTorch's definition.
    fn reference(g: &ConvGeom, w: &[f32], b: &[f32], x: &[f32]) -> Vec<f64> {
        let mut y = vec![0.0f64; g.c_out * g.oh * g.ow];
        for co in 0..g.c_out {
            for oy in 0..g.oh {
                for ox in 0..g.ow {
                    let mut acc = b[co] as f64;
                    for ci in 0..g.c_in {
                        for i in 0..3 {
                            for j in 0..3 {
                                let (yy, xx) = (oy + i, ox + j);
                                if yy < g.pt || xx < g.pl || yy - g.pt >= g.h || xx - g.pl >= g.w {
                                    continue;
                                }
                                let xv = x[(ci * g.h + yy - g.pt) * g.w + xx - g.pl];
                                acc += w[((co * g.c_in + ci) * 3 + i) * 3 + j] as f64 * xv as f64;
                            }
                        }
                    }
                    y[(co * g.oh + oy) * g.ow + ox] = acc;
                }
            }
        }
        y
    }

    fn geometry(c_in: usize, c_out: usize, h: usize, w: usize, pad: usize) -> ConvGeom {
        ConvGeom {
            c_in,
            h,
            w,
            c_out,
            kh: 3,
            kw: 3,
            sh: 1,
            sw: 1,
            dh: 1,
            dw: 1,
            pt: pad,
            pl: pad,
            oh: h + 2 * pad - 2,
            ow: w + 2 * pad - 2,
            groups: 1,
        }
    }

    /// Checks `rows` samples of `y` against the direct convolution.
    #[allow(clippy::too_many_arguments)]
    fn check(
        g: &ConvGeom,
        w: &[f32],
        b: &[f32],
        act: EpilogueAct,
        x: &[f32],
        y: &[f32],
        rows: usize,
        what: &str,
    ) {
        let (in_len, out_len) = (g.c_in * g.h * g.w, g.c_out * g.oh * g.ow);
        for r in 0..rows {
            let want = reference(g, w, b, &x[r * in_len..][..in_len]);
            for (k, (&got, &want)) in y[r * out_len..][..out_len].iter().zip(&want).enumerate() {
                let want = if act == EpilogueAct::Relu {
                    want.max(0.0)
                } else {
                    want
                };
                // Sums of 9·c_in products of magnitude < 0.3 in f32, with the transforms'
                // extra additions: within 1e-4 absolute.
                assert!(
                    (got as f64 - want).abs() < 1e-4,
                    "{what} {g:?} row {r} value {k}: {got} vs {want}"
                );
            }
        }
    }

    fn random(n: usize, scale: f32, rng: &mut Rng) -> Vec<f32> {
        (0..n).map(|_| rng.uniform(-scale, scale)).collect()
    }

    #[test]
    fn winograd_matches_a_direct_convolution_on_awkward_sizes() {
        let mut rng = Rng::seed(21);
        let mut checked = 0;
        for (c_in, c_out) in [(1, 1), (3, 5), (17, 19)] {
            for (h, w) in [(3, 3), (4, 7), (5, 5), (9, 8), (13, 6)] {
                for pad in [0, 1, 2] {
                    let g = geometry(c_in, c_out, h, w, pad);
                    assert!(computes(&g));
                    let weight = random(g.weight_len(), 0.3, &mut rng);
                    let bias = random(c_out, 1.0, &mut rng);
                    let rows = 2;
                    let x = random(rows * c_in * h * w, 1.0, &mut rng);
                    let out_len = c_out * g.oh * g.ow;
                    for act in [EpilogueAct::None, EpilogueAct::Relu] {
                        for arch in Arch::available() {
                            let mut y = vec![f32::NAN; rows * out_len];
                            let mut s = WinogradScratch::default();
                            prepare(&g, &weight, &mut s);
                            for r in 0..rows {
                                forward_sample(
                                    arch,
                                    &g,
                                    Some(&bias),
                                    act,
                                    &x[r * c_in * h * w..][..c_in * h * w],
                                    &mut y[r * out_len..][..out_len],
                                    &mut s,
                                );
                            }
                            check(&g, &weight, &bias, act, &x, &y, rows, &format!("{arch:?}"));
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert!(checked >= 90);
    }

    #[test]
    fn convolutions_where_it_applies_take_it_and_stay_exact() {
        let mut rng = Rng::seed(22);
        let g = geometry(32, 33, 17, 18, 1);
        assert!(applies(&g));
        assert!(!applies(&geometry(16, 16, 14, 14, 1)) && !applies(&geometry(32, 32, 7, 7, 1)));
        let weight = random(g.weight_len(), 0.3, &mut rng);
        let bias = random(33, 1.0, &mut rng);
        let rows = 3;
        let x = random(rows * 32 * 17 * 18, 1.0, &mut rng);
        let mut y = vec![f32::NAN; rows * 33 * g.oh * g.ow];
        let mut ws = ConvWorkspace::default();
        // Twice: the second call reuses the transformed weights; then with new weights.
        for round in 0..3 {
            let weight: Vec<f32> = if round < 2 {
                weight.clone()
            } else {
                weight.iter().map(|w| -w).collect()
            };
            conv2d_forward_with(
                Arch::current(),
                &g,
                &weight,
                Some(&bias),
                EpilogueAct::Relu,
                &x,
                &mut y,
                rows,
                &mut ws,
            );
            check(
                &g,
                &weight,
                &bias,
                EpilogueAct::Relu,
                &x,
                &y,
                rows,
                &format!("round {round}"),
            );
        }
    }
}
