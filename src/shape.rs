//! Data of any shape for a network's own methods, so that a wrong width is reported by name.
//!
//! `network!` gives every network inherent `forward`, `predict` and `classify` (and, with a
//! loss, `loss` and `train_step`), which method calls such as `net.forward(&x)` find before
//! the [`Network`] and [`Supervised`](crate::Supervised) ones. They do the same, but take
//! their data as a type parameter bounded by the traits of this module, so that data of the
//! wrong width is one labelled error of a few lines:
//!
//! ```text
//! error[E0277]: `Net<f32>` takes 4 inputs per sample, but this data has 5 rows
//! ```
//!
//! where the trait methods, whose parameter is `&SMatrix<T, IN, B>`, give rustc's generic
//! "mismatched types" with both matrix types spelled out. Code generic over [`Network`]
//! calls the trait methods and is unchanged.
//!
//! How it works, for those who extend it: [`Rows`] reads the data's height `R` (and batch)
//! from its type; [`Input`] holds when `R` is the network's input width (its only impl is
//! for every type, marked `#[diagnostic::do_not_recommend]`, so that rustc reports `Input`
//! itself with its `#[diagnostic::on_unimplemented]` message, naming no candidate impl).
//! The generated method both bounds its data by `Input` and writes its return type as a
//! projection of `Input` whose last argument is a projection of `Rows`: rustc normalises the
//! inner projection first (so `R` is known), then the outer one, and reports that failure
//! alone, on the method name, without the "required by a bound" notes a bound would add.
//! Because `R` comes from the data's type, inference works as it did with a matrix
//! parameter: `net.forward(&SMatrix::zeros())` still compiles. [`Labels`] and
//! [`TargetRows`] do the same for the targets of a loss, with [`Targets`] in the role of
//! `Rows`.

use crate::loss::{BceWithLogits, ClassIndex, Hinge, Loss, Mse, SoftmaxCrossEntropy};
use crate::{Network, SMatrix, Scalar};

/// A number of samples carried in a type: a batch of `B`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Samples<const B: usize>;

/// Holds when `R == N`. Implemented for every type, so that rustc names no candidate impl
/// when it does not hold.
pub trait Same<const R: usize, const N: usize> {}

impl<S: ?Sized, const N: usize> Same<N, N> for S {}

/// Data of `R` rows (features), one sample per column: nalgebra's static matrices.
pub trait Rows<T: Scalar, const R: usize> {
    /// How many samples: [`Samples<B>`].
    type Samples;
    /// A matrix of `O` rows with one column per sample: what a network of `O` outputs
    /// returns for this data.
    type Outputs<const O: usize>;
    /// One class index per sample: what `classify` returns for this data.
    type Classes;

    /// Eval-mode forward of `net` ([`Network::forward`]) on this data.
    fn forward<N: Network<T, I, O>, const I: usize, const O: usize>(
        net: &N,
        x: &Self,
    ) -> Self::Outputs<O>;

    /// The index of the largest output of `net` for each sample ([`Network::classify`]).
    fn classify<N: Network<T, I, O>, const I: usize, const O: usize>(
        net: &N,
        x: &Self,
    ) -> Self::Classes;

    /// The data as an `I × B` matrix. `I` must be `R` and `B` the number of samples
    /// (asserted at compile time): what the generated methods call once [`Input`] and
    /// [`Samples`] have checked both.
    #[doc(hidden)]
    fn matrix<const I: usize, const B: usize>(&self) -> &SMatrix<T, I, B>;
}

impl<T: Scalar, const R: usize, const C: usize> Rows<T, R> for SMatrix<T, R, C> {
    type Samples = Samples<C>;
    type Outputs<const O: usize> = SMatrix<T, O, C>;
    type Classes = [usize; C];

    #[inline]
    fn forward<N: Network<T, I, O>, const I: usize, const O: usize>(
        net: &N,
        x: &Self,
    ) -> SMatrix<T, O, C> {
        net.forward(x.matrix::<I, C>())
    }

    #[inline]
    fn classify<N: Network<T, I, O>, const I: usize, const O: usize>(
        net: &N,
        x: &Self,
    ) -> [usize; C] {
        net.classify(x.matrix::<I, C>())
    }

    #[inline(always)]
    fn matrix<const I: usize, const B: usize>(&self) -> &SMatrix<T, I, B> {
        const { assert!(I == R && B == C) };
        // The same type once the assertion holds: the cast compiles to nothing.
        bytemuck::cast_ref(self)
    }
}

/// Data on the heap, as the trait methods take it through deref coercion
/// (`net.forward(&boxed)`).
#[cfg(feature = "alloc")]
impl<T: Scalar, const R: usize, X: Rows<T, R>> Rows<T, R> for alloc::boxed::Box<X> {
    type Samples = X::Samples;
    type Outputs<const O: usize> = X::Outputs<O>;
    type Classes = X::Classes;

    #[inline]
    fn forward<N: Network<T, I, O>, const I: usize, const O: usize>(
        net: &N,
        x: &Self,
    ) -> X::Outputs<O> {
        X::forward(net, x)
    }

    #[inline]
    fn classify<N: Network<T, I, O>, const I: usize, const O: usize>(
        net: &N,
        x: &Self,
    ) -> X::Classes {
        X::classify(net, x)
    }

    #[inline(always)]
    fn matrix<const I: usize, const B: usize>(&self) -> &SMatrix<T, I, B> {
        X::matrix(self)
    }
}

/// Data of `R` rows for the network `Net` of `I` inputs and `O` outputs: holds when
/// `R == I`. `S` is the data's [`Rows::Samples`], named here so that rustc knows `R`
/// before it checks this (see the [module](self) docs).
#[diagnostic::on_unimplemented(
    message = "`{Net}` takes {I} inputs per sample, but this data has {R} rows",
    label = "{R} rows, expected {I}",
    note = "a network's data has one row per input and one column per sample"
)]
pub trait Input<Net, T: Scalar, const R: usize, const I: usize, const O: usize, S>:
    Rows<T, R>
{
    /// What the network returns for this data.
    type Output;
    /// What `classify` returns for this data.
    type Classified;
    /// The same type as `V`: a return type that is checked first (see the
    /// [module](self) docs).
    type Then<V>;

    /// Eval-mode forward of `net` on this data.
    fn forward(net: &Net, x: &Self) -> Self::Output;

    /// The index of the largest output for each sample.
    fn classify(net: &Net, x: &Self) -> Self::Classified;
}

#[diagnostic::do_not_recommend]
impl<X, Net, T, const R: usize, const I: usize, const O: usize, S> Input<Net, T, R, I, O, S> for X
where
    T: Scalar,
    X: Rows<T, R> + Same<R, I>,
    Net: Network<T, I, O>,
{
    type Output = X::Outputs<O>;
    type Classified = X::Classes;
    type Then<V> = V;

    #[inline]
    fn forward(net: &Net, x: &X) -> X::Outputs<O> {
        X::forward(net, x)
    }

    #[inline]
    fn classify(net: &Net, x: &X) -> X::Classes {
        X::classify(net, x)
    }
}

/// Targets of the loss `L` for `K` outputs, one per sample: class labels
/// (`[ClassIndex<K>; B]`) for [`SoftmaxCrossEntropy`] and [`Hinge`], matrices of `K` rows
/// for [`BceWithLogits`] and [`Mse`].
pub trait Targets<L, T: Scalar, const K: usize> {
    /// How many samples: [`Samples<B>`].
    type Samples;

    /// Calls `f` with the targets as `L`'s [`Target`](Loss::Target) for `O` outputs and
    /// `B` samples. `O` must be `K` and `B` the number of samples (asserted at compile
    /// time). Labels are copied (`B` indices) because their type changes; matrices are not.
    #[doc(hidden)]
    fn with<const O: usize, const B: usize, Z, F>(&self, f: F) -> Z
    where
        L: Loss<T, O>,
        F: FnOnce(&<L as Loss<T, O>>::Target<B>) -> Z;
}

macro_rules! label_targets {
    ($($loss:ty),*) => {$(
        impl<T: Scalar, const K: usize, const C: usize> Targets<$loss, T, K>
            for [ClassIndex<K>; C]
        {
            type Samples = Samples<C>;

            #[inline]
            fn with<const O: usize, const B: usize, Z, F>(&self, f: F) -> Z
            where
                F: FnOnce(&<$loss as Loss<T, O>>::Target<B>) -> Z,
            {
                const { assert!(O == K && B == C) };
                f(&core::array::from_fn(|i| self[i].relabel::<O>()))
            }
        }
    )*};
}

label_targets!(SoftmaxCrossEntropy, Hinge);

macro_rules! matrix_targets {
    ($($loss:ty),*) => {$(
        impl<T: Scalar, const K: usize, const C: usize> Targets<$loss, T, K>
            for SMatrix<T, K, C>
        {
            type Samples = Samples<C>;

            #[inline]
            fn with<const O: usize, const B: usize, Z, F>(&self, f: F) -> Z
            where
                F: FnOnce(&<$loss as Loss<T, O>>::Target<B>) -> Z,
            {
                const { assert!(O == K && B == C) };
                f(bytemuck::cast_ref(self))
            }
        }
    )*};
}

matrix_targets!(BceWithLogits, Mse);

/// Targets on the heap, as the trait methods take them through deref coercion.
#[cfg(feature = "alloc")]
impl<L, T: Scalar, const K: usize, Y: Targets<L, T, K>> Targets<L, T, K> for alloc::boxed::Box<Y> {
    type Samples = Y::Samples;

    #[inline]
    fn with<const O: usize, const B: usize, Z, F>(&self, f: F) -> Z
    where
        L: Loss<T, O>,
        F: FnOnce(&<L as Loss<T, O>>::Target<B>) -> Z,
    {
        Y::with::<O, B, Z, F>(self, f)
    }
}

/// Class labels for `K` classes given to the network `Net` of `O` outputs with the loss `L`:
/// holds when `K == O`. `S` is the labels' [`Targets::Samples`] (see [`Input`]).
#[diagnostic::on_unimplemented(
    message = "`{Net}` has {O} outputs (classes), but these labels are for {K} classes",
    label = "labels for {K} classes, expected {O}"
)]
pub trait Labels<Net, L, T: Scalar, const K: usize, const O: usize, S>: Targets<L, T, K> {
    /// The same type as `V`: a return type that is checked first.
    type Then<V>;
}

#[diagnostic::do_not_recommend]
impl<Y, Net, L, T, const K: usize, const O: usize, S> Labels<Net, L, T, K, O, S> for Y
where
    T: Scalar,
    Y: Targets<L, T, K> + Same<K, O>,
{
    type Then<V> = V;
}

/// Target matrices of `K` rows given to the network `Net` of `O` outputs with the loss `L`:
/// holds when `K == O`. `S` is the targets' [`Targets::Samples`] (see [`Input`]).
#[diagnostic::on_unimplemented(
    message = "`{Net}` has {O} outputs, but these targets have {K} rows",
    label = "{K} rows, expected {O}",
    note = "targets have one row per output and one column per sample"
)]
pub trait TargetRows<Net, L, T: Scalar, const K: usize, const O: usize, S>:
    Targets<L, T, K>
{
    /// The same type as `V`: a return type that is checked first.
    type Then<V>;
}

#[diagnostic::do_not_recommend]
impl<Y, Net, L, T, const K: usize, const O: usize, S> TargetRows<Net, L, T, K, O, S> for Y
where
    T: Scalar,
    Y: Targets<L, T, K> + Same<K, O>,
{
    type Then<V> = V;
}
