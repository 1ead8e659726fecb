//! Int8 networks on every kernel path this machine runs (`portable`, `avx2`, `avx512`; the
//! last takes the AVX-512 VNNI kernels of `QLinear` and `QConv2d` where the CPU has them),
//! switched in one process through `__private::kernels::set_path`: the outputs are the same
//! integers on each. Shapes chosen for the kernels' edges: widths that are not multiples of
//! 4 or 16, batches that are not multiples of 8, a convolution with padding, one with a
//! stride, and a depthwise one between them. One test function, so that no other test of
//! this binary runs while it changes the path of the process.
#![cfg(feature = "std")]

use staticnn::__private::kernels::{Path, cpu_path, set_path};
use staticnn::data::Dataset;
use staticnn::prelude::*;
use staticnn::rand::rngs::Xoshiro128PlusPlus;
use staticnn::rand::{RngExt, SeedableRng};

network! {
    /// Linear layers of odd widths, a fused `ReLU` and a `tanh` table.
    struct Mlp {
        input: 70,
        fc1: Linear(40),
        ReLU,
        fc2: Linear(33),
        Tanh,
        out: Linear(10),
    }
}

network! {
    /// Convolutions (padding, depthwise, stride), pooling, a final `Linear`.
    struct Cnn {
        input: [3, 9, 9],
        c1: Conv2d(20, kernel = 3, padding = 1, bias = false),
        bn: BatchNorm,
        ReLU,
        MaxPool2d(2),
        dw: Conv2d(20, kernel = 3, padding = 1, groups = 20),
        ReLU,
        c2: Conv2d(17, kernel = 2, stride = 2),
        ReLU,
        Flatten,
        out: Linear(10),
    }
}

/// Uniform samples in `[−2, 2)`.
fn samples<const N: usize>(rng: &mut Xoshiro128PlusPlus, n: usize) -> Vec<[f32; N]> {
    (0..n)
        .map(|_| core::array::from_fn(|_| rng.random::<f32>() * 4.0 - 2.0))
        .collect()
}

/// A batch of `B` int8 columns.
fn batch<const N: usize, const B: usize>(rng: &mut Xoshiro128PlusPlus) -> SMatrix<i8, N, B> {
    SMatrix::from_fn(|_, _| rng.random::<u8>() as i8)
}

#[test]
fn every_path_gives_the_same_integers() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(17);
    let calib = samples::<70>(&mut rng, 50);
    let labels = vec![(); calib.len()];
    let mlp = Mlp::<f32>::new(&mut rng)
        .quantize(Dataset::new(&calib, &labels).unwrap())
        .unwrap();
    let calib = samples::<243>(&mut rng, 30);
    let cnn = Cnn::<f32>::new(&mut rng)
        .quantize(Dataset::new(&calib, &labels[..30]).unwrap())
        .unwrap();
    let (x1, x2) = (batch::<70, 37>(&mut rng), batch::<70, 1>(&mut rng));
    let (x3, x4) = (batch::<243, 13>(&mut rng), batch::<243, 1>(&mut rng));
    let run = || {
        let mut out: Vec<i8> = Vec::new();
        out.extend(mlp.forward_int8(&x1).iter());
        out.extend(mlp.forward_int8(&x2).iter());
        out.extend(cnn.forward_int8(&x3).iter());
        out.extend(cnn.forward_int8(&x4).iter());
        out
    };
    let mut results = Vec::new();
    for p in [Path::Portable, Path::Avx2, Path::Avx512] {
        if p > cpu_path() {
            println!("{}: not on this CPU", p.name());
            continue;
        }
        assert_eq!(set_path(Some(p)), p);
        results.push((p, run()));
    }
    set_path(None);
    let (first, expected) = &results[0];
    // Outputs that vary: a network whose outputs all saturate would compare nothing.
    assert!(expected.iter().any(|&v| v != expected[0]));
    for (p, got) in &results[1..] {
        assert!(got == expected, "{} and {} differ", p.name(), first.name());
    }
}
