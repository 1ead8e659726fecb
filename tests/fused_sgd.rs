//! Plain SGD applied inside the backward pass (`Network::backward_sgd`: networks of `Linear`
//! and `ReLU` layers on x86-64 with the vector kernels): `train_step` gives the bits of its
//! operations done by hand (`forward_train`, the loss, `backward_overwrite`, then
//! `Sgd::try_step`) — parameters, loss, bias gradients and the error, if any — for `f32`
//! and `f64`, on every kernel path this machine runs, at batches of one sample, a few, a
//! full pass of samples and two passes (the weight gradient's partial sums), with learning
//! rates inside and outside `|lr| ≤ 1/4`, and on inputs whose gradients the bound cannot
//! vouch for (huge or infinite), where the step must decline and take the usual passes. Where
//! it applies, the weight gradients are not written (a sentinel in `grads` survives): the
//! fused path ran. One test function, so that no other test of this binary runs while it
//! changes the path of the process.
#![cfg(feature = "std")]

use staticnn::__private::kernels::{Path, cpu_path, set_path};
use staticnn::block::{as_mut_slice, as_slice};
use staticnn::network::TrainError;
use staticnn::prelude::*;
use staticnn::rand::rngs::Xoshiro128PlusPlus;
use staticnn::rand::{RngExt, SeedableRng};

network! {
    /// W3's shape: the two backward buffers hold every output gradient.
    struct Three { input: 20, Linear(70), ReLU, Linear(33), ReLU, Linear(5), loss: SoftmaxCrossEntropy }
}

network! {
    /// Four `Linear` layers (a third buffer on x86-64); 300 outputs: four whole AVX-512 row
    /// tiles (the packed `X`) and a rest of 44 rows.
    struct Four { input: 17, Linear(300), ReLU, Linear(24), ReLU, Linear(64), ReLU, Linear(3), loss: Mse }
}

network! {
    /// A `ReLU` first and last, and two `Linear` layers in a row.
    struct Edges { input: 9, ReLU, Linear(40), Linear(12), ReLU, loss: Mse }
}

network! {
    /// One `Linear` layer.
    struct One { input: 6, Linear(2), loss: Mse }
}

/// What the by-hand step ended in.
#[derive(Debug, PartialEq)]
enum Outcome {
    Ok,
    NonFinite,
    NonFiniteUpdate,
}

fn outcome<T>(r: &Result<T, TrainError>) -> Outcome {
    match r {
        Ok(_) => Outcome::Ok,
        Err(TrainError::NonFinite { .. }) => Outcome::NonFinite,
        Err(TrainError::NonFiniteUpdate { .. }) => Outcome::NonFiniteUpdate,
        Err(e) => panic!("unexpected {e:?}"),
    }
}

fn bits<T: Scalar>(s: &[T]) -> Vec<u64> {
    s.iter().map(|v| v.as_f64().to_bits()).collect()
}

/// The weights (not the biases) of the network's `Linear` layers.
fn weights<T: Scalar, N: Network<T, IN, OUT>, const IN: usize, const OUT: usize>() -> usize {
    N::LAYERS
        .iter()
        .filter(|l| l.kind == "Linear")
        .map(|l| l.params - l.outputs)
        .sum()
}

/// Three steps of `train_step` against the same steps by hand, from `net` on `x`. Returns
/// how many steps ran fused.
#[allow(clippy::too_many_arguments)]
fn compare<T, N, const IN: usize, const OUT: usize, const B: usize>(
    net: &N,
    x: &SMatrix<T, IN, B>,
    target: &<N::Loss as Loss<T, OUT>>::Target<B>,
    lr: T,
    what: &str,
) -> usize
where
    T: Scalar,
    N: Supervised<T, IN, OUT> + Copy,
{
    let sentinel = T::of(7.0);
    let (mut a, mut b) = (*net, *net);
    let (mut tape_a, mut tape_b) = (N::tape::<B>(), N::tape::<B>());
    let (mut rng_a, mut rng_b) = (
        Xoshiro128PlusPlus::seed_from_u64(3),
        Xoshiro128PlusPlus::seed_from_u64(3),
    );
    let mut fused = 0;
    for step in 0..3 {
        let what = format!("{what}, step {step}");
        let mut grads_a = N::gradients();
        as_mut_slice::<T, _>(&mut grads_a).fill(sentinel);
        let r = a.train_step(
            x,
            target,
            &mut grads_a,
            &mut tape_a,
            &mut Sgd::new(lr),
            &mut rng_a,
        );

        let mut dy = SMatrix::<T, OUT, B>::zeros();
        let y = *b.forward_train(x, &mut tape_b, &mut rng_b);
        let loss = N::Loss::default().loss_and_grad(&y, target, &mut dy);
        let mut g = N::gradients();
        b.backward_overwrite(x, &mut tape_b, &dy, &mut g, None);
        let by_hand = if !loss.is_finite() || !staticnn::block::all_finite::<T, _>(&g) {
            Outcome::NonFinite
        } else if Sgd::new(lr).try_step(b.params_mut(), &g).is_err() {
            Outcome::NonFiniteUpdate
        } else {
            Outcome::Ok
        };
        assert_eq!(outcome(&r), by_hand, "{what}");
        if let Ok(l) = r {
            assert_eq!(l.as_f64().to_bits(), loss.as_f64().to_bits(), "{what}");
        }
        assert_eq!(
            bits(as_slice::<T, _>(a.params())),
            bits(as_slice::<T, _>(b.params())),
            "{what}"
        );
        if by_hand != Outcome::Ok {
            continue;
        }
        // The bias gradients are written either way; the weight gradients only unfused.
        // Without the blocks' padding (x86-64), which the fused step leaves alone.
        let total: usize = N::LAYERS.iter().map(|l| l.params).sum();
        let (ga, gb) = (
            &as_slice::<T, _>(&grads_a)[..total],
            &as_slice::<T, _>(&g)[..total],
        );
        let kept = ga.iter().filter(|&&v| v == sentinel).count();
        let mut at = 0;
        for l in N::LAYERS {
            let end = at + l.params;
            if l.kind == "Linear" {
                let bias = end - l.outputs..end;
                assert_eq!(bits(&ga[bias.clone()]), bits(&gb[bias]), "{what}");
            }
            at = end;
        }
        // Unfused, every gradient is written; fused, the weight gradients are not (the
        // sentinel), or hold the partial sums of a first pass of samples.
        if bits(ga) != bits(gb) {
            fused += 1;
            if B <= 128 {
                assert_eq!(kept, weights::<T, N, IN, OUT>(), "{what}");
            }
        }
    }
    fused
}

/// A batch of `B` inputs in `[-1, 1)` and targets of both kinds.
fn batch<T: Scalar, const IN: usize, const OUT: usize, const B: usize>(
    seed: u64,
) -> (
    Box<SMatrix<T, IN, B>>,
    [ClassIndex<OUT>; B],
    Box<SMatrix<T, OUT, B>>,
) {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(seed);
    let mut x = staticnn::block::zeroed_box::<SMatrix<T, IN, B>>();
    x.iter_mut()
        .for_each(|v| *v = T::of(rng.random::<f64>() * 2.0 - 1.0));
    let classes = core::array::from_fn(|b| ClassIndex::new((b * 7 + 3) % OUT).expect("below OUT"));
    let mut t = staticnn::block::zeroed_box::<SMatrix<T, OUT, B>>();
    t.iter_mut()
        .for_each(|v| *v = T::of(rng.random::<f64>() - 0.5));
    (x, classes, t)
}

/// Every network at batch `B` with learning rates inside and outside the bound, clean,
/// huge and poisoned inputs: the fused steps of each kind of input.
fn networks<T: Scalar, const B: usize>() -> [usize; 3] {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(B as u64);
    let (three, four) = (Three::<T>::new(&mut rng), Four::<T>::new(&mut rng));
    let (edges, one) = (Edges::<T>::new(&mut rng), One::<T>::new(&mut rng));
    let mut fused = [0; 3];
    let huge = T::of(if core::mem::size_of::<T>() == 4 {
        1e30
    } else {
        1e250
    });
    for (k, lr) in [0.05, -0.25, 0.25, 0.3].into_iter().enumerate() {
        let lr = T::of(lr);
        for (kind, input) in ["clean", "huge", "infinite"].into_iter().enumerate() {
            let fused = &mut fused[kind];
            let prepare = |x: &mut [T]| match input {
                "huge" => x.iter_mut().for_each(|v| *v *= huge),
                "infinite" => x[x.len() - 1] = T::of(f64::INFINITY),
                _ => {}
            };
            let what = |net: &str| format!("{net} B={B} lr={} {input}", lr.as_f64());
            let (mut x, classes, _) = batch::<T, 20, 5, B>(k as u64);
            prepare(x.as_mut_slice());
            *fused += compare(&three, &x, &classes, lr, &what("Three"));
            let (mut x, _, t) = batch::<T, 17, 3, B>(k as u64);
            prepare(x.as_mut_slice());
            *fused += compare(&four, &x, &t, lr, &what("Four"));
            let (mut x, _, t) = batch::<T, 9, 12, B>(k as u64);
            prepare(x.as_mut_slice());
            *fused += compare(&edges, &x, &t, lr, &what("Edges"));
            let (mut x, _, t) = batch::<T, 6, 2, B>(k as u64);
            prepare(x.as_mut_slice());
            *fused += compare(&one, &x, &t, lr, &what("One"));
        }
    }
    fused
}

#[test]
fn train_step_with_sgd_in_the_backward_pass_is_its_operations() {
    // Tapes and networks on the stack: 200 samples of `f64` need more than a test thread's.
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(every_path)
        .expect("a thread")
        .join()
        .expect("no failure");
}

fn every_path() {
    let paths: Vec<Path> = [Path::Portable, Path::Avx2, Path::Avx512]
        .into_iter()
        .filter(|&p| p <= cpu_path())
        .collect();
    for path in paths {
        set_path(Some(path));
        let mut seen = [[0; 3]; 8];
        seen[0] = networks::<f32, 1>();
        seen[1] = networks::<f32, 7>();
        seen[2] = networks::<f32, 128>();
        seen[3] = networks::<f32, 200>();
        seen[4] = networks::<f64, 1>();
        seen[5] = networks::<f64, 7>();
        seen[6] = networks::<f64, 128>();
        seen[7] = networks::<f64, 200>();
        // Where the vector kernels run, the steps on clean inputs at the three learning
        // rates within `1/4` run fused (their bound holds; 4 networks, 3 steps each), and
        // no step with an infinite input or at `lr = 0.3`; elsewhere none. (Huge inputs
        // run fused where the bound still holds.)
        let vector = cfg!(target_arch = "x86_64") && path != Path::Portable;
        for (k, &[clean, huge, infinite]) in seen.iter().enumerate() {
            let expect = if vector { 3 * 4 * 3 } else { 0 };
            assert_eq!(clean, expect, "{path:?}, case {k}");
            assert!(huge <= expect, "{path:?}, case {k}");
            assert_eq!(infinite, 0, "{path:?}, case {k}");
        }
    }
    set_path(None);
}

/// The bound that lets a step update a layer before the weight gradients exist: every value
/// finite and `B · max|dY| · max|X|` (and `B · max|dY|`) at most `MAX/8`.
#[test]
fn the_bound_holds_up_to_an_eighth_of_max() {
    use staticnn::__private::sgd_bounded;
    let x = SMatrix::<f32, 3, 4>::from_fn(|r, c| if (r, c) == (2, 1) { -1e20 } else { 0.5 });
    let dy =
        |top: f32| SMatrix::<f32, 2, 4>::from_fn(|r, c| if (r, c) == (1, 3) { top } else { -1.0 });
    let limit = f32::MAX / 8.0 / 4.0 / 1e20;
    assert!(sgd_bounded(&x, &dy(limit * 0.99)));
    assert!(sgd_bounded(&x, &dy(-limit * 0.99)));
    assert!(!sgd_bounded(&x, &dy(limit * 1.01)));
    assert!(!sgd_bounded(&x, &dy(f32::NAN)));
    assert!(!sgd_bounded(&x, &dy(f32::INFINITY)));
    let mut bad = x;
    bad[(0, 0)] = f32::NEG_INFINITY;
    assert!(!sgd_bounded(&bad, &dy(1.0)));
    // `B · max|dY|` alone: a zero input does not lift the bias gradient's bound.
    let zero = SMatrix::<f32, 3, 4>::zeros();
    assert!(sgd_bounded(&zero, &dy(f32::MAX / 8.0 / 4.0 * 0.99)));
    assert!(!sgd_bounded(&zero, &dy(f32::MAX / 8.0 / 4.0 * 1.01)));
    let x64 = SMatrix::<f64, 3, 4>::from_element(1e150);
    let dy64 = SMatrix::<f64, 2, 4>::from_element(1e150);
    assert!(sgd_bounded(&x64, &dy64));
    assert!(!sgd_bounded(
        &x64,
        &SMatrix::<f64, 2, 4>::from_element(1e160)
    ));
}
