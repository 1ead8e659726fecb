//! A user-defined layer through `Custom(Type)`, width-preserving or with its own widths.
use staticnn::prelude::*;
use staticnn::rand::{Rng, SeedableRng, rngs::Xoshiro128PlusPlus};

/// Doubles its input; keeps the width.
#[derive(Default)]
pub struct Double;

impl<T: Scalar, const N: usize> Layer<T, N, N> for Double {
    type Params = ();
    type State = ();
    type Tape<const B: usize> = ();
    const KIND: &'static str = "Double";
    const FLOPS: usize = N;

    fn init_params<R: Rng + ?Sized>(&self, _: &mut (), _: &mut (), _: &mut R) {}
    fn forward<const B: usize>(
        &self,
        _: &(),
        _: &(),
        x: &SMatrix<T, N, B>,
        y: &mut SMatrix<T, N, B>,
    ) {
        *y = x * T::of(2.0);
    }
    fn backward<const B: usize>(
        &self,
        _: &(),
        _: &SMatrix<T, N, B>,
        _: &SMatrix<T, N, B>,
        _: &(),
        dy: &SMatrix<T, N, B>,
        dx: Option<&mut SMatrix<T, N, B>>,
        _: &mut (),
    ) {
        if let Some(dx) = dx {
            *dx = dy * T::of(2.0);
        }
    }
}

/// Keeps the first `O` of `I` features.
#[derive(Default)]
pub struct Truncate;

impl<T: Scalar, const I: usize, const O: usize> Layer<T, I, O> for Truncate {
    type Params = ();
    type State = ();
    type Tape<const B: usize> = ();
    const KIND: &'static str = "Truncate";
    const FLOPS: usize = 0;

    fn init_params<R: Rng + ?Sized>(&self, _: &mut (), _: &mut (), _: &mut R) {}
    fn forward<const B: usize>(
        &self,
        _: &(),
        _: &(),
        x: &SMatrix<T, I, B>,
        y: &mut SMatrix<T, O, B>,
    ) {
        y.copy_from(&x.fixed_rows::<O>(0));
    }
    fn backward<const B: usize>(
        &self,
        _: &(),
        _: &SMatrix<T, I, B>,
        _: &SMatrix<T, O, B>,
        _: &(),
        dy: &SMatrix<T, O, B>,
        dx: Option<&mut SMatrix<T, I, B>>,
        _: &mut (),
    ) {
        if let Some(dx) = dx {
            dx.fill(T::zero());
            dx.fixed_rows_mut::<O>(0).copy_from(dy);
        }
    }
}

network! {
    struct Net {
        input: 4,
        double: Custom(Double),
        Custom(Truncate, 4 -> 2),
        Linear(1, init = constant(1.0), bias = zeros),
    }
}

fn main() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(5);
    let net = Net::<f64>::new(&mut rng);
    let x = SMatrix::<f64, 4, 1>::from_column_slice(&[1.0, 2.0, 30.0, 40.0]);
    assert_eq!(net.forward(&x)[0], 6.0);
}
