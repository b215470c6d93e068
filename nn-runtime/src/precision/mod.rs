//! Precision as a type: a trained f32 network converts, explicitly, into an int8 or bf16
//! network of its own type, which runs inference only.
//!
//! ```text
//! let int8: Lowered<Mlp, Int8> = model.to_precision::<Int8>(&calibration)?;
//! let y = int8.predict(&x);
//! ```
//!
//! - [`Int8`]: PyTorch's static post-training quantisation. Weights symmetric per output
//!   channel (`-127..=127`); each quantised layer's input scale and zero point fixed from the
//!   calibration inputs the user passes (their range, as PyTorch's `MinMaxObserver`).
//! - [`Int8Dynamic`]: the same weights; each input's scale and zero point computed per batch
//!   from that batch's range (PyTorch's `quantize_dynamic`). The calibration batch is unused.
//! - [`Bf16`]: weights rounded to bf16, inputs rounded to bf16 at each product, f32 sums.
//!
//! Activations are quantised to 7 bits (`0..=127`, see [`kernels::lowp`](crate::kernels::lowp)
//! for why). Dense layers, convolutions, recurrences (SimpleRNN, LSTM, GRU: their
//! products; the gates in f32) and self-attention's projections compute in the low
//! precision; every other layer
//! (activations, pooling, normalisation, reshaping) stays in f32 between them, as PyTorch's
//! quantised modules dequantise around the operators they do not have. A network containing
//! a layer with no conversion (cross-attention, embeddings, `Bidirectional`, `Concat` and `Zip` joins) does not implement
//! [`Lower`], so converting it is a compile error naming that layer.
//!
//! A lowered network implements [`Infer`] (not `Layer`: it cannot be trained), saves to and
//! loads from safetensors (int8 weights with their `F32` scales, bf16 weights as `BF16`),
//! and is a different type from the f32 network: passing one where the other is expected
//! does not compile.

#[allow(unused_imports)]
use crate::core_prelude::*;

mod attention;
mod conv;
mod dense;
mod joins;
mod products;
mod recurrent;
mod store;

pub use attention::{AttentionWorkspace, Bf16Attention, Int8Attention, LowAttention};
pub use conv::{Bf16Conv, Int8Conv};
pub use dense::{Bf16Dense, Int8Dense, Int8Tensors, LowpWorkspace};
pub use joins::{LowResidual, LowSum, LowSumWorkspace, SumJoin};
pub use products::{Bf16Weights, Int8Weights, LowWeights};
pub use recurrent::{Bf16Recurrent, Int8Recurrent, LowRecurrent, RecurrentWorkspace};
pub use store::TensorMap;

use crate::error::{Error, Result};
use crate::layers::{Layer, Path};
use crate::tensor::{Batch, Sample};

/// A numeric precision a network can be converted to.
pub trait Precision: Send + Sync + 'static {
    /// Its name in messages and summaries.
    const NAME: &'static str;
}

/// Int8 with activation scales fixed by calibration (static quantisation).
#[derive(Clone, Copy, Debug, Default)]
pub struct Int8;
/// Int8 with activation scales from each batch (dynamic quantisation).
#[derive(Clone, Copy, Debug, Default)]
pub struct Int8Dynamic;
/// Bf16 weights and products, f32 sums.
#[derive(Clone, Copy, Debug, Default)]
pub struct Bf16;

impl Precision for Int8 {
    const NAME: &'static str = "int8";
}
impl Precision for Int8Dynamic {
    const NAME: &'static str = "int8-dynamic";
}
impl Precision for Bf16 {
    const NAME: &'static str = "bf16";
}

/// Which int8 mode a quantised layer is in: a marker, so that static and dynamic networks
/// are different types.
pub trait Int8Mode: Precision + Clone + core::fmt::Debug {
    /// Whether the input scale is fixed (calibrated) rather than computed per batch.
    const STATIC: bool;
}
impl Int8Mode for Int8 {
    const STATIC: bool = true;
}
impl Int8Mode for Int8Dynamic {
    const STATIC: bool = false;
}

/// Inference, which every layer has and a lowered layer has alone.
pub trait Infer: Sized + Send + Sync {
    /// One input sample.
    type In: Sample;
    /// One output sample.
    type Out: Sample;
    /// Scratch reused across calls.
    type Workspace: Default + Send;

    /// `y = f(x)` for a batch (`y` is resized).
    fn infer_batch(&self, x: &Batch<Self::In>, y: &mut Batch<Self::Out>, ws: &mut Self::Workspace);

    /// Puts this layer's tensors into `out`, named under `path`.
    fn store(&self, path: &Path<'_>, out: &mut TensorMap) -> Result<()>;

    /// The layer whose tensors [`store`](Infer::store) put under `path`.
    fn restore(path: &Path<'_>, src: &TensorMap) -> Result<Self>;
}

/// Rows from which [`predict`] splits a batch over the library's threads.
const SPLIT_MIN_ROWS: usize = 32;

/// The outputs of a batch through `net`: a batch of 32 rows or more split over the library's
/// threads, each part with a workspace of its own (fresh ones: for repeated calls on one
/// thread, keep a workspace and call [`Infer::infer_batch`]).
pub fn predict<N: Infer>(net: &N, x: &Batch<N::In>) -> Batch<N::Out> {
    let rows = x.rows();
    let threads = crate::kernels::threads()
        .min(rows / (SPLIT_MIN_ROWS / 2))
        .max(1);
    predict_on(net, x, 0..rows, threads)
}

/// [`predict`] of `rows` of `x` over `threads` threads (halving the rows and the threads).
fn predict_on<N: Infer>(
    net: &N,
    x: &Batch<N::In>,
    rows: core::ops::Range<usize>,
    threads: usize,
) -> Batch<N::Out> {
    if threads <= 1 || rows.len() < SPLIT_MIN_ROWS {
        let mut part = Batch::zeros(0);
        let x = if rows.len() == x.rows() {
            x
        } else {
            part.copy_rows_from(x, rows);
            &part
        };
        let mut y = Batch::zeros(x.rows());
        net.infer_batch(x, &mut y, &mut N::Workspace::default());
        return y;
    }
    let middle = rows.start + rows.len() / 2;
    let half = threads / 2;
    let (mut first, second) = crate::kernels::join(
        || predict_on(net, x, rows.start..middle, half),
        || predict_on(net, x, middle..rows.end, threads - half),
    );
    first.append(&second);
    first
}

/// The output of one sample through `net`.
pub fn infer<N: Infer>(net: &N, x: &N::In) -> N::Out {
    predict(net, &Batch::from_samples(core::slice::from_ref(x))).sample(0)
}

/// `net`'s tensors as the bytes of a safetensors file.
pub fn to_bytes<N: Infer>(net: &N) -> Result<Vec<u8>> {
    let mut map = TensorMap::default();
    net.store(&Path::ROOT, &mut map)?;
    map.to_bytes()
}

/// The network a safetensors file written by [`to_bytes`] holds; every tensor's name, dtype
/// and shape is checked against the type, and a tensor the type lacks is an error too.
pub fn from_bytes<N: Infer>(bytes: &[u8]) -> Result<N> {
    let map = TensorMap::from_bytes(bytes)?;
    let net = N::restore(&Path::ROOT, &map)?;
    map.check_all_read()?;
    Ok(net)
}

/// Writes [`to_bytes`] to a file, atomically.
#[cfg(feature = "std")]
pub fn save<N: Infer>(net: &N, path: &std::path::Path) -> Result<()> {
    crate::io::write_atomically(path, &to_bytes(net)?)
}

/// Reads a file written by [`save`].
#[cfg(feature = "std")]
pub fn load<N: Infer>(path: &std::path::Path) -> Result<N> {
    let bytes = std::fs::read(path).map_err(Error::reading(path))?;
    from_bytes(&bytes)
}

/// Every (f32) layer infers with its own inference pass and stores its parameters and
/// buffers as `save` does.
impl<L: Layer + Send + Sync> Infer for L {
    type In = L::In;
    type Out = L::Out;
    type Workspace = L::Workspace;

    fn infer_batch(&self, x: &Batch<L::In>, y: &mut Batch<L::Out>, ws: &mut L::Workspace) {
        self.forward_batch_into(x, y, ws);
        crate::layers::carry_lengths::<L>(x, y);
    }

    fn store(&self, path: &Path<'_>, out: &mut TensorMap) -> Result<()> {
        out.insert_layer(path, self)
    }

    fn restore(path: &Path<'_>, src: &TensorMap) -> Result<Self> {
        src.layer(path)
    }
}

/// Conversion of a trained layer (or network) to the precision `P`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no conversion to `{P}`",
    label = "converting this network needs each of its layers to convert",
    note = "Dense, convolutions (ungrouped), SimpleRNN/LSTM/GRU, self-attention, Residual and Add joins, activations, pooling, Flatten, Dropout and the normalisations convert; cross-attention, embeddings, Bidirectional, Concat and Zip do not yet"
)]
pub trait Lower<P: Precision>: Layer {
    /// The converted layer.
    type Lowered: Infer<In = Self::In, Out = Self::Out>;

    /// Converts, with `calibration` a batch of this layer's inputs (static int8 reads their
    /// range; the other precisions may be given an empty batch).
    fn lower(&self, calibration: &Batch<Self::In>) -> Result<Self::Lowered>;

    /// The converted layer whose tensors [`Infer::store`] put under `path`, read with this
    /// f32 layer (any values) at hand to tell what its type alone does not: the names
    /// `network!` gave a join's paths.
    fn restore_lowered(&self, path: &Path<'_>, src: &TensorMap) -> Result<Self::Lowered> {
        Self::Lowered::restore(path, src)
    }
}

/// The type of the network `N` converted to `P`.
pub type Lowered<N, P> = <N as Lower<P>>::Lowered;

/// `model.to_precision::<Int8>(&calibration)`: the method form of [`Lower::lower`].
pub trait ToPrecision: Layer {
    /// This network converted to `P` (see [`Lower`]). Static int8 needs a calibration batch
    /// that is not empty and whose values are finite.
    fn to_precision<P: Precision>(&self, calibration: &Batch<Self::In>) -> Result<Lowered<Self, P>>
    where
        Self: Lower<P>,
    {
        self.lower(calibration)
    }
}
impl<L: Layer> ToPrecision for L {}

/// Two inferences one after the other: what a fused layer (a convolution with its pooling)
/// becomes when only one of its parts changes precision.
pub struct Then<A: Infer, B: Infer<In = A::Out>> {
    /// The first.
    pub first: A,
    /// The second, on the first's output.
    pub second: B,
}

/// The names of a [`Then`]'s parts in a weights file: the fields of the fused layer it
/// comes from ([`ConvPool`]'s).
const THEN_NAMES: [&str; 2] = ["conv", "pool"];

/// The intermediate batch and the two parts' scratch of a [`Then`].
pub struct ThenWorkspace<A: Infer, B: Infer> {
    mid: Batch<A::Out>,
    a: A::Workspace,
    b: B::Workspace,
}

impl<A: Infer, B: Infer> Default for ThenWorkspace<A, B> {
    fn default() -> Self {
        ThenWorkspace {
            mid: Batch::zeros(0),
            a: Default::default(),
            b: Default::default(),
        }
    }
}

impl<A: Infer, B: Infer<In = A::Out>> Then<A, B> {
    /// `first` then `second`.
    pub fn new(first: A, second: B) -> Self {
        Then { first, second }
    }
}

impl<A: Infer, B: Infer<In = A::Out>> Infer for Then<A, B> {
    type In = A::In;
    type Out = B::Out;
    type Workspace = ThenWorkspace<A, B>;

    fn infer_batch(&self, x: &Batch<A::In>, y: &mut Batch<B::Out>, ws: &mut Self::Workspace) {
        self.first.infer_batch(x, &mut ws.mid, &mut ws.a);
        self.second.infer_batch(&ws.mid, y, &mut ws.b);
    }

    fn store(&self, path: &Path<'_>, out: &mut TensorMap) -> Result<()> {
        self.first.store(&path.child(THEN_NAMES[0]), out)?;
        self.second.store(&path.child(THEN_NAMES[1]), out)
    }

    fn restore(path: &Path<'_>, src: &TensorMap) -> Result<Self> {
        Ok(Then {
            first: A::restore(&path.child(THEN_NAMES[0]), src)?,
            second: B::restore(&path.child(THEN_NAMES[1]), src)?,
        })
    }
}

/// The scale and zero point that map `[lo, hi]` (widened to contain 0, so that zero is
/// exact: padding and ReLU outputs) onto `0..=ACT_MAX`.
pub(crate) fn act_quant(lo: f32, hi: f32) -> ActQuant {
    let max = crate::kernels::lowp::ACT_MAX as f32;
    let (lo, hi) = (lo.min(0.0), hi.max(0.0));
    let range = hi - lo;
    if range.is_nan() || range <= 0.0 || !range.is_finite() {
        // All zeros (or nothing finite): any scale represents them.
        return ActQuant {
            scale: 1.0,
            zero: 0,
        };
    }
    let scale = range / max;
    let zero = (-lo / scale).round_ties_even().clamp(0.0, max) as u8;
    ActQuant { scale, zero }
}

/// What a layer generic over `T` holds of it: nothing (and it stays `Send + Sync`).
type Marker<T> = core::marker::PhantomData<fn() -> T>;

/// An activation quantisation: `x ≈ scale · (q − zero)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ActQuant {
    /// The step between two quantised values.
    pub scale: f32,
    /// The quantised value of 0.
    pub zero: u8,
}

impl ActQuant {
    /// What a dynamic layer holds: none (its inputs are quantised batch by batch).
    pub const UNSET: ActQuant = ActQuant {
        scale: 1.0,
        zero: 0,
    };
}

/// The range of `values`' finite values, widened to contain 0. Sixteen independent lanes
/// (non-finite values read as 0), so that the loop vectorises: dynamic quantisation runs it
/// over every input.
pub(crate) fn finite_range(values: &[f32]) -> (f32, f32) {
    const LANES: usize = 16;
    let (mut lo, mut hi) = ([0.0f32; LANES], [0.0f32; LANES]);
    let mut lanes = |chunk: &[f32]| {
        for (i, &v) in chunk.iter().enumerate() {
            let v = if v.is_finite() { v } else { 0.0 };
            lo[i] = if v < lo[i] { v } else { lo[i] };
            hi[i] = if v > hi[i] { v } else { hi[i] };
        }
    };
    let chunks = values.chunks_exact(LANES);
    let rest = chunks.remainder();
    chunks.for_each(&mut lanes);
    lanes(rest);
    (
        lo.iter().fold(0.0f32, |a, &b| a.min(b)),
        hi.iter().fold(0.0f32, |a, &b| a.max(b)),
    )
}

/// The calibrated input quantisation of a static int8 layer: an error for an empty
/// calibration batch.
pub(crate) fn calibrate<S: Sample>(calibration: &Batch<S>) -> Result<ActQuant> {
    if calibration.rows() == 0 {
        return Err(Error::EmptyDataset);
    }
    let (lo, hi) = finite_range(calibration.as_slice());
    Ok(act_quant(lo, hi))
}

/// The layers that stay in f32 whatever the precision: converting one clones it.
macro_rules! keep_f32 {
    ($( [$($g:tt)*] $ty:ty ;)*) => {$(
        impl<P: Precision, $($g)*> Lower<P> for $ty {
            type Lowered = Self;
            fn lower(&self, _calibration: &Batch<Self::In>) -> Result<Self> {
                Ok(self.clone())
            }
        }
    )*};
}

use crate::layers::{
    Act, ActivationFn, BatchNorm, ConvLayer, ConvPool, Dropout, FlattenOn, FusedActivation,
    Grouping, Norm, PoolExtent, PoolLayer, PoolOn, PoolOp,
};

keep_f32! {
    [F: ActivationFn, S: Sample] Act<F, S>;
    [X: Sample, Y: Sample, Op: PoolOp, E: PoolExtent] PoolOn<X, Y, Op, E>;
    [S: Sample, Y: Sample, const RESHAPE: bool] FlattenOn<S, Y, RESHAPE>;
    [S: Sample] Dropout<S>;
    [S: Sample, F: FusedActivation] BatchNorm<S, F>;
    [S: Sample, R: Grouping, const AFFINE: bool] Norm<S, R, AFFINE>;
}

/// A convolution fused with its pooling converts the convolution; the pooling stays f32.
impl<P: Precision, C, Pl> Lower<P> for ConvPool<C, Pl>
where
    C: ConvLayer + Lower<P>,
    Pl: PoolLayer<In = C::Out> + Lower<P> + Send + Sync,
    <Pl as Lower<P>>::Lowered: Infer<In = C::Out, Out = Pl::Out>,
    Self: Layer<In = C::In, Out = Pl::Out>,
{
    type Lowered = Then<<C as Lower<P>>::Lowered, <Pl as Lower<P>>::Lowered>;

    fn lower(&self, calibration: &Batch<C::In>) -> Result<Self::Lowered> {
        Ok(Then::new(
            self.conv.lower(calibration)?,
            self.pool.lower(&Batch::zeros(0))?,
        ))
    }
}

#[cfg(test)]
mod tests;
