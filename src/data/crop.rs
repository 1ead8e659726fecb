//! Crops that change the image size, with the output width checked at compile time.

use rand::{Rng, RngExt};

use crate::{SMatrix, Scalar};

/// A `CH×CW` window of a `C×H×W` image (layout as in [`Chw`](super::Chw)), optionally
/// mirrored left to right: the views of test-time augmentation and of [`RandomCrop`].
///
/// Samples go in as `[T; N]` and come out as `[T; M]`; `N == C·H·W`, `M == C·CH·CW` and
/// `CH ≤ H`, `CW ≤ W` are checked when the code is compiled. Stable Rust cannot compute
/// `C·CH·CW` in a generic signature, so the output width is a parameter the compiler
/// infers from the buffer you pass, and an assertion evaluated at monomorphisation proves
/// it right (`cargo build` reports a mismatch; `cargo check` does not). `typenum` could
/// compute the product as a type, but not turn it back into the `const usize` that
/// [`SMatrix`] and [`Network`](crate::Network) take, so it would not connect to them.
///
/// ```
/// use staticnn::data::Window;
/// // A 1×4×4 image with pixel values 0..16; the centre 2×2 window.
/// let x: [u8; 16] = core::array::from_fn(|i| i as u8);
/// let mut out = [0u8; 4];
/// Window::<1, 4, 4, 2, 2>::CENTRE.extract(&x, &mut out);
/// assert_eq!(out, [5, 6, 9, 10]);
/// Window::<1, 4, 4, 2, 2>::BOTTOM_RIGHT.mirror().extract(&x, &mut out);
/// assert_eq!(out, [11, 10, 15, 14]);
/// ```
///
/// An output buffer of the wrong width does not build:
///
/// ```compile_fail
/// use staticnn::data::Window;
/// let x = [0.0f32; 16];
/// let mut out = [0.0f32; 9]; // a 2×2 crop has 4 pixels
/// Window::<1, 4, 4, 2, 2>::CENTRE.extract(&x, &mut out);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Window<const C: usize, const H: usize, const W: usize, const CH: usize, const CW: usize>
{
    top: usize,
    left: usize,
    mirrored: bool,
}

/// `round(d / 2)` with ties to even, as Python's `round`.
const fn half_to_even(d: usize) -> usize {
    let q = d / 2;
    if d % 2 == 1 && q % 2 == 1 { q + 1 } else { q }
}

impl<const C: usize, const H: usize, const W: usize, const CH: usize, const CW: usize>
    Window<C, H, W, CH, CW>
{
    const FITS: () = assert!(
        C > 0 && CH > 0 && CW > 0 && CH <= H && CW <= W,
        "the crop window must be non-empty and fit in the image"
    );

    /// Features of an input sample: `C·H·W`.
    pub const IN: usize = C * H * W;
    /// Features of a cropped sample: `C·CH·CW`.
    pub const OUT: usize = C * CH * CW;

    /// The window whose top-left pixel is at `(top, left)`, or `None` when it would not fit
    /// in the image.
    pub const fn new(top: usize, left: usize) -> Option<Self> {
        if CH <= H && CW <= W && top <= H - CH && left <= W - CW {
            Some(Window {
                top,
                left,
                mirrored: false,
            })
        } else {
            None
        }
    }

    const fn at(top: usize, left: usize) -> Self {
        let () = Self::FITS;
        Window {
            top,
            left,
            mirrored: false,
        }
    }

    /// The centre window, at `round((H − CH) / 2)`, `round((W − CW) / 2)` rounding halves
    /// to even, as `torchvision.transforms.functional.center_crop`.
    pub const CENTRE: Self = Self::at(
        half_to_even(H.saturating_sub(CH)),
        half_to_even(W.saturating_sub(CW)),
    );
    /// The window in the top-left corner.
    pub const TOP_LEFT: Self = Self::at(0, 0);
    /// The window in the top-right corner.
    pub const TOP_RIGHT: Self = Self::at(0, W.saturating_sub(CW));
    /// The window in the bottom-left corner.
    pub const BOTTOM_LEFT: Self = Self::at(H.saturating_sub(CH), 0);
    /// The window in the bottom-right corner.
    pub const BOTTOM_RIGHT: Self = Self::at(H.saturating_sub(CH), W.saturating_sub(CW));

    /// The ten views of Krizhevsky et al. (2012): the four corner windows and the centre
    /// one, then the same five mirrored. (`torchvision`'s `TenCrop` mirrors the image
    /// before cropping instead; that gives the same views except the mirrored centre when
    /// `W − CW` is odd.)
    pub const TEN_CROP: [Self; 10] = [
        Self::TOP_LEFT,
        Self::TOP_RIGHT,
        Self::BOTTOM_LEFT,
        Self::BOTTOM_RIGHT,
        Self::CENTRE,
        Self::TOP_LEFT.mirror(),
        Self::TOP_RIGHT.mirror(),
        Self::BOTTOM_LEFT.mirror(),
        Self::BOTTOM_RIGHT.mirror(),
        Self::CENTRE.mirror(),
    ];

    /// The same window, mirrored left to right after cropping (or no longer mirrored).
    #[must_use]
    pub const fn mirror(self) -> Self {
        Window {
            mirrored: !self.mirrored,
            ..self
        }
    }

    /// Row of the image that the window's first row is.
    pub const fn top(&self) -> usize {
        self.top
    }

    /// Column of the image that the window's first column is.
    pub const fn left(&self) -> usize {
        self.left
    }

    /// Whether the crop is mirrored.
    pub const fn is_mirrored(&self) -> bool {
        self.mirrored
    }

    /// Copies the window of `x` into `out`: pixel `(c, r, w)` of `out` is pixel
    /// `(c, top + r, left + w)` of `x`, or `(c, top + r, left + CW − 1 − w)` when mirrored.
    pub fn extract<T: Copy, const N: usize, const M: usize>(&self, x: &[T; N], out: &mut [T; M]) {
        const {
            assert!(N == C * H * W, "input width is not C·H·W");
            assert!(M == C * CH * CW, "output width is not C·CH·CW");
        };
        let () = Self::FITS;
        for (c, plane) in out.chunks_exact_mut(CH * CW).enumerate() {
            for (r, row) in plane.chunks_exact_mut(CW).enumerate() {
                let src = (c * H + self.top + r) * W + self.left;
                row.copy_from_slice(&x[src..src + CW]);
                if self.mirrored {
                    row.reverse();
                }
            }
        }
    }

    /// [`extract`](Window::extract) for every sample (column) of a batch.
    pub fn extract_batch<T: Scalar, const N: usize, const M: usize, const B: usize>(
        &self,
        x: &SMatrix<T, N, B>,
        out: &mut SMatrix<T, M, B>,
    ) {
        let inputs = x.as_slice().as_chunks::<N>().0;
        let outputs = out.as_mut_slice().as_chunks_mut::<M>().0;
        for (xi, oi) in inputs.iter().zip(outputs) {
            self.extract(xi, oi);
        }
    }
}

/// A `CH×CW` window at a random place in a `C×H×W` image: the training-time crop of
/// Krizhevsky et al. (2012), `torchvision.transforms.RandomCrop((CH, CW))` without padding.
/// Per sample, `top` is drawn uniformly from `0..=H − CH`, then `left` from `0..=W − CW`.
/// Shapes are checked at compile time as for [`Window`]. Follow it with a
/// [`RandomFlip`](super::RandomFlip) of the cropped shape for the flips.
///
/// ```
/// use staticnn::data::RandomCrop;
/// use staticnn::rand::{SeedableRng, rngs::Xoshiro128PlusPlus};
/// let x = [1.0f32; 3 * 8 * 8];
/// let mut out = [0.0f32; 3 * 6 * 6];
/// RandomCrop::<3, 8, 8, 6, 6>.apply(&x, &mut out, &mut Xoshiro128PlusPlus::seed_from_u64(0));
/// assert_eq!(out, [1.0; 108]);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RandomCrop<
    const C: usize,
    const H: usize,
    const W: usize,
    const CH: usize,
    const CW: usize,
>;

impl<const C: usize, const H: usize, const W: usize, const CH: usize, const CW: usize>
    RandomCrop<C, H, W, CH, CW>
{
    /// Draws a window: `top`, then `left`.
    pub fn window<R: Rng + ?Sized>(&self, rng: &mut R) -> Window<C, H, W, CH, CW> {
        let () = Window::<C, H, W, CH, CW>::FITS;
        let top = rng.random_range(0..=H.saturating_sub(CH));
        let left = rng.random_range(0..=W.saturating_sub(CW));
        Window {
            top,
            left,
            mirrored: false,
        }
    }

    /// Crops one sample at a random place.
    pub fn apply<T: Copy, const N: usize, const M: usize, R: Rng + ?Sized>(
        &self,
        x: &[T; N],
        out: &mut [T; M],
        rng: &mut R,
    ) {
        self.window(rng).extract(x, out);
    }

    /// Crops every sample (column) of a batch, each at its own random place.
    pub fn apply_batch<T: Scalar, const N: usize, const M: usize, const B: usize, R>(
        &self,
        x: &SMatrix<T, N, B>,
        out: &mut SMatrix<T, M, B>,
        rng: &mut R,
    ) where
        R: Rng + ?Sized,
    {
        let inputs = x.as_slice().as_chunks::<N>().0;
        let outputs = out.as_mut_slice().as_chunks_mut::<M>().0;
        for (xi, oi) in inputs.iter().zip(outputs) {
            self.apply(xi, oi, rng);
        }
    }
}
