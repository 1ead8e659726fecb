//! Plain stochastic gradient descent.

use crate::{Optimizer, ParamBlock, Scalar, block};

/// Plain SGD: `θ ← θ − lr·∇θ` (`torch.optim.SGD` without momentum or weight decay).
///
/// ```
/// use staticnn::{Optimizer, Sgd};
/// let mut p = [1.0f64, 2.0];
/// Sgd::new(0.5).step(&mut p, &[2.0, -2.0]);
/// assert_eq!(p, [0.0, 3.0]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sgd<T> {
    /// Learning rate.
    pub lr: T,
}

impl<T: Scalar> Sgd<T> {
    /// SGD with learning rate `lr`.
    pub fn new(lr: T) -> Self {
        Sgd { lr }
    }
}

impl<T: Scalar, P: ParamBlock<T>> Optimizer<T, P> for Sgd<T> {
    fn step(&mut self, params: &mut P, grads: &P) {
        let lr = self.lr;
        for (p, &g) in block::as_mut_slice::<T, P>(params)
            .iter_mut()
            .zip(block::as_slice::<T, P>(grads))
        {
            *p -= lr * g;
        }
    }
}
