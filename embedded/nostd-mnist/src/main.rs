//! typed-nn without the standard library: a `#![no_std]`, `#![no_main]` program whose
//! network, weights and test digits are compiled in. It classifies the first 100 MNIST test
//! digits with `forward_in` in a static arena and exits with 0 only if at least 90 are right
//! and inference allocated nothing.
//!
//! Nothing of `std` is linked: the C library provides the entry point (`main`), `write`
//! and the memory functions; the heap that loading the weights needs is a fixed array
//! (`Heap` below), and it counts every allocation.
//!
//! ```text
//! cargo run -p nostd-mnist --profile nostd
//! ```

#![no_std]
#![no_main]

extern crate alloc;

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::fmt::Write as _;
use core::sync::atomic::{AtomicUsize, Ordering};
use typed_nn::prelude::*;
use typed_nn::Arena;

network! {
    /// The network examples/mnist_mlp.rs trains.
    pub struct Mlp: [784] {
        fc1: Dense(64), Relu,
        fc2: Dense(32), Relu,
        out: Dense(10), Softmax,
    }
}

static WEIGHTS: &[u8] = include_bytes!("../../../examples/weights/mnist_mlp.safetensors");
/// The first 100 MNIST test digits (784 bytes each), then their labels.
static DIGITS: &[u8] = include_bytes!("../../../examples/weights/mnist_test_digits.bin");
const DIGIT_COUNT: usize = 100;

const _: () = assert!(Mlp::ARENA_BYTES <= 1024);

// ---- The C library: all this program takes from the system. ----

#[link(name = "c")]
unsafe extern "C" {
    fn write(fd: i32, buf: *const u8, count: usize) -> isize;
    fn exit(status: i32) -> !;
}

/// Standard output, through `write(2)`.
struct Stdout;

impl core::fmt::Write for Stdout {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let mut bytes = s.as_bytes();
        while !bytes.is_empty() {
            // SAFETY: `bytes` is a live slice; `write` reads at most `bytes.len()` bytes.
            let n = unsafe { write(1, bytes.as_ptr(), bytes.len()) };
            if n <= 0 {
                return Err(core::fmt::Error);
            }
            bytes = &bytes[n as usize..];
        }
        Ok(())
    }
}

// The precompiled `alloc` of this target is built to unwind, so its objects name the
// unwinder's entry points even where nothing unwinds (this program aborts on panic): libgcc_s
// provides `_Unwind_Resume`, and the personality routine, which no frame ever reaches
// without unwinding, ends the program.
#[link(name = "gcc_s")]
unsafe extern "C" {}

#[unsafe(no_mangle)]
extern "C" fn rust_eh_personality() {
    // SAFETY: `exit` ends the process; it has no precondition.
    unsafe { exit(134) }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let _ = writeln!(Stdout, "panic: {info}");
    // SAFETY: `exit` ends the process; it has no precondition.
    unsafe { exit(101) }
}

// ---- A fixed heap: a bump allocator over a static array, counting allocations. ----

const HEAP_BYTES: usize = 1 << 20;

#[repr(C, align(64))]
struct Heap {
    memory: UnsafeCell<[u8; HEAP_BYTES]>,
    used: AtomicUsize,
    allocations: AtomicUsize,
}

// SAFETY: the memory is handed out in disjoint blocks claimed by an atomic compare-exchange
// on `used`, so no two threads ever get the same bytes.
unsafe impl Sync for Heap {}

// SAFETY: every block returned is inside `memory`, aligned as `layout` asks, `layout.size()`
// bytes long and disjoint from every other block (claimed atomically); null when the heap
// is full. Freed blocks are not reused, which `dealloc` is allowed to do.
unsafe impl GlobalAlloc for Heap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.allocations.fetch_add(1, Ordering::SeqCst);
        let base = self.memory.get() as usize;
        let mut used = self.used.load(Ordering::SeqCst);
        loop {
            let start = (base + used).next_multiple_of(layout.align()) - base;
            let Some(end) = start
                .checked_add(layout.size())
                .filter(|&e| e <= HEAP_BYTES)
            else {
                return core::ptr::null_mut();
            };
            match self
                .used
                .compare_exchange(used, end, Ordering::SeqCst, Ordering::SeqCst)
            {
                // SAFETY: `start + size <= HEAP_BYTES`, so the block is inside `memory`.
                Ok(_) => return unsafe { self.memory.get().cast::<u8>().add(start) },
                Err(now) => used = now,
            }
        }
    }

    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}
}

#[global_allocator]
static HEAP: Heap = Heap {
    memory: UnsafeCell::new([0; HEAP_BYTES]),
    used: AtomicUsize::new(0),
    allocations: AtomicUsize::new(0),
};

/// The working memory of inference, planned at compile time: a static, not the stack.
static ARENA: spin_free::Cell<Arena<{ Mlp::ARENA_FLOATS }>> = spin_free::Cell::new(Arena::new());

mod spin_free {
    //! A value one thread at a time may borrow: the program is single-threaded, and a
    //! second borrow is refused rather than waited for.
    use core::cell::UnsafeCell;
    use core::sync::atomic::{AtomicBool, Ordering};

    pub struct Cell<T> {
        taken: AtomicBool,
        value: UnsafeCell<T>,
    }

    // SAFETY: `with` hands out the value to one caller at a time (the flag is claimed
    // atomically), so it is never reached from two threads at once.
    unsafe impl<T: Send> Sync for Cell<T> {}

    impl<T> Cell<T> {
        pub const fn new(value: T) -> Self {
            Cell {
                taken: AtomicBool::new(false),
                value: UnsafeCell::new(value),
            }
        }

        /// `f` on the value, or `None` if it is borrowed already.
        pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
            if self.taken.swap(true, Ordering::Acquire) {
                return None;
            }
            // SAFETY: the flag was false and is now ours: no other reference exists until
            // it is released below.
            let r = f(unsafe { &mut *self.value.get() });
            self.taken.store(false, Ordering::Release);
            Some(r)
        }
    }
}

#[unsafe(no_mangle)]
extern "C" fn main(_argc: i32, _argv: *const *const u8) -> i32 {
    let mut out = Stdout;
    let model = match Mlp::from_safetensors_bytes(WEIGHTS) {
        Ok(model) => model,
        Err(e) => {
            let _ = writeln!(out, "cannot load the weights: {e}");
            return 1;
        }
    };
    let heap_used = HEAP.used.load(Ordering::SeqCst);
    let (images, labels) = DIGITS.split_at(DIGIT_COUNT * 784);
    let before = HEAP.allocations.load(Ordering::SeqCst);
    let correct = ARENA.with(|arena| {
        let mut correct = 0;
        for (pixels, &label) in images.chunks_exact(784).zip(labels) {
            let x = Tensor1::<784>::new(core::array::from_fn(|p| f32::from(pixels[p]) / 255.0));
            correct += usize::from(model.forward_in(arena, &x).argmax() == usize::from(label));
        }
        correct
    });
    let allocations = HEAP.allocations.load(Ordering::SeqCst) - before;
    let Some(correct) = correct else {
        let _ = writeln!(out, "the arena is in use");
        return 1;
    };
    let _ = writeln!(
        out,
        "no_std: {correct} of {DIGIT_COUNT} digits right; arena {} bytes (static), \
         parameters {} bytes, heap used by loading {heap_used} bytes; \
         allocations during inference: {allocations}",
        Mlp::ARENA_BYTES,
        Mlp::PARAM_BYTES,
    );
    i32::from(correct < 90 || allocations != 0)
}
