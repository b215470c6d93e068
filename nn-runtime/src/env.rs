//! The `TYPED_NN_*` settings read from the environment, trimmed; without `std` there is no
//! environment and every setting is its default.

#[allow(unused_imports)]
use crate::core_prelude::*;

/// The value of the environment variable `name`, trimmed; `None` when it is unset or not
/// Unicode.
#[cfg(feature = "std")]
pub(crate) fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().map(|v| v.trim().to_string())
}

/// Without `std`: no environment.
#[cfg(not(feature = "std"))]
pub(crate) fn var(_name: &str) -> Option<String> {
    None
}
