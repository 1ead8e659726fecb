//! Learning-rate schedules: the learning rate as a closed-form function of the step (or
//! epoch) count, applied to any optimiser through [`LearningRate`].
//!
//! A schedule is a plain value with no state: [`Schedule::lr`] maps a base learning rate and
//! a count `t` (starting at 0) to a learning rate, and [`Schedule::apply`] writes it into an
//! optimiser. The caller keeps the count, and decides whether it counts steps or epochs.
//! The formulas are PyTorch's closed forms (`torch.optim.lr_scheduler`).
//!
//! ```
//! use staticnn::schedule::{CosineAnnealing, LinearWarmup, Schedule};
//! use staticnn::Sgd;
//!
//! // 5 steps of linear warm-up from 0.1·base, then cosine annealing to 0 over 100 steps.
//! let schedule = LinearWarmup {
//!     steps: 5,
//!     start_factor: 0.1,
//!     inner: CosineAnnealing { t_max: 100, eta_min: 0.0 },
//! };
//! let base = 0.5;
//! let mut sgd = Sgd::new(0.0f32);
//! for step in 0..105 {
//!     schedule.apply(&mut sgd, base, step);
//!     // … train_step with `sgd` …
//! }
//! assert!((schedule.lr(base, 0) - 0.05).abs() < 1e-15);
//! assert_eq!(schedule.lr(base, 5), 0.5);
//! assert!(schedule.lr(base, 105).abs() < 1e-15);
//! ```

use crate::{LearningRate, Scalar};

/// A learning rate as a function of a step (or epoch) count.
pub trait Schedule {
    /// The learning rate at count `t` (from 0) for the base learning rate `base`.
    fn lr(&self, base: f64, t: u32) -> f64;

    /// Sets `opt`'s learning rate to [`lr(base, t)`](Schedule::lr), rounded to its scalar
    /// type, and returns it.
    fn apply<T: Scalar, O: LearningRate<T> + ?Sized>(&self, opt: &mut O, base: f64, t: u32) -> f64
    where
        Self: Sized,
    {
        let lr = self.lr(base, t);
        opt.set_lr(T::of(lr));
        lr
    }
}

impl<S: Schedule + ?Sized> Schedule for &S {
    fn lr(&self, base: f64, t: u32) -> f64 {
        (**self).lr(base, t)
    }
}

/// The base learning rate, unchanged (`torch.optim.lr_scheduler.ConstantLR` with factor 1);
/// useful inside [`LinearWarmup`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Constant;

impl Schedule for Constant {
    fn lr(&self, base: f64, _: u32) -> f64 {
        base
    }
}

/// Decay by `gamma` every `step_size` counts: `base · γ^⌊t / step_size⌋` (`StepLR`).
///
/// ```
/// use staticnn::schedule::{Schedule, StepLr};
/// let s = StepLr { step_size: 10, gamma: 0.5 };
/// assert_eq!([s.lr(1.0, 0), s.lr(1.0, 9), s.lr(1.0, 10), s.lr(1.0, 25)], [1.0, 1.0, 0.5, 0.25]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepLr {
    /// Counts between decays (at least 1; 0 is taken as 1).
    pub step_size: u32,
    /// Factor applied at each decay (PyTorch's default is `0.1`).
    pub gamma: f64,
}

impl Schedule for StepLr {
    fn lr(&self, base: f64, t: u32) -> f64 {
        base * libm::pow(self.gamma, f64::from(t / self.step_size.max(1)))
    }
}

/// Decay by `gamma` every count: `base · γ^t` (`ExponentialLR`).
///
/// ```
/// use staticnn::schedule::{ExponentialLr, Schedule};
/// assert_eq!(ExponentialLr { gamma: 0.5 }.lr(0.8, 3), 0.1);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ExponentialLr {
    /// Factor applied at each count.
    pub gamma: f64,
}

impl Schedule for ExponentialLr {
    fn lr(&self, base: f64, t: u32) -> f64 {
        base * libm::pow(self.gamma, f64::from(t))
    }
}

/// Cosine annealing from the base learning rate to `eta_min` over `t_max` counts
/// (`CosineAnnealingLR`'s closed form):
/// `η_min + (base − η_min)·(1 + cos(π·t / t_max)) / 2`.
///
/// Past `t_max` the closed form rises again along the cosine, as PyTorch's does; stop or
/// restart the count there for a single annealing.
///
/// ```
/// use staticnn::schedule::{CosineAnnealing, Schedule};
/// let s = CosineAnnealing { t_max: 10, eta_min: 0.1 };
/// assert_eq!(s.lr(1.1, 0), 1.1);
/// assert!((s.lr(1.1, 5) - 0.6).abs() < 1e-15);
/// assert_eq!(s.lr(1.1, 10), 0.1);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CosineAnnealing {
    /// Counts from the base learning rate to `eta_min` (at least 1; 0 is taken as 1).
    pub t_max: u32,
    /// The smallest learning rate (PyTorch's default is 0).
    pub eta_min: f64,
}

impl Schedule for CosineAnnealing {
    fn lr(&self, base: f64, t: u32) -> f64 {
        let phase = core::f64::consts::PI * f64::from(t) / f64::from(self.t_max.max(1));
        self.eta_min + (base - self.eta_min) * (1.0 + libm::cos(phase)) / 2.0
    }
}

/// Linear warm-up, then another schedule: for `t < steps` the learning rate is
/// `inner`'s first one scaled by a factor rising linearly from `start_factor` (at `t = 0`)
/// towards 1 (`LinearLR` with end factor 1); from `t = steps` on it is `inner` at
/// `t − steps` (as PyTorch's `SequentialLR` restarts the count of the schedule it hands
/// over to).
///
/// ```
/// use staticnn::schedule::{ExponentialLr, LinearWarmup, Schedule};
/// let s = LinearWarmup { steps: 4, start_factor: 0.25, inner: ExponentialLr { gamma: 0.5 } };
/// let lrs: Vec<f64> = (0..7).map(|t| s.lr(1.0, t)).collect();
/// assert_eq!(lrs, [0.25, 0.4375, 0.625, 0.8125, 1.0, 0.5, 0.25]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinearWarmup<S> {
    /// Length of the warm-up, in counts.
    pub steps: u32,
    /// Factor of the first count (PyTorch's `LinearLR` defaults to `1/3`).
    pub start_factor: f64,
    /// The schedule after the warm-up.
    pub inner: S,
}

impl<S: Schedule> Schedule for LinearWarmup<S> {
    fn lr(&self, base: f64, t: u32) -> f64 {
        if t >= self.steps {
            return self.inner.lr(base, t - self.steps);
        }
        let progress = f64::from(t) / f64::from(self.steps);
        let factor = self.start_factor + (1.0 - self.start_factor) * progress;
        factor * self.inner.lr(base, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Adam, Sgd};

    fn close(a: f64, e: f64) -> bool {
        (a - e).abs() <= 1e-15 * e.abs().max(1.0)
    }

    #[test]
    fn step_lr_by_hand() {
        let s = StepLr {
            step_size: 3,
            gamma: 0.1,
        };
        let lrs = [0, 1, 2, 3, 5, 6, 9].map(|t| s.lr(0.5, t));
        let e = [0.5, 0.5, 0.5, 0.05, 0.05, 0.005, 0.0005];
        for (a, e) in lrs.iter().zip(e) {
            assert!(close(*a, e), "{lrs:?}");
        }
        // step_size 0 is taken as 1
        let s = StepLr {
            step_size: 0,
            gamma: 0.5,
        };
        assert_eq!(s.lr(1.0, 2), 0.25);
    }

    #[test]
    fn exponential_by_hand() {
        let s = ExponentialLr { gamma: 0.9 };
        assert_eq!(s.lr(2.0, 0), 2.0);
        assert!(close(s.lr(2.0, 1), 1.8));
        assert!(close(s.lr(2.0, 2), 1.62));
        assert!(close(s.lr(2.0, 5), 2.0 * 0.59049));
    }

    #[test]
    fn cosine_by_hand() {
        let s = CosineAnnealing {
            t_max: 4,
            eta_min: 0.0,
        };
        // (1 + cos(πt/4))/2 = 1, (2 + √2)/4, 1/2, (2 − √2)/4, 0
        let r2 = core::f64::consts::SQRT_2;
        let e = [1.0, (2.0 + r2) / 4.0, 0.5, (2.0 - r2) / 4.0, 0.0];
        for (t, e) in e.iter().enumerate() {
            let a = s.lr(1.0, t as u32);
            assert!((a - e).abs() < 1e-15, "t = {t}: {a} vs {e}");
        }
        // past t_max the closed form rises again, symmetric about t_max
        assert!(close(s.lr(1.0, 6), s.lr(1.0, 2)));
        let s = CosineAnnealing {
            t_max: 2,
            eta_min: 0.01,
        };
        assert!(close(s.lr(0.11, 1), 0.06));
        assert!(close(s.lr(0.11, 2), 0.01));
    }

    #[test]
    fn warmup_then_inner() {
        let s = LinearWarmup {
            steps: 3,
            start_factor: 0.4,
            inner: StepLr {
                step_size: 2,
                gamma: 0.5,
            },
        };
        let lrs: [f64; 8] = core::array::from_fn(|t| s.lr(10.0, t as u32));
        let e = [4.0, 6.0, 8.0, 10.0, 10.0, 5.0, 5.0, 2.5];
        for (a, e) in lrs.iter().zip(e) {
            assert!(close(*a, e), "{lrs:?}");
        }
        let none = LinearWarmup {
            steps: 0,
            start_factor: 0.1,
            inner: Constant,
        };
        assert_eq!(none.lr(3.0, 0), 3.0);
    }

    #[test]
    fn apply_sets_any_optimisers_lr() {
        let s = ExponentialLr { gamma: 0.5 };
        let mut sgd = Sgd::new(1.0f32);
        assert_eq!(s.apply(&mut sgd, 0.1, 1), 0.05);
        assert_eq!(sgd.lr, 0.05f32);
        let mut adam = Adam::<f64, [f64; 3]>::new(1.0);
        fn through<S: Schedule>(s: S, adam: &mut Adam<f64, [f64; 3]>) {
            s.apply(adam, 0.1, 2);
        }
        through::<&ExponentialLr>(&s, &mut adam); // a reference is a schedule too
        assert_eq!(adam.lr(), 0.025);
    }
}
