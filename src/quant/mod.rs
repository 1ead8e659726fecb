//! Int8 deployment: post-training quantisation to integer-only networks whose outputs are
//! those of TensorFlow Lite's int8 reference kernels, bit for bit.
//!
//! A network declared with [`network!`](macro@crate::network) whose layers can be quantised
//! (`Linear`, `Conv1d` and `Conv2d` with any groups, `ReLU` right after one of
//! them, `Maxout` (a `ReLU` after it fused), `Tanh`, `Sigmoid`, `ELU`, `LeakyReLU`,
//! `PReLU`, a lone `ReLU`, `Softmax` ([`QSoftmax`]), `MaxPool1d/2d`, `AvgPool1d/2d` (with padding: divided by the
//! whole window, as the float layer), `GlobalAvgPool`, `Flatten`,
//! `Residual(...)` blocks with or without projection (the sum is [`QAdd`], a `ReLU` after
//! it fused), with `BatchNorm` and a leading `Normalize` folded and `Dropout` removed first,
//! as `to_inference()` does; a `BatchNorm` that does not fold is a depthwise `1 × 1`
//! [`conv::QConv2d`], [`conv::QConv2d::batch_norm`]) also gets a generated integer twin `NameInt8` and
//! `Name::<f32>::quantize(calibration)` (also on the inference twin `NameInference<f32>`,
//! giving the same network). A leading `Normalize` that does not fold (before a
//! padded convolution or a residual block) is kept as [`QNormalize`] and applied in `f32`
//! at the boundary:
//!
//! - weights int8, symmetric, one scale per output channel; biases `i32` at `s_in · s_w`;
//! - activations int8 with one scale and zero point per tensor, from the calibration
//!   data's min/max, always including 0, nudged as TensorFlow Lite's converter does
//!   ([`QParams::from_min_max`]);
//! - requantisation by a 32-bit fixed-point multiplier and shift ([`fixed`]); a `ReLU`
//!   after a `Linear` is its output range; `Tanh` and `Sigmoid` are 256-entry tables with
//!   TensorFlow Lite's fixed output scales, the other element-wise activations tables
//!   with calibrated ones ([`QTable`]); `Softmax` is TensorFlow Lite's fixed-point kernel
//!   (output 1/256, −128);
//! - `forward_int8` takes and returns int8 (the firmware path), `quantize_input` and
//!   `dequantize_output` cross the boundary, `forward` and `classify` do both around it;
//!   with a [`QNormalize`], `quantize_input` normalises before quantising, and
//!   `forward_int8`'s input is the normalised sample's quantisation.
//!
//! The forward pass uses integers only and allocates nothing; floating point appears only
//! while quantising and at the `f32` boundary (a kept `Normalize` included). A network with a layer that cannot be
//! quantised (a custom layer) gets a `quantize` that returns [`QuantError::Unsupported`].
//! `tests/int8_tflite.rs` checks the integer networks against TensorFlow Lite fixtures.

pub mod add;
pub mod conv;
pub mod fixed;
mod flash;
#[cfg(all(target_arch = "x86_64", not(staticnn_portable)))]
mod kernels;
mod layers;
pub mod maxout;
pub mod normalize;
pub mod softmax;

use core::fmt;

pub use add::QAdd;
pub use layers::{Fused, QLayer, QLinear, QTable};
pub use maxout::QMaxout;
pub use normalize::QNormalize;
pub use softmax::QSoftmax;

/// The scale and zero point of an int8 tensor: `real = scale · (q − zero_point)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QParams {
    /// The real value of one step.
    pub scale: f32,
    /// The int8 value of real 0.
    pub zero_point: i32,
}

impl QParams {
    /// The output of a `Tanh` table: scale 1/128, zero point 0.
    pub const TANH: QParams = QParams {
        scale: 1.0 / 128.0,
        zero_point: 0,
    };
    /// The output of a `Sigmoid` table: scale 1/256, zero point −128.
    pub const SIGMOID: QParams = QParams {
        scale: 1.0 / 256.0,
        zero_point: -128,
    };

    /// Asymmetric int8 parameters for values in `[min, max]`, as TensorFlow Lite's
    /// converter chooses them: the range is widened to include 0, the scale is
    /// `(max − min) / 255` (in `f32`), and the zero point is taken from
    /// whichever end gives the smaller error, rounded half away from zero and clamped to
    /// int8, so that real 0 is exactly representable. An empty range (all zeros) gives
    /// scale 1 and zero point −128.
    ///
    /// # Errors
    ///
    /// [`QuantError::NonFinite`] when `min` or `max` is not finite, or the range is too
    /// wide for an `f32` scale.
    pub fn from_min_max(min: f32, max: f32) -> Result<Self, QuantError> {
        if !min.is_finite() || !max.is_finite() {
            return Err(QuantError::NonFinite);
        }
        let (min, max) = (min.min(0.0), max.max(0.0));
        let (qmin, qmax) = (-128.0f64, 127.0f64);
        // The scale in `f32`, as the converter computes it (in `f64` it differs by an ulp
        // on some ranges); the zero point in `f64` from that scale.
        let scale = (max - min) / 255.0;
        if !scale.is_finite() {
            return Err(QuantError::NonFinite);
        }
        if scale == 0.0 {
            // All zeros (or a range too small for an `f32` step).
            return Ok(QParams {
                scale: 1.0,
                zero_point: -128,
            });
        }
        let (rmin, rmax, s) = (f64::from(min), f64::from(max), f64::from(scale));
        let from_min = qmin - rmin / s;
        let from_min_error = qmin.abs() + (rmin / s).abs();
        let from_max = qmax - rmax / s;
        let from_max_error = qmax.abs() + (rmax / s).abs();
        let zp = if from_min_error < from_max_error {
            from_min
        } else {
            from_max
        };
        let zero_point = if zp < qmin {
            -128
        } else if zp > qmax {
            127
        } else {
            libm::round(zp) as i32
        };
        Ok(QParams { scale, zero_point })
    }

    /// `x` quantised: `round(x / scale) + zero_point` (half away from zero), clamped to
    /// int8, as TensorFlow Lite's `QUANTIZE`. NaN becomes the zero point.
    pub fn quantize(&self, x: f32) -> i8 {
        let r = libm::roundf(x / self.scale);
        // `as` saturates (NaN to 0), so no value panics.
        (r as i32).saturating_add(self.zero_point).clamp(-128, 127) as i8
    }

    /// `q` as a real value: `scale · (q − zero_point)`.
    pub fn dequantize(&self, q: i8) -> f32 {
        self.scale * (i32::from(q) - self.zero_point) as f32
    }
}

/// Why a network could not be quantised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum QuantError {
    /// The network has a layer that has no integer form yet.
    Unsupported {
        /// The layer's name (or `layer{index}`).
        layer: &'static str,
        /// Its kind as declared (`Conv2d`, `ELU`, …).
        kind: &'static str,
    },
    /// The calibration data set is empty.
    EmptyCalibration,
    /// A weight, a bias or a value seen during calibration is not finite.
    NonFinite,
    /// A tensor's length does not match the layer's geometry ([`conv`]).
    Shape,
}

impl fmt::Display for QuantError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            QuantError::Unsupported { layer, kind } => write!(
                f,
                "layer `{layer}` ({kind}) has no int8 form yet: this network cannot be quantised"
            ),
            QuantError::EmptyCalibration => f.write_str("the calibration data set is empty"),
            QuantError::NonFinite => {
                f.write_str("a weight, bias or calibration activation is not finite")
            }
            QuantError::Shape => {
                f.write_str("a tensor's length does not match the layer's geometry")
            }
        }
    }
}

impl core::error::Error for QuantError {}

/// The integer twin of a network that cannot be quantised: no value of it exists, so its
/// `quantize` can only return an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unquantisable {}

/// The running min/max of one tensor over the calibration samples.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MinMax {
    /// The smallest value seen (`+∞` before any).
    pub min: f32,
    /// The largest value seen (`−∞` before any).
    pub max: f32,
}

impl MinMax {
    /// Nothing seen yet.
    pub const EMPTY: MinMax = MinMax {
        min: f32::INFINITY,
        max: f32::NEG_INFINITY,
    };

    /// Widens the range to every value in `values`.
    ///
    /// # Errors
    ///
    /// [`QuantError::NonFinite`] at the first value that is not finite.
    pub fn see<'a>(&mut self, values: impl IntoIterator<Item = &'a f32>) -> Result<(), QuantError> {
        for &v in values {
            if !v.is_finite() {
                return Err(QuantError::NonFinite);
            }
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
        Ok(())
    }

    /// The tensor's parameters ([`QParams::from_min_max`]).
    ///
    /// # Errors
    ///
    /// [`QuantError::EmptyCalibration`] when nothing was seen.
    pub fn params(&self) -> Result<QParams, QuantError> {
        if self.min > self.max {
            return Err(QuantError::EmptyCalibration);
        }
        QParams::from_min_max(self.min, self.max)
    }
}

/// The architecture fingerprint of an integer network (a `const fn`, FNV-1a over each
/// layer's kind tag and widths), which its blob records.
pub const fn fingerprint(layers: &[(u8, usize, usize)]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut k = 0;
    while k < layers.len() {
        let (kind, i, o) = layers[k];
        let mut bytes = [0u8; 17];
        bytes[0] = kind;
        let (ib, ob) = ((i as u64).to_le_bytes(), (o as u64).to_le_bytes());
        let mut j = 0;
        while j < 8 {
            bytes[1 + j] = ib[j];
            bytes[9 + j] = ob[j];
            j += 1;
        }
        let mut j = 0;
        while j < bytes.len() {
            h ^= bytes[j] as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
            j += 1;
        }
        k += 1;
    }
    h
}

/// A generated integer network (`NameInt8`) as its blob sees it: what the macro writes so
/// that [`io::int8_to_bytes`](crate::io::int8_to_bytes) and
/// [`io::int8_from_bytes`](crate::io::int8_from_bytes) are written once.
pub trait QNetwork {
    /// The architecture fingerprint ([`fingerprint`]).
    const FINGERPRINT: u64;
    /// Bytes of the payload: the input's parameters, then every layer's bytes.
    const PAYLOAD_BYTES: usize;
    /// Writes the payload into `out` (exactly [`PAYLOAD_BYTES`](Self::PAYLOAD_BYTES) long).
    fn write_payload(&self, out: &mut [u8]);
    /// Whether `bytes` (exactly [`PAYLOAD_BYTES`](Self::PAYLOAD_BYTES) long) is a valid payload.
    fn check_payload(bytes: &[u8]) -> bool;
    /// Reads a payload that [`check_payload`](Self::check_payload) accepted.
    fn read_payload(&mut self, bytes: &[u8]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_include_zero_and_zero_is_exact() {
        // Only positive values: the range starts at 0, zero point −128.
        let p = QParams::from_min_max(0.5, 2.55).unwrap();
        assert_eq!((p.scale, p.zero_point), (0.01, -128));
        // Only negative values: zero point 127.
        let p = QParams::from_min_max(-2.55, -1.0).unwrap();
        assert_eq!((p.scale, p.zero_point), (0.01, 127));
        // A symmetric range: real 0 lands on an integer, and is exact.
        let p = QParams::from_min_max(-1.0, 1.0).unwrap();
        assert_eq!(p.zero_point, 0);
        assert_eq!(p.dequantize(p.quantize(0.0)), 0.0);
        let p = QParams::from_min_max(-0.3, 2.0).unwrap();
        assert_eq!(p.dequantize(p.quantize(0.0)), 0.0);
        assert_eq!(p.quantize(-0.3), -128);
        assert_eq!(p.quantize(2.0), 127);
    }

    #[test]
    fn degenerate_ranges_are_handled() {
        let zero = QParams::from_min_max(0.0, 0.0).unwrap();
        assert_eq!((zero.scale, zero.zero_point), (1.0, -128));
        let tiny = QParams::from_min_max(0.0, f32::from_bits(1)).unwrap();
        assert_eq!(tiny, zero);
        assert_eq!(
            QParams::from_min_max(-3e38, 3e38),
            Err(QuantError::NonFinite)
        );
        assert_eq!(
            QParams::from_min_max(f32::NAN, 1.0),
            Err(QuantError::NonFinite)
        );
        assert_eq!(
            QParams::from_min_max(0.0, f32::INFINITY),
            Err(QuantError::NonFinite)
        );
        assert_eq!(MinMax::EMPTY.params(), Err(QuantError::EmptyCalibration));
    }

    #[test]
    fn quantising_rounds_half_away_and_saturates() {
        let p = QParams {
            scale: 0.5,
            zero_point: 3,
        };
        assert_eq!(p.quantize(0.25), 4); // 0.5 → 1
        assert_eq!(p.quantize(-0.25), 2); // −0.5 → −1
        assert_eq!(p.quantize(1e9), 127);
        assert_eq!(p.quantize(-1e9), -128);
        assert_eq!(p.quantize(f32::NAN), 3);
        assert_eq!(p.dequantize(5), 1.0);
    }
}
