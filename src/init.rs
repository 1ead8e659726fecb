//! Weight initialisation schemes (PyTorch's `nn.init` formulas).
//!
//! By default every scheme draws in `f64` from the caller's RNG and rounds to the network's
//! scalar ([`RoundedF64`]), in storage order (column-major: the weights of input 0 to every
//! output, then input 1, …), weights before biases, layer by layer. The same seed therefore
//! gives the same weights bit for bit, and an `f32` network gets exactly the rounded weights
//! of its `f64` twin.
//!
//! On a microcontroller without double-precision hardware that costs kilobytes of software
//! `f64` (about 4.3 kB on a Cortex-M4F). [`Native`] draws the same distributions in the
//! network's own scalar instead, with the fan-dependent factors (`1/√fan_in`, …) computed by
//! the compiler: pass it to [`Network::init_with`](crate::Network::init_with). Its values
//! differ from the default's (and an `f32` network is then no longer its `f64` twin rounded);
//! only the path chosen is compiled in.
//!
//! Use a portable generator such as [`rand::rngs::Xoshiro128PlusPlus`] so that a seed means
//! the same on a 32-bit microcontroller and on a 64-bit host.

use rand::{Rng, RngExt};

use crate::Scalar;

/// How a tensor's initial values are drawn. `fan_in`/`fan_out` are the layer's input and
/// output widths.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// All zeros (shows the symmetry problem when used for weights).
    Zeros,
    /// Every value equal to the constant.
    Constant(f64),
    /// Uniform on `[lo, hi)`.
    Uniform {
        /// Lower bound.
        lo: f64,
        /// Upper bound.
        hi: f64,
    },
    /// Normal with the given mean and standard deviation.
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        std: f64,
    },
    /// Glorot & Bengio 2010: uniform on `±gain·√(6 / (fan_in + fan_out))`.
    XavierUniform {
        /// Gain (1 for linear, sigmoid; 5/3 for tanh in PyTorch's table).
        gain: f64,
    },
    /// Glorot & Bengio 2010: normal with `σ = gain·√(2 / (fan_in + fan_out))`.
    XavierNormal {
        /// Gain.
        gain: f64,
    },
    /// He et al. 2015 (fan-in mode): uniform on `±√3·σ` with `σ = √(2 / (1 + slope²)) / √fan_in`.
    HeUniform {
        /// Negative slope of the following leaky ReLU (0 for ReLU).
        slope: f64,
    },
    /// He et al. 2015 (fan-in mode): normal with `σ = √(2 / (1 + slope²)) / √fan_in`.
    HeNormal {
        /// Negative slope of the following leaky ReLU (0 for ReLU).
        slope: f64,
    },
    /// LeCun: normal with `σ = 1 / √fan_in` (not truncated).
    LecunNormal,
    /// PyTorch's `nn.Linear` default for both weight and bias: uniform on `±1/√fan_in`.
    /// This is the default of `Linear` and `Maxout`.
    TorchDefault,
}

impl Init {
    /// Fills `dst` according to the scheme, drawing in `f64` and rounding ([`RoundedF64`]).
    ///
    /// Always inlined: a layer's scheme is a constant of the generated code, so only the
    /// scheme in use is compiled in (on a microcontroller the others would cost kilobytes).
    #[inline(always)]
    pub fn fill<T: Scalar, R: Rng + ?Sized>(
        &self,
        dst: &mut [T],
        fan_in: usize,
        fan_out: usize,
        rng: &mut R,
    ) {
        let fi = fan_in as f64;
        let fo = fan_out as f64;
        match *self {
            Init::Zeros => dst.fill(T::zero()),
            Init::Constant(c) => dst.fill(T::of(c)),
            Init::Uniform { lo, hi } => uniform(dst, lo, hi, rng),
            Init::Normal { mean, std } => normal(dst, mean, std, rng),
            Init::XavierUniform { gain } => {
                let a = gain * libm::sqrt(6.0 / (fi + fo));
                uniform(dst, -a, a, rng)
            }
            Init::XavierNormal { gain } => {
                normal(dst, 0.0, gain * libm::sqrt(2.0 / (fi + fo)), rng)
            }
            Init::HeUniform { slope } => {
                let a = libm::sqrt(3.0) * he_std(slope, fi);
                uniform(dst, -a, a, rng)
            }
            Init::HeNormal { slope } => normal(dst, 0.0, he_std(slope, fi), rng),
            Init::LecunNormal => normal(dst, 0.0, 1.0 / libm::sqrt(fi), rng),
            Init::TorchDefault => {
                let a = 1.0 / libm::sqrt(fi);
                uniform(dst, -a, a, rng)
            }
        }
    }

    /// Fills `dst` according to the scheme, for a layer with `FAN_IN` inputs and `FAN_OUT`
    /// outputs, drawing as `draw` says: [`RoundedF64`] is [`fill`](Init::fill), [`Native`]
    /// computes in `T`.
    #[inline(always)]
    pub fn fill_with<
        D: Draw,
        T: Scalar,
        R: Rng + ?Sized,
        const FAN_IN: usize,
        const FAN_OUT: usize,
    >(
        &self,
        draw: D,
        dst: &mut [T],
        rng: &mut R,
    ) {
        draw.fill::<T, R, FAN_IN, FAN_OUT>(self, dst, rng)
    }

    /// Fills `dst` according to the scheme, for a tensor whose fans `F` gives (a
    /// convolution's `fan_out` is `out_channels × kernel size`, not a width of the layer),
    /// drawing as `draw` says.
    #[inline(always)]
    pub fn fill_fans<D: Draw, T: Scalar, R: Rng + ?Sized, F: Fans>(
        &self,
        draw: D,
        dst: &mut [T],
        rng: &mut R,
    ) {
        draw.fill_fans::<T, R, F>(self, dst, rng)
    }

    /// [`Native`] drawing: every value computed in `T`.
    #[inline(always)]
    fn fill_native<T: Scalar, R: Rng + ?Sized, F: Fans>(&self, dst: &mut [T], rng: &mut R) {
        // The factors that depend only on the widths, computed by the compiler.
        let inv_sqrt_in = T::of(const { 1.0 / const_sqrt(F::FAN_IN as f64) });
        let xavier_u = T::of(const { const_sqrt(6.0 / (F::FAN_IN + F::FAN_OUT) as f64) });
        let xavier_n = T::of(const { const_sqrt(2.0 / (F::FAN_IN + F::FAN_OUT) as f64) });
        // He's gain √(2 / (1 + slope²)), in `T` (the slope is the scheme's own parameter).
        let he_gain = |slope: f64| {
            let s = T::of(slope);
            (T::of(2.0) / (T::one() + s * s)).sqrt_correct()
        };
        match *self {
            Init::Zeros => dst.fill(T::zero()),
            Init::Constant(c) => dst.fill(T::of(c)),
            Init::Uniform { lo, hi } => uniform_native(dst, T::of(lo), T::of(hi), rng),
            Init::Normal { mean, std } => normal_native(dst, T::of(mean), T::of(std), rng),
            Init::XavierUniform { gain } => {
                let a = T::of(gain) * xavier_u;
                uniform_native(dst, -a, a, rng)
            }
            Init::XavierNormal { gain } => {
                normal_native(dst, T::zero(), T::of(gain) * xavier_n, rng)
            }
            Init::HeUniform { slope } => {
                let a = T::of(const { const_sqrt(3.0) }) * he_gain(slope) * inv_sqrt_in;
                uniform_native(dst, -a, a, rng)
            }
            Init::HeNormal { slope } => {
                normal_native(dst, T::zero(), he_gain(slope) * inv_sqrt_in, rng)
            }
            Init::LecunNormal => normal_native(dst, T::zero(), inv_sqrt_in, rng),
            Init::TorchDefault => uniform_native(dst, -inv_sqrt_in, inv_sqrt_in, rng),
        }
    }
}

/// How [`Init`] schemes compute: in `f64` then rounded ([`RoundedF64`], the default), or in
/// the network's scalar ([`Native`]). Passed by value to
/// [`Network::init_with`](crate::Network::init_with) and
/// [`Layer::init_params_with`](crate::Layer::init_params_with); the choice is a type, so
/// only the chosen arithmetic is compiled in.
pub trait Draw: Copy {
    /// Fills `dst` as `init` says, for a layer with `FAN_IN` inputs and `FAN_OUT` outputs.
    fn fill<T: Scalar, R: Rng + ?Sized, const FAN_IN: usize, const FAN_OUT: usize>(
        self,
        init: &Init,
        dst: &mut [T],
        rng: &mut R,
    );

    /// Fills `dst` as `init` says, for a tensor whose fans `F` gives. The default draws as
    /// [`RoundedF64`] does.
    #[inline(always)]
    fn fill_fans<T: Scalar, R: Rng + ?Sized, F: Fans>(
        self,
        init: &Init,
        dst: &mut [T],
        rng: &mut R,
    ) {
        init.fill(dst, F::FAN_IN, F::FAN_OUT, rng)
    }
}

/// The fans of a tensor as `nn.init._calculate_fan_in_and_fan_out` computes them, as
/// constants: for a `Linear` weight `[out, in]` they are `in` and `out`
/// ([`FanPair`]); for a convolution weight `[out, in/groups, k…]` they are
/// `in/groups × kernel size` and `out × kernel size`.
pub trait Fans {
    /// `fan_in`.
    const FAN_IN: usize;
    /// `fan_out`.
    const FAN_OUT: usize;
}

/// The fans `FAN_IN` and `FAN_OUT` given as numbers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FanPair<const FAN_IN: usize, const FAN_OUT: usize>;

impl<const I: usize, const O: usize> Fans for FanPair<I, O> {
    const FAN_IN: usize = I;
    const FAN_OUT: usize = O;
}

/// The default drawing: in `f64`, rounded to the network's scalar, so that an `f32` network
/// is exactly its `f64` twin rounded (and a seed gives the same weights on every machine).
/// Uniform values take 53 random bits; normal values come from [`standard_normal_pair`] in
/// `f64`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RoundedF64;

impl Draw for RoundedF64 {
    #[inline(always)]
    fn fill<T: Scalar, R: Rng + ?Sized, const FAN_IN: usize, const FAN_OUT: usize>(
        self,
        init: &Init,
        dst: &mut [T],
        rng: &mut R,
    ) {
        init.fill(dst, FAN_IN, FAN_OUT, rng)
    }
}

/// Drawing in the network's own scalar: for `f32`, uniform values from 24 random bits (every
/// value in `[0, 1)` a multiple of 2⁻²⁴, as `rand` draws an `f32`), normal values from
/// [`standard_normal_pair`] in `f32` (Marsaglia's polar method, logarithm and square root in
/// `f32`), the fan-dependent factors
/// (`1/√fan_in`, `√(6 / (fan_in + fan_out))`, …) computed at compile time. No `f64`
/// arithmetic reaches the program as long as the scheme is a constant (as in
/// [`network!`](macro@crate::network), where its `f64` parameters fold into `T` constants);
/// on a Cortex-M4F that saves about 4 kB of flash.
///
/// The distributions are the default's; the values are not (an `f32` network initialised
/// this way is not its `f64` twin rounded), but they are the same for the same seed on
/// every machine. `f64` networks draw 53-bit uniforms.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Native;

impl Draw for Native {
    #[inline(always)]
    fn fill<T: Scalar, R: Rng + ?Sized, const FAN_IN: usize, const FAN_OUT: usize>(
        self,
        init: &Init,
        dst: &mut [T],
        rng: &mut R,
    ) {
        init.fill_native::<T, R, FanPair<FAN_IN, FAN_OUT>>(dst, rng)
    }

    #[inline(always)]
    fn fill_fans<T: Scalar, R: Rng + ?Sized, F: Fans>(
        self,
        init: &Init,
        dst: &mut [T],
        rng: &mut R,
    ) {
        init.fill_native::<T, R, F>(dst, rng)
    }
}

/// `√x` for `x ≥ 0`, correctly rounded or within an ulp, in a `const` context (Newton's
/// iteration from an exponent-halving start).
const fn const_sqrt(x: f64) -> f64 {
    if x <= 0.0 || x.is_infinite() {
        return if x == 0.0 { 0.0 } else { f64::NAN };
    }
    let mut r = if x > 1.0 { x } else { 1.0 };
    // Halve the exponent for a start within a factor of two, then Newton.
    while r * r > 4.0 * x {
        r *= 0.5;
    }
    let mut i = 0;
    while i < 8 {
        r = 0.5 * (r + x / r);
        i += 1;
    }
    r
}

/// A uniform value in `[0, 1)` of `T`, without `f64` arithmetic for `f32`: 24 random bits
/// scaled by 2⁻²⁴ for a 4-byte scalar, 53 bits scaled by 2⁻⁵³ otherwise.
#[inline(always)]
fn unit<T: Scalar, R: Rng + ?Sized>(rng: &mut R) -> T {
    // `from_u32`/`from_u64` never fail for `f32` and `f64`.
    if size_of::<T>() == 4 {
        let bits = T::from_u32(rng.next_u32() >> 8).unwrap_or_else(T::zero);
        bits / T::from_u32(1 << 24).unwrap_or_else(T::one)
    } else {
        let bits = T::from_u64(rng.next_u64() >> 11).unwrap_or_else(T::zero);
        bits / T::from_u64(1 << 53).unwrap_or_else(T::one)
    }
}

fn uniform_native<T: Scalar, R: Rng + ?Sized>(dst: &mut [T], lo: T, hi: T, rng: &mut R) {
    for v in dst {
        *v = lo + (hi - lo) * unit::<T, R>(rng);
    }
}

/// A pair of independent standard normal values in `T`, drawn from `rng` by Marsaglia's
/// polar method. Every normal value the library draws comes from here: [`Init`]'s normal
/// schemes (both [`RoundedF64`], in `f64`, and [`Native`], in the network's scalar) and
/// [`GaussianNoise`](crate::data::GaussianNoise).
///
/// The steps, all in `T`: `u = 2·a − 1` and `v = 2·b − 1` from two uniform values `a`, `b`
/// in `[0, 1)` (for `f32`, 24 bits of [`next_u32`](rand::Rng::next_u32) scaled by 2⁻²⁴;
/// otherwise 53 bits of [`next_u64`](rand::Rng::next_u64) scaled by 2⁻⁵³), drawn again until
/// `0 < s < 1` with `s = u² + v²` (4/π ≈ 1.27 points per pair on average); then
/// `f = √(−2·ln s / s)` and the pair `(u·f, v·f)`. The logarithm is `libm`'s ([`Scalar::ln_libm`]) and the square root is
/// correctly rounded ([`Scalar::sqrt_correct`]), so a seed gives the same bits on every
/// machine and whatever features other crates enable (`tests/libm_maths.rs` checks it).
///
/// ```
/// use staticnn::init::standard_normal_pair;
/// use staticnn::rand::{SeedableRng, rngs::Xoshiro128PlusPlus};
/// let mut rng = Xoshiro128PlusPlus::seed_from_u64(1);
/// let [z0, z1]: [f64; 2] = standard_normal_pair(&mut rng);
/// assert!(z0.is_finite() && z1.is_finite() && z0 != z1);
/// ```
#[inline]
pub fn standard_normal_pair<T: Scalar, R: Rng + ?Sized>(rng: &mut R) -> [T; 2] {
    let two = T::one() + T::one();
    let (u, v, s) = loop {
        let u = two * unit::<T, R>(rng) - T::one();
        let v = two * unit::<T, R>(rng) - T::one();
        let s = u * u + v * v;
        if s > T::zero() && s < T::one() {
            break (u, v, s);
        }
    };
    let f = (-two * s.ln_libm() / s).sqrt_correct();
    [u * f, v * f]
}

/// Fills `dst` with `mean + std·z`, both values of each [`standard_normal_pair`] used in turn.
fn normal_native<T: Scalar, R: Rng + ?Sized>(dst: &mut [T], mean: T, std: T, rng: &mut R) {
    for pair in dst.chunks_mut(2) {
        for (v, z) in pair.iter_mut().zip(standard_normal_pair::<T, R>(rng)) {
            *v = mean + std * z;
        }
    }
}

fn he_std(slope: f64, fan_in: f64) -> f64 {
    libm::sqrt(2.0 / (1.0 + slope * slope)) / libm::sqrt(fan_in)
}

fn uniform<T: Scalar, R: Rng + ?Sized>(dst: &mut [T], lo: f64, hi: f64, rng: &mut R) {
    for v in dst {
        let u: f64 = rng.random();
        *v = T::of(lo + (hi - lo) * u);
    }
}

/// Fills `dst` with `mean + std·z` computed in `f64` and rounded, `z` from
/// [`standard_normal_pair`] in `f64`, both values of each pair used in turn.
fn normal<T: Scalar, R: Rng + ?Sized>(dst: &mut [T], mean: f64, std: f64, rng: &mut R) {
    for pair in dst.chunks_mut(2) {
        for (v, z) in pair.iter_mut().zip(standard_normal_pair::<f64, R>(rng)) {
            *v = T::of(mean + std * z);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::Xoshiro128PlusPlus;

    fn moments(init: Init, fan_in: usize, fan_out: usize) -> (f64, f64, f64, f64) {
        let mut rng = Xoshiro128PlusPlus::seed_from_u64(1);
        let mut v = [0.0f64; 20000];
        init.fill(&mut v, fan_in, fan_out, &mut rng);
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
        let lo = v.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        (mean, libm::sqrt(var), lo, hi)
    }

    #[test]
    fn variances_follow_the_formulas() {
        // σ of U(−a, a) is a/√3.
        let (m, s, lo, hi) = moments(Init::XavierUniform { gain: 1.0 }, 100, 50);
        let a = (6.0f64 / 150.0).sqrt();
        assert!(m.abs() < 0.01 && (s - a / 3f64.sqrt()).abs() < 0.01 * a);
        assert!(lo >= -a && hi < a);
        let (_, s, _, _) = moments(Init::XavierNormal { gain: 1.0 }, 100, 50);
        assert!((s - (2.0f64 / 150.0).sqrt()).abs() < 0.02 * s);
        let (_, s, _, _) = moments(Init::HeNormal { slope: 0.0 }, 200, 10);
        assert!((s - 0.1).abs() < 0.002);
        let (_, s, _, _) = moments(Init::HeUniform { slope: 0.0 }, 200, 10);
        assert!((s - 0.1).abs() < 0.002);
        let (_, s, _, _) = moments(Init::HeNormal { slope: 1.0 }, 100, 10);
        assert!((s - 0.1).abs() < 0.002, "{s}");
        let (_, s, _, _) = moments(Init::LecunNormal, 400, 10);
        assert!((s - 0.05).abs() < 0.001);
        let (m, s, _, _) = moments(
            Init::Normal {
                mean: 3.0,
                std: 0.5,
            },
            1,
            1,
        );
        assert!((m - 3.0).abs() < 0.01 && (s - 0.5).abs() < 0.01);
        let (_, _, lo, hi) = moments(Init::TorchDefault, 16, 1);
        assert!(lo >= -0.25 && hi < 0.25 && lo < -0.24 && hi > 0.24);
        let (_, _, lo, hi) = moments(Init::Uniform { lo: 2.0, hi: 3.0 }, 1, 1);
        assert!(lo >= 2.0 && hi < 3.0);
        assert_eq!(moments(Init::Constant(1.5), 1, 1).2, 1.5);
        assert_eq!(moments(Init::Zeros, 1, 1).3, 0.0);
    }

    #[test]
    fn same_seed_same_bits_and_f32_is_rounded_f64() {
        let mut a = [0.0f32; 64];
        let mut b = [0.0f32; 64];
        let mut c = [0.0f64; 64];
        for (dst, seed) in [(&mut a, 9), (&mut b, 9)] {
            Init::HeNormal { slope: 0.0 }.fill(
                dst,
                8,
                8,
                &mut Xoshiro128PlusPlus::seed_from_u64(seed),
            );
        }
        Init::HeNormal { slope: 0.0 }.fill(&mut c, 8, 8, &mut Xoshiro128PlusPlus::seed_from_u64(9));
        assert_eq!(a.map(f32::to_bits), b.map(f32::to_bits));
        assert_eq!(a, c.map(|v| v as f32));
    }

    /// Mean, standard deviation, minimum and maximum of 20 000 values drawn in `f32` with
    /// [`Native`] for a layer of 64 inputs and 32 outputs.
    fn native_moments(init: Init) -> (f64, f64, f32, f32) {
        let mut rng = Xoshiro128PlusPlus::seed_from_u64(5);
        let mut v = [0.0f32; 20000];
        init.fill_with::<Native, f32, _, 64, 32>(Native, &mut v, &mut rng);
        let n = v.len() as f64;
        let mean = v.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
        let var = v
            .iter()
            .map(|&x| (f64::from(x) - mean).powi(2))
            .sum::<f64>()
            / n;
        let lo = v.iter().copied().fold(f32::INFINITY, f32::min);
        let hi = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        (mean, var.sqrt(), lo, hi)
    }

    #[test]
    fn native_draws_follow_the_same_formulas() {
        // TorchDefault: U(±1/8) for 64 inputs, σ = a/√3.
        let (m, s, lo, hi) = native_moments(Init::TorchDefault);
        assert!(
            lo >= -0.125 && hi < 0.125 && lo < -0.124 && hi > 0.124,
            "{lo} {hi}"
        );
        assert!(
            m.abs() < 0.003 && (s - 0.125 / 3f64.sqrt()).abs() < 0.002,
            "{m} {s}"
        );
        // Xavier uniform: a = √(6/96) = 0.25.
        let (_, s, lo, hi) = native_moments(Init::XavierUniform { gain: 1.0 });
        assert!(lo >= -0.25 && hi < 0.25 && (s - 0.25 / 3f64.sqrt()).abs() < 0.004);
        // Normal schemes by the polar method: σ = √(2/96), √2/8 (He), 1/8 (LeCun).
        let (m, s, _, _) = native_moments(Init::XavierNormal { gain: 1.0 });
        assert!(
            m.abs() < 0.003 && (s - (2.0f64 / 96.0).sqrt()).abs() < 0.003,
            "{m} {s}"
        );
        let (_, s, _, _) = native_moments(Init::HeNormal { slope: 0.0 });
        assert!((s - 2f64.sqrt() / 8.0).abs() < 0.003, "{s}");
        let (_, s, _, _) = native_moments(Init::HeUniform { slope: 0.0 });
        assert!((s - 2f64.sqrt() / 8.0).abs() < 0.003, "{s}");
        let (_, s, _, _) = native_moments(Init::LecunNormal);
        assert!((s - 0.125).abs() < 0.002, "{s}");
        let (m, s, _, _) = native_moments(Init::Normal {
            mean: 3.0,
            std: 0.5,
        });
        assert!((m - 3.0).abs() < 0.01 && (s - 0.5).abs() < 0.01, "{m} {s}");
        assert_eq!(native_moments(Init::Constant(1.5)).2, 1.5);
        assert_eq!(native_moments(Init::Zeros).3, 0.0);
    }

    #[test]
    fn native_f32_uniform_uses_24_bits_and_differs_from_rounded() {
        let mut native = [0.0f32; 8];
        let mut rounded = [0.0f32; 8];
        let draw = |d: &mut [f32], native: bool| {
            let rng = &mut Xoshiro128PlusPlus::seed_from_u64(2);
            if native {
                Init::Uniform { lo: 0.0, hi: 1.0 }.fill_with::<Native, f32, _, 1, 1>(Native, d, rng)
            } else {
                Init::Uniform { lo: 0.0, hi: 1.0 }
                    .fill_with::<RoundedF64, f32, _, 1, 1>(RoundedF64, d, rng)
            }
        };
        draw(&mut native, true);
        draw(&mut rounded, false);
        let mut rng = Xoshiro128PlusPlus::seed_from_u64(2);
        for &v in &native {
            assert_eq!(v, (rng.next_u32() >> 8) as f32 / 16_777_216.0);
        }
        assert_ne!(native, rounded);
    }

    #[test]
    fn const_sqrt_is_exact_enough() {
        for x in [1.0, 2.0, 3.0, 0.0625, 6.0 / 17.0, 784.0, 1e6, 1e-6] {
            let r = const_sqrt(x);
            assert!((r - x.sqrt()).abs() <= f64::EPSILON * r, "{x}: {r}");
        }
        assert_eq!(const_sqrt(0.0), 0.0);
    }
}
