//! Compile-time checked neural networks on static matrices.
//!
//! `staticnn` turns a declaration written with [`network!`] into a plain struct whose layer
//! widths are checked by the compiler and whose forward and backward passes run on
//! [`nalgebra`] static matrices. It is `#![no_std]`, allocates nothing while it runs or
//! trains, and follows PyTorch's documented semantics so that numbers carry across.
//!
//! ```
//! use staticnn::prelude::*;
//! use staticnn::rand::{SeedableRng, rngs::Xoshiro128PlusPlus};
//!
//! network! {
//!     /// Learns exclusive-or.
//!     pub struct Xor {
//!         input: 2,
//!         hidden: Linear(2 -> 8, init = xavier_uniform),
//!         Tanh,
//!         out: Linear(1),
//!         loss: BceWithLogits,
//!     }
//! }
//!
//! let mut rng = Xoshiro128PlusPlus::seed_from_u64(7);
//! let mut net = Xor::<f64>::new(&mut rng);
//! let x = SMatrix::<f64, 2, 4>::from_column_slice(&[0., 0., 0., 1., 1., 0., 1., 1.]);
//! let t = SMatrix::<f64, 1, 4>::from_column_slice(&[0., 1., 1., 0.]);
//! let mut tape = Xor::<f64>::tape::<4>();
//! let mut grads = Xor::<f64>::gradients();
//! let mut sgd = Sgd::new(0.5);
//! for _ in 0..2000 {
//!     net.train_step(&x, &t, &mut grads, &mut tape, &mut sgd, &mut rng)?;
//! }
//! let y = net.forward(&x);
//! assert!(y[0] < 0.0 && y[1] > 0.0 && y[2] > 0.0 && y[3] < 0.0);
//! assert_eq!(Xor::<f64>::PARAMS, 2 * 8 + 8 + 8 + 1);
//! # Ok::<(), staticnn::network::TrainError>(())
//! ```
#![no_std]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

extern crate self as staticnn;

pub mod block;
pub mod init;
pub mod layer;
pub mod layers;
pub mod loss;
pub mod network;
pub mod optim;
pub mod scalar;
pub mod summary;

mod kernels;

pub use init::Init;
pub use layer::Layer;
pub use loss::{ClassIndex, Loss};
pub use network::{Network, Supervised};
pub use optim::{Optimizer, Sgd};
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
    pub use crate::layers::*;
    pub use crate::loss::{BceWithLogits, ClassIndex, Hinge, Loss, Mse, SoftmaxCrossEntropy};
    pub use crate::{Init, Layer, Network, Optimizer, SMatrix, SVector, Scalar, Sgd, Supervised};
    pub use crate::network;
}

/// Items the code written by [`network!`] refers to. Not part of the public API.
#[doc(hidden)]
pub mod __private;
