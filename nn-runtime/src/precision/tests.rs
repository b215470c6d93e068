use super::*;

#[test]
fn activation_quantisation_covers_the_range_and_keeps_zero_exact() {
    // A ReLU output's range: zero point 0, 127 steps up to the maximum.
    let a = act_quant(0.0, 2.54);
    assert_eq!(a.zero, 0);
    assert!((a.scale - 0.02).abs() < 1e-6);
    // A signed range: zero maps to an integer between the ends.
    let a = act_quant(-1.0, 3.0);
    assert_eq!(a.zero, 32); // 1 / (4 / 127) = 31.75
                            // A range not containing zero is widened to contain it.
    assert_eq!(act_quant(1.0, 2.0).zero, 0);
    assert_eq!(act_quant(-2.0, -1.0).zero, 127);
    // Nothing but zeros (or nothing finite): a harmless scale.
    assert_eq!(
        act_quant(0.0, 0.0),
        ActQuant {
            scale: 1.0,
            zero: 0
        }
    );
    assert_eq!(
        finite_range(&[f32::NAN, f32::INFINITY, -2.0, 5.0]),
        (-2.0, 5.0)
    );
}

#[test]
fn weights_quantise_per_row_symmetrically() {
    let w = [0.5, -1.0, 0.25, 0.0, 0.0, 0.0, 2.0, 1.0, -2.0];
    let (q, s) = dense::quantize_rows(&w, 3, 3);
    assert_eq!(&q[..3], &[64, -127, 32]); // 0.5 / (1/127) = 63.5 → 64 (ties to even)
    assert_eq!(&q[3..6], &[0, 0, 0]);
    assert_eq!(s[1], 1.0);
    assert_eq!(&q[6..], &[127, 64, -127]);
    assert!((s[2] - 2.0 / 127.0).abs() < 1e-9);
}
