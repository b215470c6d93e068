//! Plain loops over row-major matrices that have no SIMD path: transposing, column sums
//! (bias gradients) and the arg-max of a row (predicted classes).

/// out = xᵀ for a `rows × cols` row-major `x` (out is `cols × rows`, row-major).
pub fn transpose(x: &[f32], rows: usize, cols: usize, out: &mut [f32]) {
    assert!(x.len() >= rows * cols && out.len() >= rows * cols);
    // In square blocks, so that the strided side touches a few cache lines many times
    // instead of a new line per value (a 12544×128 weight: 4.5 ms row by row).
    const BLOCK: usize = 16;
    for r0 in (0..rows).step_by(BLOCK) {
        let r1 = (r0 + BLOCK).min(rows);
        for c0 in (0..cols).step_by(BLOCK) {
            let c1 = (c0 + BLOCK).min(cols);
            for r in r0..r1 {
                let row = &x[r * cols + c0..r * cols + c1];
                for (c, &v) in (c0..c1).zip(row) {
                    out[c * rows + r] = v;
                }
            }
        }
    }
}

/// `out[j] = Σ_r x[r·cols + j]`: column sums of a row-major matrix (bias gradients).
pub fn column_sums(x: &[f32], cols: usize, out: &mut [f32]) {
    out.fill(0.0);
    if cols == 0 {
        return;
    }
    for row in x.chunks_exact(cols) {
        for (o, &v) in out.iter_mut().zip(row) {
            *o += v;
        }
    }
}

/// Index of the largest value (the first one on ties); 0 for an empty slice. NaN never wins.
pub fn argmax(values: &[f32]) -> usize {
    let mut best = 0;
    let mut best_value = f32::NEG_INFINITY;
    for (i, &v) in values.iter().enumerate() {
        if v > best_value {
            best = i;
            best_value = v;
        }
    }
    best
}
