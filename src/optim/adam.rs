//! Adam (Kingma & Ba 2015) and AdamW (Loshchilov & Hutter 2019): `torch.optim.Adam` and
//! `torch.optim.AdamW`.

use core::fmt;

use bytemuck::{Pod, Zeroable};

use super::{Decay, LearningRate, NonFiniteUpdate, all_finite, all_of, runs};
use crate::{Optimizer, ParamBlock, Scalar, block};

/// Hyperparameters of [`Adam`] besides the learning rate; `Default` is PyTorch's defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamConfig {
    /// Decay rates `(β₁, β₂)` of the first and second moment estimates (default
    /// `(0.9, 0.999)`).
    pub betas: (f64, f64),
    /// Added to the denominator for stability (default `1e-8`).
    pub eps: f64,
    /// L2-style weight decay, added to the gradient (default none); see [`Decay`].
    pub weight_decay: Decay,
}

impl AdamConfig {
    /// PyTorch's default learning rate for Adam, `1e-3`.
    pub const DEFAULT_LR: f64 = 1e-3;
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig {
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: Decay::NONE,
        }
    }
}

/// Hyperparameters of [`AdamW`] besides the learning rate; `Default` is PyTorch's defaults,
/// with weight decay `0.01`, except that the decay's scope is
/// [`WeightsOnly`](super::DecayScope::WeightsOnly) (PyTorch decays every parameter: use
/// [`Decay::all`] for that).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamWConfig {
    /// Decay rates `(β₁, β₂)` of the first and second moment estimates (default
    /// `(0.9, 0.999)`).
    pub betas: (f64, f64),
    /// Added to the denominator for stability (default `1e-8`).
    pub eps: f64,
    /// Decoupled weight decay (default `Decay::weights(0.01)`): parameters in scope are
    /// multiplied by `1 − γλ` before each update.
    pub weight_decay: Decay,
}

impl AdamWConfig {
    /// PyTorch's default learning rate for AdamW, `1e-3`.
    pub const DEFAULT_LR: f64 = 1e-3;
}

impl Default for AdamWConfig {
    fn default() -> Self {
        AdamWConfig {
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: Decay::weights(0.01),
        }
    }
}

// SAFETY: every field is `Zeroable` (`f64`, a pair of `f64`, `Decay`).
unsafe impl Zeroable for AdamConfig {}
// SAFETY: as for `AdamConfig`.
unsafe impl Zeroable for AdamWConfig {}

/// The state both Adams keep: moment estimates `m` and `v` and the number of steps taken.
#[derive(Clone, Copy)]
struct Moments<P> {
    m: P,
    v: P,
    t: u32,
}

impl<P: Pod> Moments<P> {
    fn reset(&mut self) {
        block::zero(&mut self.m);
        block::zero(&mut self.v);
        self.t = 0;
    }

    /// One Adam step; `decoupled` selects AdamW's decay. With `CHECK`, a read-only pass
    /// first makes sure every new parameter and moment is finite, and nothing is written
    /// (nor the step counted) if one is not.
    #[inline]
    fn step<T: Scalar, const CHECK: bool>(
        &mut self,
        lr: T,
        config: &AdamConfig,
        decoupled: bool,
        params: &mut P,
        grads: &P,
    ) -> Result<(), NonFiniteUpdate>
    where
        P: ParamBlock<T>,
    {
        let (beta1, beta2) = config.betas;
        let steps = self.t.saturating_add(1);
        let t = f64::from(steps);
        // Bias corrections in f64, as PyTorch computes them (in Python floats).
        let bias_correction1 = 1.0 - libm::pow(beta1, t);
        let bias_correction2 = 1.0 - libm::pow(beta2, t);
        let step_size = T::of(lr.as_f64() / bias_correction1);
        let bc2_sqrt = T::of(libm::sqrt(bias_correction2));
        let [w1, keep2, w2, eps] = [1.0 - beta1, beta2, 1.0 - beta2, config.eps].map(T::of);
        let coefficients = |role| {
            let lambda = config.weight_decay.lambda_for(role);
            // Adam adds λθ to the gradient; AdamW multiplies θ by 1 − γλ first.
            let (l2, shrink) = if decoupled {
                (T::zero(), T::of(1.0 - lr.as_f64() * lambda))
            } else {
                (T::of(lambda), T::one())
            };
            Coefficients {
                shrink,
                l2,
                w1,
                keep2,
                w2,
                bc2_sqrt,
                eps,
                step_size,
            }
        };

        let params = block::as_mut_slice::<T, P>(params);
        let grads = block::as_slice::<T, P>(grads);
        let m = block::as_mut_slice::<T, P>(&mut self.m);
        let v = block::as_mut_slice::<T, P>(&mut self.v);
        if CHECK {
            // The quick check first, without square roots and divisions; when it cannot
            // vouch for every element, the exact one decides.
            let inv_eps = T::one() / eps;
            let vouched = runs::<T, P>().all(|(run, seg)| {
                let c = coefficients(seg.role);
                let (p, g) = (&params[run.clone()], &grads[run.clone()]);
                c.quick() && bounded(p, g, &m[run.clone()], &v[run], &c, inv_eps)
            });
            if !vouched
                && !runs::<T, P>().all(|(run, seg)| {
                    let (p, g) = (&params[run.clone()], &grads[run.clone()]);
                    finite(p, g, &m[run.clone()], &v[run], &coefficients(seg.role))
                })
            {
                return Err(NonFiniteUpdate);
            }
        }
        for (run, seg) in runs::<T, P>() {
            let (p, g) = (&mut params[run.clone()], &grads[run.clone()]);
            let (m, v) = (&mut m[run.clone()], &mut v[run]);
            update(p, g, m, v, &coefficients(seg.role));
        }
        self.t = steps;
        Ok(())
    }
}

/// The per-element constants of one Adam step over one run of parameters.
struct Coefficients<T> {
    shrink: T,
    l2: T,
    w1: T,
    keep2: T,
    w2: T,
    bc2_sqrt: T,
    eps: T,
    step_size: T,
}

impl<T: Scalar> Coefficients<T> {
    /// The new parameter and moments of a parameter `p` with gradient `g` and moments `m`
    /// and `v`: the one definition both passes of a step use.
    #[inline(always)]
    fn element(&self, p: T, g: T, m: T, v: T) -> [T; 3] {
        let [p, m, v] = self.moments(p, g, m, v);
        let denom = v.sqrt_correct() / self.bc2_sqrt + self.eps;
        [p - self.step_size * (m / denom), m, v]
    }

    /// The decayed parameter `P` and the new moments `m`, `v`: the part of
    /// [`element`](Self::element) before its square root and division.
    #[inline(always)]
    fn moments(&self, p: T, g: T, m: T, v: T) -> [T; 3] {
        let p = p * self.shrink;
        let g = g + self.l2 * p;
        // m ← β₁m + (1 − β₁)g, written as PyTorch's lerp.
        let m = m + self.w1 * (g - m);
        let v = self.keep2 * v + self.w2 * (g * g);
        [p, m, v]
    }

    /// Whether the quick check ([`bounded`](Self::bounded)) may vouch for this run: `ε` in
    /// `(0, BOUND]` and `√(1 − β₂ᵗ) > 0`. Then for every `v` in `[0, BOUND]`,
    /// `denom = √v/√(1 − β₂ᵗ) + ε ≥ ε` (possibly `+∞`; rounding is monotonic), so
    /// `|m / denom| ≤ |m|/ε`.
    fn quick(&self) -> bool {
        let bound = T::of(BOUND);
        self.eps > T::zero() && self.eps <= bound && self.bc2_sqrt > T::zero()
    }

    /// A sufficient condition for [`element`](Self::element) to give three finite values,
    /// without its square root and division (the bulk of its time): the new `v` is in
    /// `[0, BOUND]`, and `|P| + |γ'|·(|m|·(1/ε)) ≤ BOUND` (`inv_eps` is `1/ε`), which bounds
    /// `|P − γ'·(m/denom)|` by `BOUND` up to a few roundings, so far below the largest
    /// finite value that it cannot overflow. A NaN or an infinity in `P`, `m` or `γ'` makes
    /// the sum NaN or infinite, which fails. Meaningful only when [`quick`](Self::quick)
    /// holds.
    #[inline(always)]
    fn bounded(&self, p: T, g: T, m: T, v: T, inv_eps: T) -> bool {
        let [p, m, v] = self.moments(p, g, m, v);
        let bound = T::of(BOUND);
        let size = p.abs() + self.step_size.abs() * (m.abs() * inv_eps);
        (v >= T::zero()) & (v <= bound) & (size <= bound)
    }
}

/// The largest value the quick checks of Adam and RMSprop let their bounds reach: a quarter
/// of `f32::MAX` (also for `f64`, where it is only more cautious), so that the few
/// roundings between a bound and the value it bounds cannot carry it past the largest
/// finite value.
pub(super) const BOUND: f64 = f32::MAX as f64 / 4.0;

/// Updates `p`, `m` and `v` from `g`, element by element.
///
/// With the `std` feature on x86-64, a copy compiled for AVX (8 `f32` per instruction, and
/// above all per square root and division, which bound this loop) runs when the CPU has it;
/// it gives the same bits (the same correctly rounded operations, no fused multiply-add).
/// [`finite`] is chosen in the same way.
#[inline]
fn update<T: Scalar>(p: &mut [T], g: &[T], m: &mut [T], v: &mut [T], c: &Coefficients<T>) {
    #[cfg(all(feature = "std", target_arch = "x86_64", not(target_feature = "avx")))]
    if std::is_x86_feature_detected!("avx") {
        // SAFETY: the CPU supports AVX, checked just above.
        return unsafe { update_avx(p, g, m, v, c) };
    }
    update_loop(p, g, m, v, c);
}

#[cfg(all(feature = "std", target_arch = "x86_64", not(target_feature = "avx")))]
#[target_feature(enable = "avx")]
fn update_avx<T: Scalar>(p: &mut [T], g: &[T], m: &mut [T], v: &mut [T], c: &Coefficients<T>) {
    update_loop(p, g, m, v, c);
}

#[inline(always)]
fn update_loop<T: Scalar>(p: &mut [T], g: &[T], m: &mut [T], v: &mut [T], c: &Coefficients<T>) {
    for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m).zip(v) {
        [*p, *m, *v] = c.element(*p, g, *m, *v);
    }
}

/// Whether [`update`] would leave every value of `p`, `m` and `v` finite; writes nothing.
#[inline]
fn finite<T: Scalar>(p: &[T], g: &[T], m: &[T], v: &[T], c: &Coefficients<T>) -> bool {
    #[cfg(all(feature = "std", target_arch = "x86_64", not(target_feature = "avx")))]
    if std::is_x86_feature_detected!("avx") {
        // SAFETY: the CPU supports AVX, checked just above.
        return unsafe { finite_avx(p, g, m, v, c) };
    }
    finite_loop(p, g, m, v, c)
}

#[cfg(all(feature = "std", target_arch = "x86_64", not(target_feature = "avx")))]
#[target_feature(enable = "avx")]
fn finite_avx<T: Scalar>(p: &[T], g: &[T], m: &[T], v: &[T], c: &Coefficients<T>) -> bool {
    finite_loop(p, g, m, v, c)
}

/// Whether [`Coefficients::bounded`] vouches for every element; writes nothing.
#[inline]
fn bounded<T: Scalar>(p: &[T], g: &[T], m: &[T], v: &[T], c: &Coefficients<T>, inv: T) -> bool {
    #[cfg(all(feature = "std", target_arch = "x86_64", not(target_feature = "avx")))]
    if std::is_x86_feature_detected!("avx") {
        // SAFETY: the CPU supports AVX, checked just above.
        return unsafe { bounded_avx(p, g, m, v, c, inv) };
    }
    bounded_loop(p, g, m, v, c, inv)
}

#[cfg(all(feature = "std", target_arch = "x86_64", not(target_feature = "avx")))]
#[target_feature(enable = "avx")]
fn bounded_avx<T: Scalar>(p: &[T], g: &[T], m: &[T], v: &[T], c: &Coefficients<T>, inv: T) -> bool {
    bounded_loop(p, g, m, v, c, inv)
}

#[inline(always)]
fn bounded_loop<T: Scalar>(
    p: &[T],
    g: &[T],
    m: &[T],
    v: &[T],
    c: &Coefficients<T>,
    inv: T,
) -> bool {
    all_of(p.iter().zip(g).zip(m).zip(v), |(((&p, &g), &m), &v)| {
        c.bounded(p, g, m, v, inv)
    })
}

#[inline(always)]
fn finite_loop<T: Scalar>(p: &[T], g: &[T], m: &[T], v: &[T], c: &Coefficients<T>) -> bool {
    all_of(p.iter().zip(g).zip(m).zip(v), |(((&p, &g), &m), &v)| {
        let [p, m, v] = c.element(p, g, m, v);
        all_finite([p, m, v])
    })
}

/// Adam, `torch.optim.Adam` (without `amsgrad`).
///
/// With gradient `g`, step count `t`, learning rate `γ` and L2 weight decay `λ` (for the
/// parameters in its scope):
///
/// ```text
/// g ← g + λ·θ
/// m ← β₁·m + (1 − β₁)·g
/// v ← β₂·v + (1 − β₂)·g²
/// θ ← θ − γ/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)
/// ```
///
/// The moments are two blocks of the parameter type `P`, owned by the optimiser and zero
/// initially; `P` is inferred from the network it trains. PyTorch's default learning rate
/// is [`AdamConfig::DEFAULT_LR`] (`1e-3`).
///
/// ```
/// use staticnn::{Adam, Optimizer};
/// let mut adam = Adam::new(0.1);
/// let mut p = [1.0f64, 1.0];
/// adam.step(&mut p, &[4.0, -0.5]);
/// // The first step moves each parameter by about γ against its gradient's sign.
/// assert!((p[0] - 0.9).abs() < 1e-8 && (p[1] - 1.1).abs() < 1e-8);
/// ```
///
/// For a large network, build it on the heap (`alloc` feature) or in zeroed storage:
///
/// ```
/// # #[cfg(feature = "alloc")] {
/// use staticnn::optim::{Adam, AdamConfig};
/// type Big = [f32; 1 << 20]; // stands for a large network's `Params`
/// let adam = Adam::<f32, Big>::boxed(1e-3, AdamConfig::default());
/// // equivalently: `block::zeroed_box::<Adam<f32, Big>>()`, then set `lr` and `config`
/// assert_eq!(adam.steps(), 0);
/// # }
/// ```
#[derive(Clone, Copy)]
pub struct Adam<T, P> {
    /// Learning rate `γ`.
    pub lr: T,
    /// The other hyperparameters.
    pub config: AdamConfig,
    state: Moments<P>,
}

/// AdamW, `torch.optim.AdamW` (without `amsgrad`): Adam with decoupled weight decay.
///
/// Each step first multiplies the parameters in the decay's scope by `1 − γλ`, then takes
/// an [`Adam`] step without L2 decay:
///
/// ```text
/// θ ← θ·(1 − γλ)
/// m ← β₁·m + (1 − β₁)·g
/// v ← β₂·v + (1 − β₂)·g²
/// θ ← θ − γ/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)
/// ```
///
/// The default decay is `0.01`, PyTorch's, but on weight matrices only (see
/// [`AdamWConfig`]). PyTorch's default learning rate is [`AdamWConfig::DEFAULT_LR`]
/// (`1e-3`). The state is as [`Adam`]'s.
///
/// ```
/// use staticnn::{AdamW, Optimizer};
/// use staticnn::optim::{AdamWConfig, Decay};
/// let mut adamw = AdamW::with(0.1, AdamWConfig { weight_decay: Decay::all(0.5), ..Default::default() });
/// let mut p = [2.0f64];
/// adamw.step(&mut p, &[0.0]);
/// assert_eq!(p, [2.0 * (1.0 - 0.1 * 0.5)]); // a zero gradient leaves only the decay
/// ```
#[derive(Clone, Copy)]
pub struct AdamW<T, P> {
    /// Learning rate `γ`.
    pub lr: T,
    /// The other hyperparameters.
    pub config: AdamWConfig,
    state: Moments<P>,
}

// SAFETY: `T` (a scalar), the configuration, two blocks `P` and a `u32` are all `Zeroable`;
// zeroed state is the state before the first step.
unsafe impl<T: Scalar, P: Pod> Zeroable for Adam<T, P> {}
// SAFETY: as for `Adam`.
unsafe impl<T: Scalar, P: Pod> Zeroable for AdamW<T, P> {}

macro_rules! adam_common {
    ($name:ident, $config:ident, $decoupled:literal) => {
        impl<T: Scalar, P: Pod> $name<T, P> {
            /// The optimiser with learning rate `lr` and PyTorch's default hyperparameters,
            /// built on the stack.
            pub fn new(lr: T) -> Self {
                Self::with(lr, $config::default())
            }

            /// The optimiser with learning rate `lr` and the hyperparameters of `config`,
            /// with zeroed moments, built on the stack.
            pub fn with(lr: T, config: $config) -> Self {
                $name {
                    lr,
                    config,
                    state: Moments::zeroed(),
                }
            }

            /// Like [`with`](Self::with), but built zeroed on the heap, never passing
            /// through the stack.
            #[cfg(feature = "alloc")]
            pub fn boxed(lr: T, config: $config) -> alloc::boxed::Box<Self> {
                let mut opt = block::zeroed_box::<Self>();
                opt.lr = lr;
                opt.config = config;
                opt
            }

            /// Number of steps taken since creation or the last [`reset`](Self::reset)
            /// (the `t` of the bias corrections).
            pub fn steps(&self) -> u32 {
                self.state.t
            }

            /// The first and second moment estimates `(m, v)` (zero before the first step).
            pub fn moments(&self) -> (&P, &P) {
                (&self.state.m, &self.state.v)
            }

            /// Zeroes the moments and the step count, in place.
            pub fn reset(&mut self) {
                self.state.reset();
            }

            /// The configuration as the shared step reads it.
            fn adam_config(&self) -> AdamConfig {
                AdamConfig {
                    betas: self.config.betas,
                    eps: self.config.eps,
                    weight_decay: self.config.weight_decay,
                }
            }
        }

        impl<T: Scalar, P> LearningRate<T> for $name<T, P> {
            fn lr(&self) -> T {
                self.lr
            }

            fn set_lr(&mut self, lr: T) {
                self.lr = lr;
            }
        }

        impl<T: Scalar, P: ParamBlock<T>> Optimizer<T, P> for $name<T, P> {
            /// The first and second moments.
            const STATE_BYTES: usize = 2 * size_of::<P>();

            fn step(&mut self, params: &mut P, grads: &P) {
                // Unchecked, the update cannot fail.
                let _ = self.state.step::<T, false>(
                    self.lr,
                    &self.adam_config(),
                    $decoupled,
                    params,
                    grads,
                );
            }

            fn try_step(&mut self, params: &mut P, grads: &P) -> Result<(), NonFiniteUpdate> {
                self.state
                    .step::<T, true>(self.lr, &self.adam_config(), $decoupled, params, grads)
            }
        }

        impl<T: fmt::Debug, P> fmt::Debug for $name<T, P> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("lr", &self.lr)
                    .field("config", &self.config)
                    .field("steps", &self.state.t)
                    .finish_non_exhaustive()
            }
        }
    };
}

adam_common!(Adam, AdamConfig, false);
adam_common!(AdamW, AdamWConfig, true);

// SAFETY: two `Zeroable` blocks and a `u32`.
unsafe impl<P: Zeroable> Zeroable for Moments<P> {}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Adam, written out for one scalar in f64.
    fn reference(steps: &[f64], lr: f64, beta1: f64, beta2: f64, eps: f64, l2: f64) -> f64 {
        let (mut p, mut m, mut v) = (1.5, 0.0, 0.0);
        for (t, &g) in steps.iter().enumerate() {
            let t = (t + 1) as f64;
            let g = g + l2 * p;
            m = beta1 * m + (1.0 - beta1) * g;
            v = beta2 * v + (1.0 - beta2) * g * g;
            let m_hat = m / (1.0 - beta1.powf(t));
            let v_hat = v / (1.0 - beta2.powf(t));
            p -= lr * m_hat / (v_hat.sqrt() + eps);
        }
        p
    }

    #[test]
    fn adam_matches_the_textbook_rule() {
        let grads = [0.3, -1.2, 0.05, 2.0];
        let mut adam = Adam::with(
            0.01f64,
            AdamConfig {
                betas: (0.8, 0.99),
                eps: 1e-6,
                weight_decay: Decay::all(0.1),
            },
        );
        let mut p = [1.5f64];
        for &g in &grads {
            adam.step(&mut p, &[g]);
        }
        let e = reference(&grads, 0.01, 0.8, 0.99, 1e-6, 0.1);
        assert!((p[0] - e).abs() < 1e-14, "{} vs {e}", p[0]);
        assert_eq!(adam.steps(), 4);
        adam.reset();
        assert_eq!(adam.steps(), 0);
    }

    #[test]
    fn weights_only_decay_leaves_other_roles_alone() {
        // An array block is one weight column, so decay applies; a zero gradient moves
        // nothing but the decay.
        let mut adamw = AdamW::with(0.5f64, AdamWConfig::default());
        let mut p = [2.0f64, -2.0];
        adamw.step(&mut p, &[0.0, 0.0]);
        assert_eq!(p, [2.0 * (1.0 - 0.5 * 0.01), -2.0 * (1.0 - 0.5 * 0.01)]);
    }

    #[test]
    fn defaults_are_torch_defaults() {
        let a = AdamConfig::default();
        assert_eq!(
            (a.betas, a.eps, a.weight_decay.lambda),
            ((0.9, 0.999), 1e-8, 0.0)
        );
        let w = AdamWConfig::default();
        assert_eq!(
            (w.betas, w.eps, w.weight_decay.lambda),
            ((0.9, 0.999), 1e-8, 0.01)
        );
        assert_eq!(AdamConfig::DEFAULT_LR, 1e-3);
        assert_eq!(AdamWConfig::DEFAULT_LR, 1e-3);
    }

    /// A generator of adversarial `f32`s: every magnitude from subnormal to `f32::MAX`
    /// (log-uniform), both signs, and now and then 0, ±∞ or NaN.
    pub(crate) struct Wild(pub(crate) u64);

    impl Wild {
        pub(crate) fn bits(&mut self) -> u64 {
            // xorshift64*
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        pub(crate) fn value(&mut self) -> f32 {
            let r = self.bits();
            match r % 64 {
                0 => 0.0,
                1 => f32::INFINITY,
                2 => f32::NAN,
                3 => f32::MAX,
                4..=31 => f32::from_bits((r >> 32) as u32 & 0x7f7f_ffff) * self.sign(),
                // Ordinary training values.
                _ => ((r >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 4.0,
            }
        }

        /// Heads or tails.
        pub(crate) fn coin(&mut self) -> bool {
            self.bits() & 1 == 0
        }

        fn sign(&mut self) -> f32 {
            if self.bits() & 1 == 0 { 1.0 } else { -1.0 }
        }

        /// A positive value, wild or ordinary.
        pub(crate) fn positive(&mut self) -> f32 {
            self.value().abs()
        }
    }

    /// The quick check never vouches for an element whose exact update is not finite:
    /// millions of adversarial elements and coefficients, checked against `element`.
    #[test]
    fn the_quick_check_vouches_only_for_finite_updates() {
        let mut wild = Wild(0x9e37_79b9_7f4a_7c15);
        let (mut vouched, mut refused) = (0u32, 0u32);
        for _ in 0..20_000 {
            let c = Coefficients {
                shrink: if wild.coin() { 1.0 } else { wild.value() },
                l2: if wild.coin() { 0.0 } else { wild.value() },
                w1: wild.value(),
                keep2: wild.value(),
                w2: wild.value(),
                bc2_sqrt: wild.value(),
                eps: wild.positive(),
                step_size: wild.value(),
            };
            let inv_eps = 1.0 / c.eps;
            for _ in 0..100 {
                let [p, g, m] = [wild.value(), wild.value(), wild.value()];
                let v = wild.positive();
                let exact = c.element(p, g, m, v).iter().all(|x| x.is_finite());
                if c.quick() && c.bounded(p, g, m, v, inv_eps) {
                    assert!(exact, "{p} {g} {m} {v}");
                    vouched += 1;
                }
                refused += u32::from(!exact);
            }
        }
        // Both outcomes were exercised.
        assert!(vouched > 10_000 && refused > 10_000, "{vouched} {refused}");
    }

    /// The AVX copy of the update loop gives the same bits as the portable one.
    #[cfg(all(feature = "std", target_arch = "x86_64", not(target_feature = "avx")))]
    #[test]
    fn avx_update_matches_the_portable_loop() {
        if !std::is_x86_feature_detected!("avx") {
            return;
        }
        let c = Coefficients {
            shrink: 0.9999f32,
            l2: 0.01,
            w1: 0.1,
            keep2: 0.999,
            w2: 0.001,
            bc2_sqrt: 0.0447,
            eps: 1e-8,
            step_size: 0.0123,
        };
        let wave = |k: usize, f: f32| libm::sinf(k as f32 * f) * (1.0 + (k % 7) as f32);
        let start = |f: f32| -> [f32; 1003] { core::array::from_fn(|k| wave(k, f)) };
        let g = start(0.37);
        let (mut p1, mut m1) = (start(0.11), start(0.23));
        let mut v1 = start(0.05).map(|x| x * x);
        let (mut p2, mut m2, mut v2) = (p1, m1, v1);
        update_loop(&mut p1, &g, &mut m1, &mut v1, &c);
        // SAFETY: the CPU supports AVX, checked above.
        unsafe { update_avx(&mut p2, &g, &mut m2, &mut v2, &c) };
        let bits = |x: &[f32; 1003]| x.map(f32::to_bits);
        assert_eq!(bits(&p1), bits(&p2));
        assert_eq!(bits(&m1), bits(&m2));
        assert_eq!(bits(&v1), bits(&v2));

        // The AVX copy of the check agrees with the portable one, element by element: a
        // gradient whose square overflows (the second moment) anywhere, in the vector body
        // or the remainder, fails both.
        // SAFETY (each `finite_avx` below): the CPU supports AVX, checked above.
        assert!(finite_loop(&p1, &g, &m1, &v1, &c));
        assert!(unsafe { finite_avx(&p1, &g, &m1, &v1, &c) });
        // The quick check vouches for ordinary values, in both copies.
        assert!(c.quick());
        assert!(bounded_loop(&p1, &g, &m1, &v1, &c, 1.0 / c.eps));
        assert!(unsafe { bounded_avx(&p1, &g, &m1, &v1, &c, 1.0 / c.eps) });
        for at in [0, 7, 500, 1001, 1002] {
            let mut g = g;
            g[at] = 2e19;
            assert!(!finite_loop(&p1, &g, &m1, &v1, &c), "{at}");
            assert!(!unsafe { finite_avx(&p1, &g, &m1, &v1, &c) }, "{at}");
            assert!(!bounded_loop(&p1, &g, &m1, &v1, &c, 1.0 / c.eps), "{at}");
            assert!(
                !unsafe { bounded_avx(&p1, &g, &m1, &v1, &c, 1.0 / c.eps) },
                "{at}"
            );
        }
    }
}
