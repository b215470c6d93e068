//! The memory one-sample inference runs in when every size is known at compile time: an
//! [`Arena`] of `f32`s, 64-byte aligned, that a network's `forward_in` divides by a plan its
//! consts compute (each layer's output and scratch at fixed offsets). Nothing is allocated
//! and large feature maps stay off the stack.
//!
//! Buffers start at multiples of [`ALIGN_FLOATS`] floats from the arena's aligned start, so
//! a buffer can be viewed as the tensor it holds (the tensors are `#[repr(C, align(64))]`
//! arrays of `f32`): [`with_sample`] and [`with_sample_mut`] hand a layer a `&Tensor3<…>`
//! that lives in the arena. The views are the one place this needs `unsafe`.

#[allow(unused_imports)]
use crate::core_prelude::*;

use crate::tensor::{Sample, Tensor1, Tensor2, Tensor3, Tokens};
use alloc::alloc::Layout;
use core::mem::{align_of, size_of};

/// Floats per alignment unit: 64 bytes, a cache line and the tensors' alignment.
pub const ALIGN_FLOATS: usize = 16;

/// `len` floats rounded up to whole alignment units: the room a buffer of `len` values
/// takes in an arena, so that the next one starts aligned too (and a tensor view, whose
/// size is rounded up to its alignment, fits).
pub const fn padded(len: usize) -> usize {
    len.div_ceil(ALIGN_FLOATS) * ALIGN_FLOATS
}

/// The larger of two sizes, for the consts that plan an arena.
pub const fn max(a: usize, b: usize) -> usize {
    if a > b {
        a
    } else {
        b
    }
}

/// `FLOATS` zeroed `f32`s, 64-byte aligned: the working memory of a network's
/// `forward_in`. Its size is the network's `ARENA_FLOATS`, a const, so it can be a
/// `static` (embedded targets), a local, or on the heap ([`Arena::boxed`]).
///
/// ```
/// use nn_runtime::kernels::arena::Arena;
/// let mut arena = Arena::<1024>::new();
/// assert_eq!(arena.as_mut_slice().len(), 1024);
/// ```
#[derive(Clone)]
#[repr(C, align(64))]
pub struct Arena<const FLOATS: usize> {
    data: [f32; FLOATS],
}

impl<const FLOATS: usize> Arena<FLOATS> {
    /// A zeroed arena (a `const fn`, so a `static` can hold one).
    pub const fn new() -> Self {
        Arena {
            data: [0.0; FLOATS],
        }
    }

    /// A zeroed arena on the heap, made there directly: an arena of megabytes never
    /// passes through the stack.
    pub fn boxed() -> Box<Self> {
        let layout = Layout::new::<Self>();
        if layout.size() == 0 {
            return Box::new(Self::new());
        }
        // SAFETY: the layout has a non-zero size (checked above).
        let ptr = unsafe { alloc::alloc::alloc_zeroed(layout) }.cast::<Self>();
        if ptr.is_null() {
            alloc::alloc::handle_alloc_error(layout);
        }
        // SAFETY: `ptr` was allocated by the global allocator with `Self`'s layout, as
        // `Box` requires, and is not null; every field of `Arena` is an `f32`, for which
        // all-zero bytes are a valid value (0.0), so the memory holds a valid `Self`.
        unsafe { Box::from_raw(ptr) }
    }

    /// The floats, in order.
    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        &mut self.data
    }

    /// The arena's size in bytes.
    pub const BYTES: usize = size_of::<Self>();
}

impl<const FLOATS: usize> Default for Arena<FLOATS> {
    fn default() -> Self {
        Self::new()
    }
}

/// A sample type that is an array of `f32`s in a `#[repr(C, align(64))]` struct and
/// nothing else, so that aligned arena memory of its size can be viewed as one.
///
/// # Safety
///
/// Implement it only for `#[repr(C)]` types whose every field is `f32` or an array of them
/// (any bit pattern valid), whose alignment is at most 64 bytes, and whose
/// [`Sample::as_slice`] is its values from its first byte on.
pub unsafe trait Plain: Sample {}

// SAFETY: each is `#[repr(C, align(64))]` over one `[f32; …]` array (nested arrays are
// contiguous), values from its first byte on.
unsafe impl<const N: usize> Plain for Tensor1<N> {}
// SAFETY: as above.
unsafe impl<const A: usize, const B: usize> Plain for Tensor2<A, B> {}
// SAFETY: as above.
unsafe impl<const C: usize, const H: usize, const W: usize> Plain for Tensor3<C, H, W> {}
// SAFETY: as above.
unsafe impl<const T: usize> Plain for Tokens<T> {}

/// Whether `values` can hold a `T` in place: aligned for it, and as long as it is (a
/// tensor's size is its values rounded up to its alignment).
fn fits<T>(values: &[f32]) -> bool {
    values.as_ptr().align_offset(align_of::<T>()) == 0 && size_of_val(values) >= size_of::<T>()
}

/// `values` viewed as a `T`, if they are aligned for it and long enough.
pub fn view<T: Plain>(values: &[f32]) -> Option<&T> {
    // SAFETY: `fits` checked alignment and length; `Plain` promises a `T` is f32s only, so
    // the floats there are a valid `T`, borrowed as long as `values` is.
    fits::<T>(values).then(|| unsafe { &*values.as_ptr().cast::<T>() })
}

/// [`view`], mutably.
pub fn view_mut<T: Plain>(values: &mut [f32]) -> Option<&mut T> {
    if !fits::<T>(values) {
        return None;
    }
    // SAFETY: as in `view`; the borrow of `values` is unique and lasts as long as the view.
    Some(unsafe { &mut *values.as_mut_ptr().cast::<T>() })
}

/// Runs `f` on the sample held by the first `S::LEN` values of `region`: viewed in place
/// when `S` is a tensor and `region` aligned and long enough (arena buffers always are),
/// else copied into a sample of its own (a sample on the heap, `Shaped` or `Pair`, is).
pub fn with_sample<S: Sample, R>(region: &[f32], f: impl FnOnce(&S) -> R) -> R {
    match S::view(region) {
        Some(s) => f(s),
        None => with_copy(region, f),
    }
}

/// [`with_sample`] for a sample `f` writes: copied back into `region` when it could not be
/// viewed in place.
pub fn with_sample_mut<S: Sample, R>(region: &mut [f32], f: impl FnOnce(&mut S) -> R) -> R {
    match S::view_mut(region) {
        Some(s) => f(s),
        None => with_copy_mut(region, f),
    }
}

// The copies are functions of their own, never inlined: a function's frame holds all its
// locals whichever branch runs, and a copy of a feature map in the frame of every arena
// pass would put the map on the stack that the arena keeps it off.

#[cold]
#[inline(never)]
fn with_copy<S: Sample, R>(region: &[f32], f: impl FnOnce(&S) -> R) -> R {
    let mut s = S::zeros();
    s.as_mut_slice().copy_from_slice(&region[..S::LEN]);
    f(&s)
}

#[cold]
#[inline(never)]
fn with_copy_mut<S: Sample, R>(region: &mut [f32], f: impl FnOnce(&mut S) -> R) -> R {
    let mut s = S::zeros();
    let r = f(&mut s);
    region[..S::LEN].copy_from_slice(s.as_slice());
    r
}

/// The part of `arena` from its first 64-byte aligned float on: an arena given as any
/// slice of floats (a `Vec`) loses at most 15 floats to alignment.
pub fn aligned(arena: &mut [f32]) -> &mut [f32] {
    let skip = arena.as_ptr().align_offset(64).min(arena.len());
    &mut arena[skip..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_need_alignment_and_room() {
        let mut arena = Arena::<64>::new();
        let floats = arena.as_mut_slice();
        floats[..10].copy_from_slice(&[1.0; 10]);
        // A Tensor1<10> takes 64 bytes: 16 floats of room.
        assert!(view::<Tensor1<10>>(&floats[..15]).is_none());
        assert_eq!(view::<Tensor1<10>>(&floats[..16]).unwrap().data, [1.0; 10]);
        // One float in, the start is no longer 64-byte aligned.
        assert!(view::<Tensor1<10>>(&floats[1..]).is_none());
        let t = view_mut::<Tensor2<2, 8>>(&mut floats[16..32]).unwrap();
        t.data[1][7] = 5.0;
        assert_eq!(floats[31], 5.0);
    }

    #[test]
    fn samples_that_cannot_be_viewed_are_copied() {
        let mut values = [0.0f32; 20];
        // Misaligned on purpose: the copy path.
        let region = aligned(&mut values);
        let region = &mut region[1..];
        with_sample_mut::<Tensor1<3>, _>(region, |t| t.data = [1.0, 2.0, 3.0]);
        assert_eq!(&region[..3], &[1.0, 2.0, 3.0]);
        let sum = with_sample::<Tensor1<3>, _>(region, |t| t.data.iter().sum::<f32>());
        assert_eq!(sum, 6.0);
    }

    #[test]
    fn padding_and_boxed_arenas() {
        assert_eq!(padded(0), 0);
        assert_eq!(padded(1), 16);
        assert_eq!(padded(16), 16);
        assert_eq!(padded(17), 32);
        let mut boxed = Arena::<100_000>::boxed();
        assert!(boxed.as_mut_slice().iter().all(|&v| v == 0.0));
        assert_eq!(boxed.as_mut_slice().as_ptr().align_offset(64), 0);
        assert_eq!(Arena::<10>::BYTES, 64);
    }
}
