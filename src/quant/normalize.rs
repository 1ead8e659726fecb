//! A `Normalize` that cannot be folded, applied at the float boundary: [`QNormalize`].

use super::{QLayer, QParams, QuantError};
use crate::SMatrix;
use crate::layers::{Normalize, NormalizeState};

/// The channels and positions per channel of a float `Normalize` layer type (the generated
/// twin names its integer form's sizes through this trait).
pub trait Channels {
    /// Channels (one `μ` and `σ` each).
    const C: usize;
    /// Values per channel.
    const S: usize;
}

impl<const C: usize, const S: usize> Channels for Normalize<C, S> {
    const C: usize = C;
    const S: usize = S;
}

/// A network's leading `Normalize` that the inference form could not fold (before a padded
/// convolution or a residual block): `y = (x − μ) / σ` in `f32`, per channel of `S` values,
/// as the float layer computes it, applied by the twin's `quantize_input` before the
/// input is quantised. The int8 forward pass never sees it: its int8 input is the
/// normalised sample's quantisation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QNormalize<const C: usize, const S: usize> {
    /// `μ` per channel.
    pub mean: [f32; C],
    /// `σ` per channel (finite, not zero).
    pub std: [f32; C],
}

const fn f32_at(b: &[u8], at: usize) -> f32 {
    f32::from_bits(u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]))
}

impl<const C: usize, const S: usize> QNormalize<C, S> {
    /// The float layer's statistics.
    ///
    /// # Errors
    ///
    /// [`QuantError::NonFinite`] when a mean or a standard deviation is not finite, or a
    /// standard deviation is zero.
    pub fn from_state(state: &NormalizeState<f32, C>) -> Result<Self, QuantError> {
        let mut q = QNormalize {
            mean: [0.0; C],
            std: [1.0; C],
        };
        for c in 0..C {
            let (m, s) = (state.mean[c], state.std[c]);
            if !m.is_finite() || !s.is_finite() || s == 0.0 {
                return Err(QuantError::NonFinite);
            }
            (q.mean[c], q.std[c]) = (m, s);
        }
        Ok(q)
    }

    /// `x` (columns of `N = C·S` values, channel-major) normalised as the float layer does
    /// (`(x − μ_c) / σ_c` in `f32`), then quantised with `input`.
    pub fn quantize_input<const N: usize, const B: usize>(
        &self,
        input: &QParams,
        x: &SMatrix<f32, N, B>,
    ) -> SMatrix<i8, N, B> {
        const { assert!(N == C * S, "normalize: the width is not C·S") }
        SMatrix::from_fn(|i, b| {
            let c = i / S;
            input.quantize((x[(i, b)] - self.mean[c]) / self.std[c])
        })
    }

    /// Whether `bytes` (`C` means, then `C` standard deviations, `f32` little-endian)
    /// hold usable statistics: all finite, no standard deviation zero.
    pub const fn valid_bytes(bytes: &[u8]) -> bool {
        let mut c = 0;
        while c < 2 * C {
            let v = f32_at(bytes, 4 * c);
            if !v.is_finite() || (c >= C && v == 0.0) {
                return false;
            }
            c += 1;
        }
        true
    }

    /// The statistics in `bytes`.
    pub const fn from_blob_bytes(bytes: &[u8]) -> Self {
        let (mut mean, mut std) = ([0.0f32; C], [1.0f32; C]);
        let mut c = 0;
        while c < C {
            mean[c] = f32_at(bytes, 4 * c);
            std[c] = f32_at(bytes, 4 * (C + c));
            c += 1;
        }
        Self { mean, std }
    }
}

impl<const C: usize, const S: usize> QLayer for QNormalize<C, S> {
    const KIND: u8 = 18;
    const BYTES: usize = 8 * C;
    fn write(&self, out: &mut [u8]) {
        for (o, v) in out
            .chunks_exact_mut(4)
            .zip(self.mean.iter().chain(&self.std))
        {
            o.copy_from_slice(&v.to_bits().to_le_bytes());
        }
    }
    fn check(bytes: &[u8]) -> bool {
        Self::valid_bytes(bytes)
    }
    fn read(&mut self, bytes: &[u8]) {
        *self = Self::from_blob_bytes(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_round_trip_and_bad_ones_are_refused() {
        let q = QNormalize::<2, 3> {
            mean: [0.5, -1.25],
            std: [2.0, 0.1],
        };
        let mut b = [0u8; 16];
        q.write(&mut b);
        assert!(QNormalize::<2, 3>::check(&b));
        let mut back = QNormalize::<2, 3> {
            mean: [0.0; 2],
            std: [1.0; 2],
        };
        back.read(&b);
        assert_eq!(back, q);
        // A zero σ, a NaN μ: refused.
        let mut bad = b;
        bad[12..16].copy_from_slice(&0.0f32.to_bits().to_le_bytes());
        assert!(!QNormalize::<2, 3>::check(&bad));
        let mut bad = b;
        bad[0..4].copy_from_slice(&f32::NAN.to_bits().to_le_bytes());
        assert!(!QNormalize::<2, 3>::check(&bad));
        // A zero μ is fine.
        let mut ok = b;
        ok[0..4].copy_from_slice(&0.0f32.to_bits().to_le_bytes());
        assert!(QNormalize::<2, 3>::check(&ok));

        let p = QParams {
            scale: 0.5,
            zero_point: 1,
        };
        let x = SMatrix::<f32, 6, 1>::from_column_slice(&[0.5, 2.5, 4.5, -1.25, -1.0, -1.5]);
        let y = q.quantize_input(&p, &x);
        // (0.5−0.5)/2 = 0 → 1; (2.5−0.5)/2 = 1 → 3; 2 → 5; 0 → 1; 2.5 → 6 (half away);
        // −2.5 → −4.
        assert_eq!(y.as_slice(), &[1, 3, 5, 1, 6, -4]);
    }
}
