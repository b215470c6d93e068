//! Reductions over a slice on the SIMD paths, and the passes softmax and log-sum-exp are
//! built from: the largest value, Σ e^(x − shift) (writing the terms when asked), scaling
//! in place, and the sum.

/// Writes `max_of`, `exp_shifted`, `scale` and `sum` into the enclosing instruction-set
/// module, over its primitives (see `simd/mod.rs`); `$features` is the module's
/// `#[target_feature]` list.
macro_rules! reduce_kernels {
    ($features:literal) => {
        /// Largest of `n` values (−∞ for none).
        ///
        /// # Safety
        /// `x` must be valid for reads of `n` values.
        #[doc = concat!("The CPU must support `", $features, "`.")]
        #[target_feature(enable = $features)]
        pub unsafe fn max_of(x: *const f32, n: usize) -> f32 {
            let mut acc = splat(f32::NEG_INFINITY);
            let mut i = 0;
            while i + LANES <= n {
                // SAFETY: i + LANES ≤ n: the vector at i lies within the `n` values of `x`.
                acc = max(acc, unsafe { load(x.add(i)) });
                i += LANES;
            }
            if i < n {
                // SAFETY: i < n, and the mask keeps the load to x[i..n].
                let tail = unsafe { load_m_or(x.add(i), mask(n - i), splat(f32::NEG_INFINITY)) };
                acc = max(acc, tail);
            }
            reduce_max(acc)
        }

        /// Writes y = e^(x − shift) when `y` is non-null, and returns Σ e^(x − shift).
        ///
        /// # Safety
        /// `x` must be valid for reads of `n` values, and `y` null or valid for writes of `n`
        /// values.
        #[doc = concat!("The CPU must support `", $features, "`.")]
        #[target_feature(enable = $features)]
        pub unsafe fn exp_shifted(x: *const f32, y: *mut f32, n: usize, shift: f32) -> f32 {
            let s = splat(shift);
            let mut sum = splat(0.0);
            let mut i = 0;
            while i + LANES <= n {
                // SAFETY: i + LANES ≤ n: the vector at i lies within the `n` values of `x`.
                let e = exp(sub(unsafe { load(x.add(i)) }, s));
                if !y.is_null() {
                    // SAFETY: as for `x`; `y` is non-null, so it holds `n` values.
                    unsafe { store(y.add(i), e) };
                }
                sum = add(sum, e);
                i += LANES;
            }
            if i < n {
                let m = mask(n - i);
                // SAFETY: i < n, and the mask keeps the load to x[i..n].
                let e = zero_outside(exp(sub(unsafe { load_m(x.add(i), m) }, s)), m);
                if !y.is_null() {
                    // SAFETY: as for `x`; `y` is non-null, so it holds `n` values.
                    unsafe { store_m(y.add(i), e, m) };
                }
                sum = add(sum, e);
            }
            reduce_add(sum)
        }

        /// y *= factor over `n` values.
        ///
        /// # Safety
        /// `y` must be valid for reads and writes of `n` values.
        #[doc = concat!("The CPU must support `", $features, "`.")]
        #[target_feature(enable = $features)]
        pub unsafe fn scale(y: *mut f32, n: usize, factor: f32) {
            let f = splat(factor);
            let mut i = 0;
            while i + LANES <= n {
                // SAFETY: i + LANES ≤ n: the vector at i lies within the `n` values of `y`.
                unsafe { store(y.add(i), mul(load(y.add(i)), f)) };
                i += LANES;
            }
            if i < n {
                let m = mask(n - i);
                // SAFETY: i < n, and the mask keeps the load and the store to y[i..n].
                unsafe { store_m(y.add(i), mul(load_m(y.add(i), m), f), m) };
            }
        }

        /// Σ of `n` values (four partial sums, so the adds pipeline).
        ///
        /// # Safety
        /// `x` must be valid for reads of `n` values.
        #[doc = concat!("The CPU must support `", $features, "`.")]
        #[target_feature(enable = $features)]
        pub unsafe fn sum(x: *const f32, n: usize) -> f32 {
            let mut acc = [splat(0.0); 4];
            let mut i = 0;
            while i + 4 * LANES <= n {
                for (u, v) in acc.iter_mut().enumerate() {
                    // SAFETY: i + 4·LANES ≤ n: the vector at i + u·LANES is inside `x`.
                    *v = add(*v, unsafe { load(x.add(i + u * LANES)) });
                }
                i += 4 * LANES;
            }
            while i < n {
                let m = mask(n - i);
                // SAFETY: i < n, and the mask keeps the load to x[i..n].
                acc[0] = add(acc[0], unsafe { load_m(x.add(i), m) });
                i += LANES;
            }
            reduce_add(add(add(acc[0], acc[1]), add(acc[2], acc[3])))
        }
    };
}
pub(super) use reduce_kernels;
