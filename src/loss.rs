//! Loss functions: a scalar to minimise and its gradient with respect to the network output.
//!
//! Every loss is a mean over the batch, as PyTorch's default `reduction = "mean"`.

use crate::{SMatrix, Scalar};

/// A loss over `N` network outputs.
pub trait Loss<T: Scalar, const N: usize> {
    /// The target of a batch of `B` samples: class indices or a matrix of target values.
    type Target<const B: usize>;

    /// The loss of output `y` against target `t`.
    fn loss<const B: usize>(&self, y: &SMatrix<T, N, B>, t: &Self::Target<B>) -> T;

    /// The loss, and its gradient with respect to `y` written into `dy`.
    fn loss_and_grad<const B: usize>(
        &self,
        y: &SMatrix<T, N, B>,
        t: &Self::Target<B>,
        dy: &mut SMatrix<T, N, B>,
    ) -> T;
}

/// A class label known to be below `N`: the target of classification losses.
///
/// The number of classes is part of the type, so labels for a 10-class network cannot be
/// given to a 3-class one; the value is checked once, when the label is made.
///
/// ```
/// use staticnn::ClassIndex;
/// assert_eq!(ClassIndex::<10>::new(3).map(ClassIndex::get), Some(3));
/// assert!(ClassIndex::<10>::new(10).is_none());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClassIndex<const N: usize>(usize);

impl<const N: usize> ClassIndex<N> {
    /// The label `k`, or `None` when `k ≥ N`.
    pub const fn new(k: usize) -> Option<Self> {
        if k < N { Some(ClassIndex(k)) } else { None }
    }

    /// The class number.
    pub const fn get(self) -> usize {
        self.0
    }

    /// The same label for `M` classes; `M` must be `N` (asserted at compile time): for
    /// [`shape::Targets`](crate::shape::Targets), once the class counts are known to agree.
    pub(crate) const fn relabel<const M: usize>(self) -> ClassIndex<M> {
        const { assert!(M == N) };
        ClassIndex(self.0)
    }
}

impl<const N: usize> TryFrom<usize> for ClassIndex<N> {
    type Error = usize;

    /// Fails with the offending value when it is not below `N`.
    fn try_from(k: usize) -> Result<Self, usize> {
        Self::new(k).ok_or(k)
    }
}

/// Softmax cross-entropy on logits with class-index targets (`nn.CrossEntropyLoss`):
/// `L = mean_b [ log Σ_k e^{y_kb} − y_{t_b b} ]`, computed with a stable log-sum-exp.
/// Gradient: `(softmax(y) − onehot(t)) / B`.
///
/// Over a single output the loss is constant (the softmax of one logit is 1), so
/// `network!` refuses `loss: SoftmaxCrossEntropy` after one output and suggests
/// [`BceWithLogits`], the two-class loss on one logit.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SoftmaxCrossEntropy;

impl<T: Scalar, const N: usize> Loss<T, N> for SoftmaxCrossEntropy {
    type Target<const B: usize> = [ClassIndex<N>; B];

    fn loss<const B: usize>(&self, y: &SMatrix<T, N, B>, t: &[ClassIndex<N>; B]) -> T {
        let mut total = T::zero();
        for (yc, c) in y.as_slice().chunks_exact(N).zip(t) {
            let m = yc
                .iter()
                .copied()
                .fold(yc[0], |a, b| if b > a { b } else { a });
            let s = yc.iter().fold(T::zero(), |s, &v| s + (v - m).exp_libm());
            total += m + s.ln_libm() - yc[c.get()];
        }
        total / T::of(B as f64)
    }

    fn loss_and_grad<const B: usize>(
        &self,
        y: &SMatrix<T, N, B>,
        t: &[ClassIndex<N>; B],
        dy: &mut SMatrix<T, N, B>,
    ) -> T {
        // One pass of exponentials per column serves the loss and the softmax: the same
        // maximum, terms and sum as `loss` and `softmax_columns` compute, in the same order.
        let inv_b = T::one() / T::of(B as f64);
        let mut total = T::zero();
        let columns = y.as_slice().chunks_exact(N);
        for ((yc, dc), c) in columns.zip(dy.as_mut_slice().chunks_exact_mut(N)).zip(t) {
            let m = yc
                .iter()
                .copied()
                .fold(yc[0], |a, b| if b > a { b } else { a });
            let mut s = T::zero();
            for (d, &v) in dc.iter_mut().zip(yc) {
                *d = (v - m).exp_libm();
                s += *d;
            }
            total += m + s.ln_libm() - yc[c.get()];
            let inv = T::one() / s;
            for d in dc.iter_mut() {
                *d *= inv;
            }
            dc[c.get()] -= T::one();
            for d in dc.iter_mut() {
                *d *= inv_b;
            }
        }
        total / T::of(B as f64)
    }
}

/// Multiclass hinge (SVM) loss with class-index targets:
/// `L = mean_b Σ_{k≠t} max(0, y_k − y_t + 1)` (PyTorch's `MultiMarginLoss` times `N`).
/// Gradient: `+1/B` on every violating `y_k`, `−(violations)/B` on `y_t`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Hinge;

impl<T: Scalar, const N: usize> Loss<T, N> for Hinge {
    type Target<const B: usize> = [ClassIndex<N>; B];

    fn loss<const B: usize>(&self, y: &SMatrix<T, N, B>, t: &[ClassIndex<N>; B]) -> T {
        let mut total = T::zero();
        for (yc, c) in y.as_slice().chunks_exact(N).zip(t) {
            let st = yc[c.get()];
            for (k, &s) in yc.iter().enumerate() {
                let m = s - st + T::one();
                if k != c.get() && m > T::zero() {
                    total += m;
                }
            }
        }
        total / T::of(B as f64)
    }

    fn loss_and_grad<const B: usize>(
        &self,
        y: &SMatrix<T, N, B>,
        t: &[ClassIndex<N>; B],
        dy: &mut SMatrix<T, N, B>,
    ) -> T {
        let inv_b = T::one() / T::of(B as f64);
        let mut total = T::zero();
        for ((yc, dc), c) in y
            .as_slice()
            .chunks_exact(N)
            .zip(dy.as_mut_slice().chunks_exact_mut(N))
            .zip(t)
        {
            let st = yc[c.get()];
            let mut violations = T::zero();
            for (k, (&s, d)) in yc.iter().zip(dc.iter_mut()).enumerate() {
                let m = s - st + T::one();
                *d = T::zero();
                if k != c.get() && m > T::zero() {
                    total += m;
                    *d = inv_b;
                    violations += T::one();
                }
            }
            dc[c.get()] = -violations * inv_b;
        }
        total * inv_b
    }
}

/// Binary cross-entropy on logits (`nn.BCEWithLogitsLoss`), mean over all `N·B` entries:
/// `ℓ = max(y, 0) − y·t + log(1 + e^{−|y|})`. Gradient: `(σ(y) − t) / (N·B)`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BceWithLogits;

impl<T: Scalar, const N: usize> Loss<T, N> for BceWithLogits {
    type Target<const B: usize> = SMatrix<T, N, B>;

    fn loss<const B: usize>(&self, y: &SMatrix<T, N, B>, t: &SMatrix<T, N, B>) -> T {
        let mut total = T::zero();
        for (&z, &tv) in y.as_slice().iter().zip(t.as_slice()) {
            let relu = if z > T::zero() { z } else { T::zero() };
            total += relu - z * tv + (-z.abs()).exp_libm().ln_1p_libm();
        }
        total / T::of((N * B) as f64)
    }

    fn loss_and_grad<const B: usize>(
        &self,
        y: &SMatrix<T, N, B>,
        t: &SMatrix<T, N, B>,
        dy: &mut SMatrix<T, N, B>,
    ) -> T {
        let inv = T::one() / T::of((N * B) as f64);
        for ((d, &z), &tv) in dy
            .as_mut_slice()
            .iter_mut()
            .zip(y.as_slice())
            .zip(t.as_slice())
        {
            *d = (T::one() / (T::one() + (-z).exp_libm()) - tv) * inv;
        }
        self.loss(y, t)
    }
}

/// Mean squared error (`nn.MSELoss`), mean over all `N·B` entries: `mean (y − t)²`.
/// Gradient: `2 (y − t) / (N·B)`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Mse;

impl<T: Scalar, const N: usize> Loss<T, N> for Mse {
    type Target<const B: usize> = SMatrix<T, N, B>;

    fn loss<const B: usize>(&self, y: &SMatrix<T, N, B>, t: &SMatrix<T, N, B>) -> T {
        let mut total = T::zero();
        for (&a, &b) in y.as_slice().iter().zip(t.as_slice()) {
            total += (a - b) * (a - b);
        }
        total / T::of((N * B) as f64)
    }

    fn loss_and_grad<const B: usize>(
        &self,
        y: &SMatrix<T, N, B>,
        t: &SMatrix<T, N, B>,
        dy: &mut SMatrix<T, N, B>,
    ) -> T {
        let scale = T::of(2.0) / T::of((N * B) as f64);
        for ((d, &a), &b) in dy
            .as_mut_slice()
            .iter_mut()
            .zip(y.as_slice())
            .zip(t.as_slice())
        {
            *d = (a - b) * scale;
        }
        self.loss(y, t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::softmax_columns;

    /// The single pass of `SoftmaxCrossEntropy::loss_and_grad` gives the bits of `loss` and
    /// of `(softmax(y) − onehot(t)) / B` computed by `softmax_columns`.
    #[test]
    fn softmax_cross_entropy_in_one_pass_is_bit_identical() {
        const N: usize = 7;
        const B: usize = 5;
        let y = SMatrix::<f32, N, B>::from_fn(|r, c| ((r * 5 + c * 3) % 11) as f32 * 0.7 - 3.1);
        let t: [ClassIndex<N>; B] =
            core::array::from_fn(|b| ClassIndex::new((b * 3) % N).expect("below N"));
        let mut dy = SMatrix::<f32, N, B>::zeros();
        let l = SoftmaxCrossEntropy.loss_and_grad(&y, &t, &mut dy);
        assert_eq!(l.to_bits(), SoftmaxCrossEntropy.loss(&y, &t).to_bits());
        let mut expected = SMatrix::<f32, N, B>::zeros();
        softmax_columns(y.as_slice(), expected.as_mut_slice(), N);
        for (b, c) in t.iter().enumerate() {
            expected[(c.get(), b)] -= 1.0;
        }
        expected *= 1.0 / B as f32;
        for (a, e) in dy.iter().zip(expected.iter()) {
            assert_eq!(a.to_bits(), e.to_bits());
        }
    }
}
