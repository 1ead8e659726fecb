//! Test-time augmentation: predict from several fixed views of each image and average.
//!
//! [`probabilities`] crops every sample of a batch to each [`Window`] in turn, runs the
//! network (eval mode) on the crops, takes the softmax of each output column and returns
//! the mean of those class probabilities over the views. With [`Window::TEN_CROP`] this is
//! the ten-view prediction of Krizhevsky et al. (2012): four corner crops, the centre crop
//! and their mirror images.
//!
//! The network must output logits (scores before softmax), as a network trained with
//! [`SoftmaxCrossEntropy`](crate::loss::SoftmaxCrossEntropy) does; one whose last layer is
//! `Softmax` would be normalised twice. It sees one view of the batch at a time, so the
//! memory needed is one batch of crops besides what `forward` uses.
//!
//! ```
//! use staticnn::prelude::*;
//! use staticnn::data::{Window, tta};
//! use staticnn::rand::{SeedableRng, rngs::Xoshiro128PlusPlus};
//!
//! network! {
//!     /// Classifies 6×6 crops of 8×8 single-channel images into 3 classes.
//!     struct Net {
//!         input: 36,
//!         Linear(3),
//!     }
//! }
//!
//! let net = Net::<f32>::new(&mut Xoshiro128PlusPlus::seed_from_u64(0));
//! let images = SMatrix::<f32, 64, 2>::from_fn(|r, c| (r + c) as f32 / 64.0);
//! let p = tta::probabilities(&net, &images, &Window::<1, 8, 8, 6, 6>::TEN_CROP);
//! for column in p.column_iter() {
//!     assert!((column.sum() - 1.0).abs() < 1e-6);
//! }
//! let classes: [usize; 2] = tta::classify(&net, &images, &Window::<1, 8, 8, 6, 6>::TEN_CROP);
//! # let _ = classes;
//! ```

use super::Window;
use crate::layers::softmax_columns;
use crate::{Infer, SMatrix, Scalar};

/// The mean over `views` of the softmax of the network's output on each view of each
/// sample: column `b` of the result is a probability vector for sample `b` of `x`.
///
/// `IN == C·H·W` and `M == C·CH·CW` (the network's input width) are checked at compile
/// time, as is `V > 0`.
pub fn probabilities<
    T,
    Net,
    const IN: usize,
    const M: usize,
    const K: usize,
    const B: usize,
    const C: usize,
    const H: usize,
    const W: usize,
    const CH: usize,
    const CW: usize,
    const V: usize,
>(
    net: &Net,
    x: &SMatrix<T, IN, B>,
    views: &[Window<C, H, W, CH, CW>; V],
) -> SMatrix<T, K, B>
where
    T: Scalar,
    Net: Infer<T, M, K>,
{
    const { assert!(V > 0, "test-time augmentation needs at least one view") };
    let mut crops = SMatrix::<T, M, B>::zeros();
    let mut p = SMatrix::<T, K, B>::zeros();
    let mut mean = SMatrix::<T, K, B>::zeros();
    for view in views {
        view.extract_batch(x, &mut crops);
        let y = net.infer(&crops);
        softmax_columns(y.as_slice(), p.as_mut_slice(), K);
        mean += &p;
    }
    let v = T::of(V as f64);
    for m in mean.iter_mut() {
        *m /= v;
    }
    mean
}

/// The class of highest averaged probability ([`probabilities`]) for each sample of `x`;
/// the first one on a tie, as [`Network::classify`](crate::Network::classify).
pub fn classify<
    T,
    Net,
    const IN: usize,
    const M: usize,
    const K: usize,
    const B: usize,
    const C: usize,
    const H: usize,
    const W: usize,
    const CH: usize,
    const CW: usize,
    const V: usize,
>(
    net: &Net,
    x: &SMatrix<T, IN, B>,
    views: &[Window<C, H, W, CH, CW>; V],
) -> [usize; B]
where
    T: Scalar,
    Net: Infer<T, M, K>,
{
    crate::metrics::argmax(&probabilities(net, x, views))
}
