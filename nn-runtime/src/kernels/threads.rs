//! How many threads the kernels use, and from what size parallel work pays.

#[allow(unused_imports)]
use crate::core_prelude::*;

use crate::error::{Error, Result};
use core::sync::atomic::{AtomicUsize, Ordering};

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
            let n = crate::env::var("TYPED_NN_THREADS")
                .and_then(|v| v.parse::<usize>().ok())
                .filter(|&n| n > 0)
                .unwrap_or_else(available_threads);
            THREADS.store(n, Ordering::Relaxed);
            n
        }
        n => n,
    }
}

/// The threads rayon's pool has (the machine's logical CPUs, or `RAYON_NUM_THREADS`).
#[cfg(feature = "parallel")]
fn available_threads() -> usize {
    rayon::current_num_threads()
}

/// Without `parallel`, one thread.
#[cfg(not(feature = "parallel"))]
fn available_threads() -> usize {
    1
}

/// Threads the kernel running on this thread may split its work over: 1 inside a shard of a
/// data-parallel training step (the step already has every thread busy), else [`threads`].
#[cfg(feature = "parallel")]
pub(crate) fn threads_here() -> usize {
    if IN_SHARD.get() {
        1
    } else {
        threads()
    }
}

#[cfg(feature = "parallel")]
thread_local! {
    /// Whether this thread is running one shard of a data-parallel step.
    static IN_SHARD: core::cell::Cell<bool> = const { core::cell::Cell::new(false) };
}

#[cfg(feature = "parallel")]
/// Runs `f` as one shard of a data-parallel step: its kernels stay on this thread.
pub fn as_shard<R>(f: impl FnOnce() -> R) -> R {
    let outer = IN_SHARD.replace(true);
    let r = f();
    IN_SHARD.set(outer);
    r
}

#[cfg(feature = "parallel")]
/// The pool the library's parallel work runs on. Its workers flush subnormals for their
/// whole life (when flushing is on as the pool starts), so that work handed to the `gemm`
/// crate inside it flushes too; `None` if the threads could not be started, and the
/// work then runs on rayon's global pool.
fn pool() -> Option<&'static rayon::ThreadPool> {
    static POOL: std::sync::OnceLock<Option<rayon::ThreadPool>> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads().max(2))
            .thread_name(|i| format!("typed-nn-{i}"))
            .start_handler(|_| super::denormal::flush_this_thread())
            .build()
            .ok()
            .inspect(|pool| {
                // Waits until every worker has started: a worker's start allocates (its
                // name, its queues), and a worker still starting when the first call that
                // made the pool has returned would allocate during a later one, which
                // should allocate nothing.
                pool.broadcast(|_| ());
            })
    })
    .as_ref()
}

#[cfg(feature = "parallel")]
/// Runs `f` on the library's pool (where `rayon::join` and the `gemm` crate's parallel
/// products find its workers), with subnormals flushed on whichever thread runs it.
pub(crate) fn in_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    let flushed = || {
        let _flush = super::denormal::FlushDenormals::new();
        f()
    };
    match pool() {
        Some(p) if p.current_thread_index().is_none() => p.install(flushed),
        _ => flushed(),
    }
}

#[cfg(feature = "parallel")]
/// Runs `f` on one of the library's threads and waits for it. Every call that splits work
/// (a training step over its shares, a large product) from a thread outside the pool hands
/// the work over through rayon's job injector, which takes a new block of job slots every
/// few dozen hand-offs; inside `on_pool`, the calls hand work straight to the other
/// workers, so a training loop run here allocates nothing per step at all. `fit` runs its
/// epochs this way.
pub fn on_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    in_pool(f)
}

#[cfg(feature = "parallel")]
/// `rayon::join` on the library's pool, each half flushing subnormals.
pub fn join<A, B, RA, RB>(a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA + Send,
    B: FnOnce() -> RB + Send,
    RA: Send,
    RB: Send,
{
    in_pool(|| {
        rayon::join(
            || {
                let _flush = super::denormal::FlushDenormals::new();
                a()
            },
            || {
                let _flush = super::denormal::FlushDenormals::new();
                b()
            },
        )
    })
}

/// Without `parallel` every kernel runs on the calling thread: the same functions, serial.
#[cfg(not(feature = "parallel"))]
mod serial {
    /// One thread.
    pub(crate) fn threads_here() -> usize {
        1
    }

    /// Runs `f` (there are no shards to keep apart).
    pub fn as_shard<R>(f: impl FnOnce() -> R) -> R {
        f()
    }

    /// Runs `f`, flushing subnormals.
    pub(crate) fn in_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
        let _flush = super::super::denormal::FlushDenormals::new();
        f()
    }

    /// Runs `f` on this thread (see the `parallel` feature's `on_pool`).
    pub fn on_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
        in_pool(f)
    }

    /// `a` then `b`, on this thread.
    pub fn join<A, B, RA, RB>(a: A, b: B) -> (RA, RB)
    where
        A: FnOnce() -> RA + Send,
        B: FnOnce() -> RB + Send,
        RA: Send,
        RB: Send,
    {
        let _flush = super::super::denormal::FlushDenormals::new();
        (a(), b())
    }
}
#[cfg(not(feature = "parallel"))]
pub use serial::{as_shard, join, on_pool};
#[cfg(not(feature = "parallel"))]
pub(crate) use serial::{in_pool, threads_here};

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
