//! The built-in layers. Each is a small configuration value; see [`Layer`](crate::Layer).

mod activation;
mod batch_norm;
mod conv;
mod dropout;
mod linear;
mod maxout;
mod pool;
mod prelu;
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
pub use pool::{AvgPool1d, AvgPool2d, Flatten, GlobalAvgPool, MaxPool1d, MaxPool2d};
pub use prelu::{PReLU, PReLUParams};
pub use softmax::Softmax;
pub(crate) use softmax::softmax_columns;
