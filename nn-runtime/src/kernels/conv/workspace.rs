//! The buffers a convolution reuses between calls, and the split of a batch into chunks,
//! one per thread and each with its own buffers, when the work is large enough
//! (`PARALLEL_MIN_FLOPS`).

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::winograd::WinogradScratch;
use crate::kernels::threads::{join, threads_here, PARALLEL_MIN_FLOPS};
use core::ops::Range;

/// Buffers one thread's share of a convolution reuses between calls.
#[derive(Default, Debug)]
pub struct ConvScratch {
    pub(super) cols: Vec<f32>,
    pub(super) winograd: WinogradScratch,
    /// The input gradient's, when it is a convolution Winograd computes.
    pub(super) winograd_dx: WinogradScratch,
    /// The direct convolution's padded input and tap offsets.
    pub(super) padded: Vec<f32>,
    pub(super) offsets: Vec<usize>,
    pub(super) dz: Vec<f32>,
    /// One sample's pooled gradient through the activation (`OutputGradient::MaxPooled`).
    pub(super) dz_pooled: Vec<f32>,
    pub(super) dz_t: Vec<f32>,
    pub(super) dweight: Vec<f32>,
    pub(super) dweight_t: Vec<f32>,
    pub(super) dbias: Vec<f32>,
    /// One sample's convolution output before its pooling (`conv2d_pool_forward`).
    pub(super) pre: Vec<f32>,
}

/// Scratch for every chunk a batch may be split into.
#[derive(Default, Debug)]
pub struct ConvWorkspace {
    chunks: Vec<ConvScratch>,
    /// The whole batch's convolution output when pooling is not fused.
    pub(super) unfused: Vec<f32>,
    /// The weights of the convolution that is the input gradient (`flip_weights`).
    pub(super) flipped: Vec<f32>,
}

impl ConvWorkspace {
    pub(super) fn chunks(&mut self, rows: usize, flops_per_row: usize) -> &mut [ConvScratch] {
        let n = if rows * flops_per_row >= PARALLEL_MIN_FLOPS {
            threads_here().min(rows)
        } else {
            1
        }
        .max(1);
        if self.chunks.len() < n {
            self.chunks.resize_with(n, ConvScratch::default);
        }
        &mut self.chunks[..n]
    }
}

/// Outputs written row by row, which the chunks of a batch split between them.
pub(super) trait RowOutputs: Send + Sized {
    /// The first `rows` rows, and the rest.
    fn split_rows(self, rows: usize) -> (Self, Self);
}

/// `len` values a row of `data` (0 and empty when there is no such output).
pub(super) struct Rows<'a, T> {
    pub(super) data: &'a mut [T],
    pub(super) len: usize,
}

impl<T: Send> RowOutputs for Rows<'_, T> {
    fn split_rows(self, rows: usize) -> (Self, Self) {
        let at = (rows * self.len).min(self.data.len());
        let (lo, hi) = self.data.split_at_mut(at);
        let len = self.len;
        (Rows { data: lo, len }, Rows { data: hi, len })
    }
}

impl<A: RowOutputs, B: RowOutputs> RowOutputs for (A, B) {
    fn split_rows(self, rows: usize) -> (Self, Self) {
        let ((a_lo, a_hi), (b_lo, b_hi)) = (self.0.split_rows(rows), self.1.split_rows(rows));
        ((a_lo, b_lo), (a_hi, b_hi))
    }
}

/// Runs `f(scratch, rows, out_rows)` over `rows` split into one chunk per scratch, `out`
/// split alike.
pub(super) fn for_each_chunk<O, F>(scratch: &mut [ConvScratch], rows: Range<usize>, out: O, f: &F)
where
    O: RowOutputs,
    F: Fn(&mut ConvScratch, Range<usize>, O) + Sync,
{
    if scratch.len() <= 1 || rows.len() <= 1 {
        f(&mut scratch[0], rows, out);
        return;
    }
    let half = scratch.len() / 2;
    let mid = rows.start + rows.len() * half / scratch.len();
    let (s_lo, s_hi) = scratch.split_at_mut(half);
    let (o_lo, o_hi) = out.split_rows(mid - rows.start);
    join(
        || for_each_chunk(s_lo, rows.start..mid, o_lo, f),
        || for_each_chunk(s_hi, mid..rows.end, o_hi, f),
    );
}
