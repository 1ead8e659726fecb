//! Gradient clipping by global norm (`torch.nn.utils.clip_grad_norm_`).

use crate::layout::{learned, learned_mut};
use crate::{ParamBlock, Scalar};

/// The Euclidean norm of a whole block, `√Σ g²`, accumulated in `f64`.
///
/// ```
/// assert_eq!(staticnn::optim::grad_norm(&[3.0f32, 4.0]), 5.0);
/// ```
pub fn grad_norm<T: Scalar, P: ParamBlock<T>>(grads: &P) -> T {
    // The padding (x86-64) is nobody's gradient: left out, whatever it holds.
    let sum: f64 = learned::<T, P>(grads)
        .iter()
        .map(|g| {
            let g = g.as_f64();
            g * g
        })
        .sum();
    T::of(libm::sqrt(sum))
}

/// Clips a gradient block by its global norm, as PyTorch's `clip_grad_norm_`, and returns
/// the norm before clipping.
///
/// With `n` the Euclidean norm of all gradients together (see [`grad_norm`]), every
/// gradient is multiplied by `max_norm / (n + 1e-6)` when that factor is below 1 (so, in
/// effect, when `n > max_norm`), and left as it is otherwise. A non-finite norm leaves the
/// gradients untouched (PyTorch would spread the NaN to every gradient); it is returned for
/// the caller to act on.
///
/// [`Supervised::train_step`](crate::Supervised::train_step) gives the gradients straight
/// to the optimiser; to clip them, take the step's parts one by one:
///
/// ```
/// use staticnn::prelude::*;
/// use staticnn::optim::clip_grad_norm;
/// use staticnn::rand::{SeedableRng, rngs::Xoshiro128PlusPlus};
///
/// network! {
///     struct Net { input: 2, Linear(4), Tanh, Linear(1), loss: Mse }
/// }
/// let mut rng = Xoshiro128PlusPlus::seed_from_u64(1);
/// let mut net = Net::<f64>::new(&mut rng);
/// let x = SMatrix::<f64, 2, 3>::new(0.0, 1.0, 2.0, 3.0, 4.0, 5.0);
/// let t = SMatrix::<f64, 1, 3>::new(30.0, -20.0, 10.0);
/// let (mut tape, mut grads) = (Net::<f64>::tape::<3>(), Net::<f64>::gradients());
/// let mut opt = Adam::new(1e-3);
///
/// let mut dy = SMatrix::<f64, 1, 3>::zeros();
/// let y = net.forward_train(&x, &mut tape, &mut rng);
/// let _loss = Mse.loss_and_grad(y, &t, &mut dy);
/// net.backward(&x, &mut tape, &dy, &mut grads, None); // adds: zero `grads` between steps
/// let norm = clip_grad_norm(&mut grads, 1.0);
/// assert!(norm > 1.0 && staticnn::optim::grad_norm(&grads) < 1.0);
/// opt.step(net.params_mut(), &grads);
/// ```
pub fn clip_grad_norm<T: Scalar, P: ParamBlock<T>>(grads: &mut P, max_norm: T) -> T {
    let norm = grad_norm::<T, P>(grads);
    let n = norm.as_f64();
    if !n.is_finite() {
        return norm;
    }
    let coef = max_norm.as_f64() / (n + 1e-6);
    if coef < 1.0 {
        let coef = T::of(coef);
        for g in learned_mut::<T, P>(grads) {
            *g *= coef;
        }
    }
    norm
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_gradients_are_scaled_to_the_maximum() {
        let mut g = [3.0f64, 0.0, -4.0];
        let norm = clip_grad_norm(&mut g, 1.0);
        assert_eq!(norm, 5.0);
        let c = 1.0 / (5.0 + 1e-6);
        assert_eq!(g, [3.0 * c, 0.0, -4.0 * c]);
        assert!((grad_norm(&g) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn short_gradients_are_left_alone() {
        let mut g = [0.375f32, -0.5];
        assert_eq!(clip_grad_norm(&mut g, 1.0), 0.625);
        assert_eq!(g, [0.375, -0.5]);
        // At the limit the factor is 1/(1 + 1e-6·…) < 1: PyTorch scales, by a hair.
        let mut g = [0.6f64, 0.8];
        clip_grad_norm(&mut g, 1.0);
        assert!(g[0] < 0.6 && (g[0] - 0.6).abs() < 1e-6);
    }

    #[test]
    fn non_finite_norms_leave_gradients_alone() {
        let mut g = [f64::INFINITY, 1.0];
        assert_eq!(clip_grad_norm(&mut g, 1.0), f64::INFINITY);
        assert_eq!(g, [f64::INFINITY, 1.0]);
    }
}
