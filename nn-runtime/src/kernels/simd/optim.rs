//! Optimiser updates on the SIMD paths: one Adam step over parallel slices of parameters,
//! gradients and moments.

/// The per-step constants of an Adam update:
/// `g ← ∇ + l2·p; m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²;`
/// `p ← p·decay − step_size·m / (√v·inv_sqrt_correction2 + ε)`.
#[derive(Clone, Copy, Debug)]
pub struct AdamStep {
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub l2: f32,
    pub decay: f32,
    pub step_size: f32,
    pub inv_sqrt_correction2: f32,
}

/// Writes `adam` into the enclosing instruction-set module, over its primitives (see
/// `simd/mod.rs`); `$features` is the module's `#[target_feature]` list.
macro_rules! optim_kernels {
    ($features:literal) => {
        /// One Adam update of `n` parameters (see `AdamStep`).
        ///
        /// # Safety
        /// `p`, `m` and `v` must be valid for reads and writes, and `g` for reads, of `n`
        /// values each.
        #[doc = concat!("The CPU must support `", $features, "`.")]
        #[target_feature(enable = $features)]
        pub unsafe fn adam(
            p: *mut f32,
            g: *const f32,
            m: *mut f32,
            v: *mut f32,
            n: usize,
            c: &super::AdamStep,
        ) {
            #[inline]
            #[target_feature(enable = $features)]
            fn update(pv: V, gv: V, mv: V, vv: V, c: &super::AdamStep) -> (V, V, V) {
                let g = fma(splat(c.l2), pv, gv);
                let m = fma(splat(c.beta1), mv, mul(splat(1.0 - c.beta1), g));
                let v = fma(splat(c.beta2), vv, mul(splat(1.0 - c.beta2), mul(g, g)));
                let denom = fma(sqrt(v), splat(c.inv_sqrt_correction2), splat(c.eps));
                let p = sub(
                    mul(pv, splat(c.decay)),
                    div(mul(splat(c.step_size), m), denom),
                );
                (p, m, v)
            }
            let mut i = 0;
            while i + LANES <= n {
                // SAFETY: i + LANES ≤ n: the vector at i lies within the `n` values of each
                // of the four pointers.
                unsafe {
                    let (pn, mn, vn) = update(
                        load(p.add(i)),
                        load(g.add(i)),
                        load(m.add(i)),
                        load(v.add(i)),
                        c,
                    );
                    store(p.add(i), pn);
                    store(m.add(i), mn);
                    store(v.add(i), vn);
                }
                i += LANES;
            }
            if i < n {
                let k = mask(n - i);
                // SAFETY: i < n, and the mask keeps every load and store to [i, n).
                unsafe {
                    let (pn, mn, vn) = update(
                        load_m(p.add(i), k),
                        load_m(g.add(i), k),
                        load_m(m.add(i), k),
                        load_m(v.add(i), k),
                        c,
                    );
                    store_m(p.add(i), pn, k);
                    store_m(m.add(i), mn, k);
                    store_m(v.add(i), vn, k);
                }
            }
        }
    };
}
pub(super) use optim_kernels;
