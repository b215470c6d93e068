//! Convolution and pooling on flat NCHW buffers with run-time sizes. Every conv and pool
//! layer, whatever its const shape, calls these: compiled once.
//!
//! The forward pass takes one of three algorithms by shape (`plan.rs`): a direct
//! convolution when a weight row is short (few input channels: [`direct_applies`]),
//! Winograd's F(2×2, 3×3) for 3×3 stride-1 convolutions with many channels
//! ([`winograd::applies`]), im2col + GEMM for everything else. The backward pass is
//! im2col + GEMM, except that a direct convolution's weight gradient reads the padded input
//! as its forward pass does, and that an input gradient which is itself a convolution
//! Winograd applies to (that of a 3×3 stride-1 convolution with enough channels: dz by the
//! flipped weights) is computed by it. Each sample's gradient at the activation comes from the
//! layer's output gradient, or, for a max pooling fused after the convolution, from the
//! pooled gradient and the pooling's choices, so that training never stores the
//! convolution's whole output.
//!
//! A batch is split into chunks, one per thread and each with its own scratch buffers, when
//! the work is large enough (`PARALLEL_MIN_FLOPS`); weight gradients are summed over chunks.
//!
//! | File | What it holds |
//! |---|---|
//! | `geom.rs` | [`ConvGeom`], [`PoolGeom`], window index arithmetic |
//! | `pool.rs` | max and average pooling, forward and backward |
//! | `im2col.rs` | [`im2col()`], [`col2im_add`] |
//! | `winograd.rs` | Winograd's F(2×2, 3×3) (forward passes, and input gradients that are one) |
//! | `workspace.rs` | [`ConvWorkspace`], [`ConvScratch`], the split of a batch into chunks |
//! | `direct.rs` | the direct convolution (forward, weight gradient) |
//! | `plan.rs` | which forward algorithm a shape takes, [`set_direct`], [`set_winograd`] |
//! | `forward.rs` | [`conv2d_forward`] |
//! | `backward.rs` | [`conv2d_backward`] |
//! | `fused.rs` | [`conv2d_pool_forward`]: a convolution pooled sample by sample; [`conv2d_max_pool_backward`]: its gradients from the pooled ones |
//! | `transposed.rs` | [`conv_transpose_forward`], [`conv_transpose_backward`]: the adjoint of a convolution |
//!
//! Each file imports only files above it in this table (the tests in `winograd.rs` run a
//! whole convolution through `forward.rs`), so no two import each other.

mod backward;
mod direct;
mod forward;
mod fused;
mod geom;
mod im2col;
mod plan;
mod pool;
mod transposed;
pub mod winograd;
mod workspace;

pub use backward::{conv2d_backward, conv2d_backward_with};
pub use direct::{direct_applies, DIRECT_MAX_CKK};
pub use forward::{conv2d_arena_floats, conv2d_forward, conv2d_forward_arena, conv2d_forward_with};
pub use fused::{
    conv2d_max_pool_backward, conv2d_max_pool_backward_with, conv2d_pool_forward, fused_pooling,
    set_fused_pooling, PoolAfter,
};
pub use geom::{ConvGeom, PoolGeom};
pub use im2col::{col2im_add, im2col};
pub use plan::{set_direct, set_winograd};
pub use pool::{
    avg_pool_backward, avg_pool_forward, max_pool_backward, max_pool_backward_with,
    max_pool_forward, max_pool_forward_with,
};
pub use transposed::{
    conv_transpose_backward, conv_transpose_forward, conv_transpose_forward_arena,
};
pub use workspace::{ConvScratch, ConvWorkspace};
