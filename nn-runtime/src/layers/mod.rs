//! Layers: one file per kind. Each is an ordinary Rust type usable by hand; the `network!`
//! macro only chains them.

mod activation;
mod attention;
mod conv;
mod conv_pool;
mod dense;
mod dropout;
mod embedding;
mod flatten;
mod join;
mod norm;
mod pool;
mod rnn;
mod walk;

pub use activation::*;
pub use attention::{MultiHeadAttention, PositionalEmbedding};
pub use conv::{
    Conv1d, Conv2d, ConvCache, ConvOn, ConvPadding, ConvParams, Pad, PaddingRule, Same,
};
pub use conv_pool::{ConvLayer, ConvPool, ConvPoolCache, PoolLayer};
pub use dense::{Dense, DenseOn, DenseSeq, FusedActivation};
pub use dropout::Dropout;
pub use embedding::Embedding;
pub use flatten::{Flatten, FlattenOn};
pub use join::{Concat, Identity, JoinCache, JoinWorkspace, Residual, Sum};
pub use norm::{BatchNorm, BatchNormCache, LayerNorm, LayerNormCache};
pub use pool::{
    AvgPool2d, GlobalAvgPool2d, GlobalMaxPool2d, MaxPool1d, MaxPool2d, PoolAvg, PoolExtent,
    PoolGlobal, PoolMax, PoolOn, PoolOp, PoolWindow,
};
pub use rnn::{
    rnn_backward, rnn_forward, Cell, CellKind, Gru, Lstm, Recurrent, RecurrentSeq, RnnCache,
    RnnGeom, RnnParams, SimpleRnnRelu, SimpleRnnTanh,
};

/// The layer types a network is made of, re-exported at the crate root and in the prelude:
/// the one list to extend when a layer kind is added.
pub mod all {
    pub use super::{
        Act, AvgPool2d, BatchNorm, Concat, Conv1d, Conv2d, Dense, DenseSeq, Dropout, Embedding,
        Flatten, Gelu, GlobalAvgPool2d, GlobalMaxPool2d, Identity, LayerNorm, LeakyRelu, Linear,
        MaxPool1d, MaxPool2d, MultiHeadAttention, PositionalEmbedding, Recurrent, RecurrentSeq,
        Relu, Residual, Sigmoid, Softmax, Sum, Tanh,
    };
}

pub use walk::{BufferReader, BufferRef, Get, GetMut, ParamReader, Tensor, TensorMut, Walk};

use crate::tensor::{Batch, Sample};

/// Channels, rows and columns of a `[C]`, `[C, L]` (one row) or `[C, H, W]` sample: how
/// convolutions and poolings read their samples' shapes.
const fn planes(shape: &[usize]) -> (usize, usize, usize) {
    match shape.len() {
        1 => (shape[0], 1, 1),
        2 => (shape[0], 1, shape[1]),
        3 => (shape[0], shape[1], shape[2]),
        _ => panic!("convolutions and poolings take [C], [C, L] or [C, H, W] samples"),
    }
}

/// What a layer between `X` and `Y` samples with the activation `F` holds of those types:
/// nothing (and it stays `Send + Sync` whatever they are).
type Marker<X, Y, F> = std::marker::PhantomData<fn() -> (X, Y, F)>;
use crate::Rng;
use std::fmt;

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

    /// A freshly initialised layer.
    fn init(rng: &mut Rng) -> Self;

    /// Inference on one sample, in `ws` (the workspace batch inference uses too): no
    /// allocation once `ws` has grown to what the layer needs.
    fn forward_into(&self, x: &Self::In, y: &mut Self::Out, ws: &mut Self::Workspace);

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
        Self::walk(&mut walk::VisitParams {
            layer: self,
            path,
            visitor,
        });
    }

    /// Reads every parameter tensor with its gradient, in the same order.
    fn read_params<R: ParamReader>(&self, path: &Path<'_>, reader: &mut R) {
        Self::walk(&mut walk::ReadParams {
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
        Self::walk(&mut walk::VisitBuffers {
            layer: self,
            path,
            visitor,
        });
    }

    /// Reads every buffer, in the same order.
    fn read_buffers<R: BufferReader>(&self, path: &Path<'_>, reader: &mut R) {
        Self::walk(&mut walk::ReadBuffers {
            layer: self,
            path,
            reader,
        });
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

    /// The layer kind as a user wrote it (`Dense`, `Relu`, …).
    const KIND: &'static str;
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

/// One line of a Keras-style summary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SummaryRow {
    pub name: String,
    pub kind: String,
    pub output_shape: Vec<usize>,
    /// Trainable scalars.
    pub params: usize,
    /// Non-trainable scalars (running statistics).
    pub non_trainable: usize,
    /// The rows whose outputs feed this one (Keras's "Connected to"); `input` for the
    /// network's input.
    pub connected_to: Vec<String>,
}

/// `prefix.name`, or `name` at the top (summary rows of joins' paths).
pub fn child_name(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// The row of a join (a sum or a concatenation): no parameters of its own, connected to the
/// rows that end its paths. Returns its name.
pub fn join_row(
    name: &str,
    kind: &str,
    output_shape: &[usize],
    ends: Vec<String>,
    rows: &mut Vec<SummaryRow>,
) -> String {
    rows.push(SummaryRow {
        name: name.to_string(),
        kind: kind.to_string(),
        output_shape: output_shape.to_vec(),
        params: 0,
        non_trainable: 0,
        connected_to: ends,
    });
    name.to_string()
}

/// Formats a Keras-style summary table. A network whose layers form a chain gets Keras's
/// Sequential table; one with joins gets the functional table's "Connected to" column.
pub fn format_summary(model: &str, rows: &[SummaryRow]) -> String {
    let chain = rows.iter().enumerate().all(|(i, r)| {
        let previous = if i == 0 {
            "input"
        } else {
            rows[i - 1].name.as_str()
        };
        r.connected_to.len() == 1 && r.connected_to[0] == previous
    });
    let columns = if chain { 3 } else { 4 };
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let mut cells = vec![
                format!("{} ({})", r.name, r.kind),
                crate::tensor::keras_shape(&r.output_shape),
                group_thousands(r.params + r.non_trainable),
            ];
            if !chain {
                cells.push(r.connected_to.join(", "));
            }
            cells
        })
        .collect();
    let header: Vec<String> = ["Layer (type)", "Output Shape", "Param #", "Connected to"]
        [..columns]
        .iter()
        .map(|h| h.to_string())
        .collect();
    let mut w = vec![0usize; columns];
    for row in cells.iter().chain(std::iter::once(&header)) {
        for (k, c) in row.iter().enumerate() {
            w[k] = w[k].max(c.chars().count());
        }
    }
    let total_width = w.iter().sum::<usize>() + 3 * (columns - 1);
    let line = |c: char| c.to_string().repeat(total_width) + "\n";
    let fmt_row = |r: &[String]| {
        let mut s = format!(
            "{:<w0$}   {:<w1$}   {:>w2$}",
            r[0],
            r[1],
            r[2],
            w0 = w[0],
            w1 = w[1],
            w2 = w[2]
        );
        if columns == 4 {
            s += &format!("   {:<w3$}", r[3], w3 = w[3]);
        }
        s.trim_end().to_string() + "\n"
    };
    let trainable: usize = rows.iter().map(|r| r.params).sum();
    let non_trainable: usize = rows.iter().map(|r| r.non_trainable).sum();
    let mut s = format!("Model: \"{model}\"\n");
    s += &line('_');
    s += &fmt_row(&header);
    s += &line('=');
    for (i, r) in cells.iter().enumerate() {
        s += &fmt_row(r);
        if i + 1 < cells.len() {
            s += &line('-');
        }
    }
    s += &line('=');
    s += &format!(
        "Total params: {}\n",
        group_thousands(trainable + non_trainable)
    );
    s += &format!("Trainable params: {}\n", group_thousands(trainable));
    s += &format!("Non-trainable params: {}\n", group_thousands(non_trainable));
    s += &line('_');
    s
}

/// 52650 → "52,650"
pub fn group_thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Windows of `k` taps `d` apart, moved by `s`, whose last tap lies inside `padded`
/// positions, counted one position at a time: the brute force that the convolution and
/// pooling geometry checks are tested against.
#[cfg(test)]
pub(crate) fn fitting_windows(padded: usize, k: usize, s: usize, d: usize) -> usize {
    (0..=padded)
        .take_while(|o| o * s + (k - 1) * d < padded)
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_thousands() {
        let root = Path::ROOT;
        let a = root.child("fc1");
        let b = a.child("weight");
        assert_eq!(b.to_string(), "fc1.weight");
        assert_eq!(root.child("0").child("bias").to_string(), "0.bias");
        assert_eq!(group_thousands(52650), "52,650");
        assert_eq!(group_thousands(330), "330");
        assert_eq!(group_thousands(1_626_442), "1,626,442");
    }
}
