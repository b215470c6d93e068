//! A layer's state — parameter tensors with their gradients, buffers, sub-layers — described
//! once ([`Layer::walk`]), with how to reach each part for reading and for writing, and
//! walked by visitors that write (optimizers, loading, exchanging gradients) or only read
//! (saving, digests, summaries of gradients): so that saving a network shared between
//! threads needs no `&mut`, and a layer lists its tensors in one place. dfdx's
//! `TensorCollection` describes modules the same way.

use super::{Buffer, BufferVisitor, Layer, Layout, ParamVisitor, Path};

/// Reaches a part of `L` for reading.
pub type Get<L, T> = for<'a> fn(&'a L) -> &'a T;
/// Reaches a part of `L` for writing.
pub type GetMut<L, T> = for<'a> fn(&'a mut L) -> &'a mut T;
/// Reaches a parameter tensor of `L` and its gradient, for reading.
pub type Tensor<L> = for<'a> fn(&'a L) -> (&'a [f32], &'a [f32]);
/// Reaches a parameter tensor of `L` and its gradient, for writing.
pub type TensorMut<L> = for<'a> fn(&'a mut L) -> (&'a mut [f32], &'a mut [f32]);

/// Goes over the state of a layer `L` as [`Layer::walk`] describes it.
pub trait Walk<L: ?Sized> {
    /// The layer walked, for what its description reads off it (a join's path names).
    fn layer(&self) -> &L;

    /// A parameter tensor and its gradient (laid out alike): `name` in the parameter path,
    /// `shape` its PyTorch shape, `layout` how the values hold it.
    fn param(
        &mut self,
        name: &str,
        shape: &[usize],
        layout: Layout,
        get: Tensor<L>,
        set: TensorMut<L>,
    );

    /// A buffer of values, row-major in `shape` (a running mean).
    fn buffer(&mut self, name: &str, shape: &[usize], get: Get<L, [f32]>, set: GetMut<L, [f32]>);

    /// A count (PyTorch's `num_batches_tracked`, an int64 scalar in its files).
    fn count(&mut self, name: &str, get: Get<L, u64>, set: GetMut<L, u64>);

    /// A sub-layer, whose state is named under `name` (an empty name adds none).
    fn sublayer<C: Layer>(&mut self, name: &str, get: Get<L, C>, set: GetMut<L, C>);
}

/// Receives each parameter tensor of a network with its gradient, to read them.
pub trait ParamReader {
    /// As [`ParamVisitor::visit`], read-only.
    fn read(
        &mut self,
        path: &Path<'_>,
        shape: &[usize],
        layout: Layout,
        value: &[f32],
        grad: &[f32],
    );
}

/// A buffer as a reader sees it.
pub enum BufferRef<'a> {
    Values(&'a [f32]),
    Count(u64),
}

/// Receives each buffer of a network, to read them.
pub trait BufferReader {
    /// As [`BufferVisitor::visit`], read-only.
    fn read(&mut self, path: &Path<'_>, shape: &[usize], buffer: BufferRef<'_>);
}

/// Writes: every parameter tensor to a [`ParamVisitor`].
pub(super) struct VisitParams<'a, 'p, L, V> {
    pub layer: &'a mut L,
    pub path: &'a Path<'p>,
    pub visitor: &'a mut V,
}

impl<L, V: ParamVisitor> Walk<L> for VisitParams<'_, '_, L, V> {
    fn layer(&self) -> &L {
        self.layer
    }

    fn param(
        &mut self,
        name: &str,
        shape: &[usize],
        layout: Layout,
        _: Tensor<L>,
        set: TensorMut<L>,
    ) {
        let (value, grad) = set(self.layer);
        self.visitor
            .visit(&self.path.child(name), shape, layout, value, grad);
    }

    fn buffer(&mut self, _: &str, _: &[usize], _: Get<L, [f32]>, _: GetMut<L, [f32]>) {}

    fn count(&mut self, _: &str, _: Get<L, u64>, _: GetMut<L, u64>) {}

    fn sublayer<C: Layer>(&mut self, name: &str, _: Get<L, C>, set: GetMut<L, C>) {
        set(self.layer).visit_params(&self.path.child(name), self.visitor);
    }
}

/// Reads: every parameter tensor to a [`ParamReader`].
pub(super) struct ReadParams<'a, 'p, L, R> {
    pub layer: &'a L,
    pub path: &'a Path<'p>,
    pub reader: &'a mut R,
}

impl<L, R: ParamReader> Walk<L> for ReadParams<'_, '_, L, R> {
    fn layer(&self) -> &L {
        self.layer
    }

    fn param(
        &mut self,
        name: &str,
        shape: &[usize],
        layout: Layout,
        get: Tensor<L>,
        _: TensorMut<L>,
    ) {
        let (value, grad) = get(self.layer);
        self.reader
            .read(&self.path.child(name), shape, layout, value, grad);
    }

    fn buffer(&mut self, _: &str, _: &[usize], _: Get<L, [f32]>, _: GetMut<L, [f32]>) {}

    fn count(&mut self, _: &str, _: Get<L, u64>, _: GetMut<L, u64>) {}

    fn sublayer<C: Layer>(&mut self, name: &str, get: Get<L, C>, _: GetMut<L, C>) {
        get(self.layer).read_params(&self.path.child(name), self.reader);
    }
}

/// Writes: every buffer to a [`BufferVisitor`].
pub(super) struct VisitBuffers<'a, 'p, L, V> {
    pub layer: &'a mut L,
    pub path: &'a Path<'p>,
    pub visitor: &'a mut V,
}

impl<L, V: BufferVisitor> Walk<L> for VisitBuffers<'_, '_, L, V> {
    fn layer(&self) -> &L {
        self.layer
    }

    fn param(&mut self, _: &str, _: &[usize], _: Layout, _: Tensor<L>, _: TensorMut<L>) {}

    fn buffer(&mut self, name: &str, shape: &[usize], _: Get<L, [f32]>, set: GetMut<L, [f32]>) {
        self.visitor.visit(
            &self.path.child(name),
            shape,
            Buffer::Values(set(self.layer)),
        );
    }

    fn count(&mut self, name: &str, _: Get<L, u64>, set: GetMut<L, u64>) {
        self.visitor
            .visit(&self.path.child(name), &[], Buffer::Count(set(self.layer)));
    }

    fn sublayer<C: Layer>(&mut self, name: &str, _: Get<L, C>, set: GetMut<L, C>) {
        set(self.layer).visit_buffers(&self.path.child(name), self.visitor);
    }
}

/// Reads: every buffer to a [`BufferReader`].
pub(super) struct ReadBuffers<'a, 'p, L, R> {
    pub layer: &'a L,
    pub path: &'a Path<'p>,
    pub reader: &'a mut R,
}

impl<L, R: BufferReader> Walk<L> for ReadBuffers<'_, '_, L, R> {
    fn layer(&self) -> &L {
        self.layer
    }

    fn param(&mut self, _: &str, _: &[usize], _: Layout, _: Tensor<L>, _: TensorMut<L>) {}

    fn buffer(&mut self, name: &str, shape: &[usize], get: Get<L, [f32]>, _: GetMut<L, [f32]>) {
        self.reader.read(
            &self.path.child(name),
            shape,
            BufferRef::Values(get(self.layer)),
        );
    }

    fn count(&mut self, name: &str, get: Get<L, u64>, _: GetMut<L, u64>) {
        self.reader.read(
            &self.path.child(name),
            &[],
            BufferRef::Count(*get(self.layer)),
        );
    }

    fn sublayer<C: Layer>(&mut self, name: &str, get: Get<L, C>, _: GetMut<L, C>) {
        get(self.layer).read_buffers(&self.path.child(name), self.reader);
    }
}
