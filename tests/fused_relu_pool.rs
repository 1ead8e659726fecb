//! A `ReLU` followed by a max pooling trains as one step (`ReluMaxPool`): the train-mode
//! forward writes both layers' outputs in one pass, and backward writes the gradient of the
//! `ReLU`'s input from the pooling's input without the pooling's own gradient in between.
//! On x86-64 the eval `forward` pools the `ReLU` of each input too (the layer before the
//! `ReLU` writes its output alone), without keeping it. It must give the bits of the two
//! layers one after the other: each network here is compared with its twin whose `ReLU`s
//! are declared `Custom(ReLU)` (a custom layer is never fused), on the output of `forward`
//! and of `forward_train`, every tape field, every parameter gradient and the input
//! gradient, for `backward`, `backward_overwrite` and `backward_overwrite_finite`. The
//! pairs sit after the first layer and later, last in the network, behind a `ReLU` that is
//! the first layer (not fused: it has no gradient buffer), on 2 × 2 windows (the AVX-512
//! kernels in `f32`), overlapping padded windows and 1-D ones; the inputs hold ties, zeros,
//! NaNs and infinities, and the output gradients infinities (so that `g · 0` is NaN).

use staticnn::layers::ReLU;
use staticnn::prelude::*;
use staticnn::rand::rngs::Xoshiro128PlusPlus;
use staticnn::rand::{RngExt, SeedableRng};

macro_rules! twins {
    ($fused:ident, $plain:ident, $input:tt, [$($a:tt)*], [$($b:tt)*], [$($c:tt)*]) => {
        network! {
            /// The fused network.
            struct $fused { input: $input, $($a)* r1: ReLU, $($b)* r2: ReLU, $($c)* }
        }
        network! {
            /// Its twin, layer by layer.
            struct $plain { input: $input, $($a)* r1: Custom(ReLU), $($b)* r2: Custom(ReLU), $($c)* }
        }
    };
}

twins!(
    Images,
    ImagesPlain,
    [2, 8, 8],
    [c1: Conv2d(4, kernel = 3, padding = 1),],
    [p1: MaxPool2d(2), c2: Conv2d(4, kernel = 3, padding = 1),],
    [p2: MaxPool2d(kernel = 3, stride = 2, padding = 1), Flatten, fc: Linear(6),]
);

twins!(
    Sequences,
    SequencesPlain,
    [3, 12],
    [c1: Conv1d(4, kernel = 3, padding = 1),],
    [p1: MaxPool1d(2), c2: Conv1d(5, kernel = 2),],
    [p2: MaxPool1d(kernel = 3, stride = 1, padding = 1),]
);

twins!(
    ReluFirst,
    ReluFirstPlain,
    [2, 8, 36],
    [],
    [p1: MaxPool2d(2), c2: Conv2d(3, kernel = 3),],
    [p2: MaxPool2d(2),]
);

/// `a` and `b` bit for bit.
fn same<T: Scalar>(what: &str, a: &[T], b: &[T]) {
    assert_eq!(a.len(), b.len(), "{what}");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert_eq!(
            x.as_f64().to_bits(),
            y.as_f64().to_bits(),
            "{what}[{i}]: {x:?} fused, {y:?} layer by layer"
        );
    }
}

/// A value with ties, zeros of both signs, and a few NaNs and infinities among the draws
/// (rare enough that most of the convolutions' outputs stay finite).
fn value<T: Scalar>(rng: &mut Xoshiro128PlusPlus) -> T {
    T::of(match rng.random_range(0..400) {
        0 => f64::NAN,
        1 => f64::INFINITY,
        2 => f64::NEG_INFINITY,
        3..=20 => 0.0,
        21..=40 => -0.0,
        41..=80 => 0.5,
        _ => rng.random::<f64>() * 4.0 - 2.0,
    })
}

/// Runs one train step of `$fused` and `$plain` (the same parameters) on a batch of `$b`
/// samples and compares everything each writes; `$fields` are the tape fields and
/// `$params` the layers with parameters.
macro_rules! compare {
    ($t:ty, $fused:ident, $plain:ident, $i:expr, $o:expr, $b:expr, [$($f:ident),*], [$($p:ident),*]) => {{
        let mut rng = Xoshiro128PlusPlus::seed_from_u64(11);
        let mut fused = $fused::<$t>::new(&mut Xoshiro128PlusPlus::seed_from_u64(1));
        let mut plain = $plain::<$t>::new(&mut Xoshiro128PlusPlus::seed_from_u64(1));
        for round in 0..4 {
            let x = SMatrix::<$t, { $i }, { $b }>::from_fn(|_, _| value(&mut rng));
            let mut dy = SMatrix::<$t, { $o }, { $b }>::from_fn(|_, _| rng.random::<$t>() - 0.5);
            if round >= 2 {
                dy[(1, 0)] = <$t>::INFINITY;
                dy[(0, 1)] = <$t>::NEG_INFINITY;
            }
            let (mut tf, mut tp) = ($fused::<$t>::tape::<{ $b }>(), $plain::<$t>::tape::<{ $b }>());
            let yf = *fused.forward_train(&x, &mut tf, &mut rng);
            let yp = *plain.forward_train(&x, &mut tp, &mut rng);
            same("output", yf.as_slice(), yp.as_slice());
            same("forward", fused.forward(&x).as_slice(), plain.forward(&x).as_slice());
            $(same(stringify!($f), tf.$f.as_slice(), tp.$f.as_slice());)*
            // Accumulating into the same starting gradients, then overwriting them.
            let mut gf = *fused.params();
            let mut gp = *plain.params();
            let mut dxf = SMatrix::<$t, { $i }, { $b }>::from_element(<$t>::NAN);
            let mut dxp = dxf;
            match round % 3 {
                0 => {
                    fused.backward(&x, &mut tf, &dy, &mut gf, Some(&mut dxf));
                    plain.backward(&x, &mut tp, &dy, &mut gp, Some(&mut dxp));
                }
                1 => {
                    fused.backward_overwrite(&x, &mut tf, &dy, &mut gf, Some(&mut dxf));
                    plain.backward_overwrite(&x, &mut tp, &dy, &mut gp, Some(&mut dxp));
                }
                _ => {
                    let a = fused.backward_overwrite_finite(&x, &mut tf, &dy, &mut gf, Some(&mut dxf));
                    let b = plain.backward_overwrite_finite(&x, &mut tp, &dy, &mut gp, Some(&mut dxp));
                    assert_eq!(a, b, "finite");
                }
            }
            same("dx", dxf.as_slice(), dxp.as_slice());
            $(same(stringify!($p), staticnn::block::as_slice::<$t, _>(&gf.$p), staticnn::block::as_slice::<$t, _>(&gp.$p));)*
            // Something reached the input: the gradient is not all zeros or NaNs.
            assert!(dxf.iter().any(|v| *v != 0.0 && !v.is_nan()), "round {round}: no gradient");
        }
    }};
}

#[test]
fn fused_relu_pool_gives_the_bits_of_the_layers_f32() {
    compare!(
        f32,
        Images,
        ImagesPlain,
        128,
        6,
        3,
        [c1, r1, p1, c2, r2, p2, fc],
        [c1, c2, fc]
    );
    compare!(
        f32,
        Sequences,
        SequencesPlain,
        36,
        25,
        2,
        [c1, r1, p1, c2, r2, p2],
        [c1, c2]
    );
    compare!(
        f32,
        ReluFirst,
        ReluFirstPlain,
        576,
        24,
        3,
        [r1, p1, c2, r2, p2],
        [c2]
    );
}

#[test]
fn fused_relu_pool_gives_the_bits_of_the_layers_f64() {
    compare!(
        f64,
        Images,
        ImagesPlain,
        128,
        6,
        3,
        [c1, r1, p1, c2, r2, p2, fc],
        [c1, c2, fc]
    );
    compare!(
        f64,
        Sequences,
        SequencesPlain,
        36,
        25,
        2,
        [c1, r1, p1, c2, r2, p2],
        [c1, c2]
    );
    compare!(
        f64,
        ReluFirst,
        ReluFirstPlain,
        576,
        24,
        3,
        [r1, p1, c2, r2, p2],
        [c2]
    );
}

/// The fused step is the one that runs: its backward reads the `ReLU`'s output, not its
/// input, so NaNs written over the `ReLU`s' inputs on the tape (the convolutions' outputs,
/// which nothing else reads backward) change no gradient, where the layers one after the
/// other would have zeroed every gradient behind them.
#[test]
fn fused_relu_pool_backward_reads_the_relu_output() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(5);
    let mut net = Images::<f32>::new(&mut rng);
    let x = SMatrix::<f32, 128, 4>::from_fn(|_, _| rng.random::<f32>() * 2.0 - 1.0);
    let dy = SMatrix::<f32, 6, 4>::from_fn(|_, _| rng.random::<f32>() - 0.5);
    let mut tape = Images::<f32>::tape::<4>();
    net.forward_train(&x, &mut tape, &mut rng);
    let (mut g, mut dx) = (*net.params(), SMatrix::<f32, 128, 4>::zeros());
    net.backward_overwrite(&x, &mut tape, &dy, &mut g, Some(&mut dx));
    tape.c1.fill(f32::NAN);
    tape.c2.fill(f32::NAN);
    let (mut g2, mut dx2) = (*net.params(), SMatrix::<f32, 128, 4>::zeros());
    net.backward_overwrite(&x, &mut tape, &dy, &mut g2, Some(&mut dx2));
    same("dx", dx.as_slice(), dx2.as_slice());
    same(
        "c1",
        staticnn::block::as_slice::<f32, _>(&g.c1),
        staticnn::block::as_slice::<f32, _>(&g2.c1),
    );
    assert!(dx.iter().all(|v| v.is_finite()) && dx.iter().any(|v| *v != 0.0));
}
