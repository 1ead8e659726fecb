//! Weight initialisation schemes (PyTorch's `nn.init` formulas).
//!
//! Every scheme draws in `f64` from the caller's RNG and rounds to the network's scalar, in
//! storage order (column-major: the weights of input 0 to every output, then input 1, …),
//! weights before biases, layer by layer. The same seed therefore gives the same weights bit
//! for bit, and an `f32` network gets exactly the rounded weights of its `f64` twin.
//! Use a portable generator such as [`rand::rngs::Xoshiro128PlusPlus`] so that a seed means
//! the same on a 32-bit microcontroller and on a 64-bit host.

use rand::{Rng, RngExt};
use rand_distr::{Distribution, StandardNormal};

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
    /// Fills `dst` according to the scheme.
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

fn normal<T: Scalar, R: Rng + ?Sized>(dst: &mut [T], mean: f64, std: f64, rng: &mut R) {
    for v in dst {
        let z: f64 = StandardNormal.sample(rng);
        *v = T::of(mean + std * z);
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
}
