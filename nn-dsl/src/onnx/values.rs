//! What the importer knows of each value of an ONNX graph while it walks the nodes in order:
//! a constant (a weight it does not read, or integers and small floats it folds), or data
//! computed from the network's input (its shape, and the layers that compute it).

use super::emit::StepId;
use std::fmt;

/// One dimension of a data value or one integer of a folded shape computation: a number,
/// the batch, or a named size the network is generic over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dim {
    N(i64),
    Batch,
    Param(String),
}

impl Dim {
    pub fn known(&self) -> Option<i64> {
        match self {
            Dim::N(n) => Some(*n),
            _ => None,
        }
    }
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dim::N(n) => write!(f, "{n}"),
            Dim::Batch => f.write_str("batch"),
            Dim::Param(p) => f.write_str(p),
        }
    }
}

/// A shape as messages write it: `[batch, 3, 224, 224]`.
pub fn shape_text(dims: &[Dim]) -> String {
    let dims: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
    format!("[{}]", dims.join(", "))
}

/// Where a weight's values are in the file: a tensor, or pieces of it (exporters slice a
/// recurrence's weights into gate blocks and concatenate them in another order).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Source {
    /// The tensor (an initializer, or a `Constant` node's output); empty for zeros or a
    /// count, which the file does not hold.
    pub name: String,
    /// Ranges of its values, in row-major order, one after the other; none for all of them.
    pub chunks: Vec<(usize, usize)>,
    /// The shape the graph gives it, checked against the file's at run time.
    pub dims: Vec<usize>,
}

impl Source {
    pub fn whole(name: &str, dims: &[usize]) -> Source {
        Source {
            name: name.to_string(),
            chunks: Vec::new(),
            dims: dims.to_vec(),
        }
    }
}

/// How far the causal mask exporters write (ones of the scores' shape, their lower
/// triangle, where they are 0, −∞ there and 0 elsewhere) has come.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mask {
    /// A shape, or anything else computed from one.
    Other,
    Ones,
    LowerTriangle,
    AboveDiagonal,
    /// −∞ above the diagonal and 0 elsewhere: added to the scores, a causal mask.
    Causal,
}

/// How far a GELU's arithmetic has come.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GeluStage {
    /// x / √2
    Scaled,
    /// erf(x / √2)
    Erf,
    /// 1 + erf(x / √2)
    OnePlus,
    /// Φ(x) = (1 + erf(x / √2)) / 2
    Phi,
    /// x · (1 + erf(x / √2)) = 2 GELU(x)
    Twice,
}

/// A value of the graph.
#[derive(Clone, Debug)]
pub enum Value {
    /// A float tensor of the file (an initializer or a `Constant` node's value), kept by
    /// name: the network reads it at run time.
    Weight {
        source: Source,
        dims: Vec<usize>,
        /// Its values when it is small (a scalar of an activation's pattern).
        small: Option<Vec<f32>>,
    },
    /// Integers known while compiling (shapes, axes, indices), some of them symbolic.
    Ints { dims: Vec<usize>, values: Vec<Dim> },
    /// Data computed from the input.
    Data(Data),
    /// The output of a node that could not be imported (reported once, there).
    Failed,
    /// Values computed from a shape an attention region hides: only the region reads them.
    /// Exporters build a causal mask that way, which the import follows.
    Opaque(Mask),
    /// A step of x·Φ(x) as exporters write GELU (x / √2, erf, + 1, · 0.5, · x), on the data
    /// value named `x`.
    Gelu { x: String, stage: GeluStage },
}

impl Value {
    /// The value of a float constant of one element (an activation's bound, a scale).
    pub fn scalar(&self) -> Option<f32> {
        match self {
            Value::Weight { small: Some(v), .. } if v.len() == 1 => Some(v[0]),
            _ => None,
        }
    }

    /// Whether this is a small float constant all of whose values are `v` (zeros of an
    /// initial state, ones of a scale left out).
    pub fn all_equal(&self, v: f32) -> bool {
        matches!(self, Value::Weight { small: Some(x), .. } if x.iter().all(|&x| x == v))
    }

    /// The shape, for messages.
    pub fn describe(&self) -> String {
        match self {
            Value::Weight { dims, .. } | Value::Ints { dims, .. } => {
                let dims: Vec<Dim> = dims.iter().map(|&d| Dim::N(d as i64)).collect();
                format!("constant {}", shape_text(&dims))
            }
            Value::Data(d) => shape_text(&d.shape),
            Value::Failed => "(not imported)".into(),
            Value::Opaque(_) => "(a shape inside attention)".into(),
            Value::Gelu { .. } => "(part of a GELU)".into(),
        }
    }
}

/// A data value: its ONNX shape (the batch first), the shape of typed-nn's sample holding
/// it (the same values in row-major order; it differs after a reshape that no layer needed
/// yet), and the chain of steps from the network's input that computes it.
#[derive(Clone, Debug)]
pub struct Data {
    pub shape: Vec<Dim>,
    pub sample: Vec<Dim>,
    pub path: Vec<StepId>,
    /// Token ids (an integer input), which only `Gather` (an embedding) reads.
    pub tokens: bool,
    /// The recurrent layer whose every step this is (through moves of the batch axis and
    /// reshapes only), so that taking its last step makes it return its last state.
    pub sequence_of: Option<StepId>,
    /// Which half of a `Split` this is (the path is the whole's), which only GLU reads.
    pub half_of: Option<usize>,
    /// The self-attention region this value is part of (see `attention.rs`); its shape is
    /// empty when the region hides it.
    pub region: Option<usize>,
    /// The group normalisation (and its channels) whose scale and shift may follow.
    pub affine_of: Option<(StepId, usize)>,
}

impl Data {
    /// The sample shape the ONNX shape implies (the batch dropped; the batch of a
    /// time-major value is not first, and a layer cannot read it).
    pub fn onnx_sample(&self) -> Vec<Dim> {
        self.shape
            .iter()
            .filter(|d| **d != Dim::Batch)
            .cloned()
            .collect()
    }

    /// Forgets what the value was part of (a recurrence's steps, an attention region, a group
    /// normalisation awaiting its scale): a layer has read it.
    pub fn forget_marks(&mut self) {
        self.sequence_of = None;
        self.region = None;
        self.affine_of = None;
    }

    /// Where the batch axis is.
    pub fn batch_axis(&self) -> Option<usize> {
        self.shape.iter().position(|d| *d == Dim::Batch)
    }
}
