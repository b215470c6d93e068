//! # typed-nn: a neural network is a Rust type
//!
//! [`network!`] turns a declarative layer list into a struct whose layers carry their
//! dimensions as const generics. A shape that does not fit is a compile error that points at
//! the layer; forward and backward code is generated (no tape, no `dyn`) and runs on the
//! kernels of [`nn_runtime`], which this crate re-exports.
//!
//! ```
//! use typed_nn::prelude::*;
//!
//! network! {
//!     /// The classic MNIST classifier.
//!     pub struct Mlp: [784] {
//!         fc1: Dense(64), Relu,
//!         fc2: Dense(32), Relu,
//!         out: Dense(10), Softmax,
//!     }
//! }
//!
//! let mut rng = Rng::seed(0);
//! let model = Mlp::init(&mut rng);
//! assert_eq!(Mlp::PARAMS, 52_650); // 50,240 + 2,080 + 330, as Keras counts them
//! let probs: Tensor1<10> = model.forward(&Tensor1::zeros());
//! assert!((probs.data.iter().sum::<f32>() - 1.0).abs() < 1e-5);
//! ```
//!
//! ## Grammar
//!
//! ```text
//! network! {
//!     #[attributes] /// doc comments
//!     VISIBILITY struct NAME: [INPUT_DIM] {
//!         [name:] LAYER [(ARGS)], ...
//!     }
//! }
//! ```
//!
//! Layers: `Dense(units)`; `Conv2d(filters, kernel, stride = 1, padding = valid | same)`
//! with `kernel` and `stride` a number or a pair `(h, w)`, on `[channels, height, width]`;
//! `Conv1d(filters, kernel, stride, padding)` on `[channels, length]`;
//! `MaxPool2d(window, stride = window)`, `AvgPool2d(...)`, `GlobalAvgPool2d`,
//! `MaxPool1d(window, stride)`, `Flatten`; recurrent `SimpleRNN(units, activation = tanh)`,
//! `LSTM(units)`, `GRU(units)` on `[time steps, features]`, each with
//! `return_sequences = true` to return every step; `Embedding(vocabulary, dimension)` on a
//! `tokens[length]` input of token ids; activations `Relu`, `LeakyRelu(alpha)` (default
//! 0.01), `Tanh`, `Sigmoid`, `Softmax`; and `Net(Type)` to use another network as a layer.
//! Unnamed layers are named by their index, as in PyTorch's `nn.Sequential` (`0.weight`).
//! Dense and convolution layers start with Glorot-uniform weights (Keras's default) and zero
//! biases; an unnamed `Relu`, `Tanh` or `Sigmoid` right after one is fused into it.
//!
//! ```
//! use typed_nn::prelude::*;
//!
//! network! {
//!     /// The seed's CNN: the macro infers [32, 62, 62], [32, 31, 31], ... [12544].
//!     pub struct Cnn: [3, 64, 64] {
//!         Conv2d(32, 3), Relu,
//!         MaxPool2d(2),
//!         Conv2d(64, (3, 3)), Relu,
//!         MaxPool2d(2),
//!         Flatten,
//!         Dense(128), Relu,
//!         Dense(10), Softmax,
//!     }
//! }
//! assert_eq!(Cnn::PARAMS, 1_626_442);
//! ```
//!
//! A network ending in `Softmax` (or `Sigmoid`) trained with [`CrossEntropy`]
//! (or [`BinaryCrossEntropy`]) computes the loss from the logits, fused and stable.

//! ## In nalgebra code
//!
//! Tensors convert to and from `nalgebra`'s `SVector`/`SMatrix`, so a model drops into
//! control or robotics code that already uses them:
//!
//! ```
//! use nalgebra::SVector;
//! use typed_nn::prelude::*;
//!
//! network! {
//!     /// A controller from a 4-dimensional state to 2 actions.
//!     pub struct Policy: [4] {
//!         Dense(16), Tanh,
//!         Dense(2),
//!     }
//! }
//!
//! let policy = Policy::init(&mut Rng::seed(0));
//! let state = SVector::<f32, 4>::new(0.1, -0.2, 0.05, 0.0);
//! let action: SVector<f32, 2> = policy.forward(&state.into()).into();
//! assert!(action.iter().all(|a| a.is_finite()));
//! ```

pub use nn_macros::network;
pub use nn_runtime::*;

/// What a program using typed-nn usually needs, `network!` included.
pub mod prelude {
    pub use nn_macros::network;
    pub use nn_runtime::prelude::*;
}

/// Items the generated code uses; not part of the public API.
#[doc(hidden)]
pub mod __private {
    use nn_runtime::layers::Layer;
    use nn_runtime::Sample;

    /// Compiles only if layer `L` takes samples of type `X`.
    pub fn assert_input<X: Sample, L: Layer<In = X>>() {}

    /// Compiles only if layer `B` takes what layer `A` produces.
    pub fn assert_chain<A: Layer, B: Layer<In = <A as Layer>::Out>>() {}

    /// Passes a value across a layer boundary the macro could not check itself (into or out
    /// of a sub-network). The spanned `assert_input`/`assert_chain` for that boundary proves
    /// `A == B` at compile time, so the check here never fails; it exists so that a mismatch
    /// is reported once, on the layer, instead of again at every use in the generated code.
    pub fn cast<A: 'static, B: 'static>(value: &A) -> &B {
        (value as &dyn core::any::Any)
            .downcast_ref()
            .expect("layer boundary types are equal: asserted at compile time")
    }

    /// [`cast`] for mutable references.
    pub fn cast_mut<A: 'static, B: 'static>(value: &mut A) -> &mut B {
        (value as &mut dyn core::any::Any)
            .downcast_mut()
            .expect("layer boundary types are equal: asserted at compile time")
    }
}

/// The README's example compiles (it is not run: it trains for several epochs).
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
