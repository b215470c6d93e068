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
//! Layers (arguments positional in this order, or by name; defaults after `=`), as the
//! macro's own table of layer kinds declares them:
//!
//! <!-- layer reference: generated from nn-dsl's table of layer kinds; UPDATE_REFERENCE=1 cargo test -p nn-dsl --test reference rewrites it -->
//! | Layer | Takes | What | Example |
//! |---|---|---|---|
//! | `Dense(units, bias = true, per_step = false)` | a 1-D input | fully connected, `y = x·Wᵀ + b` (PyTorch's `nn.Linear`, weight `[units, in]`); `per_step = true` applies it to every step of a `[steps, features]` sequence | `Dense(64)` |
//! | `SwiGLU(hidden)` | a \[features\] or \[steps, features\] input | the gated feed-forward block of Llama-style decoders on each row of the last dimension, `y = (silu(x·W_gateᵀ) ⊙ x·W_upᵀ)·W_downᵀ` with `hidden` units and no biases (`gate_proj.weight [hidden, features]`, `up_proj`, `down_proj.weight [features, hidden]`); keeps the shape, so it goes inside a residual block | `SwiGLU(256)` |
//! | `Conv2d(filters, kernel, stride = 1, padding = valid, dilation = 1, groups = 1, bias = true)` | a \[channels, height, width\] input | 2-D convolution (PyTorch's `nn.Conv2d`, weight `[filters, channels / groups, kh, kw]`); `kernel`, `stride` and `dilation` a number or a pair `(h, w)`; `padding` `valid`, `same` (TensorFlow's split, PyTorch's `"same"` at stride 1), a number of zeros on each side or a pair; `groups = channels` is a depthwise convolution | `Conv2d(32, 3, padding = same)` |
//! | `Conv1d(filters, kernel, stride = 1, padding = valid, dilation = 1, groups = 1, bias = true)` | a \[channels, length\] input | 1-D convolution (PyTorch's `nn.Conv1d`, weight `[filters, channels / groups, kernel]`), the same arguments as `Conv2d` with single numbers | `Conv1d(16, 5)` |
//! | `ConvTranspose2d(filters, kernel, stride = 1, padding = 0, output_padding = 0, dilation = 1, groups = 1, bias = true)` | a \[channels, height, width\] input | 2-D transposed convolution (PyTorch's `nn.ConvTranspose2d`, weight `[channels, filters / groups, kh, kw]`): output `(input − 1)·stride − 2·padding + dilation·(kernel − 1) + output_padding + 1` along each dimension; `kernel`, `stride`, `padding`, `output_padding` and `dilation` a number or a pair `(h, w)` | `ConvTranspose2d(16, 3, stride = 2, padding = 1, output_padding = 1)` |
//! | `ConvTranspose1d(filters, kernel, stride = 1, padding = 0, output_padding = 0, dilation = 1, groups = 1, bias = true)` | a \[channels, length\] input | 1-D transposed convolution (PyTorch's `nn.ConvTranspose1d`, weight `[channels, filters / groups, kernel]`), the same arguments as `ConvTranspose2d` with single numbers | `ConvTranspose1d(8, 4, stride = 2, padding = 1)` |
//! | `SqueezeExcitation(squeeze_channels, activation = relu, scale_activation = sigmoid)` | a \[channels, height, width\] input | squeeze-and-excitation (torchvision's `ops.SqueezeExcitation`: `fc1.weight [squeeze_channels, C, 1, 1]`, `fc1.bias`, `fc2.weight [C, squeeze_channels, 1, 1]`, `fc2.bias`): each channel of a `[C, H, W]` sample scaled by `scale_activation(fc2(activation(fc1(mean over H, W))))`; `activation` `relu`, `hardswish` or `silu`, `scale_activation` `sigmoid` or `hardsigmoid` (MobileNetV3's) | `SqueezeExcitation(2, scale_activation = hardsigmoid)` |
//! | `Upsample(scale_factor, mode = nearest, align_corners = false)` | a \[channels, height, width\] or a \[channels, length\] input | upsampling by whole scale factors (PyTorch's `nn.Upsample(scale_factor=…)`): `mode` `nearest`, `bilinear` on a `[channels, height, width]` input or `linear` on a `[channels, length]` input, `align_corners` as PyTorch | `Upsample(2, mode = bilinear)` |
//! | `PixelShuffle(upscale_factor)` | a \[channels, height, width\] input | `[channels·r², height, width]` rearranged into `[channels, height·r, width·r]` (PyTorch's `nn.PixelShuffle(r)`, the sub-pixel convolution's upsampling) | `PixelShuffle(2)` |
//! | `MaxPool2d(window, stride = window, padding = 0)` | a \[channels, height, width\] input | the maximum of each window (PyTorch's `nn.MaxPool2d`, padding with −∞); `window` and `stride` a number or a pair, `stride` the window unless given, `padding` at most half the window | `MaxPool2d(2)` |
//! | `AvgPool2d(window, stride = window, padding = 0)` | a \[channels, height, width\] input | the mean of each window (PyTorch's `nn.AvgPool2d`, zero padding counted: `count_include_pad`); the arguments of `MaxPool2d` | `AvgPool2d(2)` |
//! | `GlobalAvgPool2d` | a \[channels, height, width\] input | the mean of each channel, `[C, H, W]` to `[C]` (Keras's `GlobalAveragePooling2D`) | `GlobalAvgPool2d` |
//! | `GlobalMaxPool2d` | a \[channels, height, width\] input | the maximum of each channel, `[C, H, W]` to `[C]` (Keras's `GlobalMaxPooling2D`) | `GlobalMaxPool2d` |
//! | `MaxPool1d(window, stride = window, padding = 0)` | a \[channels, length\] input | the maximum of each window along a `[channels, length]` input (PyTorch's `nn.MaxPool1d`) | `MaxPool1d(2)` |
//! | `AvgPool1d(window, stride = window, padding = 0)` | a \[channels, length\] input | the mean of each window along a `[channels, length]` input (PyTorch's `nn.AvgPool1d`, zero padding counted); the arguments of `MaxPool1d` | `AvgPool1d(2)` |
//! | `GlobalAvgPool1d` | a sequence \[time steps, features\] input | the mean of each feature over the steps of a `[T, F]` sequence, to `[F]` (PyTorch's `x.mean(1)` on batch-first sequences, Keras's `GlobalAveragePooling1D`); with lengths, over each sequence's own steps | `GlobalAvgPool1d` |
//! | `GlobalMaxPool1d` | a sequence \[time steps, features\] input | the maximum of each feature over the steps of a `[T, F]` sequence, to `[F]` (Keras's `GlobalMaxPooling1D`); with lengths, over each sequence's own steps | `GlobalMaxPool1d` |
//! | `Flatten` | a float (or several named float) input | the sample as one vector, in row-major order (PyTorch's `nn.Flatten`); after a `Zip`, its parts' values one after the other (Keras's `Concatenate` of flattened outputs) | `Flatten` |
//! | `Reshape(shape)` | a float input | the same values in the same row-major order as a sample of another shape (PyTorch's `x.reshape(batch, …)`, Keras's `Reshape`); `shape` `[n]`, `[a, b]` or `[c, h, w]` must hold as many values as the input, checked at compile time | `Reshape([8, 8])` |
//! | `Permute(dims)` | a \[a, b\] or \[a, b, c\] input | the sample's dimensions in another order (PyTorch's `x.permute(0, …)` with the batch left first, Keras's `Permute` numbered from 0): `dims` lists the input's dimensions, numbered from 0, in the output's order; `Permute([1, 0])` turns `[steps, features]` into `[features, steps]` | `Permute([1, 0])` |
//! | `Identity` | a float input | its input, unchanged (PyTorch's `nn.Identity`): a placeholder where an architecture has an optional layer | `Identity` |
//! | `ZeroPad2d(padding)` | a \[channels, height, width\] input | zeros around each plane of a `[channels, height, width]` sample (PyTorch's `nn.ZeroPad2d` with the same zeros on opposite sides): `padding` rows above and below, and columns left and right, or a pair `(rows, columns)` | `ZeroPad2d(1)` |
//! | `Dropout(rate)` | a float input | in training, zeroes each value with probability `rate` and scales the rest by 1 / (1 − rate) (inverted dropout); the identity in inference | `Dropout(0.5)` |
//! | `BatchNorm1d(features = inferred, momentum = 0.1, eps = 1e-5)` | a \[features\] or \[channels, length\] input | batch normalisation of each feature or channel (PyTorch's `nn.BatchNorm1d`: `weight`, `bias`, buffers `running_mean`, `running_var`, `num_batches_tracked`); `features`, when given, must be the input's | `BatchNorm1d` |
//! | `BatchNorm2d(features = inferred, momentum = 0.1, eps = 1e-5)` | a \[channels, height, width\] input | batch normalisation of each channel of `[channels, height, width]` samples (PyTorch's `nn.BatchNorm2d`) | `BatchNorm2d` |
//! | `LayerNorm(features = inferred, eps = 1e-5)` | a float input | normalisation of each sample over its last dimension (PyTorch's `nn.LayerNorm`: `weight`, `bias`) | `LayerNorm` |
//! | `RMSNorm(features = inferred, eps = 1.1920929e-7)` | a float input | each row of the last dimension divided by its root mean square, then scaled per feature (PyTorch's `nn.RMSNorm`: `weight`, no bias; the default `eps` is PyTorch's, f32's machine epsilon) | `RMSNorm` |
//! | `GroupNorm(groups, eps = 1e-5)` | a \[channels\], \[channels, length\] or \[channels, height, width\] input | normalisation of each sample's channels in `groups` groups of consecutive channels, then a scale and shift per channel (PyTorch's `nn.GroupNorm`: `weight`, `bias`); `groups` must divide the channels | `GroupNorm(4)` |
//! | `InstanceNorm1d(features = inferred, eps = 1e-5, affine = false)` | a \[channels, length\] input | normalisation of each channel of each `[channels, length]` sample with its own mean and variance (PyTorch's `nn.InstanceNorm1d`, no running statistics); `affine = true` adds a scale and shift per channel (`weight`, `bias`) | `InstanceNorm1d(affine = true)` |
//! | `InstanceNorm2d(features = inferred, eps = 1e-5, affine = false)` | a \[channels, height, width\] input | normalisation of each channel of each `[channels, height, width]` sample with its own mean and variance (PyTorch's `nn.InstanceNorm2d`); the arguments of `InstanceNorm1d` | `InstanceNorm2d` |
//! | `SimpleRNN(units, activation = tanh, return_sequences = false)` | a sequence \[time steps, features\] input | h_t = act(x_t·W_ihᵀ + h_{t−1}·W_hhᵀ + b) (PyTorch's `nn.RNN`, `activation = tanh \| relu`); the last state, or every step with `return_sequences = true` | `SimpleRNN(32)` |
//! | `LSTM(units, return_sequences = false)` | a sequence \[time steps, features\] input | long short-term memory (PyTorch's `nn.LSTM`, gates i, f, g, o); the last state, or every step with `return_sequences = true` | `LSTM(64)` |
//! | `GRU(units, return_sequences = false)` | a sequence \[time steps, features\] input | gated recurrent unit (PyTorch's `nn.GRU`, gates r, z, n); the last state, or every step with `return_sequences = true` | `GRU(64, return_sequences = true)` |
//! | `Bidirectional(layer, merge = concat)` | a sequence \[time steps, features\] input | a recurrent layer reading each sequence forwards and a second one (tensors named `…_reverse`, PyTorch's `bidirectional=True`) reading it from its own last step backwards, joined per step by `merge = concat` (`[T, 2H]` or `[2H]`) or `sum` | `Bidirectional(LSTM(32, return_sequences = true))` |
//! | `Embedding(vocabulary, dimension)` | token ids as input | a learnt vector per token id (PyTorch's `nn.Embedding`, `weight [vocabulary, dimension]`), on a `tokens[length]` input | `Embedding(1000, 64)` |
//! | `MultiHeadAttention(heads, dim, causal = false, rope = false)` | a sequence \[tokens, features\] input | self-attention over the tokens of a `[tokens, dim]` sequence (PyTorch's `nn.MultiheadAttention`: `in_proj_weight`, `out_proj`); `dim` must be the features, `heads` must divide it; `causal = true` lets each token see only itself and the tokens before it (PyTorch's `is_causal`), and the layer then steps with a key-value cache of `tokens` steps; `rope = true` rotates each head's queries and keys by their positions (RoPE, Llama's layout; an even `dim / heads`) | `MultiHeadAttention(4, 64)` |
//! | `CrossAttention(heads, dim)` | two named sequences (queries, then keys and values) as input | the queries of the first of two named sequences `[tq, dim]` attend to the keys and values of the second `[tk, dim]` (PyTorch's `nn.MultiheadAttention(query, key, value)` with `key` and `value` the second sequence: `in_proj_weight`, `out_proj`), giving `[tq, dim]`; its input comes from a `Zip` or the network's two inputs | `CrossAttention(4, 64)` |
//! | `TransformerDecoderLayer(heads, dim, hidden, norm_first = false, activation = relu)` | two named sequences (the target, then the memory) as input | PyTorch's `nn.TransformerDecoderLayer` without dropout: causal self-attention over the target `[t, dim]`, cross-attention over the memory `[s, dim]`, a feed-forward block of `hidden` units (`activation = relu \| gelu`), each with a residual sum and a LayerNorm, before (`norm_first = true`) or after; takes and gives the pair (target, memory), the memory passed on unchanged, so layers stack (parameters `self_attn`, `multihead_attn`, `linear1`, `linear2`, `norm1`–`norm3`) | `TransformerDecoderLayer(4, 64, 256, norm_first = true)` |
//! | `PositionalEmbedding` | a sequence \[tokens, features\] input | adds a learnt vector per position to a `[tokens, features]` sequence | `PositionalEmbedding` |
//! | `Relu` | a float input | max(0, x) | `Relu` |
//! | `LeakyRelu(alpha = 0.01)` | a float input | x for x > 0, α·x below (PyTorch's `nn.LeakyReLU`) | `LeakyRelu(0.2)` |
//! | `Elu(alpha = 1.0)` | a float input | x for x > 0, α·(e^x − 1) below (PyTorch's `nn.ELU`) | `Elu(0.5)` |
//! | `Softplus(beta = 1.0, threshold = 20.0)` | a float input | log(1 + e^(βx)) / β, and x itself where βx > `threshold` (PyTorch's `nn.Softplus`) | `Softplus(2.0)` |
//! | `PRelu(parameters = 1, init = 0.25)` | a float input | x for x > 0, a·x below with the slopes a learnt (PyTorch's `nn.PReLU`, `weight [parameters]`): one slope, or one per channel (the sample's first dimension) | `PRelu` |
//! | `Gelu` | a float input | x·Φ(x) (PyTorch's exact `nn.GELU`) | `Gelu` |
//! | `Silu` | a float input | x·σ(x) (PyTorch's `nn.SiLU`, Swish) | `Silu` |
//! | `Mish` | a float input | x·tanh(softplus(x)) (PyTorch's `nn.Mish`) | `Mish` |
//! | `Hardswish` | a float input | x·min(max(0, x + 3), 6) / 6 (PyTorch's `nn.Hardswish`, MobileNetV3's) | `Hardswish` |
//! | `Hardsigmoid` | a float input | min(max(0, x + 3), 6) / 6 (PyTorch's `nn.Hardsigmoid`) | `Hardsigmoid` |
//! | `Relu6` | a float input | min(max(0, x), 6) (PyTorch's `nn.ReLU6`, MobileNet's) | `Relu6` |
//! | `Tanh` | a float input | tanh(x) | `Tanh` |
//! | `Sigmoid` | a float input | 1 / (1 + e^−x); at a network's end, the head binary cross-entropy fuses with | `Sigmoid` |
//! | `Softmax` | a float input | e^x / Σe^x over the last dimension (each step of a `[T, V]` output sums to 1, as PyTorch's `dim=-1`); at a network's end, the head cross-entropy fuses with (computed from the logits) | `Softmax` |
//! | `LogSoftmax` | a float input | the log of the softmax over the last dimension, computed as (x − max) − log Σe^(x − max) (PyTorch's `nn.LogSoftmax(dim=-1)`) | `LogSoftmax` |
//! | `Glu` | a \[features\] or \[steps, features\] input | the gated linear unit over the last dimension (PyTorch's `nn.GLU(dim=-1)`): its halves a and b give a ⊙ σ(b), so the last dimension halves (it must be even) | `Glu` |
//! | `Residual { layers }`, or `Residual { layers } shortcut { layers }` | a float input | adds its body's output to its input; `shortcut { … }` after it replaces the identity by a projection | `Residual { Dense(64), Relu, Dense(64) }` |
//! | `Concat { { layers }, { layers }, … }` | a float input | runs branches on the same input and stacks their outputs along the first dimension | `Concat { { Dense(16) }, { Dense(16), Relu } }` |
//! | `Add { { layers }, { layers }, … }` | a float input | runs branches on the same input and sums their outputs | `Add { { Dense(32) }, { Dense(32), Relu } }` |
//! | `Zip { name: { layers }, name: { layers }, … }` | any input | runs named branches on the same input and keeps their outputs apart, as named parts (a network's several outputs, or what a later layer reads by name: `CrossAttention`, a branch starting with a part's name, `Flatten`) | `Zip { policy: { Dense(4) }, value: { Dense(1), Tanh } }` |
//! | `Net(network)` | a float input | another network (or any type implementing `Layer`, a custom layer included) used as a layer; only the type system knows its shapes, and a mismatch is a type error at this layer | `Net(Encoder)` |
//! <!-- end of the layer reference -->
//!
//! Sizes (the input shape, units, filters, kernels, strides, paddings, groups) are integer
//! literals or named constants and constant expressions (`Dense(HIDDEN)`,
//! `Conv2d(2 * C, 3)`): the macro checks what it can compute and leaves the rest to const
//! assertions that name the layer. Unnamed layers are named by their index, as in PyTorch's
//! `nn.Sequential` (`0.weight`). Dense and convolution layers start with Glorot-uniform
//! weights (Keras's default) and zero biases; an unnamed `Relu`, `Tanh` or `Sigmoid` right
//! after one (or after a `BatchNorm1d`/`BatchNorm2d`) is fused into it, and an unnamed pooling
//! right after a convolution is fused into it too (each sample is pooled while its
//! convolution output is in cache).
//!
//! ## Joins: residual blocks, branches, attention
//!
//! A join holds its paths in braces, written in the order an architecture diagram reads:
//!
//! ```
//! use typed_nn::prelude::*;
//!
//! network! {
//!     /// A ResNet downsampling block, an Inception-style mix, and a classifier.
//!     pub struct Joined: [16, 28, 28] {
//!         down: Residual {
//!             Conv2d(32, 3, stride = 2, padding = 1, bias = false), BatchNorm2d, Relu,
//!             Conv2d(32, 3, padding = 1, bias = false), BatchNorm2d,
//!         } shortcut {
//!             Conv2d(32, 1, stride = 2, bias = false), BatchNorm2d,
//!         },
//!         Relu,
//!         mix: Concat {
//!             one: { Conv2d(16, 1) },
//!             three: { Conv2d(16, 3, padding = 1) },
//!             pool: { MaxPool2d(3, stride = 1, padding = 1), Conv2d(8, 1) },
//!         },
//!         GlobalAvgPool2d,
//!         Dense(10), Softmax,
//!     }
//! }
//! assert_eq!(Joined::PARAMS, 20_354);
//! ```
//!
//! - `Residual { body }` adds the body's output to the block's input; `shortcut { … }`
//!   after it replaces the identity by a projection (a strided 1×1 convolution, usually).
//! - `Concat { { … }, { … }, … }` runs branches on the same input and stacks their outputs
//!   along the first dimension (channels, or the features of vectors); `Add { … }` sums them.
//!   Branches may be named (`one: { … }`); `{}` is the identity.
//! - Reuse a block by declaring it as a network and writing `Net(Block)`: a ResNet is a few
//!   block types and one chain of them (`examples/mnist_resnet.rs`).
//!
//! Why braces: a join is a block of layers, as in the diagram, with the join's kind in front
//! and its paths nested visibly (rather than edges between named nodes, which a chain of
//! layers does not need). Every path is a chain, so everything a chain checks holds inside,
//! and where the paths meet their shapes must agree: a residual body that changes the shape
//! without a shortcut, or branches whose spatial sizes differ before a `Concat`, is a compile
//! error at the block that names both shapes. Parameters are named as PyTorch would name the
//! same modules: `down.body.0.weight`, `down.shortcut.0.weight`, `mix.three.0.weight`.
//!
//! For transformers: `MultiHeadAttention(heads, dim)` (self-attention over
//! `[tokens, features]`, PyTorch's `in_proj_weight`/`out_proj` layout; heads must divide the
//! dimension), `PositionalEmbedding` (learned), `LayerNorm`, `Gelu`, and `Dense(units,
//! per_step = true)` for the token-wise MLP (`examples/mnist_transformer.rs`). A language
//! model's attention is `MultiHeadAttention(heads, dim, causal = true)` (each token sees
//! itself and the tokens before it, PyTorch's `is_causal`; with lengths, padded keys are
//! masked as well), optionally `rope = true` (rotary positions instead of a learnt table).
//! A network of causal attention, per-step layers and residual blocks over them steps:
//! `step` runs one token against a key-value cache of at most `tokens` steps (its state;
//! one step more is `Error::CacheFull`), the same result as the sequence pass:
//!
//! ```
//! use typed_nn::prelude::*;
//!
//! network! {
//!     pub struct Gpt: tokens[16] {
//!         Embedding(50, 32),
//!         Residual { LayerNorm, MultiHeadAttention(4, 32, causal = true, rope = true) },
//!         Residual { LayerNorm, Dense(64, per_step = true), Gelu, Dense(32, per_step = true) },
//!         LayerNorm,
//!         Dense(50, per_step = true),
//!         Softmax,
//!     }
//! }
//!
//! let net = Gpt::init(&mut Rng::seed(0));
//! let mut cache = GptState::default();
//! for id in [3, 14, 15] {
//!     let next: Tensor1<50> = net.step(&Tokens::new([id]), &mut cache)?;
//!     assert!((next.data.iter().sum::<f32>() - 1.0).abs() < 1e-4);
//! }
//! # Ok::<(), typed_nn::Error>(())
//! ```
//!
//! ## Several inputs and outputs
//!
//! A network may read several inputs, each named with its own shape; a path starts with the
//! name of the input it reads, and `Zip` runs named branches and keeps their outputs apart as
//! named parts, which a later path reads by name again, `Flatten` joins into one vector and
//! `CrossAttention(heads, dim)` reads as queries and keys (its input's first part attends to
//! its second). The input is a `Pair` of the parts (`Pair<A, Pair<B, C>>` for three), and
//! `Dataset::from_pairs` builds a data set of them for `fit`. Reading an input that does not
//! exist, or handing several parts to a layer that takes one, is a compile error at the
//! layer:
//!
//! ```
//! use typed_nn::prelude::*;
//!
//! network! {
//!     pub struct Captioned: (image: [1, 8, 8], text: tokens[4]) {
//!         Zip {
//!             seen: { image, Conv2d(4, 3), Relu, Flatten, Dense(16) },
//!             read: { text, Embedding(20, 8), GRU(16) },
//!         },
//!         Flatten,
//!         Dense(3),
//!         Softmax,
//!     }
//! }
//!
//! let net = Captioned::init(&mut Rng::seed(0));
//! let image = Tensor3::<1, 8, 8>::zeros();
//! let y = net.forward(&Pair::new(&image, &Tokens::new([1, 2, 3, 4])))?;
//! assert!((y.as_slice().iter().sum::<f32>() - 1.0).abs() < 1e-5);
//! let data = Dataset::from_pairs([(image, Tokens::new([1, 2, 3, 4]), Class::<3>::new(2)?)])?;
//! assert_eq!(data.len(), 1);
//! # Ok::<(), typed_nn::Error>(())
//! ```
//!
//! A network that ends in a `Zip` has several outputs: its output is the `Pair` of them
//! (`first()` and `second()` of a sample, `firsts()` and `seconds()` of a batch). Each is
//! logits, and `Losses::new(CrossEntropy, Mse).weighted(1.0, 0.5)` is the weighted sum of
//! a loss per output (Keras's `loss=[…], loss_weights=[…]`; three outputs nest,
//! `Losses::new(a, Losses::new(b, c))`); the targets are tuples, `(Class<10>,
//! Tensor1<1>)`, in data sets and batches alike; `fit` reports each output's metrics,
//! `out1_accuracy`, `out2_mae`. An output that ends in `Softmax` or `Sigmoid` is a compile
//! error (the loss applies it, as PyTorch's losses do):
//!
//! ```
//! use typed_nn::prelude::*;
//!
//! network! {
//!     pub struct PolicyAndValue: [8] {
//!         Dense(32), Relu,
//!         Zip {
//!             policy: { Dense(4) },
//!             value: { Dense(1), Tanh },
//!         },
//!     }
//! }
//!
//! let mut net = PolicyAndValue::init(&mut Rng::seed(0));
//! let data = Dataset::from_samples(&[(Tensor1::<8>::zeros(), (Class::<4>::new(1)?, Tensor1::new([0.5])))]);
//! let history = Trainer::new(Losses::new(CrossEntropy, Mse), Adam::new(1e-3))
//!     .epochs(2)
//!     .verbosity(Verbosity::Silent)
//!     .fit(&mut net, &data)?;
//! assert!(history.get("out1_accuracy").is_some() && history.get("out2_mae").is_some());
//! # Ok::<(), typed_nn::Error>(())
//! ```
//!
//! Token ids read through a pair are checked against the vocabulary as a network over
//! tokens checks them (its inference returns a `Result`). Each part of a pair may be a
//! sequence of its own length: `Batch::zip` keeps the parts' lengths
//! (`Batch::part_lengths`), `Dataset::from_pair_sequences` pads each part and keeps them, a
//! path that reads a part gets its lengths, and `CrossAttention` and
//! `TransformerDecoderLayer` mask the padded keys of the memory (PyTorch's
//! `key_padding_mask`) as self-attention masks its own.
//!
//! ## Generic networks
//!
//! A network may be generic over sizes, declared as const parameters and used anywhere a
//! size goes; each instantiation is a network type of its own, trained, saved and loaded as
//! any other:
//!
//! ```
//! use typed_nn::prelude::*;
//!
//! network! {
//!     /// An MLP over any input width and class count.
//!     pub struct Encoder<const IN: usize, const OUT: usize>: [IN] {
//!         Dense(64), Relu,
//!         Dense(OUT),
//!     }
//! }
//!
//! network! {
//!     /// A CNN over images of any size: every size after the first layer is computed.
//!     pub struct Cnn<const H: usize, const W: usize>: [1, H, W] {
//!         Conv2d(8, 3), Relu, MaxPool2d(2),
//!         Flatten,
//!         Dense(10), Softmax,
//!     }
//! }
//!
//! assert_eq!(Encoder::<784, 10>::PARAMS, 784 * 64 + 64 + 64 * 10 + 10);
//! assert_eq!(Encoder::<64, 10>::PARAMS, 64 * 64 + 64 + 64 * 10 + 10);
//! let cnn = Cnn::<12, 20>::init(&mut Rng::seed(0));
//! let _: Tensor1<10> = cnn.forward(&Tensor3::<1, 12, 20>::zeros());
//! assert_eq!(Cnn::<28, 28>::PARAMS, 80 + 8 * 13 * 13 * 10 + 10);
//! ```
//!
//! How the sizes travel. A size that is a parameter (`IN`, `OUT`, `C_OUT`) is a const
//! argument like a number, so `Dense(64)` after `[IN]` is `Dense<IN, 64>` and the boundary
//! types of `Encoder` read `Tensor1<784>` once instantiated. A size computed from parameters
//! — a convolution's output `H − 2`, a pooling's `(H − 2) / 2`, a Flatten's `8 · … · …`, a
//! concatenation's `A + B` — cannot be a const argument on stable Rust (that takes the
//! unstable `generic_const_exprs`). For each such shape the macro declares a zero-sized type,
//! generic over the network's parameters, whose associated const holds the sizes
//! ([`ShapeOf`]: `const SHAPE: &[usize] = &[8, (H - 2) / 2, …]`, which
//! stable Rust evaluates), and samples of that shape are
//! [`Shaped<…>`](nn_runtime::Shaped), whose values live on the heap (a computed length cannot
//! size an array). The layers with size arithmetic are written over sample types
//! ([`ConvOn`](nn_runtime::layers::ConvOn), [`PoolOn`](nn_runtime::layers::PoolOn),
//! [`FlattenOn`](nn_runtime::layers::FlattenOn), [`DenseOn`](nn_runtime::layers::DenseOn)),
//! and `Conv2d<…>`, `MaxPool2d<…>`, `Flatten<…>` and `Dense<…>` are those same types between
//! const-sized tensors: a concrete network compiles to the code it always did.
//!
//! Why not typenum, the usual stable route: with sizes as type-level binary numbers, every
//! operation on a generic size needs a trait bound (`H: Sub<U2>`, `Diff<H, U2>: Div<U2>`,
//! `Quot<…>: Mul<…>`, one per step of every layer), which the network's users would have to
//! repeat in any code generic over it; a type error shows `UInt<UInt<UTerm, B1>, B0>` instead
//! of a number; a broken shape rule is an unsatisfied bound rather than a message naming the
//! layer; and sizes come in as `const` parameters anyway. Shapes as consts keep the user's
//! parameters as they are, let the compiler evaluate the arithmetic, and let the shape rules
//! speak. What they give up is structural equality: two shapes are the same type when the
//! macro wrote the same expressions for them, not whenever their values agree. It writes
//! the same along a chain and at joins, and sizes shifted by numbers compose: a stride-1
//! convolution with `padding = same` or `padding = 1` around a 3×3 kernel keeps `H` itself,
//! so a residual block generic over its image size has the `Tensor3` output its input is,
//! and a residual body over a computed shape (`H - 2`) gives back that same shape.
//!
//! Shape rules on parameters are checked for each instantiation, when it is built: a kernel
//! larger than the image `Cnn::<3, 3>` is given fails to compile with `Conv2d `conv`: the
//! kernel 5x5 is larger than its input HxW (padding `valid`), in `Cnn<H = 3, W = 3>``
//! (`tests/ui/generic_kernel_larger_than_image.rs`). Like every post-monomorphization error
//! it is reported by `cargo build`, not `cargo check`.
//!
//! `BatchNorm` and `LayerNorm` over a computed channel or feature count (after a
//! concatenation of generic widths, say) read it off their samples.
//!
//! Limits: a layer whose type takes a size directly — `Dense(…, per_step = true)`, the
//! recurrent layers, attention, `Embedding`, kernels, strides and explicit paddings — needs
//! it to be a number or a parameter, not computed from parameters (a macro error at the
//! layer says which size);
//! `Net(Block::<…>)`
//! inside a generic network takes numbers or parameters as the block's arguments; and a
//! block whose output shape is computed (a strided or valid convolution at a generic image
//! size) has a `Shaped` output: the layers after its `Net(…)` take that type as it is, but
//! a second `Net(…)` whose input is a `Tensor3` of the same sizes does not accept it — pass
//! such sizes in as parameters (`examples/generic_cnn.rs`, `examples/conv20_generic.rs`).
//!
//! ## Training and inference
//!
//! They are different calls, so that forgetting to switch modes is impossible: `train_step`
//! always runs the training pass (dropout masks drawn from the network's own generator,
//! seeded when it was initialised; batch statistics, with BatchNorm's running statistics
//! updated), and `forward`, `forward_batch`, `predict`, `accuracy` and `evaluate` always run
//! the inference pass (no dropout, running statistics). Running statistics are buffers:
//! saved and loaded with the weights under PyTorch's names, counted as non-trainable in
//! `summary()`, never seen by optimizers or gradient clipping.
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
//! (or [`BinaryCrossEntropy`]) computes the loss from the logits, fused and stable;
//! PyTorch's class weights and label smoothing are
//! `CrossEntropy.label_smoothing(0.1)?.class_weights([…])?` ([`loss::CrossEntropyWith`]),
//! and its `pos_weight` `BinaryCrossEntropy.pos_weight([…])?`
//! ([`loss::BinaryCrossEntropyWith`]).
//!
//! [`fit::Trainer`] runs the epochs as Keras's `fit` does: a progress bar, validation,
//! metrics chosen by the task, early stopping, checkpoints that resume bit for bit, schedules
//! and a [`fit::History`] that plots itself; `train_step` is what it calls, for a loop
//! written by hand.
//!
//! ## Training with `fit`
//!
//! A Keras user's `model.fit(x, y, epochs=10, batch_size=64, validation_split=0.1,
//! callbacks=[...])`, typed:
//!
//! ```no_run
//! use typed_nn::prelude::*;
//! use typed_nn::fit::{Checkpoint, CosineDecay, EarlyStopping, Monitor, Trainer};
//!
//! network! {
//!     pub struct Mlp: [784] { Dense(64), Relu, Dense(10), Softmax }
//! }
//!
//! # fn main() -> Result<(), typed_nn::Error> {
//! let (train, test) = mnist::load("data/mnist")?;
//! let mut model = Mlp::init(&mut Rng::seed(0));
//! let history = Trainer::new(CrossEntropy, Adam::new(1e-3))
//!     .epochs(10)
//!     .batch_size(64)
//!     .validation_split(0.1)
//!     .schedule(CosineDecay::new(1e-3, 10 * 844))
//!     .callback(EarlyStopping::new(Monitor::min("val_loss")).patience(2).restore_best_weights())
//!     .callback(Checkpoint::new("checkpoints").best(Monitor::max("val_accuracy")))
//!     .fit(&mut model, &train)?;
//! history.plot("history.svg")?;
//! println!("{}", typed_nn::fit::confusion_matrix(&model, &test)?);
//! # Ok(()) }
//! ```

//! ## Sequences
//!
//! A sequence is `[T, F]` (steps first) or `tokens[T]`; every layer written for sequences
//! works on every step (`Dense(…, per_step = true)`, `LayerNorm`, activations; `Softmax` and
//! `LogSoftmax` normalise each step, as PyTorch's `dim=-1`). A network whose output is a
//! distribution per step trains on a class per step: [`data::StepClasses`] (batched as
//! [`data::StepLabels`]) with `CrossEntropy` — fused with the softmax, the mean over the
//! steps that count, a step can be ignored as PyTorch's `ignore_index` does — and `fit`
//! reports accuracy per step and perplexity; a network ending in `LogSoftmax` trains on the
//! same targets with `Nll` (PyTorch's `NLLLoss`), and on target distributions with `KlDiv`
//! (PyTorch's `KLDivLoss`, `"batchmean"`). Dense targets of the output's own shape go
//! with `Mse`, `L1`, `Huber`, `SmoothL1` or `BinaryCrossEntropy`, per step alike; any other
//! pairing of head, loss and target is a compile error naming the loss to use.
//!
//! Sequences of different lengths are padded to `T` and carry their lengths:
//! [`Dataset::from_sequences`] pads and keeps them, every batch carries them
//! ([`Batch::with_lengths`] by hand), and every layer honours them as PyTorch's packed
//! sequences and masks do: a recurrence stops at each sequence's own last step (its final
//! state is the state there; padded outputs are zero), `Bidirectional(LSTM(64))` reads each
//! sequence backwards from its own last step, attention ignores padded keys
//! (`key_padding_mask`), `GlobalAvgPool1d`/`GlobalMaxPool1d` pool the real steps only, and
//! per-step losses and metrics skip padded steps.
//!
//! A network over sequences whose every layer can run one step at a time (embeddings,
//! recurrences, per-step layers) gets a generated state type, `NetState` for `Net`, and
//! `step`: one step in, its output out, the state carried (Keras's `stateful=True`,
//! PyTorch's `(h, c)` passed from call to call), so generating costs the same per step however
//! long the history; [`sampling::Sampler`] picks each next token (greedy, temperature,
//! top-k). A token id out of the vocabulary is [`Error::TokenOutOfVocabulary`], naming the
//! sample and position, in training, evaluation and inference alike (a network over tokens
//! returns a `Result` from `forward` and `predict`).
//!
//! ```
//! use typed_nn::prelude::*;
//!
//! network! {
//!     /// Next-token prediction over 4 tokens of 5.
//!     pub struct Tiny: tokens[4] {
//!         Embedding(5, 8),
//!         LSTM(16, return_sequences = true),
//!         Dense(5, per_step = true),
//!         Softmax,
//!     }
//! }
//!
//! # fn main() -> Result<(), typed_nn::Error> {
//! let mut model = Tiny::init(&mut Rng::seed(0));
//! // Two sequences, the second 2 tokens long (its padding's targets are never read).
//! let x = Batch::<Tokens<4>>::from_ids(&[1, 2, 3, 4, 2, 3, 0, 0])?.with_lengths(&[4, 2])?;
//! let y = StepLabels::new(&[
//!     StepClasses::new([2, 3, 4, 0])?,
//!     StepClasses::padded(&[3, 4])?,
//! ]);
//! let loss = model.train_step(&x, &y, &CrossEntropy, &mut Adam::new(1e-2))?;
//! assert!(loss.is_finite());
//!
//! // One token at a time: the same outputs as the whole sequence, step by step.
//! let whole = model.forward(&Tokens::new([1, 2, 3, 4]))?;
//! let mut state = TinyState::default();
//! for (t, id) in [1, 2, 3, 4].into_iter().enumerate() {
//!     let next = model.step(&Tokens::new([id]), &mut state)?;
//!     assert!((next.data[0] - whole.data[t][0]).abs() < 1e-5);
//! }
//! assert!(matches!(
//!     model.step(&Tokens::new([7]), &mut state),
//!     Err(Error::TokenOutOfVocabulary { id: 7.0, vocabulary: 5, .. })
//! ));
//! # Ok(()) }
//! ```
//!
//! ## Code generic over networks, gradients, and your own layers
//!
//! Every network implements [`Network`], and so [`NetworkExt`] (in the prelude), whose
//! methods are its API for generic code:
//! `forward`, `predict`, `predict_into`, `train_step`, `accuracy`, `evaluate`, `save`,
//! `to_safetensors_bytes` — inference and saving on `&self`, so a network shared between
//! threads (an `Arc<Model>`) is used and saved without a lock — and, after a step, its
//! gradients and outputs: `named_gradients()` (PyTorch's `param.grad`, by PyTorch name and
//! in PyTorch's layout), `named_parameters()`, `named_buffers()` and `last_outputs()`.
//!
//! ```
//! use typed_nn::prelude::*;
//!
//! /// Any network with a softmax over 3 classes: one step, then its largest gradient.
//! fn step_and_inspect<N>(net: &mut N, x: &Batch<N::In>, y: &Labels<3>) -> Result<f32, Error>
//! where
//!     N: Network + Send,
//!     CrossEntropy: typed_nn::loss::Loss<N::Head, N::Out, Labels<3>>,
//! {
//!     net.train_step(x, y, &CrossEntropy, &mut Adam::new(1e-3))?;
//!     let largest = net
//!         .named_gradients()
//!         .iter()
//!         .flat_map(|g| g.values.iter().map(|v| v.abs()))
//!         .fold(0.0, f32::max);
//!     Ok(largest)
//! }
//!
//! network! {
//!     pub struct Net: [4] { hidden: Dense(8), Relu, out: Dense(3), Softmax }
//! }
//!
//! let mut net = Net::init(&mut Rng::seed(0));
//! let x = Batch::<Tensor1<4>>::from_vec(vec![0.5; 8]).unwrap();
//! let y = Labels::<3>::new(vec![0, 2]).unwrap();
//! assert!(step_and_inspect(&mut net, &x, &y).unwrap() > 0.0);
//! assert_eq!(net.named_gradients()[0].name, "hidden.weight");
//! assert_eq!(net.named_gradients()[0].shape, [8, 4]); // PyTorch's [out, in]
//! ```
//!
//! ### Custom layers
//!
//! A layer is any type implementing [`layers::Layer`]: its input and output sample types,
//! an inference pass (one sample and a batch), a training pass that fills a cache, a
//! backward pass that writes parameter gradients and, when asked, the input gradient, and a
//! `walk` that names its parameter tensors once (for reading and for writing). `Net(MyLayer)`
//! puts it in a network, whose type checks its shapes at that layer like any other's.
//! [`check::check_gradients`] compares its backward pass with finite differences — the check
//! every layer of this crate passes.
//!
//! ```
//! use typed_nn::layers::{Layer, Layout, Walk};
//! use typed_nn::prelude::*;
//!
//! /// y = a ⊙ x: a learned scale per feature (initialised to 1).
//! pub struct Scale<const N: usize> {
//!     a: Vec<f32>,
//!     a_grad: Vec<f32>,
//! }
//!
//! impl<const N: usize> Layer for Scale<N> {
//!     type In = Tensor1<N>;
//!     type Out = Tensor1<N>;
//!     type Cache = ();
//!     type Workspace = ();
//!     const PARAMS: usize = N;
//!     const KIND: &'static str = "Scale";
//!
//!     fn init(_rng: &mut Rng) -> Self {
//!         Scale { a: vec![1.0; N], a_grad: vec![0.0; N] }
//!     }
//!     fn forward_into(&self, x: &Tensor1<N>, y: &mut Tensor1<N>, _ws: &mut ()) {
//!         for i in 0..N {
//!             y.data[i] = self.a[i] * x.data[i];
//!         }
//!     }
//!     fn forward_batch_into(&self, x: &Batch<Tensor1<N>>, y: &mut Batch<Tensor1<N>>, _ws: &mut ()) {
//!         y.set_rows(x.rows());
//!         for (yr, xr) in y.as_mut_slice().chunks_mut(N).zip(x.iter_rows()) {
//!             for i in 0..N {
//!                 yr[i] = self.a[i] * xr[i];
//!             }
//!         }
//!     }
//!     fn forward_train(&self, x: &Batch<Tensor1<N>>, y: &mut Batch<Tensor1<N>>, _: &mut (), _: &mut Rng) {
//!         self.forward_batch_into(x, y, &mut ());
//!     }
//!     // ∂a_i = Σ_rows dy_i·x_i; ∂x_i = a_i·dy_i.
//!     fn backward(
//!         &mut self,
//!         x: &Batch<Tensor1<N>>,
//!         _y: &Batch<Tensor1<N>>,
//!         _cache: &mut (),
//!         dy: &Batch<Tensor1<N>>,
//!         dx: Option<&mut Batch<Tensor1<N>>>,
//!     ) {
//!         self.a_grad.fill(0.0);
//!         for (xr, dr) in x.iter_rows().zip(dy.iter_rows()) {
//!             for i in 0..N {
//!                 self.a_grad[i] += dr[i] * xr[i];
//!             }
//!         }
//!         if let Some(dx) = dx {
//!             dx.set_rows(x.rows());
//!             for (d, dr) in dx.as_mut_slice().chunks_mut(N).zip(dy.iter_rows()) {
//!                 for i in 0..N {
//!                     d[i] = self.a[i] * dr[i];
//!                 }
//!             }
//!         }
//!     }
//!     fn walk<W: Walk<Self>>(walk: &mut W) {
//!         walk.param("a", &[N], Layout::RowMajor, |l| (&l.a, &l.a_grad), |l| (&mut l.a, &mut l.a_grad));
//!     }
//! }
//!
//! network! {
//!     pub struct Scaled: [4] { scale: Net(Scale::<4>), Dense(2) }
//! }
//!
//! let mut rng = Rng::seed(0);
//! let mut layer = Scale::<4>::init(&mut rng);
//! let x = Batch::<Tensor1<4>>::from_vec(vec![0.3, -0.5, 0.8, -0.1, 0.6, 0.2, -0.9, 0.4]).unwrap();
//! let report = typed_nn::check::check_gradients(&mut layer, &x, &mut rng).unwrap();
//! assert_eq!((report.inputs, report.params), (8, 4));
//! let net = Scaled::init(&mut rng);
//! assert_eq!(net.named_parameters()[0].name, "scale.a");
//! assert_eq!(Scaled::PARAMS, 4 + 10);
//! ```
//!
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
//!
//! ## From and to ONNX
//!
//! `network! { pub struct Net: onnx("model.onnx") }` imports an ONNX file while compiling
//! (the path is relative to the crate): each node becomes a layer kind or join of the table,
//! and the result is an ordinary network, with `Net::from_onnx_file(path)`,
//! `Net::from_onnx_bytes(bytes)` and `Net::from_embedded_onnx()` to read its weights. What
//! cannot be imported is a compile error naming every such node, its operator and its input
//! shapes. Any network exports with [`NetworkExt::save_onnx`] (opset 17, the state dict's
//! names, a symbolic batch). README's ONNX section lists the operators.
//!
//! ## How typed-nn is built
//!
//! A map for a first read; each module's own docs say more.
//!
//! - **`nn-dsl`**, the `network!` language on `proc_macro2` (so it is tested and fuzzed
//!   outside a compiler; `nn-macros` is only its entry point). One table of layer kinds
//!   (`kinds/`: one declaration per kind — name, doc line, example, accepted inputs, flags,
//!   arguments declared once with their defaults by `args!`, shape rule), then three passes:
//!   resolution (every layer checked and its shape computed, errors collected), fusion
//!   (activations and poolings merged into the layer before, as the flags allow) and
//!   expansion (`expand/`, one function per generated item). The generic network's size
//!   parameters are explicit context, not hidden state. The layer reference above is
//!   generated from the table. `onnx/` is a second front end: it maps an ONNX graph's nodes
//!   to the table and writes the same language for the same passes.
//! - **`nn-onnx`**, the messages of `onnx.proto` on prost and checked readers of their
//!   tensors, shared by the importer and the runtime's export and weight loading.
//! - **`nn-runtime`**, everything that runs, usable by hand:
//!   - `tensor`: samples with compile-time shapes and run-time batches;
//!   - `layers`: one file per kind or family; the [`layers::Layer`] trait (inference, training
//!     and backward passes, and `walk`, the one description of a layer's state);
//!   - `kernels`: numeric kernels on flat slices, by family (GEMM, convolution by algorithm,
//!     pooling, recurrence, normalisation, attention, optimizer updates), compiled once; the
//!     instruction set is chosen once (`isa.rs`), every SIMD path is reached only through a
//!     token proving the CPU has it (`simd::dispatch!`), and each is tested against the scalar
//!     path;
//!   - `train`: the [`Network`] trait, one step (`serial`), a step split over threads
//!     (`parallel`), the gradient exchange across processes (`exchange`), evaluation,
//!     inference; `fit`: Keras's `fit` on top; `loss`, `optim`, `data`, `io` (safetensors and
//!     PyTorch names), `check` (finite-difference gradient checks);
//!   - the core (tensors, layers, kernels, losses, optimizers, weights from bytes) needs only
//!     `core` + `alloc`; `std`, `parallel`, `fit`, `csv`, `mnist` and `nalgebra` are features
//!     on top (the README's "Embedded" section). `kernels::arena` holds the memory of
//!     `forward_in`: each layer's `ARENA` and `forward_arena`, summed into a network's plan
//!     by the generated code.
//!   - `precision`: the conversions to int8 and bf16 (`Lower<P>` per layer kind, the
//!     converted layers implementing `Infer`), on `kernels::lowp` (the int8 and bf16
//!     products and their path tokens); `network!` writes each network's `<Name>Lowered<P>`
//!     (`expand/lowered.rs`) and, under `#[mixed_precision(bf16)]`, opens a
//!     `kernels::lowp::mixed::Bf16Products` scope in the training passes.
//! - **`typed-nn`**, this facade: the prelude, these docs, and `__private`, the one path the
//!   generated code takes to the runtime.
//!
//! Adding a layer kind: its declaration and rule in `nn-dsl/src/kinds/` (and a line in the
//! table), its runtime layer in `nn-runtime/src/layers/` (a line in `layers::all`; an arena
//! pass if its one-sample inference needs scratch; a `Lower<P>` impl in
//! `nn-runtime/src/precision/` if it converts to int8 and bf16), its kernel, and its tests (a gradient check, a PyTorch parity fixture, the error cases as ui
//! tests); the reference and the never-panics property follow from the declaration.

#![cfg_attr(not(feature = "std"), no_std)]

pub use nn_macros::network;
pub use nn_runtime::*;

/// What a program using typed-nn usually needs, `network!` included.
pub mod prelude {
    pub use nn_macros::network;
    pub use nn_runtime::prelude::*;
}

/// The one path through which code generated by `network!` reaches the runtime: everything
/// of `nn_runtime`, and the helpers below. Not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use nn_runtime::*;

    use nn_runtime::layers::Layer;

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
