//! Parameters, gradients and running statistics as flat vectors (in `visit_params` and
//! `visit_buffers` order), and the visitors that copy between a network and such a vector.
//! Training moves weights in bulk through here: the data-parallel step (the network's
//! copies and the merge of their gradients and statistics), the gradient exchange (what it
//! sends and writes back), the weights digest, and the distributed start, which broadcasts
//! rank 0's weights.

#[allow(unused_imports)]
use crate::core_prelude::*;

use crate::layers::{Buffer, BufferVisitor, Layer, Layout, ParamVisitor, Path};

/// Every parameter's values, flat, in `visit_params` order.
pub fn parameters<N: Layer>(net: &mut N) -> Vec<f32> {
    let mut flat = Vec::new();
    net.visit_params(&Path::ROOT, &mut Gather::Values(&mut flat));
    flat
}

/// Sets every parameter from a flat vector in `visit_params` order (as [`parameters`]
/// gives); panics if it is shorter.
pub fn set_parameters<N: Layer>(net: &mut N, flat: &[f32]) {
    net.visit_params(&Path::ROOT, &mut Scatter::values(flat, &mut 0));
}

/// Every running statistic, flat, in `visit_buffers` order (counts as one value each).
pub fn gather_buffers<N: Layer>(net: &mut N) -> Vec<f32> {
    let mut flat = Vec::new();
    net.visit_buffers(&Path::ROOT, &mut GatherBuffers(&mut flat));
    flat
}

/// Writes back what [`gather_buffers`] read.
pub fn scatter_buffers<N: Layer>(net: &mut N, flat: &[f32]) {
    set_buffers(net, flat)
}

/// Puts `saved` (gathered with `GatherBuffers`) back into the network's buffers.
pub(super) fn set_buffers<N: Layer>(net: &mut N, saved: &[f32]) {
    net.visit_buffers(&Path::ROOT, &mut ScatterBuffers(saved, &mut 0));
}

/// Appends every parameter's values, or gradients, to a flat vector.
pub(super) enum Gather<'a> {
    Values(&'a mut Vec<f32>),
    Grads(&'a mut Vec<f32>),
}

impl ParamVisitor for Gather<'_> {
    fn visit(
        &mut self,
        _path: &Path<'_>,
        _shape: &[usize],
        _layout: Layout,
        value: &mut [f32],
        grad: &mut [f32],
    ) {
        match self {
            Gather::Values(flat) => flat.extend_from_slice(value),
            Gather::Grads(flat) => flat.extend_from_slice(grad),
        }
    }
}

/// Writes a flat vector back: into the values, over the gradients, or `weight` times it
/// onto the gradients.
pub(super) struct Scatter<'a> {
    flat: &'a [f32],
    offset: &'a mut usize,
    into: ScatterInto,
}

#[derive(Clone, Copy)]
enum ScatterInto {
    Values,
    Grads,
    AddToGrads(f32),
}

impl<'a> Scatter<'a> {
    pub(super) fn values(flat: &'a [f32], offset: &'a mut usize) -> Self {
        Scatter {
            flat,
            offset,
            into: ScatterInto::Values,
        }
    }

    pub(super) fn set_grads(flat: &'a [f32], offset: &'a mut usize) -> Self {
        Scatter {
            flat,
            offset,
            into: ScatterInto::Grads,
        }
    }

    pub(super) fn grads(flat: &'a [f32], offset: &'a mut usize, weight: f32) -> Self {
        Scatter {
            flat,
            offset,
            into: ScatterInto::AddToGrads(weight),
        }
    }
}

impl ParamVisitor for Scatter<'_> {
    fn visit(
        &mut self,
        _path: &Path<'_>,
        _shape: &[usize],
        _layout: Layout,
        value: &mut [f32],
        grad: &mut [f32],
    ) {
        let n = value.len();
        let src = &self.flat[*self.offset..*self.offset + n];
        match self.into {
            ScatterInto::Values => value.copy_from_slice(src),
            ScatterInto::Grads => grad.copy_from_slice(src),
            ScatterInto::AddToGrads(w) => grad.iter_mut().zip(src).for_each(|(g, &s)| *g += w * s),
        }
        *self.offset += n;
    }
}

/// Appends every buffer to a flat vector (a count as one value).
pub(super) struct GatherBuffers<'a>(pub(super) &'a mut Vec<f32>);

impl BufferVisitor for GatherBuffers<'_> {
    fn visit(&mut self, _path: &Path<'_>, _shape: &[usize], buffer: Buffer<'_>) {
        match buffer {
            Buffer::Values(v) => self.0.extend_from_slice(v),
            Buffer::Count(c) => self.0.push(*c as f32),
        }
    }
}

/// Writes a flat vector back into the buffers.
pub(super) struct ScatterBuffers<'a>(pub(super) &'a [f32], pub(super) &'a mut usize);

impl BufferVisitor for ScatterBuffers<'_> {
    fn visit(&mut self, _path: &Path<'_>, _shape: &[usize], buffer: Buffer<'_>) {
        match buffer {
            Buffer::Values(v) => {
                let n = v.len();
                v.copy_from_slice(&self.0[*self.1..*self.1 + n]);
                *self.1 += n;
            }
            Buffer::Count(c) => {
                *c = self.0[*self.1] as u64;
                *self.1 += 1;
            }
        }
    }
}

/// Merges the shares' buffers into the network's as a weighted mean: first its own values
/// times their weight (`own`), then each copy's added; counts stay the network's (every
/// share counted the same step).
pub(super) struct MergeBuffers<'a> {
    pub(super) flat: &'a [f32],
    pub(super) offset: &'a mut usize,
    pub(super) weight: f32,
    pub(super) own: bool,
}

impl BufferVisitor for MergeBuffers<'_> {
    fn visit(&mut self, _path: &Path<'_>, _shape: &[usize], buffer: Buffer<'_>) {
        match buffer {
            Buffer::Values(v) if self.own => v.iter_mut().for_each(|d| *d *= self.weight),
            Buffer::Values(v) => {
                let src = &self.flat[*self.offset..*self.offset + v.len()];
                for (d, &s) in v.iter_mut().zip(src) {
                    *d += self.weight * s;
                }
                *self.offset += v.len();
            }
            Buffer::Count(_) if self.own => {}
            Buffer::Count(_) => *self.offset += 1,
        }
    }
}
