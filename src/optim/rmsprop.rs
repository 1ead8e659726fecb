//! RMSprop (Hinton 2012; centred form after Graves 2013): `torch.optim.RMSprop`.

use core::fmt;

use bytemuck::{Pod, Zeroable};

use super::adam::BOUND;
use super::{Decay, LearningRate, NonFiniteUpdate, all_finite, all_of, runs};
use crate::{Optimizer, ParamBlock, Scalar, block};

/// Hyperparameters of [`RmsProp`] besides the learning rate; `Default` is PyTorch's
/// defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RmsPropConfig {
    /// Smoothing constant `α` of the squared-gradient average (default `0.99`).
    pub alpha: f64,
    /// Added to the denominator for stability (default `1e-8`).
    pub eps: f64,
    /// L2-style weight decay, added to the gradient (default none); see [`Decay`].
    pub weight_decay: Decay,
    /// Momentum factor `μ` (default 0).
    pub momentum: f64,
    /// Centred RMSprop (default `false`): normalise by an estimate of the gradient's
    /// variance instead of its second moment.
    pub centered: bool,
}

impl RmsPropConfig {
    /// PyTorch's default learning rate for RMSprop, `1e-2`.
    pub const DEFAULT_LR: f64 = 1e-2;
}

impl Default for RmsPropConfig {
    fn default() -> Self {
        RmsPropConfig {
            alpha: 0.99,
            eps: 1e-8,
            weight_decay: Decay::NONE,
            momentum: 0.0,
            centered: false,
        }
    }
}

// SAFETY: every field is `Zeroable` (`f64`, `Decay`, `bool`).
unsafe impl Zeroable for RmsPropConfig {}

/// RMSprop, `torch.optim.RMSprop`.
///
/// With gradient `g`, learning rate `γ`, L2 weight decay `λ` (for the parameters in its
/// scope), smoothing constant `α` and momentum `μ`:
///
/// ```text
/// g ← g + λ·θ
/// v ← α·v + (1 − α)·g²
/// a ← α·a + (1 − α)·g,  ṽ ← v − a²      if centred
/// ṽ ← v                                 otherwise
/// b ← μ·b + g / (√ṽ + ε),  θ ← θ − γ·b  if μ > 0
/// θ ← θ − γ·g / (√ṽ + ε)                otherwise
/// ```
///
/// The state is three blocks of the parameter type `P` (`v`, `a`, `b`), zero initially,
/// owned by the optimiser; `P` is inferred from the network it trains. The last two are
/// used only when centred and with momentum, but are always there, so that the update is
/// one loop for every configuration. PyTorch's default learning rate is
/// [`RmsPropConfig::DEFAULT_LR`] (`1e-2`).
///
/// ```
/// use staticnn::{Optimizer, RmsProp};
/// let mut rms = RmsProp::new(0.01);
/// let mut p = [0.0f64];
/// rms.step(&mut p, &[3.0]);
/// // v = 0.01·9, so the step is γ·3/√0.09 = 10γ.
/// assert!((p[0] + 0.1).abs() < 1e-7);
/// ```
#[derive(Clone, Copy)]
pub struct RmsProp<T, P> {
    /// Learning rate `γ`.
    pub lr: T,
    /// The other hyperparameters.
    pub config: RmsPropConfig,
    square_avg: P,
    grad_avg: P,
    buf: P,
}

// SAFETY: `T` (a scalar), the configuration and three blocks `P` are all `Zeroable`; zeroed
// state is the state before the first step.
unsafe impl<T: Scalar, P: Pod> Zeroable for RmsProp<T, P> {}

impl<T: Scalar, P: Pod> RmsProp<T, P> {
    /// RMSprop with learning rate `lr` and PyTorch's default hyperparameters, built on the
    /// stack.
    pub fn new(lr: T) -> Self {
        Self::with(lr, RmsPropConfig::default())
    }

    /// RMSprop with learning rate `lr` and the hyperparameters of `config`, with zeroed
    /// state, built on the stack.
    pub fn with(lr: T, config: RmsPropConfig) -> Self {
        let mut rms = Self::zeroed();
        rms.lr = lr;
        rms.config = config;
        rms
    }

    /// Like [`with`](Self::with), but built zeroed on the heap, never passing through the
    /// stack.
    #[cfg(feature = "alloc")]
    pub fn boxed(lr: T, config: RmsPropConfig) -> alloc::boxed::Box<Self> {
        let mut rms = block::zeroed_box::<Self>();
        rms.lr = lr;
        rms.config = config;
        rms
    }

    /// The state `(v, a, b)`: the square average, the gradient average (zero unless
    /// centred) and the momentum buffer (the last step's `g / (√ṽ + ε)` without momentum);
    /// zero before the first step.
    pub fn averages(&self) -> (&P, &P, &P) {
        (&self.square_avg, &self.grad_avg, &self.buf)
    }

    /// Zeroes the state, in place.
    pub fn reset(&mut self) {
        block::zero(&mut self.square_avg);
        block::zero(&mut self.grad_avg);
        block::zero(&mut self.buf);
    }
}

impl<T: Scalar, P> LearningRate<T> for RmsProp<T, P> {
    fn lr(&self) -> T {
        self.lr
    }

    fn set_lr(&mut self, lr: T) {
        self.lr = lr;
    }
}

impl<T: Scalar, P: ParamBlock<T>> Optimizer<T, P> for RmsProp<T, P> {
    /// The square average, the gradient average (used when centred) and the momentum
    /// buffer (used with momentum), all three always kept.
    const STATE_BYTES: usize = 3 * size_of::<P>();

    fn step(&mut self, params: &mut P, grads: &P) {
        // Unchecked, the update cannot fail.
        let _ = self.update::<false>(params, grads);
    }

    fn try_step(&mut self, params: &mut P, grads: &P) -> Result<(), NonFiniteUpdate> {
        self.update::<true>(params, grads)
    }
}

impl<T: Scalar, P: ParamBlock<T>> RmsProp<T, P> {
    /// One step; with `CHECK`, a read-only pass first makes sure every new parameter and
    /// state value is finite, and nothing is written if one is not.
    #[inline]
    fn update<const CHECK: bool>(
        &mut self,
        params: &mut P,
        grads: &P,
    ) -> Result<(), NonFiniteUpdate> {
        let c = self.config;
        // a ← a + w·(g − a): PyTorch's lerp with weight 1 − α when centred; with w = 0, `a`
        // stays 0 and ṽ = v exactly.
        let w = if c.centered { 1.0 - c.alpha } else { 0.0 };
        // Without momentum b ← 0·b + g/(√ṽ + ε), which is the plain step.
        let [alpha, one_minus_alpha, w, mu, eps] =
            [c.alpha, 1.0 - c.alpha, w, c.momentum, c.eps].map(T::of);
        let lr = self.lr;
        let coefficients = |role| Coefficients {
            wd: T::of(c.weight_decay.lambda_for(role)),
            alpha,
            one_minus_alpha,
            w,
            eps,
            mu,
            lr,
        };

        let params = block::as_mut_slice::<T, P>(params);
        let grads = block::as_slice::<T, P>(grads);
        let v = block::as_mut_slice::<T, P>(&mut self.square_avg);
        let a = block::as_mut_slice::<T, P>(&mut self.grad_avg);
        let b = block::as_mut_slice::<T, P>(&mut self.buf);
        if CHECK {
            // The quick check first, without square roots and divisions; when it cannot
            // vouch for every element, the exact one decides.
            let inv_eps = T::one() / eps;
            let vouched = runs::<T, P>().all(|(run, seg)| {
                let k = coefficients(seg.role);
                let (p, g) = (&params[run.clone()], &grads[run.clone()]);
                let vab = [&v[run.clone()], &a[run.clone()], &b[run]];
                k.quick() && bounded(p, g, vab, &k, inv_eps)
            });
            if !vouched
                && !runs::<T, P>().all(|(run, seg)| {
                    let (p, g) = (&params[run.clone()], &grads[run.clone()]);
                    let vab = [&v[run.clone()], &a[run.clone()], &b[run]];
                    finite(p, g, vab, &coefficients(seg.role))
                })
            {
                return Err(NonFiniteUpdate);
            }
        }
        for (run, seg) in runs::<T, P>() {
            let (p, g) = (&mut params[run.clone()], &grads[run.clone()]);
            let (v, a, b) = (&mut v[run.clone()], &mut a[run.clone()], &mut b[run]);
            update(p, g, [v, a, b], &coefficients(seg.role));
        }
        Ok(())
    }
}

/// The per-element constants of one RMSprop step over one run of parameters.
#[derive(Clone, Copy)]
struct Coefficients<T> {
    wd: T,
    alpha: T,
    one_minus_alpha: T,
    w: T,
    eps: T,
    mu: T,
    lr: T,
}

impl<T: Scalar> Coefficients<T> {
    /// The new parameter, square average, gradient average and momentum buffer of a
    /// parameter `p` with gradient `g` and state `v`, `a`, `b`: the one definition both
    /// passes of a step use.
    #[inline(always)]
    fn element(&self, p: T, g: T, v: T, a: T, b: T) -> [T; 4] {
        let [g, v, a, r] = self.averages(p, g, v, a);
        let denom = r.sqrt_correct() + self.eps;
        let b = self.mu * b + g / denom;
        [p - self.lr * b, v, a, b]
    }

    /// The decayed gradient `G`, the new averages `v`, `a` and the variance estimate
    /// `ṽ = v − a²`: the part of [`element`](Self::element) before its square root and
    /// division.
    #[inline(always)]
    fn averages(&self, p: T, g: T, v: T, a: T) -> [T; 4] {
        let g = g + self.wd * p;
        let v = self.alpha * v + self.one_minus_alpha * (g * g);
        let a = a + self.w * (g - a);
        [g, v, a, v - a * a]
    }

    /// Whether the quick check ([`bounded`](Self::bounded)) may vouch for this run: `ε` in
    /// `(0, BOUND]`. Then for every `ṽ` in `[0, BOUND]`, `denom = √ṽ + ε ≥ ε` (rounding is
    /// monotonic), so `|G / denom| ≤ |G|/ε`.
    fn quick(&self) -> bool {
        self.eps > T::zero() && self.eps <= T::of(BOUND)
    }

    /// A sufficient condition for [`element`](Self::element) to give four finite values,
    /// without its square root and division: `ṽ = v − a²` is in `[0, BOUND]` (so `v` and
    /// `a` are finite: an infinite or NaN one makes `ṽ` infinite or NaN), and with
    /// `β = |μ·b| + |G|·(1/ε)` (`inv_eps` is `1/ε`), which bounds the new `|b|` up to a few
    /// roundings, `β ≤ BOUND` and `|θ| + |γ|·β ≤ BOUND`, so that neither the new `b` nor the
    /// new `θ` can overflow. A NaN or an infinity anywhere makes a bound NaN or infinite,
    /// which fails. Meaningful only when [`quick`](Self::quick) holds.
    #[inline(always)]
    fn bounded(&self, p: T, g: T, v: T, a: T, b: T, inv_eps: T) -> bool {
        let [g, _, _, r] = self.averages(p, g, v, a);
        let bound = T::of(BOUND);
        let beta = (self.mu * b).abs() + g.abs() * inv_eps;
        let size = p.abs() + self.lr.abs() * beta;
        (r >= T::zero()) & (r <= bound) & (beta <= bound) & (size <= bound)
    }
}

/// Updates `p` and the square average, gradient average and momentum buffer `[v, a, b]`
/// from `g`, element by element.
///
/// With the `std` feature on x86-64, a copy compiled for AVX (8 `f32` per instruction, and
/// above all per square root and division, which bound this loop) runs when the CPU has it;
/// it gives the same bits (the same correctly rounded operations, no fused multiply-add).
/// [`finite`] is chosen in the same way.
#[inline]
fn update<T: Scalar>(p: &mut [T], g: &[T], vab: [&mut [T]; 3], k: &Coefficients<T>) {
    #[cfg(all(feature = "std", target_arch = "x86_64", not(target_feature = "avx")))]
    if std::is_x86_feature_detected!("avx") {
        // SAFETY: the CPU supports AVX, checked just above.
        return unsafe { update_avx(p, g, vab, k) };
    }
    update_loop(p, g, vab, k);
}

#[cfg(all(feature = "std", target_arch = "x86_64", not(target_feature = "avx")))]
#[target_feature(enable = "avx")]
fn update_avx<T: Scalar>(p: &mut [T], g: &[T], vab: [&mut [T]; 3], k: &Coefficients<T>) {
    update_loop(p, g, vab, k);
}

#[inline(always)]
fn update_loop<T: Scalar>(p: &mut [T], g: &[T], [v, a, b]: [&mut [T]; 3], k: &Coefficients<T>) {
    for ((((p, &g), v), a), b) in p.iter_mut().zip(g).zip(v).zip(a).zip(b) {
        [*p, *v, *a, *b] = k.element(*p, g, *v, *a, *b);
    }
}

/// Whether [`update`] would leave every value of `p`, `v`, `a` and `b` finite; writes
/// nothing.
#[inline]
fn finite<T: Scalar>(p: &[T], g: &[T], vab: [&[T]; 3], k: &Coefficients<T>) -> bool {
    #[cfg(all(feature = "std", target_arch = "x86_64", not(target_feature = "avx")))]
    if std::is_x86_feature_detected!("avx") {
        // SAFETY: the CPU supports AVX, checked just above.
        return unsafe { finite_avx(p, g, vab, k) };
    }
    finite_loop(p, g, vab, k)
}

#[cfg(all(feature = "std", target_arch = "x86_64", not(target_feature = "avx")))]
#[target_feature(enable = "avx")]
fn finite_avx<T: Scalar>(p: &[T], g: &[T], vab: [&[T]; 3], k: &Coefficients<T>) -> bool {
    finite_loop(p, g, vab, k)
}

/// Whether [`Coefficients::bounded`] vouches for every element; writes nothing.
#[inline]
fn bounded<T: Scalar>(p: &[T], g: &[T], vab: [&[T]; 3], k: &Coefficients<T>, inv: T) -> bool {
    #[cfg(all(feature = "std", target_arch = "x86_64", not(target_feature = "avx")))]
    if std::is_x86_feature_detected!("avx") {
        // SAFETY: the CPU supports AVX, checked just above.
        return unsafe { bounded_avx(p, g, vab, k, inv) };
    }
    bounded_loop(p, g, vab, k, inv)
}

#[cfg(all(feature = "std", target_arch = "x86_64", not(target_feature = "avx")))]
#[target_feature(enable = "avx")]
fn bounded_avx<T: Scalar>(p: &[T], g: &[T], vab: [&[T]; 3], k: &Coefficients<T>, inv: T) -> bool {
    bounded_loop(p, g, vab, k, inv)
}

#[inline(always)]
fn bounded_loop<T: Scalar>(
    p: &[T],
    g: &[T],
    [v, a, b]: [&[T]; 3],
    k: &Coefficients<T>,
    inv: T,
) -> bool {
    let items = p.iter().zip(g).zip(v).zip(a).zip(b);
    all_of(items, |((((&p, &g), &v), &a), &b)| {
        k.bounded(p, g, v, a, b, inv)
    })
}

#[inline(always)]
fn finite_loop<T: Scalar>(p: &[T], g: &[T], [v, a, b]: [&[T]; 3], k: &Coefficients<T>) -> bool {
    let items = p.iter().zip(g).zip(v).zip(a).zip(b);
    all_of(items, |((((&p, &g), &v), &a), &b)| {
        let [p, v, a, b] = k.element(p, g, v, a, b);
        all_finite([p, v, a, b])
    })
}

impl<T: fmt::Debug, P> fmt::Debug for RmsProp<T, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RmsProp")
            .field("lr", &self.lr)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Centred RMSprop with momentum, written out for one scalar in f64.
    fn reference(steps: &[f64], lr: f64, alpha: f64, eps: f64, mu: f64, l2: f64) -> f64 {
        let (mut p, mut v, mut a, mut b) = (0.7, 0.0, 0.0, 0.0);
        for &g in steps {
            let g = g + l2 * p;
            v = alpha * v + (1.0 - alpha) * g * g;
            a = alpha * a + (1.0 - alpha) * g;
            b = mu * b + g / ((v - a * a).sqrt() + eps);
            p -= lr * b;
        }
        p
    }

    #[test]
    fn centred_with_momentum_matches_the_textbook_rule() {
        let grads = [0.3, -1.2, 0.05, 2.0];
        let config = RmsPropConfig {
            alpha: 0.9,
            eps: 1e-6,
            weight_decay: Decay::all(0.1),
            momentum: 0.6,
            centered: true,
        };
        let mut rms = RmsProp::with(0.01f64, config);
        let mut p = [0.7f64];
        for &g in &grads {
            rms.step(&mut p, &[g]);
        }
        let e = reference(&grads, 0.01, 0.9, 1e-6, 0.6, 0.1);
        assert!((p[0] - e).abs() < 1e-14, "{} vs {e}", p[0]);
        rms.reset();
        assert_eq!(rms.square_avg, [0.0]);
    }

    #[test]
    fn defaults_are_torch_defaults() {
        let c = RmsPropConfig::default();
        assert_eq!(
            (
                c.alpha,
                c.eps,
                c.weight_decay.lambda,
                c.momentum,
                c.centered
            ),
            (0.99, 1e-8, 0.0, 0.0, false)
        );
        assert_eq!(RmsPropConfig::DEFAULT_LR, 1e-2);
    }

    /// The quick check never vouches for an element whose exact update is not finite:
    /// millions of adversarial elements and coefficients, checked against `element`.
    #[test]
    fn the_quick_check_vouches_only_for_finite_updates() {
        let mut wild = crate::optim::adam::tests::Wild(0x2545_f491_4f6c_dd1d);
        let (mut vouched, mut refused) = (0u32, 0u32);
        for _ in 0..20_000 {
            let alpha = wild.value();
            let k = Coefficients {
                wd: if wild.coin() { 0.0 } else { wild.value() },
                alpha,
                one_minus_alpha: if wild.coin() {
                    1.0 - alpha
                } else {
                    wild.value()
                },
                w: if wild.coin() { 0.0 } else { wild.value() },
                eps: wild.positive(),
                mu: if wild.coin() { 0.0 } else { wild.value() },
                lr: wild.value(),
            };
            let inv_eps = 1.0 / k.eps;
            for _ in 0..100 {
                let [p, g, a, b] = [wild.value(), wild.value(), wild.value(), wild.value()];
                let v = wild.positive();
                let exact = k.element(p, g, v, a, b).iter().all(|x| x.is_finite());
                if k.quick() && k.bounded(p, g, v, a, b, inv_eps) {
                    assert!(exact, "{p} {g} {v} {a} {b}");
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
        let k = Coefficients {
            wd: 0.01f32,
            alpha: 0.99,
            one_minus_alpha: 0.01,
            w: 0.01,
            eps: 1e-8,
            mu: 0.9,
            lr: 0.0123,
        };
        let wave = |i: usize, f: f32| libm::sinf(i as f32 * f) * (1.0 + (i % 7) as f32);
        let start = |f: f32| -> [f32; 1003] { core::array::from_fn(|i| wave(i, f)) };
        let g = start(0.37);
        let (mut p1, mut a1, mut b1) = (start(0.11), start(0.23), start(0.31));
        // The square average dominates the squared gradient average, as it does in use.
        let mut v1: [f32; 1003] = core::array::from_fn(|i| a1[i] * a1[i] + wave(i, 0.05).abs());
        let (mut p2, mut v2, mut a2, mut b2) = (p1, v1, a1, b1);
        update_loop(&mut p1, &g, [&mut v1, &mut a1, &mut b1], &k);
        // SAFETY: the CPU supports AVX, checked above.
        unsafe { update_avx(&mut p2, &g, [&mut v2, &mut a2, &mut b2], &k) };
        let bits = |x: &[f32; 1003]| x.map(f32::to_bits);
        assert_eq!(bits(&p1), bits(&p2));
        assert_eq!(bits(&v1), bits(&v2));
        assert_eq!(bits(&a1), bits(&a2));
        assert_eq!(bits(&b1), bits(&b2));

        // The AVX copy of the check agrees with the portable one: an update that overflows
        // anywhere, in the vector body or the remainder, fails both.
        // SAFETY (each `finite_avx` below): the CPU supports AVX, checked above.
        assert!(finite_loop(&p1, &g, [&v1, &a1, &b1], &k));
        assert!(unsafe { finite_avx(&p1, &g, [&v1, &a1, &b1], &k) });
        // The quick check vouches for ordinary values, in both copies.
        assert!(k.quick());
        assert!(bounded_loop(&p1, &g, [&v1, &a1, &b1], &k, 1.0 / k.eps));
        assert!(unsafe { bounded_avx(&p1, &g, [&v1, &a1, &b1], &k, 1.0 / k.eps) });
        for at in [0, 7, 500, 1001, 1002] {
            let mut g = g;
            g[at] = 2e19;
            assert!(!finite_loop(&p1, &g, [&v1, &a1, &b1], &k), "{at}");
            assert!(!unsafe { finite_avx(&p1, &g, [&v1, &a1, &b1], &k) }, "{at}");
            let quick = bounded_loop(&p1, &g, [&v1, &a1, &b1], &k, 1.0 / k.eps);
            assert!(!quick, "{at}");
            assert!(
                !unsafe { bounded_avx(&p1, &g, [&v1, &a1, &b1], &k, 1.0 / k.eps) },
                "{at}"
            );
        }
    }
}
