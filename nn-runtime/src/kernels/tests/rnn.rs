//! The RNN recurrence against its step-by-step definition in f64, on every path.

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
