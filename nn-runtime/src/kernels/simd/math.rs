//! The element-wise math of the SIMD paths: e^x, tanh and sigmoid on one vector, the
//! activations a GEMM epilogue or an element-wise pass applies, and `map` /
//! `map_backward`, which run an activation (or its derivative) over a slice.

/// Activation applied in a GEMM epilogue or an element-wise pass, as a plain code so one
/// tile loop serves them all (the branch is taken once per output vector, not per FMA).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum EpilogueAct {
    None = 0,
    Relu = 1,
    Tanh = 2,
    Sigmoid = 3,
}

impl EpilogueAct {
    /// The activation of a `#[repr(u8)]` code (the const parameter of the tile kernels).
    pub const fn from_code(code: u8) -> EpilogueAct {
        match code {
            1 => EpilogueAct::Relu,
            2 => EpilogueAct::Tanh,
            3 => EpilogueAct::Sigmoid,
            _ => EpilogueAct::None,
        }
    }
}

/// Writes `exp`, `tanh`, `sigmoid`, `activate`, `map` and `map_backward` into the enclosing
/// instruction-set module, over its primitives (see `simd/mod.rs`); `$features` is the
/// module's `#[target_feature]` list.
macro_rules! math_kernels {
    ($features:literal) => {
        /// e^x. Cephes' expf scheme: x = n·ln2 + r, |r| ≤ ln2/2, degree-6 polynomial, 2^n by
        /// exponent bits. Inputs are clamped to [−87.33, 88.0] (the normal f32 range), so
        /// the result is never infinite and never denormal; NaN stays NaN.
        #[inline]
        #[target_feature(enable = $features)]
        #[allow(clippy::excessive_precision)] // Cephes's coefficients, as published
        pub fn exp(x: V) -> V {
            // Operands in this order so that NaN passes through (max and min return their
            // second operand when one is NaN): a NaN input must not come out as a number.
            let x = min(splat(88.0), max(splat(-87.33), x));
            let n = round(mul(x, splat(core::f32::consts::LOG2_E)));
            let r = sub(
                sub(x, mul(n, splat(0.693_359_4))),
                mul(n, splat(-2.121_944_4e-4)),
            );
            let z = mul(r, r);
            let mut y = splat(1.987_569_1e-4);
            y = fma(y, r, splat(1.398_199_9e-3));
            y = fma(y, r, splat(8.333_452e-3));
            y = fma(y, r, splat(4.166_579_6e-2));
            y = fma(y, r, splat(1.666_666_5e-1));
            y = fma(y, r, splat(5.000_000_1e-1));
            y = add(fma(y, z, r), splat(1.0));
            mul(y, pow2i(n))
        }

        /// tanh: an odd polynomial below |x| = 0.625 (Cephes' tanhf), 1 − 2/(e^{2|x|} + 1)
        /// above, sign restored.
        #[inline]
        #[target_feature(enable = $features)]
        #[allow(clippy::excessive_precision)] // Cephes's coefficients, as published
        pub fn tanh(x: V) -> V {
            let z = abs(x);
            let big = sub(splat(1.0), div(splat(2.0), add(exp(add(z, z)), splat(1.0))));
            let s = mul(x, x);
            let mut p = splat(-5.704_988_7e-3);
            p = fma(p, s, splat(2.063_908_9e-2));
            p = fma(p, s, splat(-5.373_971_6e-2));
            p = fma(p, s, splat(1.333_144_2e-1));
            p = fma(p, s, splat(-3.333_328_2e-1));
            let small = fma(mul(p, s), z, z);
            copy_sign(select_lt(z, splat(0.625), small, big), x)
        }

        /// 1 / (1 + e^−x)
        #[inline]
        #[target_feature(enable = $features)]
        pub fn sigmoid(x: V) -> V {
            div(splat(1.0), add(splat(1.0), exp(sub(splat(0.0), x))))
        }

        /// (Φ(x), e^(−x²/2)·e^(p(t))·t/2): the standard normal CDF of x from Numerical
        /// Recipes' `erfcc` fit (fractional error of erfc below 1.2e-7), Φ(x) = 1 − erfc(z)/2
        /// for x ≥ 0 and erfc(z)/2 below, z = |x|/√2.
        #[inline]
        #[target_feature(enable = $features)]
        #[allow(clippy::excessive_precision)] // the published coefficients
        fn normal_cdf(x: V) -> V {
            let z = mul(abs(x), splat(core::f32::consts::FRAC_1_SQRT_2));
            let t = div(splat(1.0), fma(splat(0.5), z, splat(1.0)));
            let mut p = splat(0.170_872_77);
            p = fma(p, t, splat(-0.822_152_23));
            p = fma(p, t, splat(1.488_515_87));
            p = fma(p, t, splat(-1.135_203_98));
            p = fma(p, t, splat(0.278_868_07));
            p = fma(p, t, splat(-0.186_288_06));
            p = fma(p, t, splat(0.096_784_18));
            p = fma(p, t, splat(0.374_091_96));
            p = fma(p, t, splat(1.000_023_68));
            p = fma(p, t, splat(-1.265_512_23));
            let half_erfc = mul(mul(splat(0.5), t), exp(sub(p, mul(z, z))));
            select_lt(x, splat(0.0), half_erfc, sub(splat(1.0), half_erfc))
        }

        /// y = x·Φ(x), GELU in its exact form, over `n` values.
        ///
        /// # Safety
        /// `x` must be valid for reads and `y` for writes of `n` values.
        #[doc = concat!("The CPU must support `", $features, "`.")]
        #[target_feature(enable = $features)]
        pub unsafe fn gelu(x: *const f32, y: *mut f32, n: usize) {
            #[inline]
            #[target_feature(enable = $features)]
            fn one(v: V) -> V {
                mul(v, normal_cdf(v))
            }
            let mut i = 0;
            while i + LANES <= n {
                // SAFETY: i + LANES ≤ n: the vector at i lies within `x` and `y`.
                unsafe { store(y.add(i), one(load(x.add(i)))) };
                i += LANES;
            }
            if i < n {
                let m = mask(n - i);
                // SAFETY: i < n, and the mask keeps the load and the store to [i, n).
                unsafe { store_m(y.add(i), one(load_m(x.add(i), m)), m) };
            }
        }

        /// dx = dy·(Φ(x) + x·φ(x)), φ the standard normal density, over `n` values.
        ///
        /// # Safety
        /// `x` and `dy` must be valid for reads and `dx` for writes of `n` values.
        #[doc = concat!("The CPU must support `", $features, "`.")]
        #[target_feature(enable = $features)]
        pub unsafe fn gelu_backward(x: *const f32, dy: *const f32, dx: *mut f32, n: usize) {
            #[inline]
            #[target_feature(enable = $features)]
            #[allow(clippy::excessive_precision)]
            fn one(v: V, g: V) -> V {
                // 1/√(2π)
                let pdf = mul(splat(0.398_942_280_4), exp(mul(splat(-0.5), mul(v, v))));
                mul(g, fma(v, pdf, normal_cdf(v)))
            }
            let mut i = 0;
            while i + LANES <= n {
                // SAFETY: i + LANES ≤ n: the vector at i lies within `x`, `dy` and `dx`.
                unsafe { store(dx.add(i), one(load(x.add(i)), load(dy.add(i)))) };
                i += LANES;
            }
            if i < n {
                let m = mask(n - i);
                // SAFETY: i < n, and the mask keeps the loads and the store to [i, n).
                unsafe { store_m(dx.add(i), one(load_m(x.add(i), m), load_m(dy.add(i), m)), m) };
            }
        }

        #[inline]
        #[target_feature(enable = $features)]
        fn activate(v: V, act: EpilogueAct) -> V {
            match act {
                EpilogueAct::None => v,
                // Operand order matters: max returns its second operand when one is NaN, so NaN
                // propagates (a diverged run must not read as finite).
                EpilogueAct::Relu => max(splat(0.0), v),
                EpilogueAct::Tanh => tanh(v),
                EpilogueAct::Sigmoid => sigmoid(v),
            }
        }

        /// y = act(x) over `n` values.
        ///
        /// # Safety
        /// `x` must be valid for reads and `y` for writes of `n` values; they may be the same
        /// pointer (in place: each vector is loaded before it is stored).
        #[doc = concat!("The CPU must support `", $features, "`.")]
        #[target_feature(enable = $features)]
        pub unsafe fn map(x: *const f32, y: *mut f32, n: usize, act: EpilogueAct) {
            // SAFETY: `map_act` asks for what our caller guarantees, and runs with the same
            // target features as this function.
            unsafe {
                match act {
                    EpilogueAct::None => map_act::<0>(x, y, n),
                    EpilogueAct::Relu => map_act::<1>(x, y, n),
                    EpilogueAct::Tanh => map_act::<2>(x, y, n),
                    EpilogueAct::Sigmoid => map_act::<3>(x, y, n),
                }
            }
        }

        /// `map` for one activation, so that only its constants are set up.
        ///
        /// # Safety
        /// As for `map`: `x` valid for reads and `y` for writes of `n` values (possibly the
        /// same pointer).
        #[doc = concat!("The CPU must support `", $features, "`.")]
        #[inline(never)]
        #[target_feature(enable = $features)]
        unsafe fn map_act<const ACT: u8>(x: *const f32, y: *mut f32, n: usize) {
            let act = EpilogueAct::from_code(ACT);
            let mut i = 0;
            while i + LANES <= n {
                // SAFETY: i + LANES ≤ n: the vector at i lies within the `n` values of `x`
                // and of `y`.
                unsafe { store(y.add(i), activate(load(x.add(i)), act)) };
                i += LANES;
            }
            if i < n {
                let m = mask(n - i);
                // SAFETY: i < n, and the mask keeps the load and the store to x[i..n], y[i..n].
                unsafe { store_m(y.add(i), activate(load_m(x.add(i), m), act), m) };
            }
        }

        /// dx = dy · act′, with act′ read off the output y: [y > 0], 1 − y², y(1 − y).
        ///
        /// # Safety
        /// `y` and `dy` must be valid for reads and `dx` for writes of `n` values.
        #[doc = concat!("The CPU must support `", $features, "`.")]
        #[target_feature(enable = $features)]
        pub unsafe fn map_backward(
            y: *const f32,
            dy: *const f32,
            dx: *mut f32,
            n: usize,
            act: EpilogueAct,
        ) {
            #[inline]
            #[target_feature(enable = $features)]
            fn derivative(y: V, g: V, act: EpilogueAct) -> V {
                match act {
                    EpilogueAct::None => g,
                    EpilogueAct::Relu => select_lt(splat(0.0), y, g, splat(0.0)),
                    EpilogueAct::Tanh => mul(g, sub(splat(1.0), mul(y, y))),
                    EpilogueAct::Sigmoid => mul(g, mul(y, sub(splat(1.0), y))),
                }
            }
            let mut i = 0;
            while i + LANES <= n {
                // SAFETY: i + LANES ≤ n: the vector at i lies within the `n` values of `y`,
                // `dy` and `dx`.
                unsafe { store(dx.add(i), derivative(load(y.add(i)), load(dy.add(i)), act)) };
                i += LANES;
            }
            if i < n {
                let m = mask(n - i);
                // SAFETY: i < n, and the mask keeps the loads and the store to [i, n).
                unsafe {
                    store_m(
                        dx.add(i),
                        derivative(load_m(y.add(i), m), load_m(dy.add(i), m), act),
                        m,
                    )
                };
            }
        }
    };
}
pub(super) use math_kernels;
