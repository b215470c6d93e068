//! The direct convolution on the SIMD paths (few input channels, stride 1): each output is
//! a sum over the taps of zero-padded input planes, in register tiles of output channels by
//! vectors of one output row; and its weight gradient. The tile shapes each instruction set
//! compiles are its `dispatch_taps!`.

use super::EpilogueAct;

/// The input of the direct convolution kernel (`conv_taps`): `c_in` zero-padded planes of
/// `plane` values, rows `pw` apart, and the offset of each kernel tap from an output
/// position.
pub struct TapsInput<'a> {
    pub x: *const f32,
    pub plane: usize,
    pub pw: usize,
    pub c_in: usize,
    pub offs: &'a [usize],
}

/// The output of the direct convolution kernel: `c_out` planes of `oh × ow`, activated.
pub struct TapsOutput {
    pub c_out: usize,
    pub oh: usize,
    pub ow: usize,
    pub act: EpilogueAct,
    pub y: *mut f32,
}

/// Writes `conv_taps` and `conv_taps_dweight` (with their tiles) into the enclosing
/// instruction-set module, over its primitives (see `simd/mod.rs`); `$features` is the
/// module's `#[target_feature]` list.
macro_rules! conv_taps_kernels {
    ($features:literal) => {
        /// A direct convolution of stride 1 over zero-padded planes of rows `pw` apart (see
        /// `conv::direct_forward_sample`): for `co < c_out`, `oy < oh`, `ox < ow`,
        /// `y[(co·oh + oy)·ow + ox] = act(b[co] + Σ_c Σ_t w[(co·c_in + c)·taps + t] ·
        /// x[c·plane + oy·pw + ox + offs[t]])` with `taps = offs.len()` and `b` zero when
        /// `bias` is null. Tiles of up to `TAPS_ROWS` output channels by up to `MAX_NV`
        /// vectors of one output row keep every accumulator in a register; each tap loads
        /// its input vectors once for all the channels.
        ///
        /// # Safety
        /// `x` must be valid for reads of `(c_in − 1)·plane + (oh − 1)·pw + max(offs) + ow +
        /// TAPS_SPAN` values (whole vectors are loaded; the lanes past `ow` are computed and
        /// never stored); `w` for reads of `c_out·c_in·taps` values; `bias`, unless null, for
        /// reads of `c_out`; `y` for writes of `c_out·oh·ow` values.
        #[doc = concat!("The CPU must support `", $features, "`.")]
        #[inline(never)]
        #[target_feature(enable = $features)]
        pub unsafe fn conv_taps(
            x: TapsInput<'_>,
            w: *const f32,
            bias: *const f32,
            out: TapsOutput,
        ) {
            let TapsOutput {
                c_out,
                oh,
                ow,
                act,
                y,
            } = out;
            let taps = x.offs.len();
            let nv = ow.div_ceil(LANES).min(MAX_NV);
            let span = nv * LANES;
            let mut co = 0;
            while co < c_out {
                let rows = (c_out - co).min(TAPS_ROWS);
                // SAFETY: co < c_out: row co's weights and bias lie inside `w` and `bias`
                // (the bias pointer is only offset when it is not null).
                let (w_co, b_co) = unsafe {
                    (
                        w.add(co * x.c_in * taps),
                        if bias.is_null() { bias } else { bias.add(co) },
                    )
                };
                for oy in 0..oh {
                    let mut ox = 0;
                    while ox < ow {
                        // SAFETY: oy < oh and ox < ow: the tile's first input and output lie
                        // inside `x` and `y`.
                        let x_at = unsafe { x.x.add(oy * x.pw + ox) };
                        // SAFETY: as above.
                        let y_at = unsafe { y.add((co * oh + oy) * ow + ox) };
                        let tile = TapsTile {
                            x: x_at,
                            w: w_co,
                            bias: b_co,
                            y: y_at,
                            valid: ow - ox,
                            y_stride: oh * ow,
                            act,
                        };
                        macro_rules! go {
                            ($r:literal, $nv:literal) => {
                                // SAFETY: rows co..co + $r exist; the tile reads whole vectors
                                // within the span the caller vouches for and stores only the
                                // `valid` values of each row.
                                unsafe { conv_taps_tile::<$r, $nv>(&x, &tile) }
                            };
                        }
                        dispatch_taps!(go, rows, nv);
                        ox += span;
                    }
                }
                co += rows;
            }
        }

        /// The weight gradient of `conv_taps`: for `co < c_out`, `c < c_in`, `t < taps`,
        /// `dw[(co·c_in + c)·taps + t] (+)= Σ_{oy, ox} dz[(co·oh + oy)·ow + ox] ·
        /// x[c·plane + oy·pw + ox + offs[t]]` (added to when `accumulate`). Tiles of up to
        /// `TAPS_ROWS` channels by `TAPS_ROWS` (input channel, tap) pairs keep their sums in
        /// vector registers over every position, reduced once at the end.
        ///
        /// # Safety
        /// `x` as for `conv_taps`; `dz` must be valid for reads of `c_out·oh·ow` values and
        /// `dw` for reads and writes of `c_out·c_in·taps`.
        #[doc = concat!("The CPU must support `", $features, "`.")]
        #[inline(never)]
        #[target_feature(enable = $features)]
        pub unsafe fn conv_taps_dweight(
            x: TapsInput<'_>,
            dz: *const f32,
            (c_out, oh, ow): (usize, usize, usize),
            dw: *mut f32,
            accumulate: bool,
        ) {
            let pairs = x.c_in * x.offs.len();
            // A block of output rows at a time, so that the rows of dz and of the input that
            // its tiles read stay in L1 across the tiles.
            for oy0 in (0..oh).step_by(DWEIGHT_ROW_BLOCK) {
                let oys = oy0..(oy0 + DWEIGHT_ROW_BLOCK).min(oh);
                let accumulate = accumulate || oy0 > 0;
                let mut co = 0;
                while co < c_out {
                    let rows = (c_out - co).min(TAPS_ROWS);
                    let mut ct = 0;
                    while ct < pairs {
                        let cols = (pairs - ct).min(TAPS_ROWS);
                        let tile = DweightTile {
                            co,
                            ct,
                            oys: oys.clone(),
                            oh,
                            ow,
                            dz,
                            dw: dw.wrapping_add(co * pairs + ct),
                            pairs,
                            accumulate,
                        };
                        macro_rules! go {
                            ($r:literal, $t:literal) => {
                                // SAFETY: channels co..co + $r and pairs ct..ct + $t exist; the
                                // tile reads whole vectors of `x` within the caller's span and
                                // masked vectors of `dz` within its rows.
                                unsafe { conv_taps_dweight_tile::<$r, $t>(&x, &tile) }
                            };
                        }
                        match (rows, cols) {
                            (1, 1) => go!(1, 1),
                            (1, 2) => go!(1, 2),
                            (1, 3) => go!(1, 3),
                            (1, _) => go!(1, 4),
                            (2, 1) => go!(2, 1),
                            (2, 2) => go!(2, 2),
                            (2, 3) => go!(2, 3),
                            (2, _) => go!(2, 4),
                            (3, 1) => go!(3, 1),
                            (3, 2) => go!(3, 2),
                            (3, 3) => go!(3, 3),
                            (3, _) => go!(3, 4),
                            (_, 1) => go!(4, 1),
                            (_, 2) => go!(4, 2),
                            (_, 3) => go!(4, 3),
                            (_, _) => go!(4, 4),
                        }
                        ct += cols;
                    }
                    co += rows;
                }
            }
        }

        /// Output rows per block of `conv_taps_dweight`.
        const DWEIGHT_ROW_BLOCK: usize = 8;

        /// One tile of `conv_taps_dweight`: channels from `co`, (input channel, tap) pairs
        /// from `ct`; `dw` points at the tile's first sum.
        struct DweightTile {
            co: usize,
            ct: usize,
            oys: core::ops::Range<usize>,
            oh: usize,
            ow: usize,
            dz: *const f32,
            dw: *mut f32,
            pairs: usize,
            accumulate: bool,
        }

        /// # Safety
        /// As for `conv_taps_dweight`, with `R` channels from `tile.co` and `T` pairs from
        /// `tile.ct` inside their ranges.
        #[doc = concat!("The CPU must support `", $features, "`.")]
        #[inline]
        #[target_feature(enable = $features)]
        unsafe fn conv_taps_dweight_tile<const R: usize, const T: usize>(
            x: &TapsInput<'_>,
            tile: &DweightTile,
        ) {
            let taps = x.offs.len();
            let mut starts = [0usize; T];
            for (tt, start) in starts.iter_mut().enumerate() {
                let pair = tile.ct + tt;
                *start = (pair / taps) * x.plane + x.offs[pair % taps];
            }
            let plane_out = tile.oh * tile.ow;
            let mut acc = [[splat(0.0); T]; R];
            for oy in tile.oys.clone() {
                let mut ox = 0;
                while ox < tile.ow {
                    let m = mask(tile.ow - ox);
                    let full = ox + LANES <= tile.ow;
                    let mut dzv = [splat(0.0); R];
                    for (r, dzv) in dzv.iter_mut().enumerate() {
                        // SAFETY: ox < ow: the vector starts inside row oy of channel
                        // co + r of `dz`; a partial one is masked to its ow − ox values.
                        *dzv = unsafe {
                            let p = tile.dz.add((tile.co + r) * plane_out + oy * tile.ow + ox);
                            if full {
                                load(p)
                            } else {
                                load_m(p, m)
                            }
                        };
                    }
                    for (tt, &start) in starts.iter().enumerate() {
                        // SAFETY: within the span of `x` the caller vouches for (the lanes
                        // past ow meet zeros of dz).
                        let xv = unsafe { load(x.x.add(start + oy * x.pw + ox)) };
                        for (acc, &d) in acc.iter_mut().zip(&dzv) {
                            acc[tt] = fma(d, xv, acc[tt]);
                        }
                    }
                    ox += LANES;
                }
            }
            for (r, acc) in acc.iter().enumerate() {
                for (tt, &a) in acc.iter().enumerate() {
                    // SAFETY: channel co + r, pair ct + tt: inside `dw`.
                    unsafe {
                        let p = tile.dw.add(r * tile.pairs + tt);
                        let sum = reduce_add(a);
                        *p = if tile.accumulate { *p + sum } else { sum };
                    }
                }
            }
        }

        /// Output channels per tile of `conv_taps`.
        const TAPS_ROWS: usize = 4;

        /// The most positions of a tile of `conv_taps`.
        pub const TAPS_SPAN: usize = MAX_NV * LANES;

        /// One tile of `conv_taps`: where it starts and how many of its positions are
        /// stored.
        struct TapsTile {
            x: *const f32,
            w: *const f32,
            bias: *const f32,
            y: *mut f32,
            valid: usize,
            y_stride: usize,
            act: EpilogueAct,
        }

        /// One tile of `conv_taps`: `R` output channels by `NV` vectors of one output row,
        /// of which the first `tile.valid` positions are stored.
        ///
        /// # Safety
        /// As for `conv_taps`, with the tile's pointers at its first input, weight row, bias
        /// and output, `R` rows of weights, bias and outputs (`y_stride` apart) there.
        #[doc = concat!("The CPU must support `", $features, "`.")]
        #[inline]
        #[target_feature(enable = $features)]
        unsafe fn conv_taps_tile<const R: usize, const NV: usize>(
            x: &TapsInput<'_>,
            tile: &TapsTile,
        ) {
            let taps = x.offs.len();
            let mut acc = [[splat(0.0); NV]; R];
            for c in 0..x.c_in {
                for (t, &off) in x.offs.iter().enumerate() {
                    let mut xv = [splat(0.0); NV];
                    for (v, xv) in xv.iter_mut().enumerate() {
                        // SAFETY: the vector lies within the span of `x` the caller vouches
                        // for.
                        *xv = unsafe { load(tile.x.add(c * x.plane + off + v * LANES)) };
                    }
                    for (r, acc) in acc.iter_mut().enumerate() {
                        // SAFETY: r < R rows of c_in·taps weights each.
                        let wv = splat(unsafe { *tile.w.add((r * x.c_in + c) * taps + t) });
                        for (a, &xv) in acc.iter_mut().zip(&xv) {
                            *a = fma(wv, xv, *a);
                        }
                    }
                }
            }
            for (r, acc) in acc.iter().enumerate() {
                let b = if tile.bias.is_null() {
                    splat(0.0)
                } else {
                    // SAFETY: r < R rows of bias.
                    splat(unsafe { *tile.bias.add(r) })
                };
                for (v, &a) in acc.iter().enumerate() {
                    let p = v * LANES;
                    if p >= tile.valid {
                        break;
                    }
                    let out = activate(add(a, b), tile.act);
                    // SAFETY: p < valid: the vector starts inside row r's stretch of `y`,
                    // and the mask keeps the store to its first valid − p values.
                    unsafe {
                        store_m(tile.y.add(r * tile.y_stride + p), out, mask(tile.valid - p))
                    };
                }
            }
        }
    };
}
pub(super) use conv_taps_kernels;
