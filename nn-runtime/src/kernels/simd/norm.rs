//! Normalisation passes on the SIMD paths: a block's sum and squared deviations, the
//! normalise-and-scale pass, and the two passes of the gradient (the block's sums, then dx).
//! `kernels/norm.rs` builds batch, layer and group normalisation from them, combining the
//! blocks' f32 sums in f64.

/// Writes `sum_and_deviation`, `normalize`, `sum_and_dot`, `param_grads` and `norm_dx`
/// into the enclosing instruction-set module, over its primitives (see `simd/mod.rs`);
/// `$features` is the module's `#[target_feature]` list.
macro_rules! norm_kernels {
    ($features:literal) => {
        /// `(Σ x, Σ (x − mean)²)` of `n > 0` values, `mean` their own: two passes over the
        /// block, which a caller keeps small enough to stay in L1.
        ///
        /// # Safety
        /// `x` must be valid for reads of `n` values.
        #[doc = concat!("The CPU must support `", $features, "`.")]
        #[target_feature(enable = $features)]
        pub unsafe fn sum_and_deviation(x: *const f32, n: usize) -> (f32, f32) {
            // SAFETY: as this function's.
            let total = unsafe { sum(x, n) };
            let mean = splat(total / n as f32);
            let mut acc = [splat(0.0); 2];
            let mut i = 0;
            while i + 2 * LANES <= n {
                for (u, a) in acc.iter_mut().enumerate() {
                    // SAFETY: i + 2·LANES ≤ n: the vector at i + u·LANES is inside `x`.
                    let d = sub(unsafe { load(x.add(i + u * LANES)) }, mean);
                    *a = fma(d, d, *a);
                }
                i += 2 * LANES;
            }
            while i < n {
                let m = mask(n - i);
                // SAFETY: i < n, and the mask keeps the load to x[i..n].
                let d = zero_outside(sub(unsafe { load_m(x.add(i), m) }, mean), m);
                acc[0] = fma(d, d, acc[0]);
                i += LANES;
            }
            (total, reduce_add(add(acc[0], acc[1])))
        }

        /// x̂ = (x − mean)·inv_std, y = γ·x̂ + β over `n` values, writing x̂ too when `xhat` is
        /// non-null. γ and β are `gamma_v[i]` and `beta_v[i]` when `gamma_v` is non-null (a
        /// parameter per value), else `gamma` and `beta`.
        ///
        /// # Safety
        /// `x` must be valid for reads of `n` values, `y` for writes of `n`, `xhat` null or
        /// valid for writes of `n`, and `gamma_v` null or `gamma_v` and `beta_v` valid for
        /// reads of `n`.
        #[doc = concat!("The CPU must support `", $features, "`.")]
        #[target_feature(enable = $features)]
        #[allow(clippy::too_many_arguments)]
        pub unsafe fn normalize(
            x: *const f32,
            y: *mut f32,
            xhat: *mut f32,
            n: usize,
            mean: f32,
            inv_std: f32,
            gamma: f32,
            beta: f32,
            gamma_v: *const f32,
            beta_v: *const f32,
        ) {
            // x̂ = x·inv_std − mean·inv_std, one fused multiply-add.
            let (scale, shift) = (splat(inv_std), splat(-mean * inv_std));
            let (g, b) = (splat(gamma), splat(beta));
            let mut i = 0;
            while i < n {
                let m = mask(n - i);
                // SAFETY: `m` keeps every access to [i, n), inside every buffer (a whole
                // vector where i + LANES ≤ n, which the masked forms load and store as such).
                unsafe {
                    let h = fma(load_m(x.add(i), m), scale, shift);
                    let (gv, bv) = if gamma_v.is_null() {
                        (g, b)
                    } else {
                        (load_m(gamma_v.add(i), m), load_m(beta_v.add(i), m))
                    };
                    store_m(y.add(i), fma(gv, h, bv), m);
                    if !xhat.is_null() {
                        store_m(xhat.add(i), h, m);
                    }
                }
                i += LANES;
            }
        }

        /// `(Σ dy, Σ dy·x̂)` over `n` values.
        ///
        /// # Safety
        /// `dy` and `xhat` must be valid for reads of `n` values.
        #[doc = concat!("The CPU must support `", $features, "`.")]
        #[target_feature(enable = $features)]
        pub unsafe fn sum_and_dot(dy: *const f32, xhat: *const f32, n: usize) -> (f32, f32) {
            let (mut s, mut d) = ([splat(0.0); 2], [splat(0.0); 2]);
            let mut i = 0;
            while i + 2 * LANES <= n {
                for u in 0..2 {
                    let at = i + u * LANES;
                    // SAFETY: i + 2·LANES ≤ n: the vectors at i + u·LANES are inside both.
                    let (g, h) = unsafe { (load(dy.add(at)), load(xhat.add(at))) };
                    s[u] = add(s[u], g);
                    d[u] = fma(g, h, d[u]);
                }
                i += 2 * LANES;
            }
            while i < n {
                let m = mask(n - i);
                // SAFETY: i < n, and the mask keeps the loads to [i, n).
                let (g, h) = unsafe { (load_m(dy.add(i), m), load_m(xhat.add(i), m)) };
                s[0] = add(s[0], g);
                d[0] = fma(g, h, d[0]);
                i += LANES;
            }
            (reduce_add(add(s[0], s[1])), reduce_add(add(d[0], d[1])))
        }

        /// A row of a per-value affine normalisation (layer normalisation): dγ += dy·x̂ and
        /// dβ += dy value by value, and returns `(Σ dy·γ, Σ dy·γ·x̂)`.
        ///
        /// # Safety
        /// `dy`, `xhat` and `gamma` must be valid for reads, and `dgamma` and `dbeta` for
        /// reads and writes, of `n` values.
        #[doc = concat!("The CPU must support `", $features, "`.")]
        #[target_feature(enable = $features)]
        pub unsafe fn param_grads(
            dy: *const f32,
            xhat: *const f32,
            gamma: *const f32,
            dgamma: *mut f32,
            dbeta: *mut f32,
            n: usize,
        ) -> (f32, f32) {
            let (mut s, mut d) = (splat(0.0), splat(0.0));
            let mut i = 0;
            while i < n {
                let m = mask(n - i);
                // SAFETY: `m` keeps every access to [i, n), inside every buffer.
                unsafe {
                    let (g, h) = (load_m(dy.add(i), m), load_m(xhat.add(i), m));
                    store_m(dgamma.add(i), fma(g, h, load_m(dgamma.add(i), m)), m);
                    store_m(dbeta.add(i), add(g, load_m(dbeta.add(i), m)), m);
                    let gg = mul(g, load_m(gamma.add(i), m));
                    s = add(s, gg);
                    d = fma(gg, h, d);
                }
                i += LANES;
            }
            (reduce_add(s), reduce_add(d))
        }

        /// dx = a·γ·dy − b − c·x̂ over `n` values, γ = `gamma_v[i]` when `gamma_v` is
        /// non-null, else 1.
        ///
        /// # Safety
        /// `dy` and `xhat` must be valid for reads of `n` values, `dx` for writes of `n`,
        /// and `gamma_v` null or valid for reads of `n`.
        #[doc = concat!("The CPU must support `", $features, "`.")]
        #[target_feature(enable = $features)]
        #[allow(clippy::too_many_arguments)]
        pub unsafe fn norm_dx(
            dy: *const f32,
            xhat: *const f32,
            gamma_v: *const f32,
            dx: *mut f32,
            n: usize,
            a: f32,
            b: f32,
            c: f32,
        ) {
            let (av, nb, nc) = (splat(a), splat(-b), splat(-c));
            let mut i = 0;
            while i < n {
                let m = mask(n - i);
                // SAFETY: `m` keeps every access to [i, n), inside every buffer.
                unsafe {
                    let g = load_m(dy.add(i), m);
                    let g = if gamma_v.is_null() {
                        g
                    } else {
                        mul(g, load_m(gamma_v.add(i), m))
                    };
                    let v = fma(av, g, fma(nc, load_m(xhat.add(i), m), nb));
                    store_m(dx.add(i), v, m);
                }
                i += LANES;
            }
        }
    };
}
pub(super) use norm_kernels;
