//! The built-in layers. Each is a small configuration value; see [`Layer`](crate::Layer).
//!
//! The convolutional layers ([`Conv1d`], [`Conv2d`], [`MaxPool1d`], [`MaxPool2d`],
//! [`AvgPool1d`], [`AvgPool2d`], [`GlobalAvgPool`], [`SpatialBatchNorm`]) see a sample as
//! one column of `C·H·W` (or `C·L`) values in PyTorch's order (channel, row, column), and
//! take their shapes as const generic parameters: every size their loops and buffers need,
//! including products stable Rust cannot compute in a type (a convolution's
//! `KK = CI/G·KH·KW`). Compile-time assertions tie them to the layer's flat widths and to
//! PyTorch's output-size formula, so a wrong shape fails the build. Activations, `Dropout`
//! and [`Flatten`] work on any width.

mod activation;
mod batch_norm;
pub(crate) mod conv;
#[cfg(target_arch = "x86_64")]
mod conv_avx512;
#[cfg(target_arch = "x86_64")]
mod conv_avx512_dx;
#[cfg(target_arch = "x86_64")]
mod conv_avx512_oc;
#[cfg(target_arch = "x86_64")]
mod conv_avx512_wgrad;
mod dropout;
mod linear;
mod maxout;
mod normalize;
pub(crate) mod pool;
#[cfg(target_arch = "x86_64")]
mod pool_avx512;
mod prelu;
mod residual;
mod softmax;

pub use activation::{ELU, LeakyReLU, ReLU, Sigmoid, Tanh};
pub use batch_norm::{
    BatchNorm, BatchNormParams, BatchNormState, BatchNormTape, SpatialBatchNorm,
    SpatialBatchNormTape,
};
pub use conv::{Conv1d, Conv2d, ConvParams};
pub use dropout::{Dropout, DropoutTape};
pub use linear::{Linear, LinearParams};
pub use maxout::{Maxout, MaxoutParams, MaxoutTape};
pub use normalize::{Normalize, NormalizeState, NormalizeTape};
pub(crate) use normalize::{fit_into as normalize_fit_into, leads as normalize_leads};
pub use pool::{AvgPool1d, AvgPool2d, Flatten, GlobalAvgPool, MaxPool1d, MaxPool2d};
pub use prelu::{PReLU, PReLUParams};
pub use residual::Residual;
pub use softmax::Softmax;
pub(crate) use softmax::softmax_columns;
