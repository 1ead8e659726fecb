//! Stochastic gradient descent, with optional momentum and weight decay
//! (`torch.optim.SGD`).

use core::fmt;

use bytemuck::{Pod, Zeroable};

use super::{Decay, FiniteGrads, LearningRate, NonFiniteUpdate, VECTOR, all_finite, all_of, runs};
use crate::kernels::SgdCheck;
use crate::layout::{learned, learned_mut};
use crate::{Optimizer, ParamBlock, Scalar, block};

/// Hyperparameters of [`Sgd`] besides the learning rate; `Default` is PyTorch's defaults
/// (no momentum, no dampening, no Nesterov, no weight decay).
///
/// PyTorch 2.x also defaults the learning rate (to `1e-3`); staticnn asks for it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SgdConfig {
    /// Momentum factor `μ` (default 0: no momentum). Needs an [`Sgd`] made by
    /// [`Sgd::with`], which owns a velocity buffer.
    pub momentum: f64,
    /// Dampening `τ` of the gradient added to the velocity (default 0).
    pub dampening: f64,
    /// Nesterov momentum (default `false`); needs `momentum > 0` and `dampening = 0`.
    pub nesterov: bool,
    /// Weight decay (default none); see [`Decay`] for its scope.
    pub weight_decay: Decay,
}

// SAFETY: every field is `Zeroable` (`f64`, `bool`, `Decay`); all-zero bytes are the
// default configuration.
unsafe impl Zeroable for SgdConfig {}

/// Stochastic gradient descent, `torch.optim.SGD`.
///
/// With gradient `g`, weight decay `λ` (for the parameters in its scope), momentum `μ`,
/// dampening `τ` and learning rate `γ`, one step is
///
/// ```text
/// g ← g + λ·θ
/// b ← g                      on the first step
/// b ← μ·b + (1 − τ)·g        afterwards            (only when μ ≠ 0)
/// g ← g + μ·b  if nesterov,  else  g ← b           (only when μ ≠ 0)
/// θ ← θ − γ·g
/// ```
///
/// `S` is the optimiser's state. [`Sgd::new`] makes plain SGD, [`Sgd<T>`] =
/// `Sgd<T, NoVelocity>`, which owns nothing but its hyperparameters and works for every
/// network; it may still decay weights. [`Sgd::with`] makes `Sgd<T, Velocity<P>>`, which owns
/// a velocity buffer of the network's parameter type `P` (inferred from the network it
/// trains) and supports momentum.
///
/// ```
/// use staticnn::{Optimizer, Sgd};
/// use staticnn::optim::SgdConfig;
///
/// // Plain SGD: θ ← θ − γ·g.
/// let mut p = [1.0f64, 2.0];
/// Sgd::new(0.5).step(&mut p, &[2.0, -2.0]);
/// assert_eq!(p, [0.0, 3.0]);
///
/// // Heavy-ball momentum: the second step moves further along the same gradient.
/// let mut sgd = Sgd::with(0.5, SgdConfig { momentum: 0.9, ..Default::default() });
/// let mut p = [0.0f64];
/// sgd.step(&mut p, &[1.0]);
/// assert_eq!(p, [-0.5]);
/// sgd.step(&mut p, &[1.0]);
/// assert_eq!(p, [-0.5 - 0.5 * 1.9]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sgd<T, S = NoVelocity> {
    /// Learning rate `γ`.
    pub lr: T,
    /// The other hyperparameters.
    pub config: SgdConfig,
    state: S,
}

/// The state of plain [`Sgd`]: none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NoVelocity;

// SAFETY: a field-less struct; zero bytes are its only value.
unsafe impl Zeroable for NoVelocity {}

/// The state of [`Sgd`] with momentum: a velocity buffer of parameter type `P`, and whether
/// a step has been taken (the first step sets the velocity to the gradient).
#[derive(Clone, Copy)]
pub struct Velocity<P> {
    buf: P,
    started: bool,
}

// SAFETY: `P` is `Zeroable` and `bool` is; zero bytes are the state before the first step.
unsafe impl<P: Zeroable> Zeroable for Velocity<P> {}

impl<P> fmt::Debug for Velocity<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Velocity")
            .field("started", &self.started)
            .finish_non_exhaustive()
    }
}

// SAFETY: `T` (a scalar), `SgdConfig` and `S` are all `Zeroable`.
unsafe impl<T: Scalar, S: Zeroable> Zeroable for Sgd<T, S> {}

impl<T: Scalar> Sgd<T, NoVelocity> {
    /// Plain SGD with learning rate `lr` (PyTorch's `SGD(params, lr)`); set
    /// `config.weight_decay` for weight decay. It has no velocity buffer: use [`Sgd::with`]
    /// for momentum.
    pub fn new(lr: T) -> Self {
        Sgd {
            lr,
            config: SgdConfig::default(),
            state: NoVelocity,
        }
    }
}

impl<T: Scalar, P: Pod> Sgd<T, Velocity<P>> {
    /// SGD with learning rate `lr`, the hyperparameters of `config`, and a zeroed velocity
    /// buffer of type `P`, built on the stack (see [`boxed`](Sgd::boxed) for large networks).
    ///
    /// ```
    /// use staticnn::optim::{Decay, Sgd, SgdConfig};
    /// let sgd = Sgd::<f32, _>::with(0.1, SgdConfig {
    ///     momentum: 0.9,
    ///     nesterov: true,
    ///     weight_decay: Decay::weights(1e-4),
    ///     ..Default::default()
    /// });
    /// # let _: &Sgd<f32, staticnn::optim::Velocity<[f32; 3]>> = &sgd;
    /// ```
    ///
    /// # Panics
    ///
    /// If `config.nesterov` is set without `momentum > 0` and `dampening = 0` (PyTorch
    /// refuses that configuration too).
    pub fn with(lr: T, config: SgdConfig) -> Self {
        check(&config);
        Sgd {
            lr,
            config,
            state: Velocity::zeroed(),
        }
    }

    /// Like [`with`](Sgd::with), but built zeroed on the heap, never passing through the
    /// stack.
    ///
    /// # Panics
    ///
    /// As [`with`](Sgd::with).
    #[cfg(feature = "alloc")]
    pub fn boxed(lr: T, config: SgdConfig) -> alloc::boxed::Box<Self> {
        check(&config);
        let mut sgd = block::zeroed_box::<Self>();
        sgd.lr = lr;
        sgd.config = config;
        sgd
    }

    /// The velocity buffer `b`, or `None` before the first step (and after
    /// [`reset`](Sgd::reset)), when the next step sets it to the gradient.
    ///
    /// ```
    /// use staticnn::Optimizer;
    /// use staticnn::optim::{Sgd, SgdConfig};
    /// let mut sgd = Sgd::with(0.5, SgdConfig { momentum: 0.9, ..Default::default() });
    /// assert_eq!(sgd.velocity(), None);
    /// sgd.step(&mut [0.0f64], &[2.0]);
    /// assert_eq!(sgd.velocity(), Some(&[2.0]));
    /// ```
    pub fn velocity(&self) -> Option<&P> {
        self.state.started.then_some(&self.state.buf)
    }

    /// Forgets the velocity: the next step is a first step again.
    pub fn reset(&mut self) {
        block::zero(&mut self.state.buf);
        self.state.started = false;
    }
}

fn check(config: &SgdConfig) {
    assert!(
        !config.nesterov || (config.momentum > 0.0 && config.dampening == 0.0),
        "Nesterov momentum requires momentum > 0 and dampening = 0 (got momentum {}, dampening {})",
        config.momentum,
        config.dampening
    );
}

impl<T: Scalar, S> LearningRate<T> for Sgd<T, S> {
    fn lr(&self) -> T {
        self.lr
    }

    fn set_lr(&mut self, lr: T) {
        self.lr = lr;
    }
}

/// Plain SGD with optional weight decay.
///
/// # Panics
///
/// If `config.momentum` is not 0: there is no velocity buffer to keep it in.
impl<T: Scalar, P: ParamBlock<T>> Optimizer<T, P> for Sgd<T, NoVelocity> {
    fn step(&mut self, params: &mut P, grads: &P) {
        // Unchecked, the update cannot fail.
        let _ = self.update::<P>(params, grads, SgdCheck::None);
    }

    fn try_step(&mut self, params: &mut P, grads: &P) -> Result<(), NonFiniteUpdate> {
        self.update::<P>(params, grads, SgdCheck::Full)
    }

    /// Without weight decay and on targets with vector units, when `|lr| ≤ 1/4`, the
    /// check reads only the parameters (finite gradients cannot then overflow a parameter
    /// of magnitude at most `MAX/4`), and nothing at all when the training step found the
    /// parameters within that bound ([`FiniteGrads::params_bounded`]); the full check
    /// decides only where the bound fails.
    fn try_step_finite(
        &mut self,
        params: &mut P,
        grads: FiniteGrads<'_, P>,
    ) -> Result<(), NonFiniteUpdate> {
        let check = if grads.params_bounded() {
            SgdCheck::Bounded
        } else {
            SgdCheck::FiniteGrads
        };
        self.update::<P>(params, grads.get(), check)
    }

    /// `Some(lr)` without momentum and weight decay, when `|lr| ≤ 1/4` (the bound of
    /// `SgdCheck::Bounded`): the update is then `p − lr·g` on every parameter.
    fn plain_sgd_lr(&self) -> Option<T> {
        let quarter = T::of(0.25);
        let plain = self.config.momentum == 0.0 && self.config.weight_decay.lambda == 0.0;
        (plain && self.lr <= quarter && -self.lr <= quarter).then_some(self.lr)
    }
}

impl<T: Scalar> Sgd<T, NoVelocity> {
    /// One step; with a `check`, a read-only pass first makes sure every new parameter is
    /// finite, and nothing is written if one is not. Always inlined, so that where the
    /// configuration is a constant (firmware: `Sgd::new`) only one of the loops is linked.
    #[inline(always)]
    fn update<P: ParamBlock<T>>(
        &self,
        params: &mut P,
        grads: &P,
        check: SgdCheck,
    ) -> Result<(), NonFiniteUpdate> {
        assert!(
            self.config.momentum == 0.0,
            "Sgd::new has no velocity buffer; make the optimiser with Sgd::with to use momentum"
        );
        // By value: nothing below holds a reference to `self`, which keeps the
        // configuration a constant the compiler can see through (a `Sgd::new` in firmware
        // links only the plain loop).
        let (lr, decay) = (self.lr, self.config.weight_decay);
        if decay.lambda == 0.0 {
            plain::<T, P>(lr, params, grads, check)
        } else if check != SgdCheck::None {
            decayed::<T, P, true>(lr, decay, params, grads)
        } else {
            decayed::<T, P, false>(lr, decay, params, grads)
        }
    }
}

/// Plain SGD, `θ ← θ − γ·g`: one loop over the whole block but its padding, no layout
/// needed. The vector kernels where they run, else the portable loop, which on targets
/// with vector units takes the bounds of `SgdCheck` as the kernels do, and elsewhere
/// (microcontrollers, the smaller code) checks every new value with any `check` but `None`.
#[inline]
fn plain<T: Scalar, P: ParamBlock<T>>(
    lr: T,
    params: &mut P,
    grads: &P,
    check: SgdCheck,
) -> Result<(), NonFiniteUpdate> {
    let (params, grads) = (learned_mut::<T, P>(params), learned::<T, P>(grads));
    // The vector kernels where they run (x86-64): the same bits, 16 `f32` a vector.
    if let Some(written) = crate::kernels::sgd(params, grads, lr, check) {
        return if written {
            Ok(())
        } else {
            Err(NonFiniteUpdate)
        };
    }
    // The one definition both passes use.
    let new = |p: T, g: T| p - lr * g;
    let quick = || {
        VECTOR
            && check.quick(lr, || {
                let four = T::of(4.0);
                all_of(params.iter(), |&p| all_finite([p * four]))
            })
    };
    if check != SgdCheck::None
        && !quick()
        && !all_of(params.iter().zip(grads), |(&p, &g)| all_finite([new(p, g)]))
    {
        return Err(NonFiniteUpdate);
    }
    for (p, &g) in params.iter_mut().zip(grads) {
        *p = new(*p, g);
    }
    Ok(())
}

/// SGD with weight decay `λ` for the parameters in its scope, `θ ← θ − γ·(g + λ·θ)`.
#[inline]
fn decayed<T: Scalar, P: ParamBlock<T>, const CHECK: bool>(
    lr: T,
    decay: Decay,
    params: &mut P,
    grads: &P,
) -> Result<(), NonFiniteUpdate> {
    let params = block::as_mut_slice::<T, P>(params);
    let grads = block::as_slice::<T, P>(grads);
    // The one definition both passes use.
    let new = |p: T, g: T, wd: T| p - lr * (g + wd * p);
    let wd = |role| T::of(decay.lambda_for(role));
    if CHECK
        && !runs::<T, P>().all(|(run, seg)| {
            let wd = wd(seg.role);
            all_of(params[run.clone()].iter().zip(&grads[run]), |(&p, &g)| {
                all_finite([new(p, g, wd)])
            })
        })
    {
        return Err(NonFiniteUpdate);
    }
    for (run, seg) in runs::<T, P>() {
        let wd = wd(seg.role);
        for (p, &g) in params[run.clone()].iter_mut().zip(&grads[run]) {
            *p = new(*p, g, wd);
        }
    }
    Ok(())
}

impl<T: Scalar, P: ParamBlock<T>> Optimizer<T, P> for Sgd<T, Velocity<P>> {
    /// The velocity buffer.
    const STATE_BYTES: usize = size_of::<P>();

    fn step(&mut self, params: &mut P, grads: &P) {
        // Unchecked, the update cannot fail.
        let _ = self.update::<false>(params, grads);
    }

    fn try_step(&mut self, params: &mut P, grads: &P) -> Result<(), NonFiniteUpdate> {
        self.update::<true>(params, grads)
    }
}

/// The per-element constants of one step of SGD with a velocity buffer, over one run.
#[derive(Clone, Copy)]
struct Coefficients<T> {
    wd: T,
    keep: T,
    add: T,
    from_grad: T,
    from_buf: T,
    lr: T,
}

impl<T: Scalar> Coefficients<T> {
    /// The new parameter and velocity of a parameter `p` with gradient `g` and velocity
    /// `b`: the one definition both passes of a step use.
    #[inline(always)]
    fn element(&self, p: T, g: T, b: T) -> [T; 2] {
        let d = g + self.wd * p;
        let b = self.keep * b + self.add * d;
        [p - self.lr * (self.from_grad * d + self.from_buf * b), b]
    }
}

impl<T: Scalar, P: ParamBlock<T>> Sgd<T, Velocity<P>> {
    /// One step; with `CHECK`, a read-only pass first makes sure every new parameter and
    /// velocity is finite, and nothing is written (nor the first step marked as taken) if
    /// one is not.
    #[inline]
    fn update<const CHECK: bool>(
        &mut self,
        params: &mut P,
        grads: &P,
    ) -> Result<(), NonFiniteUpdate> {
        let c = self.config;
        let mu = c.momentum;
        // b ← keep·b + add·g: the first step, and every step without momentum, takes the
        // gradient itself (PyTorch uses no buffer at all without momentum).
        let (keep, add) = if mu == 0.0 || !self.state.started {
            (0.0, 1.0)
        } else {
            (mu, 1.0 - c.dampening)
        };
        // The step direction is from_grad·g + from_buf·b.
        let (from_grad, from_buf) = if c.nesterov && mu != 0.0 {
            (1.0, mu)
        } else {
            (0.0, 1.0)
        };
        let [keep, add, from_grad, from_buf] = [keep, add, from_grad, from_buf].map(T::of);
        let coefficients = |role| Coefficients {
            wd: T::of(c.weight_decay.lambda_for(role)),
            keep,
            add,
            from_grad,
            from_buf,
            lr: self.lr,
        };
        let params = block::as_mut_slice::<T, P>(params);
        let grads = block::as_slice::<T, P>(grads);
        let buf = block::as_mut_slice::<T, P>(&mut self.state.buf);
        if CHECK
            && !runs::<T, P>().all(|(run, seg)| {
                let k = coefficients(seg.role);
                let (p, g, b) = (&params[run.clone()], &grads[run.clone()], &buf[run]);
                all_of(p.iter().zip(g).zip(b), |((&p, &g), &b)| {
                    let [p, b] = k.element(p, g, b);
                    all_finite([p, b])
                })
            })
        {
            return Err(NonFiniteUpdate);
        }
        for (run, seg) in runs::<T, P>() {
            let k = coefficients(seg.role);
            let (p, g, b) = (&mut params[run.clone()], &grads[run.clone()], &mut buf[run]);
            for ((p, &g), b) in p.iter_mut().zip(g).zip(b) {
                [*p, *b] = k.element(*p, g, *b);
            }
        }
        self.state.started = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::DecayScope;

    #[test]
    fn plain_sgd_with_decay_follows_torch() {
        let mut sgd = Sgd::new(0.1f64);
        sgd.config.weight_decay = Decay::all(0.5);
        let mut p = [2.0f64, -4.0];
        sgd.step(&mut p, &[1.0, 1.0]);
        // θ − γ(g + λθ)
        assert_eq!(p, [2.0 - 0.1 * (1.0 + 1.0), -4.0 - 0.1 * (1.0 - 2.0)]);
    }

    #[test]
    fn dampening_does_not_apply_to_the_first_step() {
        let cfg = SgdConfig {
            momentum: 0.5,
            dampening: 0.5,
            ..Default::default()
        };
        let mut sgd = Sgd::with(1.0f64, cfg);
        let mut p = [0.0f64];
        sgd.step(&mut p, &[1.0]);
        assert_eq!(p, [-1.0]); // b = g
        sgd.step(&mut p, &[1.0]);
        assert_eq!(p, [-1.0 - (0.5 + 0.5)]); // b = μb + (1 − τ)g = 1
        sgd.reset();
        sgd.step(&mut p, &[2.0]);
        assert_eq!(p, [-2.0 - 2.0]); // first step again
    }

    #[test]
    fn momentum_zero_ignores_dampening_as_torch_does() {
        let cfg = SgdConfig {
            dampening: 0.9,
            weight_decay: Decay {
                lambda: 0.0,
                scope: DecayScope::All,
            },
            ..Default::default()
        };
        let mut with = Sgd::with(0.5f64, cfg);
        let mut plain = Sgd::new(0.5f64);
        let (mut p, mut q) = ([1.0f64, -3.0], [1.0f64, -3.0]);
        for _ in 0..3 {
            with.step(&mut p, &[0.25, 4.0]);
            plain.step(&mut q, &[0.25, 4.0]);
        }
        assert_eq!(p, q);
    }

    #[test]
    #[should_panic(expected = "Nesterov momentum requires")]
    fn nesterov_without_momentum_is_refused() {
        let _ = Sgd::<f32, Velocity<[f32; 1]>>::with(
            0.1,
            SgdConfig {
                nesterov: true,
                ..Default::default()
            },
        );
    }

    #[test]
    #[should_panic(expected = "no velocity buffer")]
    fn plain_sgd_refuses_momentum() {
        let mut sgd = Sgd::new(0.1f32);
        sgd.config.momentum = 0.9;
        sgd.step(&mut [0.0f32], &[1.0]);
    }

    #[test]
    fn zeroed_is_new_with_zero_lr() {
        let sgd = Sgd::<f64, Velocity<[f64; 2]>>::zeroed();
        assert_eq!(sgd.config, SgdConfig::default());
        assert!(!sgd.state.started);
        assert_eq!(sgd.lr, 0.0);
    }
}
