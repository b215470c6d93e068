//! Recurrences on the SIMD paths: a simple RNN's every step of one sequence in one call,
//! h_t = act(gates_t + h_{t−1}·W), in panels of up to four vectors; and an LSTM cell's
//! backward step, element-wise over its units.

/// Writes `rnn_sequence` (with its panels) into the enclosing instruction-set module, over
/// its primitives (see `simd/mod.rs`); `$features` is the module's `#[target_feature]`
/// list.
macro_rules! recurrence_kernels {
    ($features:literal) => {
        /// The recurrence of a simple RNN over one sequence, in one call: for t = 0..T,
        /// h_t = act(gates_t + h_{t−1}·W) (no product at t = 0), written to both `gates` (in
        /// place of the input projection it started from) and `hs`. W is `[H, H]` with rows
        /// `rsw` apart, row p the weights from h_{t−1}[p]; each output panel of up to four vectors keeps four partial
        /// sums over p, so the step waits on FMA throughput rather than on one chain's
        /// latency, and no step pays a kernel dispatch.
        ///
        /// # Safety
        /// `w + p·rsw + j` must be valid for reads for p, j < h, `gates` and `hs` for reads and
        /// writes of t·h values each, the two not overlapping.
        #[doc = concat!("The CPU must support `", $features, "`.")]
        #[target_feature(enable = $features)]
        pub unsafe fn rnn_sequence(
            t_len: usize,
            h: usize,
            w: *const f32,
            rsw: usize,
            gates: *mut f32,
            hs: *mut f32,
            act: EpilogueAct,
        ) {
            // SAFETY: `rnn_sequence_act` asks for what our caller guarantees, and runs with the
            // same target features.
            unsafe {
                match act {
                    EpilogueAct::None => rnn_sequence_act::<0>(t_len, h, w, rsw, gates, hs),
                    EpilogueAct::Relu => rnn_sequence_act::<1>(t_len, h, w, rsw, gates, hs),
                    EpilogueAct::Tanh => rnn_sequence_act::<2>(t_len, h, w, rsw, gates, hs),
                    EpilogueAct::Sigmoid => rnn_sequence_act::<3>(t_len, h, w, rsw, gates, hs),
                }
            }
        }

        /// `rnn_sequence` for one activation.
        ///
        /// # Safety
        /// As for `rnn_sequence`.
        #[doc = concat!("The CPU must support `", $features, "`.")]
        #[inline(never)]
        #[target_feature(enable = $features)]
        unsafe fn rnn_sequence_act<const ACT: u8>(
            t_len: usize,
            h: usize,
            w: *const f32,
            rsw: usize,
            gates: *mut f32,
            hs: *mut f32,
        ) {
            for t in 0..t_len {
                // SAFETY: t < T: row t of `gates` and `hs` (and row t − 1 of `hs`) are inside
                // the t·h values our caller vouches for.
                let (g, out) = unsafe { (gates.add(t * h), hs.add(t * h)) };
                let prev = if t > 0 {
                    // SAFETY: as above, t − 1 < T.
                    unsafe { hs.add((t - 1) * h) as *const f32 }
                } else {
                    core::ptr::null()
                };
                let mut j = 0;
                while j < h {
                    let cols = (4 * LANES).min(h - j);
                    let nv = cols.div_ceil(LANES);
                    let last = mask(cols - (nv - 1) * LANES);
                    macro_rules! panel {
                        ($nv:literal) => {
                            rnn_panel::<$nv, ACT>(
                                h,
                                w.add(j),
                                rsw,
                                prev,
                                g.add(j),
                                out.add(j),
                                last,
                            )
                        };
                    }
                    // SAFETY: columns [j, j + cols) ⊆ [0, h) of rows of W, of row t of `gates`
                    // and `hs`, the last vector masked by `last`: inside our caller's ranges.
                    unsafe {
                        match nv {
                            1 => panel!(1),
                            2 => panel!(2),
                            3 => panel!(3),
                            _ => panel!(4),
                        }
                    }
                    j += cols;
                }
            }
        }

        /// An LSTM cell's forward step over `h` units, in one pass: the gates' pre-
        /// activations `[i | f | g | o]` (each gate's block `stride` after the previous one's,
        /// `stride ≥ h`) become σ(i), σ(f), tanh(g), σ(o) in place; then c_t = f·c_{t−1} +
        /// i·g (c_{t−1} null before the first step: 0), tanh(c_t) and h_t = o·tanh(c_t) are
        /// written to `c`, `tanh_c` and `h_out`.
        ///
        /// # Safety
        /// `gates` valid for reads and writes of 3·stride + h values, `c_prev` (unless null)
        /// for reads of h, `c`, `tanh_c` and `h_out` for writes of h; the written ranges
        /// overlap nothing else.
        #[doc = concat!("The CPU must support `", $features, "`.")]
        #[target_feature(enable = $features)]
        pub unsafe fn lstm_cell_forward(
            h: usize,
            stride: usize,
            gates: *mut f32,
            c_prev: *const f32,
            c: *mut f32,
            tanh_c: *mut f32,
            h_out: *mut f32,
        ) {
            let mut k = 0;
            while k < h {
                let m = mask(h - k);
                // SAFETY: lanes [k, k + LANES) ∩ [0, h) of each block, selected by `m`: inside
                // the ranges our caller vouches for.
                unsafe {
                    let i = sigmoid(load_m(gates.add(k), m));
                    let f = sigmoid(load_m(gates.add(stride + k), m));
                    let g = tanh(load_m(gates.add(2 * stride + k), m));
                    let o = sigmoid(load_m(gates.add(3 * stride + k), m));
                    store_m(gates.add(k), i, m);
                    store_m(gates.add(stride + k), f, m);
                    store_m(gates.add(2 * stride + k), g, m);
                    store_m(gates.add(3 * stride + k), o, m);
                    let cell = if c_prev.is_null() {
                        mul(i, g)
                    } else {
                        fma(f, load_m(c_prev.add(k), m), mul(i, g))
                    };
                    let tc = tanh(cell);
                    store_m(c.add(k), cell, m);
                    store_m(tanh_c.add(k), tc, m);
                    store_m(h_out.add(k), mul(o, tc), m);
                }
                k += LANES;
            }
        }

        /// A GRU cell's forward step over `h` units, in one pass: from the input projection
        /// `gates` `[r | z | n]` and the recurrent one `hh` (h_{t−1}·W_hh + b_hh), r and z =
        /// σ(gates + hh) and n = tanh(gates_n + r·hh_n) written over `gates`, hh_n copied to
        /// `hh_n_out` (the backward step needs it), and h_t = (1 − z)·n + z·h_{t−1} (h_{t−1}
        /// null before the first step: 0) to `h_out`.
        ///
        /// # Safety
        /// `gates` valid for reads and writes of 3·h values, `hh` for reads of 3·h, `h_prev`
        /// (unless null) for reads of h, `hh_n_out` and `h_out` for writes of h; the written
        /// ranges overlap nothing else.
        #[doc = concat!("The CPU must support `", $features, "`.")]
        #[target_feature(enable = $features)]
        pub unsafe fn gru_cell_forward(
            h: usize,
            gates: *mut f32,
            hh: *const f32,
            h_prev: *const f32,
            hh_n_out: *mut f32,
            h_out: *mut f32,
        ) {
            let one = splat(1.0);
            let mut k = 0;
            while k < h {
                let m = mask(h - k);
                // SAFETY: lanes [k, k + LANES) ∩ [0, h) of each block, selected by `m`: inside
                // the ranges our caller vouches for.
                unsafe {
                    let r = sigmoid(add(load_m(gates.add(k), m), load_m(hh.add(k), m)));
                    let z = sigmoid(add(load_m(gates.add(h + k), m), load_m(hh.add(h + k), m)));
                    let hh_n = load_m(hh.add(2 * h + k), m);
                    let n = tanh(fma(r, hh_n, load_m(gates.add(2 * h + k), m)));
                    store_m(gates.add(k), r, m);
                    store_m(gates.add(h + k), z, m);
                    store_m(gates.add(2 * h + k), n, m);
                    store_m(hh_n_out.add(k), hh_n, m);
                    let kept = if h_prev.is_null() {
                        splat(0.0)
                    } else {
                        mul(z, load_m(h_prev.add(k), m))
                    };
                    store_m(h_out.add(k), fma(sub(one, z), n, kept), m);
                }
                k += LANES;
            }
        }

        /// A GRU cell's backward step over `h` units, from its activated gates `[r | z | n]`,
        /// hh_n (the recurrent projection of n), h_{t−1} (null before the first step: 0) and
        /// ∂h_t: writes ∂ of the gates' input pre-activations to `dgates` `[dr | dz | dn]`, ∂
        /// of the recurrent projection to `dhid` `[dr | dz | dn·r]`, and the direct part of
        /// ∂h_{t−1}, ∂h_t·z, to `dh_direct`.
        ///
        /// # Safety
        /// `gates` valid for reads of 3·h values, `hh_n`, `dh` and `h_prev` (unless null) for
        /// reads of h, `dgates` and `dhid` for writes of 3·h, `dh_direct` for writes of h; the
        /// written ranges overlap nothing else.
        #[doc = concat!("The CPU must support `", $features, "`.")]
        #[target_feature(enable = $features)]
        #[allow(clippy::too_many_arguments)]
        pub unsafe fn gru_cell_backward(
            h: usize,
            gates: *const f32,
            hh_n: *const f32,
            h_prev: *const f32,
            dh: *const f32,
            dgates: *mut f32,
            dhid: *mut f32,
            dh_direct: *mut f32,
        ) {
            let one = splat(1.0);
            let mut k = 0;
            while k < h {
                let m = mask(h - k);
                // SAFETY: lanes [k, k + LANES) ∩ [0, h) of each block, selected by `m`: inside
                // the ranges our caller vouches for.
                unsafe {
                    let r = load_m(gates.add(k), m);
                    let z = load_m(gates.add(h + k), m);
                    let n = load_m(gates.add(2 * h + k), m);
                    let d = load_m(dh.add(k), m);
                    let hp = if h_prev.is_null() {
                        splat(0.0)
                    } else {
                        load_m(h_prev.add(k), m)
                    };
                    let dn = mul(mul(d, sub(one, z)), sub(one, mul(n, n)));
                    let dz = mul(mul(d, sub(hp, n)), mul(z, sub(one, z)));
                    let dr = mul(mul(dn, load_m(hh_n.add(k), m)), mul(r, sub(one, r)));
                    store_m(dgates.add(k), dr, m);
                    store_m(dgates.add(h + k), dz, m);
                    store_m(dgates.add(2 * h + k), dn, m);
                    store_m(dhid.add(k), dr, m);
                    store_m(dhid.add(h + k), dz, m);
                    store_m(dhid.add(2 * h + k), mul(dn, r), m);
                    store_m(dh_direct.add(k), mul(d, z), m);
                }
                k += LANES;
            }
        }

        /// An LSTM cell's backward step over `h` units, from its gates `[i | f | g | o]`
        /// (after their activations), tanh(c_t), c_{t−1} (null before the first step: 0),
        /// ∂h_t and ∂c_t (carried from the step after): writes ∂ of the gates'
        /// pre-activations to `dgates` and ∂c_{t−1} over `dc`.
        ///
        /// # Safety
        /// `gates` and `dgates` valid for reads (writes) of 4·h values, `tanh_c`, `dh` and
        /// `c_prev` (unless null) for reads of h, `dc` for reads and writes of h; `dgates`
        /// and `dc` overlap nothing else.
        #[doc = concat!("The CPU must support `", $features, "`.")]
        #[target_feature(enable = $features)]
        #[allow(clippy::too_many_arguments)]
        pub unsafe fn lstm_cell_backward(
            h: usize,
            gates: *const f32,
            tanh_c: *const f32,
            c_prev: *const f32,
            dh: *const f32,
            dc: *mut f32,
            dgates: *mut f32,
        ) {
            let one = splat(1.0);
            let mut k = 0;
            while k < h {
                let m = mask(h - k);
                // SAFETY: lanes [k, k + LANES) ∩ [0, h) of each block, selected by `m`: inside
                // the ranges our caller vouches for.
                unsafe {
                    let i = load_m(gates.add(k), m);
                    let f = load_m(gates.add(h + k), m);
                    let g = load_m(gates.add(2 * h + k), m);
                    let o = load_m(gates.add(3 * h + k), m);
                    let tc = load_m(tanh_c.add(k), m);
                    let dhk = load_m(dh.add(k), m);
                    let cp = if c_prev.is_null() {
                        splat(0.0)
                    } else {
                        load_m(c_prev.add(k), m)
                    };
                    // dcell = dc + dh·o·(1 − tc²)
                    let dcell = fma(mul(dhk, o), sub(one, mul(tc, tc)), load_m(dc.add(k), m));
                    store_m(dgates.add(k), mul(mul(dcell, g), mul(i, sub(one, i))), m);
                    store_m(
                        dgates.add(h + k),
                        mul(mul(dcell, cp), mul(f, sub(one, f))),
                        m,
                    );
                    store_m(
                        dgates.add(2 * h + k),
                        mul(mul(dcell, i), sub(one, mul(g, g))),
                        m,
                    );
                    store_m(
                        dgates.add(3 * h + k),
                        mul(mul(dhk, tc), mul(o, sub(one, o))),
                        m,
                    );
                    store_m(dc.add(k), mul(dcell, f), m);
                }
                k += LANES;
            }
        }

        /// One panel of `NV` vectors (the last masked by `last`) of one RNN step: out = g =
        /// act(g + prev·W), with W's rows `rsw` apart; no product when `prev` is null.
        ///
        /// # Safety
        /// With `cols` = (NV − 1)·LANES + the lanes of `last`: `w + p·rsw + c` valid for reads
        /// for p < h (when `prev` is non-null) and c < cols, `prev` null or valid for reads of
        /// h values, `g` and `out` for reads and writes of cols values.
        #[doc = concat!("The CPU must support `", $features, "`.")]
        #[inline]
        #[target_feature(enable = $features)]
        unsafe fn rnn_panel<const NV: usize, const ACT: u8>(
            h: usize,
            w: *const f32,
            rsw: usize,
            prev: *const f32,
            g: *mut f32,
            out: *mut f32,
            last: M,
        ) {
            const CH: usize = 4;
            let mut acc = [[splat(0.0); NV]; CH];
            let lane_mask = |v: usize| if v + 1 == NV { last } else { mask(LANES) };
            // acc += prev[q]·W[q, panel] into chain `c`.
            let step = |q: usize, partial: &mut [V; NV]| {
                // SAFETY: called with q < h only: element q of `prev` and row q of W, columns
                // inside the panel (masked), as our caller vouches.
                unsafe {
                    let hp = splat(*prev.add(q));
                    let row = w.add(q * rsw);
                    for (v, a) in partial.iter_mut().enumerate() {
                        *a = fma(hp, load_m(row.add(v * LANES), lane_mask(v)), *a);
                    }
                }
            };
            if !prev.is_null() {
                let mut p = 0;
                while p + CH <= h {
                    for (c, partial) in acc.iter_mut().enumerate() {
                        step(p + c, partial);
                    }
                    p += CH;
                }
                while p < h {
                    step(p, &mut acc[0]);
                    p += 1;
                }
            }
            for v in 0..NV {
                let m = lane_mask(v);
                let mut sum = add(add(acc[0][v], acc[1][v]), add(acc[2][v], acc[3][v]));
                // SAFETY: the lanes of `m` at v·LANES lie inside the panel's cols values of
                // `g` and `out`.
                unsafe {
                    sum = add(sum, load_m(g.add(v * LANES), m));
                    let r = activate(sum, EpilogueAct::from_code(ACT));
                    store_m(g.add(v * LANES), r, m);
                    store_m(out.add(v * LANES), r, m);
                }
            }
        }
    };
}
pub(super) use recurrence_kernels;
