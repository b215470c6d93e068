//! The f32 and f64 functions the standard library provides as methods (`x.exp()`), for
//! builds without it: the same names, from libm, so that the numeric code is written once.
//! With `std` the inherent methods are used and these traits are not imported.

macro_rules! float_math {
    ($trait:ident, $t:ty, $pow:ident, $trunc:ident, $($name:ident => $libm:ident),* $(,)?) => {
        /// The standard library's float methods of this type, from libm.
        // The whole set std has, so that code written for std builds without it; not
        // every build uses every one.
        #[allow(dead_code)]
        pub trait $trait: Sized {
            $(fn $name(self) -> Self;)*
            fn powf(self, n: Self) -> Self;
            fn powi(self, n: i32) -> Self;
            fn fract(self) -> Self;
        }

        impl $trait for $t {
            $(
                #[inline]
                fn $name(self) -> Self {
                    libm::$libm(self)
                }
            )*
            #[inline]
            fn powf(self, n: Self) -> Self {
                libm::$pow(self, n)
            }
            #[inline]
            fn powi(self, n: i32) -> Self {
                libm::$pow(self, n as $t)
            }
            #[inline]
            fn fract(self) -> Self {
                self - libm::$trunc(self)
            }
        }
    };
}

float_math!(F32Math, f32, powf, truncf,
    exp => expf, exp_m1 => expm1f, ln => logf, ln_1p => log1pf, sqrt => sqrtf,
    tanh => tanhf, floor => floorf, ceil => ceilf, round => roundf, sin => sinf, cos => cosf,
    round_ties_even => rintf,
);
float_math!(F64Math, f64, pow, trunc,
    exp => exp, exp_m1 => expm1, ln => log, ln_1p => log1p, sqrt => sqrt,
    tanh => tanh, floor => floor, ceil => ceil, round => round, sin => sin, cos => cos,
    round_ties_even => rint,
);
