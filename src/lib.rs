#![doc = include_str!("../README.md")]
#![no_std]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "alloc")]
extern crate alloc;
// The unit tests may use `std` (vectors, formatting) whatever the features: `cargo test` and
// `cargo bench` build them without any.
#[cfg(any(feature = "std", test))]
extern crate std;

extern crate self as staticnn;

pub mod block;
pub mod data;
pub mod ensemble;
pub mod fit;
pub mod init;
pub mod io;
pub mod layer;
pub mod layers;
pub mod layout;
pub mod loss;
pub mod math;
pub mod metrics;
pub mod network;
pub mod optim;
#[cfg(feature = "plot")]
pub mod plot;
#[cfg(feature = "std")]
pub mod progress;
pub mod quant;
pub mod regularize;
pub mod scalar;
pub mod schedule;
pub mod shape;
pub mod summary;

mod kernels;

pub use init::Init;
pub use layer::Layer;
pub use layout::ParamBlock;
pub use loss::{ClassIndex, Loss};
pub use network::{Infer, Network, Supervised};
pub use optim::{Adam, AdamW, LearningRate, Optimizer, OptimizerOf, RmsProp, Sgd};
pub use scalar::Scalar;
pub use staticnn_macros::network;
pub use summary::{LayerInfo, Summary};

pub use nalgebra;
pub use rand;

/// Static matrix with `R` rows and `C` columns; a batch has one sample per column.
pub type SMatrix<T, const R: usize, const C: usize> = nalgebra::SMatrix<T, R, C>;
/// Static column vector of `N` entries (one sample).
pub type SVector<T, const N: usize> = nalgebra::SVector<T, N>;

/// Everything a typical program needs, in one import.
pub mod prelude {
    pub use crate::data::{Augment, Dataset, Loader, Preprocess, Remainder};
    pub use crate::layers::*;
    pub use crate::loss::{BceWithLogits, ClassIndex, Hinge, Loss, Mse, SoftmaxCrossEntropy};
    pub use crate::network;
    pub use crate::optim::{
        AdamConfig, AdamWConfig, Decay, DecayScope, RmsPropConfig, SgdConfig, clip_grad_norm,
    };
    pub use crate::regularize::{L1, L2, MaxNorm, Penalty};
    pub use crate::schedule::{CosineAnnealing, ExponentialLr, LinearWarmup, Schedule, StepLr};
    pub use crate::{
        Adam, AdamW, Infer, Init, Layer, LearningRate, Network, Optimizer, RmsProp, SMatrix,
        SVector, Scalar, Sgd, Supervised,
    };
}

/// Items the code written by [`network!`] refers to. Not part of the public API.
#[doc(hidden)]
pub mod __private;
