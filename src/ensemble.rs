//! Ensembles: `K` networks of one type that predict by averaging class probabilities, and
//! bootstrap resampling for bagging.
//!
//! ```
//! use staticnn::ensemble::{Ensemble, bootstrap};
//! use staticnn::prelude::*;
//! use staticnn::rand::{SeedableRng, rngs::Xoshiro128PlusPlus};
//!
//! network! {
//!     struct Net { input: 2, Linear(3) }
//! }
//! let mut rng = Xoshiro128PlusPlus::seed_from_u64(1);
//! let ensemble = Ensemble { members: [Net::<f64>::new(&mut rng), Net::<f64>::new(&mut rng)] };
//! let p = ensemble.probabilities(&SMatrix::<f64, 2, 4>::repeat(0.5));
//! assert!((p.column(0).sum() - 1.0).abs() < 1e-12);
//!
//! // Bagging: each member trains on rows drawn with replacement.
//! let mut rows = [0usize; 10];
//! bootstrap(&mut rows, 10, &mut rng);
//! assert!(rows.iter().all(|&r| r < 10));
//! ```

use bytemuck::Zeroable;
use rand::{Rng, RngExt};

use crate::layers::softmax_columns;
use crate::{Infer, SMatrix, Scalar};

/// `K` networks of one type; their prediction is the mean of their class probabilities
/// (the softmax of each member's output, which must be logits).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ensemble<N, const K: usize> {
    /// The members.
    pub members: [N; K],
}

// SAFETY: an array of zeroable networks.
unsafe impl<N: Zeroable, const K: usize> Zeroable for Ensemble<N, K> {}

impl<N, const K: usize> Ensemble<N, K> {
    /// Mean class probabilities of the members, eval mode.
    pub fn probabilities<T: Scalar, const IN: usize, const OUT: usize, const B: usize>(
        &self,
        x: &SMatrix<T, IN, B>,
    ) -> SMatrix<T, OUT, B>
    where
        N: Infer<T, IN, OUT>,
    {
        let mut mean = SMatrix::<T, OUT, B>::zeros();
        let mut p = SMatrix::<T, OUT, B>::zeros();
        for member in &self.members {
            softmax_columns(member.infer(x).as_slice(), p.as_mut_slice(), OUT);
            mean += p;
        }
        mean / T::of(K as f64)
    }

    /// The class with the highest mean probability, per sample.
    pub fn classify<T: Scalar, const IN: usize, const OUT: usize, const B: usize>(
        &self,
        x: &SMatrix<T, IN, B>,
    ) -> [usize; B]
    where
        N: Infer<T, IN, OUT>,
    {
        crate::metrics::argmax(&self.probabilities(x))
    }
}

/// Fills `rows` with `rows.len()` row numbers drawn uniformly with replacement from
/// `0..n`: a bootstrap resample (Breiman 1996), for one bagged member. Use it with
/// [`Dataset::select`](crate::data::Dataset::select). Leaves `rows` alone when `n` is 0.
pub fn bootstrap<R: Rng + ?Sized>(rows: &mut [usize], n: usize, rng: &mut R) {
    if n == 0 {
        return;
    }
    for r in rows {
        *r = rng.random_range(0..n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::Xoshiro128PlusPlus;

    #[test]
    fn bootstrap_draws_with_replacement_in_range() {
        let mut rng = Xoshiro128PlusPlus::seed_from_u64(4);
        let mut rows = [0usize; 1000];
        bootstrap(&mut rows, 100, &mut rng);
        assert!(rows.iter().all(|&r| r < 100));
        let mut seen = [false; 100];
        for &r in &rows {
            seen[r] = true;
        }
        let distinct = seen.iter().filter(|&&s| s).count();
        // With 1000 draws from 100, essentially every row appears.
        assert!(distinct > 95, "{distinct}");
        // A resample of n from n has about 63 % distinct rows.
        let mut small = [0usize; 100];
        bootstrap(&mut small, 100, &mut rng);
        let mut seen = [false; 100];
        small.iter().for_each(|&r| seen[r] = true);
        let distinct = seen.iter().filter(|&&s| s).count();
        assert!((50..80).contains(&distinct), "{distinct}");
    }
}
