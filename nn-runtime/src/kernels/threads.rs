//! How many threads the kernels use, and from what size parallel work pays.

use crate::error::{Error, Result};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Products below this many FLOPs stay on one thread. Handing half a product to rayon's
/// pool costs about 20 µs when its workers are awake and more when they have gone to sleep
/// between the products of a training step; in a W3 training step two 12.8-MFLOP products
/// split over two threads made the step slower, not faster (BENCHMARKS.md).
pub const PARALLEL_MIN_FLOPS: usize = 32 << 20;

/// 0 = not chosen yet.
static THREADS: AtomicUsize = AtomicUsize::new(0);

/// Threads the kernels split large work over: [`set_threads`], else `TYPED_NN_THREADS`,
/// else the cores rayon's pool has.
pub fn threads() -> usize {
    match THREADS.load(Ordering::Relaxed) {
        0 => {
            let n = std::env::var("TYPED_NN_THREADS")
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .filter(|&n| n > 0)
                .unwrap_or_else(rayon::current_num_threads);
            THREADS.store(n, Ordering::Relaxed);
            n
        }
        n => n,
    }
}

/// Sets the number of threads large kernels split their work over (1 = never split).
pub fn set_threads(n: usize) -> Result<()> {
    if n == 0 {
        return Err(Error::ZeroThreads);
    }
    THREADS.store(n, Ordering::Relaxed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_threads_is_an_error_and_the_count_is_positive() {
        assert!(matches!(set_threads(0), Err(Error::ZeroThreads)));
        assert!(threads() >= 1);
    }
}
