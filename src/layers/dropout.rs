//! Inverted dropout (Srivastava et al. 2014), PyTorch's `nn.Dropout`.

use bytemuck::Zeroable;
use rand::Rng;

use crate::{Layer, SMatrix, Scalar};

/// Inverted dropout, PyTorch's `nn.Dropout(p)`.
///
/// Train mode zeroes each unit independently with probability `p` and scales the kept ones
/// by `1/(1 − p)`, so the expected output equals the input (the modern form of the
/// weight-scaling inference rule); the mask is saved in the tape for backward. Eval mode is
/// the identity. `p` must lie in `[0, 1)`; `p = 0` is the identity in both modes.
///
/// A unit is kept when a 32-bit draw from the RNG is at least `round(p·2³²)`, so the
/// randomness is the same for `f32` and `f64` networks and on 32- and 64-bit targets.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dropout {
    /// Probability of dropping a unit.
    pub p: f64,
}

impl Default for Dropout {
    fn default() -> Self {
        Dropout { p: 0.5 }
    }
}

/// The dropout mask of a batch: `0` for dropped units, `1/(1 − p)` for kept ones.
#[derive(Clone, Copy, Debug)]
pub struct DropoutTape<T: Scalar, const N: usize, const B: usize> {
    /// The mask, one entry per unit and sample.
    pub mask: SMatrix<T, N, B>,
}

// SAFETY: a zeroable matrix of `T`.
unsafe impl<T: Scalar, const N: usize, const B: usize> Zeroable for DropoutTape<T, N, B> {}

impl Dropout {
    /// The 32-bit threshold below which a draw drops the unit.
    fn threshold(&self) -> u64 {
        let t = self.p * 4294967296.0;
        if t <= 0.0 {
            0
        } else if t >= 4294967296.0 {
            1 << 32
        } else {
            libm::round(t) as u64
        }
    }
}

impl<T: Scalar, const N: usize> Layer<T, N, N> for Dropout {
    type Params = ();
    type State = ();
    type Tape<const B: usize> = DropoutTape<T, N, B>;
    const KIND: &'static str = "Dropout";
    const FLOPS: usize = 0;
    const SEGMENTS: &'static [crate::layout::Segment] = &[];

    fn init_params<R: Rng + ?Sized>(&self, _: &mut (), _: &mut (), _: &mut R) {}

    #[inline]
    fn forward<const B: usize>(
        &self,
        _: &(),
        _: &(),
        x: &SMatrix<T, N, B>,
        y: &mut SMatrix<T, N, B>,
    ) {
        y.copy_from(x);
    }

    fn forward_train<const B: usize, R: Rng + ?Sized>(
        &self,
        _: &(),
        _: &mut (),
        x: &SMatrix<T, N, B>,
        y: &mut SMatrix<T, N, B>,
        tape: &mut Self::Tape<B>,
        rng: &mut R,
    ) {
        let threshold = self.threshold();
        if threshold == 0 {
            tape.mask.fill(T::one());
            y.copy_from(x);
            return;
        }
        // Rounded once from f64, so the factor is the correctly rounded 1/(1 − p).
        let scale = T::of(1.0 / (1.0 - self.p));
        // The draws of a chunk first, then its mask without a branch: whether a unit is kept
        // is a coin toss, which a branch per unit would mispredict half the time (W4's 8 192
        // units: 36 → 12 µs). The draws are taken in the same order either way.
        const CHUNK: usize = 16;
        let mut draws = [0u32; CHUNK];
        let (mask, y, x) = (tape.mask.as_mut_slice(), y.as_mut_slice(), x.as_slice());
        for ((m, y), x) in mask
            .chunks_mut(CHUNK)
            .zip(y.chunks_mut(CHUNK))
            .zip(x.chunks(CHUNK))
        {
            let draws = &mut draws[..m.len()];
            for d in draws.iter_mut() {
                *d = rng.next_u32();
            }
            for (((m, y), &x), &d) in m.iter_mut().zip(y).zip(x).zip(draws.iter()) {
                *m = if u64::from(d) >= threshold {
                    scale
                } else {
                    T::zero()
                };
                *y = *m * x;
            }
        }
    }

    fn backward<const B: usize>(
        &self,
        _: &(),
        _: &SMatrix<T, N, B>,
        _: &SMatrix<T, N, B>,
        tape: &Self::Tape<B>,
        dy: &SMatrix<T, N, B>,
        dx: Option<&mut SMatrix<T, N, B>>,
        _: &mut (),
    ) {
        if let Some(dx) = dx {
            dx.copy_from(dy);
            dx.component_mul_assign(&tape.mask);
        }
    }
}
