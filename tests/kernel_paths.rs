//! Whole networks on every kernel path this machine runs (`portable`, `avx2`, `avx512`),
//! switched in one process through `__private::kernels::set_path`: the AVX2 and AVX-512
//! kernels give the same bits for a training step of W3 and W4 (forward, both gradients,
//! the fused finite check, the optimiser's update) and for W2's eval forward with its fused
//! `ReLU`; the portable kernels agree with them to rounding. Small networks (a single
//! sample through small layers: the plain loops on every path) give the same bits on every
//! path, whether the generated `forward` runs its AVX2 copy or its baseline one, and so do
//! inference twins (`to_inference`), whose `forward` is generated the same way, and the
//! train-mode forward (`forward_train`), which has an AVX2 copy too. One test function, so that no
//! other test of this binary runs while it changes the path of the process.
#![cfg(feature = "std")]

use staticnn::__private::kernels::{Path, cpu_path, set_path};
use staticnn::block::zeroed_box;
use staticnn::optim::AdamConfig;
use staticnn::prelude::*;
use staticnn::rand::rngs::Xoshiro128PlusPlus;
use staticnn::rand::{RngExt, SeedableRng};

#[path = "common/workloads.rs"]
mod workloads;
use workloads::{W2, W3, W4};

/// The bits of W3's and W4's parameters after three training steps, and of W2's eval
/// forward at batch 32 and 1, from the same seeds, on the path in use.
fn run<T: Scalar>() -> Vec<u64> {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(20);
    let x = zeroed_box::<SMatrix<T, 784, 64>>();
    let mut x = x;
    x.iter_mut()
        .for_each(|v| *v = T::of(rng.random::<f64>() * 2.0 - 1.0));
    let t: [ClassIndex<10>; 64] =
        core::array::from_fn(|b| ClassIndex::new((b * 7 + 3) % 10).expect("below 10"));
    let mut bits = Vec::new();
    let mut w3 = W3::<T>::new_boxed(&mut rng);
    let mut grads = zeroed_box::<<W3<T> as Network<T, 784, 10>>::Params>();
    let mut tape = zeroed_box::<<W3<T> as Network<T, 784, 10>>::Tape<64>>();
    let mut sgd = Sgd::new(T::of(0.05));
    for _ in 0..3 {
        let loss = w3
            .train_step(&x, &t, &mut grads, &mut tape, &mut sgd, &mut rng)
            .expect("finite");
        bits.push(loss.as_f64().to_bits());
    }
    bits.extend(
        staticnn::block::as_slice::<T, _>(&w3.params)
            .iter()
            .map(|v| v.as_f64().to_bits()),
    );
    type P4<T> = <W4<T> as Network<T, 784, 10>>::Params;
    let mut w4 = W4::<T>::new_boxed(&mut rng);
    let mut grads = zeroed_box::<P4<T>>();
    let mut tape = zeroed_box::<<W4<T> as Network<T, 784, 10>>::Tape<64>>();
    let mut adam = Adam::<T, P4<T>>::boxed(T::of(1e-3), AdamConfig::default());
    for _ in 0..3 {
        let loss = w4
            .train_step(&x, &t, &mut grads, &mut tape, &mut *adam, &mut rng)
            .expect("finite");
        bits.push(loss.as_f64().to_bits());
    }
    bits.extend(
        staticnn::block::as_slice::<T, _>(&w4.params)
            .iter()
            .map(|v| v.as_f64().to_bits()),
    );
    let w2 = W2::<T>::new_boxed(&mut rng);
    let x2 = SMatrix::<T, 64, 32>::from_fn(|_, _| T::of(rng.random::<f64>() * 4.0 - 2.0));
    bits.extend(w2.forward(&x2).iter().map(|v| v.as_f64().to_bits()));
    let x1 = SMatrix::<T, 64, 1>::from_fn(|r, _| x2[(r, 0)]);
    bits.extend(w2.forward(&x1).iter().map(|v| v.as_f64().to_bits()));
    bits
}

network! {
    /// W1 of the benchmarks: 2-16-16-1 with tanh.
    struct Tiny {
        input: 2,
        Linear(16),
        Tanh,
        Linear(16),
        Tanh,
        Linear(1),
    }
}

network! {
    /// Small layers with every other element-wise activation.
    struct Small {
        input: 5,
        Linear(24),
        Sigmoid,
        Linear(17),
        ELU,
        Linear(33),
        LeakyReLU,
        Linear(64),
        ReLU,
        Linear(3),
    }
}

network! {
    /// W1 as trained with dropout: its inference twin has W1's layers.
    struct TinyTrained {
        input: 2,
        fc1: Linear(16),
        Tanh,
        Dropout(0.1),
        fc2: Linear(16),
        Tanh,
        fc3: Linear(1),
    }
}

network! {
    /// Small layers with batch norm and dropout: its inference twin folds the batch norm.
    struct SmallTrained {
        input: 3,
        Linear(24),
        BatchNorm,
        Tanh,
        Dropout(0.2),
        Linear(9),
        Sigmoid,
        Linear(2),
    }
}

/// The bits of single samples through small networks, on the path in use: the generated `forward` runs its AVX2 copy on the `avx2` and `avx512` paths and its
/// baseline copy on `portable`, the same operations, so the same bits on every path.
fn small<T: Scalar>() -> Vec<u64> {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(1);
    let tiny = Tiny::<T>::new(&mut rng);
    let net = Small::<T>::new(&mut rng);
    // Inference twins: W1's (with W1's parameters, so W1's bits) and one with a folded
    // batch norm.
    let mut trained = TinyTrained::<T>::new(&mut rng);
    trained.params.fc1 = tiny.params.layer0;
    trained.params.fc2 = tiny.params.layer2;
    trained.params.fc3 = tiny.params.layer4;
    let tiny_twin = trained.to_inference();
    let twin = SmallTrained::<T>::new(&mut rng).to_inference();
    let mut bits = Vec::new();
    // Train-mode forwards of one sample (`forward_train` runs its AVX2 copy as `forward`
    // does): W1, the small layers, and W1 with dropout from the same seed.
    let (mut tiny, mut net) = (tiny, net);
    let mut draws = Xoshiro128PlusPlus::seed_from_u64(3);
    for k in 0..16 {
        let v = |r: usize, c: usize| T::of(((k * 29 + r * 13 + c * 7) % 89) as f64 / 11.0 - 4.0);
        let mut tape = zeroed_box::<<Tiny<T> as Network<T, 2, 1>>::Tape<1>>();
        let y = tiny.forward_train(&SMatrix::<T, 2, 1>::from_fn(v), &mut tape, &mut draws);
        bits.extend(y.iter().map(|v| v.as_f64().to_bits()));
        let mut tape = zeroed_box::<<Small<T> as Network<T, 5, 3>>::Tape<1>>();
        let y = net.forward_train(&SMatrix::<T, 5, 1>::from_fn(v), &mut tape, &mut draws);
        bits.extend(y.iter().map(|v| v.as_f64().to_bits()));
        let mut tape = zeroed_box::<<TinyTrained<T> as Network<T, 2, 1>>::Tape<1>>();
        let x = SMatrix::<T, 2, 1>::from_fn(v);
        let y = trained.forward_train(&x, &mut tape, &mut draws);
        bits.extend(y.iter().map(|v| v.as_f64().to_bits()));
    }
    for k in 0..64 {
        let v = |r: usize| T::of(((k * 31 + r * 17) % 97) as f64 / 12.0 - 4.0);
        let x = SVector::<T, 2>::from_fn(|r, _| v(r));
        let y = tiny.predict(&x);
        assert_eq!(
            y[0].as_f64().to_bits(),
            tiny_twin.predict(&x)[0].as_f64().to_bits(),
            "W1's inference twin"
        );
        bits.extend(y.iter().map(|v| v.as_f64().to_bits()));
        let x = SVector::<T, 3>::from_fn(|r, _| v(r));
        bits.extend(twin.predict(&x).iter().map(|v| v.as_f64().to_bits()));
        let x = SVector::<T, 5>::from_fn(|r, _| v(r));
        bits.extend(net.predict(&x).iter().map(|v| v.as_f64().to_bits()));
    }
    bits
}

fn check<T: Scalar>(from_bits: fn(u64) -> f64) {
    let mut smalls: Vec<(Path, Vec<u64>)> = Vec::new();
    for p in [Path::Portable, Path::Avx2, Path::Avx512] {
        if p <= cpu_path() {
            assert_eq!(set_path(Some(p)), p);
            assert_eq!(
                staticnn::__private::avx2_forward(),
                p >= Path::Avx2 && !cfg!(target_feature = "avx2"),
                "{}",
                p.name()
            );
            smalls.push((p, small::<T>()));
        }
    }
    for pair in smalls.windows(2) {
        let ((a, x), (b, y)) = (&pair[0], &pair[1]);
        assert!(x == y, "small networks: {} against {}", a.name(), b.name());
    }

    let mut results: Vec<(Path, Vec<u64>)> = Vec::new();
    for p in [Path::Portable, Path::Avx2, Path::Avx512] {
        if p > cpu_path() {
            continue;
        }
        assert_eq!(set_path(Some(p)), p);
        results.push((p, run::<T>()));
    }
    set_path(None);
    let vector: Vec<_> = results
        .iter()
        .filter(|(p, _)| *p > Path::Portable)
        .collect();
    for pair in vector.windows(2) {
        let ((a, x), (b, y)) = (pair[0], pair[1]);
        let same = x.iter().zip(y).filter(|(u, v)| u == v).count();
        assert!(
            x == y,
            "{} against {}: {} of {} values differ",
            a.name(),
            b.name(),
            x.len() - same,
            x.len()
        );
    }
    // The portable kernels round each product and sum separately: close, not equal. Adam
    // divides by the gradients' root mean square, so a gradient near zero can turn a
    // rounding difference into a different update: at most the three updates of 1e-3.
    let (_, portable) = &results[0];
    for (p, other) in &results[1..] {
        let worst = portable
            .iter()
            .zip(other)
            .map(|(&u, &v)| (from_bits(u) - from_bits(v)).abs() / (1.0 + from_bits(v).abs()))
            .fold(0.0, f64::max);
        assert!(worst < 1e-2, "portable against {}: {worst}", p.name());
    }
}

#[test]
fn every_path_trains_and_infers_alike() {
    check::<f32>(f64::from_bits);
    check::<f64>(f64::from_bits);
    if cpu_path() < Path::Avx512 {
        println!("no AVX-512 on this CPU: AVX2 and AVX-512 not compared");
    }
}
