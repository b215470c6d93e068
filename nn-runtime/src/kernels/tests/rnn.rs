//! The RNN recurrence against its step-by-step definition in f64, on every path.

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::*;

/// The recurrence h_t = act(x_t + h_{t−1}·W) in f64, step by step: `x` is `[t, h]`, `w`'s
/// rows are `rsw` apart.
pub(super) fn rnn_reference(
    act: EpilogueAct,
    x: &[f32],
    w: &[f32],
    rsw: usize,
    t: usize,
    h: usize,
) -> Vec<f64> {
    let mut want = vec![0.0f64; t * h];
    for step in 0..t {
        for j in 0..h {
            let mut v = x[step * h + j] as f64;
            if step > 0 {
                for p in 0..h {
                    v += want[(step - 1) * h + p] * w[p * rsw + j] as f64;
                }
            }
            want[step * h + j] = act_f64(act, v);
        }
    }
    want
}

#[test]
fn rnn_sequence_matches_the_step_by_step_definition_on_every_path() {
    let mut rng = Rng::seed(31);
    for &h in &[1, 3, 16, 17, 50, 64, 65, 130] {
        for (t, act) in [
            (1, EpilogueAct::Tanh),
            (7, EpilogueAct::Tanh),
            (5, EpilogueAct::Relu),
        ] {
            // Rows of W padded on odd sizes, to test the stride.
            let rsw = if h % 2 == 0 { h } else { h + 3 };
            let w = random(h * rsw, &mut rng);
            let x = random(t * h, &mut rng);
            let want = rnn_reference(act, &x, &w, rsw, t, h);
            for arch in Arch::available() {
                let (mut gates, mut hs) = (x.clone(), vec![f32::NAN; t * h]);
                rnn_sequence_with(arch, t, h, &w, rsw, act, &mut gates, &mut hs);
                assert_eq!(gates, hs, "{arch:?} h={h}: gates and states differ");
                for (k, (&got, &want)) in hs.iter().zip(&want).enumerate() {
                    let tol = 1e-5 * (h as f64).sqrt() * (1.0 + want.abs());
                    assert!(
                        (got as f64 - want).abs() <= tol,
                        "{arch:?} h={h} t={t} {act:?} at {k}: {got} vs {want}"
                    );
                }
            }
        }
    }
}

#[test]
fn lstm_cell_backward_matches_its_definition_in_f64_on_every_path() {
    let mut rng = Rng::seed(32);
    for &h in &[1, 3, 16, 17, 63, 65, 256] {
        for first_step in [true, false] {
            // Gates as after their activations: i, f, o in (0, 1), g in (−1, 1).
            let unit = |rng: &mut Rng| rng.uniform(0.01, 0.99);
            let mut gates: Vec<f32> = (0..4 * h).map(|_| unit(&mut rng)).collect();
            for g in &mut gates[2 * h..3 * h] {
                *g = 2.0 * *g - 1.0;
            }
            let tanh_c = random(h, &mut rng);
            let c_prev = random(h, &mut rng);
            let (dh, dc0) = (random(h, &mut rng), random(h, &mut rng));
            let c_prev = (!first_step).then_some(&c_prev[..]);
            // The definition, in f64.
            let mut want = vec![0.0f64; 5 * h];
            for k in 0..h {
                let [i, f, g, o] = [0, 1, 2, 3].map(|q| gates[q * h + k] as f64);
                let (tc, d) = (tanh_c[k] as f64, dh[k] as f64);
                let cp = c_prev.map_or(0.0, |c| c[k] as f64);
                let dcell = dc0[k] as f64 + d * o * (1.0 - tc * tc);
                want[k] = dcell * g * i * (1.0 - i);
                want[h + k] = dcell * cp * f * (1.0 - f);
                want[2 * h + k] = dcell * i * (1.0 - g * g);
                want[3 * h + k] = d * tc * o * (1.0 - o);
                want[4 * h + k] = dcell * f;
            }
            for arch in Arch::available() {
                let (mut dgates, mut dc) = (vec![f32::NAN; 4 * h], dc0.clone());
                lstm_cell_backward_with(
                    arch,
                    h,
                    &gates,
                    &tanh_c,
                    c_prev,
                    &dh,
                    &mut dc,
                    &mut dgates,
                );
                let got = dgates.iter().chain(&dc);
                for (k, (&got, &want)) in got.zip(&want).enumerate() {
                    assert!(
                        (got as f64 - want).abs() <= 1e-6 * (1.0 + want.abs()),
                        "{arch:?} h={h} first={first_step} at {k}: {got} vs {want}"
                    );
                }
            }
        }
    }
}

#[test]
fn lstm_cell_forward_matches_its_definition_in_f64_on_every_path() {
    let mut rng = Rng::seed(33);
    for &h in &[1, 3, 16, 17, 63, 65, 256] {
        for first_step in [true, false] {
            // Pre-activations over the range where σ and tanh bend and saturate.
            let gates0: Vec<f32> = (0..4 * h).map(|_| rng.uniform(-6.0, 6.0)).collect();
            let c_prev = random(h, &mut rng);
            let c_prev = (!first_step).then_some(&c_prev[..]);
            // The definition, in f64: the activated gates, then c, tanh(c) and h.
            let sigmoid = |x: f64| 1.0 / (1.0 + (-x).exp());
            let mut want = vec![0.0f64; 7 * h];
            for k in 0..h {
                let [i, f, g, o] = [0, 1, 2, 3].map(|q| gates0[q * h + k] as f64);
                let (i, f, g, o) = (sigmoid(i), sigmoid(f), g.tanh(), sigmoid(o));
                let c = f * c_prev.map_or(0.0, |p| p[k] as f64) + i * g;
                [want[k], want[h + k], want[2 * h + k], want[3 * h + k]] = [i, f, g, o];
                want[4 * h + k] = c;
                want[5 * h + k] = c.tanh();
                want[6 * h + k] = o * c.tanh();
            }
            for arch in Arch::available() {
                let mut gates = gates0.clone();
                let (mut c, mut tanh_c, mut hs) =
                    (vec![f32::NAN; h], vec![f32::NAN; h], vec![f32::NAN; h]);
                lstm_cell_forward_with(arch, &mut gates, c_prev, &mut c, &mut tanh_c, &mut hs);
                let got = gates.iter().chain(&c).chain(&tanh_c).chain(&hs);
                for (k, (&got, &want)) in got.zip(&want).enumerate() {
                    assert!(
                        (got as f64 - want).abs() <= 2e-6 * (1.0 + want.abs()),
                        "{arch:?} h={h} first={first_step} at {k}: {got} vs {want}"
                    );
                }
            }
        }
    }
}

#[test]
fn lstm_cell_on_a_block_of_units_matches_the_whole_row_on_every_path() {
    // The recurrent pass runs the cell on blocks of units inside the row of all of them:
    // each block must give exactly the whole row's values, and touch nothing outside.
    let mut rng = Rng::seed(35);
    for &(h, u0, ub) in &[
        (128, 0, 64),
        (128, 64, 64),
        (70, 64, 6),
        (17, 3, 13),
        (5, 0, 1),
    ] {
        let gates0: Vec<f32> = (0..4 * h).map(|_| rng.uniform(-6.0, 6.0)).collect();
        let c_prev = random(h, &mut rng);
        for arch in Arch::available() {
            let mut whole = gates0.clone();
            let (mut c, mut tanh_c, mut hs) = (vec![0.0; h], vec![0.0; h], vec![0.0; h]);
            lstm_cell_forward_with(
                arch,
                &mut whole,
                Some(&c_prev),
                &mut c,
                &mut tanh_c,
                &mut hs,
            );
            let mut block = gates0.clone();
            let (mut bc, mut btc, mut bh) = (vec![0.0; ub], vec![0.0; ub], vec![0.0; ub]);
            lstm_cell_forward_strided_with(
                arch,
                &mut block[u0..][..3 * h + ub],
                h,
                Some(&c_prev[u0..u0 + ub]),
                &mut bc,
                &mut btc,
                &mut bh,
            );
            for (k, (&got, &g0)) in block.iter().zip(&gates0).enumerate() {
                let inside = (u0..u0 + ub).contains(&(k % h));
                let want = if inside { whole[k] } else { g0 };
                assert_eq!(
                    got.to_bits(),
                    want.to_bits(),
                    "{arch:?} h={h} u0={u0} at {k}"
                );
            }
            let parts = [(&bc, &c), (&btc, &tanh_c), (&bh, &hs)];
            for (got, want) in parts {
                assert_eq!(got[..], want[u0..u0 + ub], "{arch:?} h={h} u0={u0}");
            }
        }
    }
}

#[test]
fn gru_cell_matches_its_definition_in_f64_on_every_path() {
    let mut rng = Rng::seed(34);
    let sigmoid = |x: f64| 1.0 / (1.0 + (-x).exp());
    for &h in &[1, 3, 16, 17, 63, 65, 256] {
        for first_step in [true, false] {
            let gates0: Vec<f32> = (0..3 * h).map(|_| rng.uniform(-4.0, 4.0)).collect();
            let hh: Vec<f32> = (0..3 * h).map(|_| rng.uniform(-3.0, 3.0)).collect();
            let (h_prev, dh) = (random(h, &mut rng), random(h, &mut rng));
            let h_prev = (!first_step).then_some(&h_prev[..]);
            // The definition, in f64: forward (gates, hh_n, h), then backward (dgates,
            // dhid, direct) from the f32 gates the forward step wrote.
            let mut want = vec![0.0f64; 5 * h];
            for k in 0..h {
                let [xr, xz, xn] = [0, 1, 2].map(|q| gates0[q * h + k] as f64);
                let [hr, hz, hn] = [0, 1, 2].map(|q| hh[q * h + k] as f64);
                let (r, z) = (sigmoid(xr + hr), sigmoid(xz + hz));
                let n = (xn + r * hn).tanh();
                [want[k], want[h + k], want[2 * h + k]] = [r, z, n];
                want[3 * h + k] = hn;
                want[4 * h + k] = (1.0 - z) * n + z * h_prev.map_or(0.0, |p| p[k] as f64);
            }
            for arch in Arch::available() {
                let mut gates = gates0.clone();
                let (mut hh_n, mut out) = (vec![f32::NAN; h], vec![f32::NAN; h]);
                gru_cell_forward_with(arch, &mut gates, &hh, h_prev, &mut hh_n, &mut out);
                let got = gates.iter().chain(&hh_n).chain(&out);
                for (k, (&got, &want)) in got.zip(&want).enumerate() {
                    assert!(
                        (got as f64 - want).abs() <= 2e-6 * (1.0 + want.abs()),
                        "forward {arch:?} h={h} first={first_step} at {k}: {got} vs {want}"
                    );
                }
                let mut back = vec![0.0f64; 7 * h];
                for k in 0..h {
                    let [r, z, n] = [0, 1, 2].map(|q| gates[q * h + k] as f64);
                    let (d, hp) = (dh[k] as f64, h_prev.map_or(0.0, |p| p[k] as f64));
                    let dn = d * (1.0 - z) * (1.0 - n * n);
                    let dz = d * (hp - n) * z * (1.0 - z);
                    let dr = dn * hh_n[k] as f64 * r * (1.0 - r);
                    [back[k], back[h + k], back[2 * h + k]] = [dr, dz, dn];
                    [back[3 * h + k], back[4 * h + k], back[5 * h + k]] = [dr, dz, dn * r];
                    back[6 * h + k] = d * z;
                }
                let (mut dgates, mut dhid, mut direct) = (
                    vec![f32::NAN; 3 * h],
                    vec![f32::NAN; 3 * h],
                    vec![f32::NAN; h],
                );
                gru_cell_backward_with(
                    arch,
                    &gates,
                    &hh_n,
                    h_prev,
                    &dh,
                    &mut dgates,
                    &mut dhid,
                    &mut direct,
                );
                let got = dgates.iter().chain(&dhid).chain(&direct);
                for (k, (&got, &want)) in got.zip(&back).enumerate() {
                    assert!(
                        (got as f64 - want).abs() <= 1e-6 * (1.0 + want.abs()),
                        "backward {arch:?} h={h} first={first_step} at {k}: {got} vs {want}"
                    );
                }
            }
        }
    }
}
