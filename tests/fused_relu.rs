//! The eval-mode `forward` runs a `Linear` followed by a `ReLU` as one step (the kernels apply
//! the `ReLU` as they store the product). It must give the bits of the two layers one after
//! the other, which `forward_train` still runs layer by layer: compared here on networks
//! where the pairs sit first, last, alone and between other layers (the scratch ends
//! alternate by step, so every parity is covered), for single samples (plain loops) and
//! batches (vector kernels, tiles over the outputs and over the samples), with negative
//! sums, and a NaN input that the `ReLU` turns into zero. Any other layer followed by a
//! `ReLU` is one step too (the `ReLU` then runs in place on the layer's output): pinned on
//! convolutions and a pool, with the scratch those steps need.

use staticnn::prelude::*;
use staticnn::rand::rngs::Xoshiro128PlusPlus;
use staticnn::rand::{RngExt, SeedableRng};

#[path = "common/workloads.rs"]
mod workloads;
use workloads::W2;

network! {
    /// Pairs at the start and in the middle, another activation between them, a `Linear`
    /// not followed by a `ReLU`, and a pair that writes the output.
    struct Mixed {
        input: 5,
        Linear(8),
        ReLU,
        Tanh,
        Linear(12),
        ReLU,
        Linear(7),
        Linear(3),
        ReLU,
    }
}

network! {
    /// A single pair: the whole network is one step.
    struct Pair {
        input: 300,
        fc: Linear(20),
        ReLU,
    }
}

/// `forward` against `forward_train`, bit for bit, on a batch of `B` samples drawn from
/// `rng` (a NaN placed in the first sample when `nan`).
fn same_bits<N, T, const IN: usize, const OUT: usize, const B: usize>(
    net: &mut N,
    rng: &mut Xoshiro128PlusPlus,
    nan: bool,
) where
    N: Network<T, IN, OUT>,
    T: Scalar,
{
    let mut x = SMatrix::<T, IN, B>::from_fn(|_, _| T::of(rng.random::<f64>() * 4.0 - 2.0));
    if nan {
        x[(IN / 2, 0)] = T::of(f64::NAN);
    }
    let eval = net.forward(&x);
    let mut tape = N::tape::<B>();
    let train = *net.forward_train(&x, &mut tape, rng);
    let mut zeros = 0;
    for (k, (e, t)) in eval.iter().zip(train.iter()).enumerate() {
        assert_eq!(
            e.as_f64().to_bits(),
            t.as_f64().to_bits(),
            "{} B = {B}: output {k} is {e:?} in forward, {t:?} in forward_train",
            N::NAME
        );
        zeros += usize::from(*e == T::zero());
    }
    assert!(
        zeros > 0 || OUT > 3,
        "{}: a final ReLU with nothing to clamp",
        N::NAME
    );
}

network! {
    /// Convolutions and a pool followed by a `ReLU` (each pair one step of `forward`, the
    /// `ReLU` run in place on the layer's output), a `Flatten` between, and a `Linear` pair
    /// that writes the output.
    struct Convs {
        input: [2, 6, 6],
        Conv2d(4, kernel = 3, padding = 1),
        ReLU,
        MaxPool2d(2),
        ReLU,
        Conv2d(8, kernel = 3),
        ReLU,
        Flatten,
        Linear(5),
        ReLU,
    }
}

network! {
    /// A convolution and its `ReLU` as the whole network: the pair writes the output.
    struct ConvPair {
        input: [1, 5, 5],
        Conv2d(2, kernel = 3),
        ReLU,
    }
}

/// The scratch of `forward` is sized by its steps: a `ReLU` after a layer needs no buffer of
/// its own. `Convs`: the first step writes 4 × 6 × 6 = 144 rows, the pool step reads them
/// and writes 4 × 3 × 3 = 36, the next convolution reads 36 and writes 8, `Flatten` 8 + 8,
/// the last step reads 8 (layer by layer, the first `ReLU` alone would need 144 + 144).
const _: () = assert!(Convs::<f32>::SCRATCH == 144 + 36);
const _: () = assert!(ConvPair::<f32>::SCRATCH == 0);

fn check<T: Scalar>() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(7);
    let mut small = W2::<T>::new(&mut rng);
    let mut mixed = Mixed::<T>::new(&mut rng);
    let mut pair = Pair::<T>::new(&mut rng);
    let mut convs = Convs::<T>::new(&mut rng);
    let mut conv_pair = ConvPair::<T>::new(&mut rng);
    for nan in [false, true] {
        same_bits::<_, T, 64, 10, 1>(&mut small, &mut rng, nan);
        same_bits::<_, T, 64, 10, 32>(&mut small, &mut rng, nan);
        same_bits::<_, T, 64, 10, 17>(&mut small, &mut rng, nan);
        same_bits::<_, T, 5, 3, 1>(&mut mixed, &mut rng, nan);
        same_bits::<_, T, 5, 3, 40>(&mut mixed, &mut rng, nan);
        same_bits::<_, T, 300, 20, 1>(&mut pair, &mut rng, nan);
        same_bits::<_, T, 300, 20, 9>(&mut pair, &mut rng, nan);
        same_bits::<_, T, 72, 5, 1>(&mut convs, &mut rng, nan);
        same_bits::<_, T, 72, 5, 6>(&mut convs, &mut rng, nan);
        same_bits::<_, T, 25, 18, 1>(&mut conv_pair, &mut rng, nan);
        same_bits::<_, T, 25, 18, 3>(&mut conv_pair, &mut rng, nan);
    }
}

#[test]
fn fused_pairs_give_the_bits_of_the_layers_f32() {
    check::<f32>();
}

#[test]
fn fused_pairs_give_the_bits_of_the_layers_f64() {
    check::<f64>();
}
