//! `Maxout` in integers: `K` fully connected pieces, each requantised into the layer's one
//! output range, and the largest of the `K` int8 values.
//!
//! Each piece is a [`QLinear`] (per-channel weights, TensorFlow Lite's `FULLY_CONNECTED`
//! arithmetic) whose output parameters are the Maxout's, so that the pieces' int8 values
//! compare as their real values do: requantisation is monotonic, so the maximum of the
//! rounded pieces is the rounded maximum. TensorFlow Lite has no Maxout (a converted model
//! would be `K` fully connected ops, each with its own calibrated range, and `MAXIMUM`s),
//! so `tests/int8.rs` checks it against the float layer.

use nalgebra::SMatrix;

use super::{Fused, QLayer, QLinear, QParams, QuantError};
use crate::layers::{Maxout, MaxoutParams};

/// The number of pieces of a float `Maxout` layer type (the generated twin names its
/// integer form's `K` through this trait).
pub trait Pieces {
    /// Pieces per output.
    const K: usize;
}

impl<const K: usize> Pieces for Maxout<K> {
    const K: usize = K;
}

/// A `Maxout` layer in integers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QMaxout<const I: usize, const O: usize, const K: usize> {
    /// The pieces, all with the layer's output parameters and range.
    pub pieces: [QLinear<I, O>; K],
    /// The output's scale and zero point (the pieces').
    pub output: QParams,
}

impl<const I: usize, const O: usize, const K: usize> QMaxout<I, O, K> {
    /// Quantises a float `Maxout`'s parameters: each piece as [`QLinear::quantize`] into
    /// `output` (a `ReLU` after the layer fused into every piece's range, which is the
    /// same as clamping the maximum).
    ///
    /// # Errors
    ///
    /// [`QuantError::NonFinite`] for a non-finite weight or bias.
    pub fn quantize(
        params: &MaxoutParams<f32, I, O, K>,
        input: QParams,
        output: QParams,
        fused: Fused,
    ) -> Result<Self, QuantError> {
        let mut pieces = [QLinear {
            weight: [[0; I]; O],
            bias: [0; O],
            multiplier: [0; O],
            shift: [0; O],
            input_zero_point: 0,
            output,
            min: -128,
            max: 127,
        }; K];
        for (p, (w, b)) in pieces
            .iter_mut()
            .zip(params.weight.iter().zip(&params.bias))
        {
            *p = QLinear::quantize(w, b, input, output, fused)?;
        }
        Ok(Self { pieces, output })
    }

    /// The layer on a batch of `B` columns: each piece, then the element-wise maximum.
    /// Integers only; the pieces' values are on the stack.
    pub fn forward<const B: usize>(&self, x: &SMatrix<i8, I, B>, y: &mut SMatrix<i8, O, B>) {
        y.fill(i8::MIN);
        let mut piece = SMatrix::<i8, O, B>::zeros();
        for p in &self.pieces {
            p.forward(x, &mut piece);
            for (d, s) in y.iter_mut().zip(piece.iter()) {
                *d = (*d).max(*s);
            }
        }
    }
}

impl<const I: usize, const O: usize, const K: usize> QLayer for QMaxout<I, O, K> {
    const KIND: u8 = 17;
    const BYTES: usize = QParams::BYTES + K * <QLinear<I, O> as QLayer>::BYTES;
    fn write(&self, out: &mut [u8]) {
        let (head, rest) = out.split_at_mut(QParams::BYTES);
        self.output.write(head);
        let n = <QLinear<I, O> as QLayer>::BYTES;
        for (p, o) in self.pieces.iter().zip(rest.chunks_exact_mut(n)) {
            p.write(o);
        }
    }
    fn check(bytes: &[u8]) -> bool {
        Self::valid_bytes(bytes)
    }
    fn read(&mut self, bytes: &[u8]) {
        let (head, rest) = bytes.split_at(QParams::BYTES);
        self.output.read(head);
        let n = <QLinear<I, O> as QLayer>::BYTES;
        for (p, b) in self.pieces.iter_mut().zip(rest.chunks_exact(n)) {
            p.read(b);
        }
    }
}
