//! What a layer is: the [`Layer`] trait (its inference, training and backward passes and the
//! one description of its state, `walk`), the paths that name parameters, and the visitors
//! that read and write them. The walkers that turn a layer's description into visits live
//! here too, beside the trait whose provided methods use them.

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::summary::SummaryRow;
use crate::error::Result;
use crate::io::onnx::OnnxGraph;
use crate::tensor::{Batch, Sample};
use crate::Rng;
use core::fmt;

/// A differentiable module from `In` samples to `Out` samples (dfdx style: a module is a type).
///
/// Inference and training are different calls. Inference ([`Layer::forward_into`] for one
/// sample, [`Layer::forward_batch_into`] for a batch) keeps nothing for a backward pass.
/// Training is two straight-line passes with no tape: [`Layer::forward_train`] fills a typed
/// cache, [`Layer::backward`] reads it and writes the parameter gradients (overwriting, not
/// accumulating) and, when asked, the gradient with respect to the input.
pub trait Layer: Sized {
    /// The shape this layer takes.
    type In: Sample;
    /// The shape this layer produces.
    type Out: Sample;
    /// What `forward_train` keeps for `backward` besides the input and output.
    /// Its `Default` must not allocate, so that taking it out of a struct is free.
    type Cache: Default + Send;
    /// Buffers batch inference reuses between calls (a network's intermediate outputs, a
    /// convolution's scratch); nothing in it is kept for a backward pass. Its `Default` must
    /// not allocate.
    type Workspace: Default + Send;
    /// Number of trainable scalars.
    const PARAMS: usize;

    /// Floating-point operations of one sample's forward pass, roughly (a multiply-add
    /// counts two): what a data-parallel training step weighs against the parameters it
    /// must copy between threads. Two per parameter unless the layer knows better (a
    /// convolution reuses its weights at every position, a recurrent layer at every step).
    const FLOPS: usize = 2 * Self::PARAMS;

    /// Whether one-sample inference (`forward_into`) computes in its workspace (scratch
    /// that grows on first use: a convolution's, attention's, a recurrence's), so that a
    /// network keeps one for it between calls. A layer that only reads its input and writes
    /// its output says no (the default), and a network of such layers passes a fresh, empty
    /// workspace, which costs nothing; a layer that says no but uses its workspace is still
    /// right, only slower.
    const SAMPLE_WORKSPACE: bool = false;

    /// Floats of arena [`Layer::forward_arena`] needs (64-byte aligned): a convolution's
    /// columns, a network's intermediate outputs and its layers' arenas. What a network's
    /// `ARENA_FLOATS` adds up, at compile time.
    const ARENA: usize = 0;

    /// Whether [`Layer::forward_arena`] allocates nothing, ever: true for a layer that only
    /// reads its input and writes its output, and for one whose scratch is in the arena; a
    /// layer whose one-sample pass grows a workspace of its own says no until it takes its
    /// scratch from the arena (then a network's `forward_in` does not compile).
    const ARENA_READY: bool = !Self::SAMPLE_WORKSPACE;

    /// Whether the output's first dimension is the input's steps, so that the lengths of a
    /// batch of sequences ([`Batch::lengths`]) hold for the output too: a layer applied at
    /// every step, a recurrence returning every step, attention. By default, when the input
    /// and output have the same rank (two or more) and the same first dimension; a layer
    /// that maps tokens to vectors says so itself, one whose first dimension is channels
    /// (a convolution) says no.
    const KEEPS_STEPS: bool = keeps_steps(Self::In::SHAPE, Self::Out::SHAPE);

    /// Whether the layer gives its output lengths itself (a selection of a part, a zip of
    /// branches, attention across two sequences), which the passes around it then keep.
    const OWN_LENGTHS: bool = false;

    /// A freshly initialised layer.
    fn init(rng: &mut Rng) -> Self;

    /// Checks input values the layer cannot compute on, one sample after another in `x`
    /// (`In::LEN` values each): a token id out of an embedding's vocabulary is a typed
    /// error naming the sample and position. Inference and training call it on the
    /// network's input before any work; a layer over floats takes anything (the default),
    /// a chain or join asks the layers that read its input.
    fn check_input(&self, x: &[f32]) -> Result<()> {
        let _ = x;
        Ok(())
    }

    /// Inference on one sample, in `ws` (the workspace batch inference uses too): no
    /// allocation once `ws` has grown to what the layer needs.
    fn forward_into(&self, x: &Self::In, y: &mut Self::Out, ws: &mut Self::Workspace);

    /// Inference on one sample with its scratch in `arena` (at least [`Layer::ARENA`]
    /// floats, 64-byte aligned): the pass of a network's `forward_in`, which plans every
    /// buffer at compile time. By default [`Layer::forward_into`] with an empty workspace,
    /// which is right for every layer and allocation-free for those that use none
    /// ([`Layer::ARENA_READY`]).
    fn forward_arena(&self, x: &Self::In, y: &mut Self::Out, arena: &mut [f32]) {
        let _ = arena;
        self.forward_into(x, y, &mut Self::Workspace::default());
    }

    /// Inference on a batch; `y` is resized to `x`'s rows. Allocation-free once `y` and `ws`
    /// have grown to the batch size.
    fn forward_batch_into(
        &self,
        x: &Batch<Self::In>,
        y: &mut Batch<Self::Out>,
        ws: &mut Self::Workspace,
    );

    /// The training forward pass on a batch: like inference, also filling the cache
    /// `backward` needs. Randomness (dropout masks) comes from `rng`, the network's seeded
    /// generator, so a training run is reproducible from its seed.
    fn forward_train(
        &self,
        x: &Batch<Self::In>,
        y: &mut Batch<Self::Out>,
        cache: &mut Self::Cache,
        rng: &mut Rng,
    );

    /// Gradients of a loss, given `dy` = ∂loss/∂y for the `x`, `y` of the last `forward_train`.
    /// Layers with state that training updates besides the parameters (BatchNorm's running
    /// statistics) update it here, from the cache: once per training step, and never when a
    /// step fails before its backward pass.
    fn backward(
        &mut self,
        x: &Batch<Self::In>,
        y: &Batch<Self::Out>,
        cache: &mut Self::Cache,
        dy: &Batch<Self::Out>,
        dx: Option<&mut Batch<Self::In>>,
    );

    /// Describes the layer's state to `walk`, once, in a fixed order: each parameter tensor
    /// with its gradient ([`Walk::param`]), each buffer — state saved and loaded with the
    /// parameters which optimizers and gradient clipping never see, PyTorch's
    /// `register_buffer` ([`Walk::buffer`], [`Walk::count`]) — and each sub-layer
    /// ([`Walk::sublayer`]), with how to reach it for reading and for writing. A layer
    /// without state describes nothing.
    fn walk<W: Walk<Self>>(walk: &mut W);

    /// Calls `visitor` on every parameter tensor with its gradient, in the order of
    /// [`Layer::walk`].
    fn visit_params<V: ParamVisitor>(&mut self, path: &Path<'_>, visitor: &mut V) {
        Self::walk(&mut VisitParams {
            layer: self,
            path,
            visitor,
        });
    }

    /// Reads every parameter tensor with its gradient, in the same order.
    fn read_params<R: ParamReader>(&self, path: &Path<'_>, reader: &mut R) {
        Self::walk(&mut ReadParams {
            layer: self,
            path,
            reader,
        });
    }

    /// Number of non-trainable scalars kept as state (running statistics), as Keras counts
    /// them (a step counter such as `num_batches_tracked` is not counted).
    const BUFFERS: usize = 0;

    /// Calls `visitor` on every buffer, in the order of [`Layer::walk`].
    fn visit_buffers<V: BufferVisitor>(&mut self, path: &Path<'_>, visitor: &mut V) {
        Self::walk(&mut VisitBuffers {
            layer: self,
            path,
            visitor,
        });
    }

    /// Reads every buffer, in the same order.
    fn read_buffers<R: BufferReader>(&self, path: &Path<'_>, reader: &mut R) {
        Self::walk(&mut ReadBuffers {
            layer: self,
            path,
            reader,
        });
    }

    /// Makes the batch normalisations at or under the path `prefix` (`""` for all) normalise
    /// with their running statistics in training too, without updating them (PyTorch's
    /// `eval()` on those modules: its eval-mode backward), or, with `eval` false, with the
    /// batch's statistics again; returns how many it set. `path` is this layer's own.
    fn set_batch_norm_eval(&mut self, path: &Path<'_>, prefix: &str, eval: bool) -> usize {
        let mut walk = SetBatchNormEval {
            layer: self,
            path,
            prefix,
            eval,
            count: 0,
        };
        Self::walk(&mut walk);
        walk.count
    }

    /// Rows of a Keras-style summary, this layer named `name` and fed by the row named
    /// `input`; returns the name of the row that produces its output (what the next layer
    /// is connected to).
    fn summary_rows(name: &str, input: &str, rows: &mut Vec<SummaryRow>) -> String {
        rows.push(SummaryRow {
            name: name.to_string(),
            kind: Self::KIND.to_string(),
            output_shape: Self::Out::SHAPE.to_vec(),
            params: Self::PARAMS,
            non_trainable: Self::BUFFERS,
            connected_to: vec![input.to_string()],
        });
        name.to_string()
    }

    /// Writes the layer's inference pass as ONNX nodes into `g`: they read the value
    /// `input` (a batch of `In` samples), take the layer's parameters under `path` as
    /// initializers of the same names, and the returned name is the value holding the
    /// output. A layer kind without an export says so: [`Error::OnnxUnsupported`], never a
    /// wrong graph.
    ///
    /// [`Error::OnnxUnsupported`]: crate::Error::OnnxUnsupported
    fn to_onnx(&self, g: &mut OnnxGraph, path: &Path<'_>, input: &str) -> Result<String> {
        let _ = (g, input);
        Err(crate::io::onnx::unsupported::<Self>(
            path,
            "typed-nn has no ONNX export for this layer kind",
        ))
    }

    /// The layer kind as a user wrote it (`Dense`, `Relu`, …).
    const KIND: &'static str;
}

/// The default of [`Layer::KEEPS_STEPS`].
const fn keeps_steps(input: &[usize], output: &[usize]) -> bool {
    input.len() >= 2 && input.len() == output.len() && input[0] == output[0]
}

/// Hands the lengths of `x`'s rows on to `y`, the output of layer `L` on them, when `L` keeps
/// the steps; else `y`'s rows have all their steps, unless `L` gave them lengths itself. The
/// generated passes call it after every layer.
pub fn carry_lengths<L: Layer>(x: &Batch<L::In>, y: &mut Batch<L::Out>) {
    if L::OWN_LENGTHS {
        return;
    }
    if L::KEEPS_STEPS {
        y.copy_lengths_from(x);
    } else {
        y.clear_lengths();
    }
}

/// A dotted parameter path built on the stack (`fc1.weight`), so that visiting parameters in
/// a training step allocates nothing.
#[derive(Clone, Copy)]
pub struct Path<'a> {
    parent: Option<&'a Path<'a>>,
    name: &'a str,
}

impl<'a> Path<'a> {
    /// The empty path at the top of a network.
    pub const ROOT: Path<'static> = Path {
        parent: None,
        name: "",
    };

    /// This path extended by one component; an empty `name` adds none (the inner node of
    /// nested joins, whose branches are named as the outer join's).
    pub fn child(&'a self, name: &'a str) -> Path<'a> {
        if name.is_empty() {
            return *self;
        }
        Path {
            parent: if self.name.is_empty() && self.parent.is_none() {
                None
            } else {
                Some(self)
            },
            name,
        }
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = self.parent {
            write!(f, "{p}.")?;
        }
        f.write_str(self.name)
    }
}

/// How a parameter's values are laid out relative to its PyTorch shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Row-major in the PyTorch shape.
    RowMajor,
    /// A 2-D tensor stored as its transpose (`[cols, rows]` row-major), as `Dense` keeps
    /// its weight for the forward product.
    Transposed,
    /// Row-major, and the sum of this tensor and the sibling tensor named here in PyTorch's
    /// files (SimpleRNN and LSTM keep `bias_ih + bias_hh` as one bias): import adds the two,
    /// export writes the value here and zeros to the sibling.
    SumWith(&'static str),
}

/// Receives each parameter tensor of a network with its gradient (laid out alike).
pub trait ParamVisitor {
    /// `path` names the tensor (`fc1.weight`), `shape` is its PyTorch shape, `layout` how
    /// `value` and `grad` hold it.
    fn visit(
        &mut self,
        path: &Path<'_>,
        shape: &[usize],
        layout: Layout,
        value: &mut [f32],
        grad: &mut [f32],
    );
}

/// A buffer as a visitor sees it.
pub enum Buffer<'a> {
    /// Values such as a running mean, row-major in the given shape.
    Values(&'a mut [f32]),
    /// A count such as `num_batches_tracked` (an int64 scalar in PyTorch's files).
    Count(&'a mut u64),
}

/// Receives each buffer of a network (see [`Layer::visit_buffers`]).
pub trait BufferVisitor {
    /// `path` names the buffer (`bn.running_mean`), `shape` is its PyTorch shape (`[]` for a
    /// count).
    fn visit(&mut self, path: &Path<'_>, shape: &[usize], buffer: Buffer<'_>);
}

// The state of a layer — parameter tensors with their gradients, buffers, sub-layers — is
// described once (`Layer::walk`), with how to reach each part for reading and for writing,
// and walked by visitors that write (optimizers, loading, exchanging gradients) or only read
// (saving, digests, gradients by name): so that saving a network shared between threads
// needs no `&mut`, and a layer lists its tensors in one place. dfdx's `TensorCollection`
// describes modules the same way.

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

/// Whether the path `name` is `prefix` or lies under it (`"body.3.weight"` under `"body"`
/// and `"body.3"`, not under `"bod"`); everything lies under the empty prefix.
pub fn under(name: &str, prefix: &str) -> bool {
    prefix.is_empty()
        || name
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

/// Sets the batch normalisations among the sub-layers (see [`Layer::set_batch_norm_eval`]).
struct SetBatchNormEval<'a, 'p, L> {
    layer: &'a mut L,
    path: &'a Path<'p>,
    prefix: &'a str,
    eval: bool,
    count: usize,
}

impl<L> Walk<L> for SetBatchNormEval<'_, '_, L> {
    fn layer(&self) -> &L {
        self.layer
    }

    fn param(&mut self, _: &str, _: &[usize], _: Layout, _: Tensor<L>, _: TensorMut<L>) {}

    fn buffer(&mut self, _: &str, _: &[usize], _: Get<L, [f32]>, _: GetMut<L, [f32]>) {}

    fn count(&mut self, _: &str, _: Get<L, u64>, _: GetMut<L, u64>) {}

    fn sublayer<C: Layer>(&mut self, name: &str, _: Get<L, C>, set: GetMut<L, C>) {
        let path = self.path.child(name);
        self.count += set(self.layer).set_batch_norm_eval(&path, self.prefix, self.eval);
    }
}

/// Writes: every parameter tensor to a [`ParamVisitor`].
struct VisitParams<'a, 'p, L, V> {
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
struct ReadParams<'a, 'p, L, R> {
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
struct VisitBuffers<'a, 'p, L, V> {
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
struct ReadBuffers<'a, 'p, L, R> {
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
