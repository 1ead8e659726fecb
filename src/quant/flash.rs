//! The int8 entries read from a blob's bytes in `const` evaluation, for
//! [`int8_network_from_blob!`](crate::int8_network_from_blob): each entry has a
//! `const fn valid_bytes` (the value checks of a blob, which [`QLayer::check`] also runs, so
//! that the compile-time and the run-time reader refuse the same bytes) and a
//! `const fn from_blob_bytes` (what [`QLayer::read`] writes, as a new value). The geometry
//! of a convolution or a pooling layer, which the blob does not hold, comes from the float
//! layer's type ([`Geometry`]), as when quantising.
//!
//! Every entry type the macro generates must have both (the generated `const` constructor of
//! `NameInt8` calls them).
//!
//! [`QLayer::check`]: super::QLayer::check
//! [`QLayer::read`]: super::QLayer::read

use super::conv::{Geometry, Pool, QConv2d, QGlobalAvgPool, QPool};
use super::{QAdd, QLinear, QMaxout, QParams, QTable};

/// The little-endian `i32` at `at`.
const fn i32_at(b: &[u8], at: usize) -> i32 {
    i32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Whether `v` is a shift the fixed-point arithmetic accepts (`−31..=30`).
const fn shift_ok(v: i32) -> bool {
    -31 <= v && v <= 30
}

/// Whether `v` is an int8 zero point.
const fn zero_point_ok(v: i32) -> bool {
    -128 <= v && v <= 127
}

impl QParams {
    /// Whether the 8 bytes `bytes` hold usable parameters: a positive finite scale and an
    /// int8 zero point.
    pub const fn valid_bytes(bytes: &[u8]) -> bool {
        let scale = f32::from_bits(i32_at(bytes, 0) as u32);
        scale.is_finite() && scale > 0.0 && zero_point_ok(i32_at(bytes, 4))
    }

    /// The parameters in the 8 bytes `bytes` (scale bits, then zero point, little-endian).
    pub const fn from_blob_bytes(bytes: &[u8]) -> Self {
        QParams {
            scale: f32::from_bits(i32_at(bytes, 0) as u32),
            zero_point: i32_at(bytes, 4),
        }
    }
}

/// The per-channel tail shared by [`QLinear`] and [`QConv2d`] after `n` weights: `c` biases,
/// multipliers and shifts, the input's zero point, the output's parameters, the range.
const fn channels_valid(bytes: &[u8], n: usize, c: usize) -> bool {
    let rest = bytes.split_at(n).1;
    let mut o = 0;
    while o < c {
        if !shift_ok(i32_at(rest, 8 * c + 4 * o)) {
            return false;
        }
        o += 1;
    }
    let at = 12 * c;
    zero_point_ok(i32_at(rest, at))
        && QParams::valid_bytes(rest.split_at(at + 4).1)
        && (rest[at + 12] as i8) <= (rest[at + 13] as i8)
}

/// Reads the per-channel tail of [`channels_valid`] into the given arrays; returns the
/// input's zero point, the output's parameters and the range.
const fn read_channels<const C: usize>(
    rest: &[u8],
    bias: &mut [i32; C],
    multiplier: &mut [i32; C],
    shift: &mut [i32; C],
) -> (i32, QParams, i8, i8) {
    let mut o = 0;
    while o < C {
        bias[o] = i32_at(rest, 4 * o);
        multiplier[o] = i32_at(rest, 4 * (C + o));
        shift[o] = i32_at(rest, 4 * (2 * C + o));
        o += 1;
    }
    let at = 12 * C;
    (
        i32_at(rest, at),
        QParams::from_blob_bytes(rest.split_at(at + 4).1),
        rest[at + 12] as i8,
        rest[at + 13] as i8,
    )
}

/// The `R` rows of `C` int8 weights at the start of `bytes`, row after row.
const fn read_weights<const C: usize, const R: usize>(bytes: &[u8]) -> [[i8; C]; R] {
    let mut weight = [[0i8; C]; R];
    let mut r = 0;
    while r < R {
        let mut c = 0;
        while c < C {
            weight[r][c] = bytes[r * C + c] as i8;
            c += 1;
        }
        r += 1;
    }
    weight
}

impl<const I: usize, const O: usize> QLinear<I, O> {
    /// Whether `bytes` (the layer's `BYTES`) hold a layer the forward pass can use: shifts
    /// in `−31..=30`, an int8 input zero point, valid output parameters, a non-empty range.
    pub const fn valid_bytes(bytes: &[u8]) -> bool {
        channels_valid(bytes, I * O, O)
    }

    /// The layer in `bytes` (the layer's `BYTES`, as a blob stores it).
    pub const fn from_blob_bytes(bytes: &[u8]) -> Self {
        let weight = read_weights::<I, O>(bytes);
        let (mut bias, mut multiplier, mut shift) = ([0i32; O], [0i32; O], [0i32; O]);
        let (input_zero_point, output, min, max) = read_channels(
            bytes.split_at(I * O).1,
            &mut bias,
            &mut multiplier,
            &mut shift,
        );
        Self {
            weight,
            bias,
            multiplier,
            shift,
            input_zero_point,
            output,
            min,
            max,
        }
    }
}

impl QTable {
    /// Whether `bytes` (256 table bytes, then the output's parameters) hold a usable table.
    pub const fn valid_bytes(bytes: &[u8]) -> bool {
        QParams::valid_bytes(bytes.split_at(256).1)
    }

    /// The table in `bytes`.
    pub const fn from_blob_bytes(bytes: &[u8]) -> Self {
        let mut table = [0i8; 256];
        let mut k = 0;
        while k < 256 {
            table[k] = bytes[k] as i8;
            k += 1;
        }
        Self {
            table,
            output: QParams::from_blob_bytes(bytes.split_at(256).1),
        }
    }
}

impl<const KK: usize, const CO: usize> QConv2d<KK, CO> {
    /// Whether `bytes` (the layer's `BYTES`) hold a usable convolution (as
    /// [`QLinear::valid_bytes`]).
    pub const fn valid_bytes(bytes: &[u8]) -> bool {
        channels_valid(bytes, KK * CO, CO)
    }

    /// The convolution in `bytes`, with the geometry of the float layer `L`.
    pub const fn from_blob_bytes<L: Geometry>(bytes: &[u8]) -> Self {
        let weight = read_weights::<KK, CO>(bytes);
        let (mut bias, mut multiplier, mut shift) = ([0i32; CO], [0i32; CO], [0i32; CO]);
        let (input_zero_point, output, min, max) = read_channels(
            bytes.split_at(KK * CO).1,
            &mut bias,
            &mut multiplier,
            &mut shift,
        );
        Self {
            weight,
            bias,
            multiplier,
            shift,
            input_zero_point,
            output,
            min,
            max,
            window: L::WINDOW,
            in_c: L::IN_C,
            depthwise: L::GROUPS != 1 && L::GROUPS == L::IN_C && L::GROUPS == CO,
            groups: L::GROUPS,
        }
    }
}

impl QPool {
    /// Whether `bytes` (the output's parameters) are usable.
    pub const fn valid_bytes(bytes: &[u8]) -> bool {
        QParams::valid_bytes(bytes)
    }

    /// The `pool` layer in `bytes`, with the geometry of the float layer `L` (an average
    /// over a padded window divides by the whole window, as [`QPool::new`] makes it).
    pub const fn from_blob_bytes<L: Geometry>(pool: Pool, bytes: &[u8]) -> Self {
        let output = QParams::from_blob_bytes(bytes);
        let window = L::WINDOW;
        let pool = match pool {
            Pool::Average if window.pad_top != 0 || window.pad_left != 0 => {
                Pool::AverageWithPadding {
                    zero_point: output.zero_point,
                }
            }
            other => other,
        };
        Self {
            pool,
            window,
            channels: L::IN_C,
            output,
        }
    }
}

impl QGlobalAvgPool {
    /// Whether `bytes` (multiplier, shift, input zero point, output parameters) are usable.
    pub const fn valid_bytes(bytes: &[u8]) -> bool {
        shift_ok(i32_at(bytes, 4))
            && zero_point_ok(i32_at(bytes, 8))
            && QParams::valid_bytes(bytes.split_at(12).1)
    }

    /// The layer in `bytes`, over the positions of the float layer `L`.
    pub const fn from_blob_bytes<L: Geometry>(bytes: &[u8]) -> Self {
        Self {
            multiplier: i32_at(bytes, 0),
            shift: i32_at(bytes, 4),
            input_zero_point: i32_at(bytes, 8),
            output: QParams::from_blob_bytes(bytes.split_at(12).1),
            positions: L::WINDOW.in_w,
        }
    }
}

impl QAdd {
    /// Whether `bytes` (two zero points, three multipliers and shifts, the output's
    /// parameters, the range) hold a usable sum.
    pub const fn valid_bytes(bytes: &[u8]) -> bool {
        zero_point_ok(i32_at(bytes, 0))
            && zero_point_ok(i32_at(bytes, 4))
            && shift_ok(i32_at(bytes, 12))
            && shift_ok(i32_at(bytes, 20))
            && shift_ok(i32_at(bytes, 28))
            && QParams::valid_bytes(bytes.split_at(32).1)
            && (bytes[40] as i8) <= (bytes[41] as i8)
    }

    /// The sum in `bytes`.
    pub const fn from_blob_bytes(bytes: &[u8]) -> Self {
        Self {
            zero_point_a: i32_at(bytes, 0),
            zero_point_b: i32_at(bytes, 4),
            multiplier_a: (i32_at(bytes, 8), i32_at(bytes, 12)),
            multiplier_b: (i32_at(bytes, 16), i32_at(bytes, 20)),
            multiplier_out: (i32_at(bytes, 24), i32_at(bytes, 28)),
            output: QParams::from_blob_bytes(bytes.split_at(32).1),
            min: bytes[40] as i8,
            max: bytes[41] as i8,
        }
    }
}

impl<const I: usize, const O: usize, const K: usize> QMaxout<I, O, K> {
    /// Bytes of one piece (as `QLinear<I, O>` stores itself: weights, three `i32` per
    /// channel, the input's zero point, the output's 8 bytes of parameters, the range).
    const PIECE: usize = I * O + 12 * O + 4 + 8 + 2;

    /// Whether `bytes` (the output's parameters, then `K` pieces as [`QLinear`] stores
    /// them) hold a usable layer.
    pub const fn valid_bytes(bytes: &[u8]) -> bool {
        // The output's parameters take 8 bytes.
        let (head, mut rest) = bytes.split_at(8);
        if !QParams::valid_bytes(head) {
            return false;
        }
        let mut k = 0;
        while k < K {
            let (piece, tail) = rest.split_at(Self::PIECE);
            if !QLinear::<I, O>::valid_bytes(piece) {
                return false;
            }
            rest = tail;
            k += 1;
        }
        true
    }

    /// The layer in `bytes`.
    pub const fn from_blob_bytes(bytes: &[u8]) -> Self {
        let (head, mut rest) = bytes.split_at(8);
        let output = QParams::from_blob_bytes(head);
        let empty = QLinear {
            weight: [[0; I]; O],
            bias: [0; O],
            multiplier: [0; O],
            shift: [0; O],
            input_zero_point: 0,
            output,
            min: 0,
            max: 0,
        };
        let mut pieces = [empty; K];
        let mut k = 0;
        while k < K {
            let (piece, tail) = rest.split_at(Self::PIECE);
            pieces[k] = QLinear::<I, O>::from_blob_bytes(piece);
            rest = tail;
            k += 1;
        }
        Self { pieces, output }
    }
}
