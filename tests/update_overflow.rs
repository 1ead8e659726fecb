//! An optimiser update that would leave a non-finite parameter or optimiser state value is
//! refused: `train_step` returns an error and leaves the parameters, the running
//! statistics and the optimiser's state as they were, bit for bit; the next sane step is
//! exactly the step that would have been taken had the refused one never been tried; `fit`
//! reports the divergence with the network still finite.

use staticnn::data::{Dataset, Loader, Remainder};
use staticnn::fit::{Batch, Fit, FitError, Workspace};
use staticnn::network::TrainError;
use staticnn::optim::{AdamConfig, AdamWConfig, Decay, FiniteGrads, RmsPropConfig, SgdConfig};
use staticnn::prelude::*;
use staticnn::rand::SeedableRng;
use staticnn::rand::rngs::Xoshiro128PlusPlus;

network! {
    struct Small { input: 3, Linear(4), Tanh, Linear(2), loss: Mse }
}

network! {
    struct Normed {
        input: 3,
        Linear(8),
        BatchNorm,
        ReLU,
        Dropout(0.25),
        Linear(8),
        BatchNorm,
        ReLU,
        Linear(2),
        loss: Mse,
    }
}

network! {
    struct Line { input: 1, Linear(1), loss: Mse }
}

network! {
    /// A residual block: its train-mode forward is written by `macros/src/residual.rs`.
    struct Res { input: 3, Linear(4), Residual(Linear(4), Tanh), Linear(2), loss: Mse }
}

/// The bytes of a network: parameters and running statistics.
fn bytes<N: bytemuck::Pod>(n: &N) -> Vec<u8> {
    bytemuck::bytes_of(n).to_vec()
}

/// Whether every parameter and state value of an `f32` network is finite.
fn finite<N: bytemuck::Pod>(n: &N) -> bool {
    bytemuck::cast_slice::<u8, f32>(bytemuck::bytes_of(n))
        .iter()
        .all(|v| v.is_finite())
}

/// A batch whose targets are far from any output, so that gradients are large.
fn batch() -> (SMatrix<f32, 3, 4>, SMatrix<f32, 2, 4>) {
    let x = SMatrix::<f32, 3, 4>::from_fn(|r, c| (r as f32 - 1.0) * 0.7 + c as f32 * 0.4);
    let t = SMatrix::<f32, 2, 4>::from_fn(|r, c| if (r + c) % 2 == 0 { 40.0 } else { -40.0 });
    (x, t)
}

/// Trains `net` with `opt` for two sane steps, then tries one with learning rate 3e38,
/// which must be refused and leave network and optimiser unchanged; then checks that the
/// next step at a sane rate is the step a copy taken before the refused one takes.
/// `state` gives the bytes of the optimiser's state.
fn refused_then_resumed<N, O>(mut net: N, mut opt: O, state: impl Fn(&O) -> Vec<u8>)
where
    N: Supervised<f32, 3, 2, Loss = Mse> + Copy,
    O: Optimizer<f32, N::Params> + Copy,
{
    let (x, t) = batch();
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(5);
    let (mut tape, mut grads) = (N::tape::<4>(), N::gradients());
    let sane = opt.lr();
    for _ in 0..2 {
        net.train_step(&x, &t, &mut grads, &mut tape, &mut opt, &mut rng)
            .expect("a sane step");
    }
    assert!(finite(&net));
    let (net_before, opt_before, state_before) = (net, opt, state(&opt));

    opt.set_lr(3e38);
    let err = net
        .train_step(&x, &t, &mut grads, &mut tape, &mut opt, &mut rng)
        .expect_err("an update of size 3e38 overflows f32");
    assert!(
        matches!(err, TrainError::NonFiniteUpdate { loss } if loss.is_finite()),
        "{err:?}"
    );
    assert!(err.to_string().contains("update"), "{err}");
    assert_eq!(bytes(&net), bytes(&net_before), "network changed");
    assert_eq!(state(&opt), state_before, "optimiser state changed");

    // The refused step left no trace: the next one is the one the copy takes.
    opt.set_lr(sane);
    let mut copy = (net_before, opt_before);
    let (mut rng_a, mut rng_b) = (
        Xoshiro128PlusPlus::seed_from_u64(9),
        Xoshiro128PlusPlus::seed_from_u64(9),
    );
    for _ in 0..2 {
        let a = net.train_step(&x, &t, &mut grads, &mut tape, &mut opt, &mut rng_a);
        let b = copy
            .0
            .train_step(&x, &t, &mut grads, &mut tape, &mut copy.1, &mut rng_b);
        assert_eq!(a.map(f32::to_bits), b.map(f32::to_bits));
        assert_eq!(bytes(&net), bytes(&copy.0));
        assert_eq!(state(&opt), state(&copy.1));
    }
    assert!(finite(&net));
}

/// The bytes of a block.
fn block<P: bytemuck::Pod>(p: &P) -> Vec<u8> {
    bytemuck::bytes_of(p).to_vec()
}

#[test]
fn plain_sgd_overflow_is_refused() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(1);
    refused_then_resumed(Small::<f32>::new(&mut rng), Sgd::new(0.01), |_| Vec::new());
    // With weight decay, the other loop.
    let mut sgd = Sgd::new(0.01);
    sgd.config.weight_decay = Decay::all(0.1);
    refused_then_resumed(Small::<f32>::new(&mut rng), sgd, |_| Vec::new());
}

#[test]
fn sgd_with_momentum_overflow_is_refused() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(2);
    for nesterov in [false, true] {
        let config = SgdConfig {
            momentum: 0.9,
            nesterov,
            weight_decay: Decay::weights(1e-3),
            ..Default::default()
        };
        refused_then_resumed(
            Normed::<f32>::new(&mut rng),
            Sgd::with(0.01, config),
            |o: &Sgd<f32, _>| o.velocity().map(block).unwrap_or_default(),
        );
    }
}

#[test]
fn adam_overflow_is_refused() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(3);
    let config = AdamConfig {
        weight_decay: Decay::all(1e-3),
        ..Default::default()
    };
    refused_then_resumed(
        Normed::<f32>::new(&mut rng),
        Adam::with(1e-3, config),
        |o: &Adam<f32, _>| {
            let (m, v) = o.moments();
            [block(m), block(v), o.steps().to_le_bytes().to_vec()].concat()
        },
    );
}

#[test]
fn adamw_overflow_is_refused() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(4);
    refused_then_resumed(
        Normed::<f32>::new(&mut rng),
        AdamW::with(1e-3, AdamWConfig::default()),
        |o: &AdamW<f32, _>| {
            let (m, v) = o.moments();
            [block(m), block(v), o.steps().to_le_bytes().to_vec()].concat()
        },
    );
}

#[test]
fn rmsprop_overflow_is_refused() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(5);
    for (centered, momentum) in [(false, 0.0), (true, 0.0), (false, 0.9), (true, 0.9)] {
        let config = RmsPropConfig {
            centered,
            momentum,
            ..Default::default()
        };
        refused_then_resumed(
            Normed::<f32>::new(&mut rng),
            RmsProp::with(1e-3, config),
            |o: &RmsProp<f32, _>| {
                let (v, a, b) = o.averages();
                [block(v), block(a), block(b)].concat()
            },
        );
    }
}

/// Adam at a sane rate: a gradient of 1e38 is finite, but its square is not, so the
/// second moment would become infinite while the parameter itself moves by 0. Refused too.
#[test]
fn adam_state_overflow_is_refused_even_when_the_parameters_stay_finite() {
    let mut net = Line::<f32>::zeroed();
    net.params.layer0.weight[0] = 0.5;
    let before = net;
    let x = SMatrix::<f32, 1, 1>::new(1e19);
    let t = SMatrix::<f32, 1, 1>::new(0.0);
    let (mut tape, mut grads) = (Line::<f32>::tape::<1>(), Line::<f32>::gradients());
    let mut adam = Adam::new(1e-3);
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(6);
    let err = net
        .train_step(&x, &t, &mut grads, &mut tape, &mut adam, &mut rng)
        .expect_err("the second moment of a gradient of 1e38 overflows");
    // The loss and the gradients were finite.
    assert!(grads.layer0.weight[0].is_finite() && grads.layer0.weight[0].abs() > 1e37);
    assert!(matches!(err, TrainError::NonFiniteUpdate { .. }), "{err:?}");
    assert_eq!(bytes(&net), bytes(&before));
    assert_eq!(adam.steps(), 0);
    let (m, v) = adam.moments();
    assert!(m.layer0.weight[0] == 0.0 && v.layer0.weight[0] == 0.0);
}

/// `fit` stops with `Diverged` at the first step, and the network is the one it started
/// with.
#[test]
fn fit_reports_the_refused_update_and_keeps_a_finite_network() {
    let xs: Vec<[f32; 3]> = (0..8)
        .map(|i| [i as f32 * 0.5, 1.0 - i as f32, 0.25])
        .collect();
    let ts: Vec<[f32; 2]> = (0..8).map(|i| [40.0 * i as f32, -30.0]).collect();
    let data = Dataset::new(&xs, &ts).unwrap();
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(7);
    let mut net = Normed::<f32>::new(&mut rng);
    let before = net;
    let mut work = Workspace::new(&net, Batch::<4>);
    let mut order = vec![0; 8];
    let mut loader = Loader::new(data, &mut order, Remainder::Drop).unwrap();
    let mut adam = Adam::new(3e38);
    let err = Fit::new(3)
        .early_stopping(staticnn::fit::EarlyStopping::new(2))
        .run(&mut net, &mut adam, &mut loader, data, &mut work, &mut rng)
        .unwrap_err();
    assert!(
        matches!(
            err,
            FitError::Diverged {
                epoch: 0,
                batch: 0,
                cause: TrainError::NonFiniteUpdate { .. }
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("update"), "{err}");
    assert!(finite(&net));
    assert_eq!(bytes(&net), bytes(&before));
    assert_eq!(adam.steps(), 0);
}

/// A `try_step` that succeeds is bit for bit the `step` it replaces, for every optimiser
/// and configuration (PyTorch's vectors pin `step` in tests/optim_vectors.rs).
#[test]
fn a_successful_try_step_is_step() {
    fn same<O: Optimizer<f32, NormedParams<f32>> + Copy>(opt: O, state: impl Fn(&O) -> Vec<u8>) {
        let mut rng = Xoshiro128PlusPlus::seed_from_u64(8);
        let net = Normed::<f32>::new(&mut rng);
        let (mut a, mut b, mut c) = (*net.params(), *net.params(), *net.params());
        let (mut opt_a, mut opt_b, mut opt_c) = (opt, opt, opt);
        for k in 0..3 {
            let mut g = NormedParams::<f32>::zeroed();
            for (i, v) in staticnn::block::as_mut_slice::<f32, _>(&mut g)
                .iter_mut()
                .enumerate()
            {
                *v = ((i * 7 + k * 3) % 11) as f32 * 0.1 - 0.5;
            }
            opt_a.step(&mut a, &g);
            opt_b.try_step(&mut b, &g).expect("a finite update");
            let finite = FiniteGrads::new::<f32>(&g).expect("finite gradients");
            opt_c
                .try_step_finite(&mut c, finite)
                .expect("a finite update");
            assert_eq!(block(&a), block(&b));
            assert_eq!(block(&a), block(&c));
            assert_eq!(state(&opt_a), state(&opt_b));
            assert_eq!(state(&opt_a), state(&opt_c));
        }
    }
    let momentum = SgdConfig {
        momentum: 0.9,
        nesterov: true,
        weight_decay: Decay::all(1e-2),
        ..Default::default()
    };
    let mut decayed = Sgd::new(0.1);
    decayed.config.weight_decay = Decay::all(1e-2);
    same(Sgd::new(0.1), |_| Vec::new());
    same(decayed, |_| Vec::new());
    same(Sgd::with(0.1, momentum), |o| {
        o.velocity().map(block).unwrap_or_default()
    });
    let moments = |(m, v): (&NormedParams<f32>, &NormedParams<f32>)| [block(m), block(v)].concat();
    same(Adam::new(1e-2), |o| moments(o.moments()));
    same(AdamW::new(1e-2), |o| moments(o.moments()));
    let rms = RmsPropConfig {
        centered: true,
        momentum: 0.5,
        weight_decay: Decay::all(1e-2),
        ..Default::default()
    };
    same(RmsProp::with(1e-2, rms), |o| {
        let (v, a, b) = o.averages();
        [block(v), block(a), block(b)].concat()
    });
}

/// Plain SGD told that the gradients are finite (`try_step_finite`, what `train_step` and
/// `fit` call) checks only the parameters while `|lr| ≤ 1/4`, and answers exactly as
/// `try_step` does: it refuses an update that overflows a parameter near the largest
/// `f32` or starts from a NaN or infinite one, writing nothing, and takes, with `step`'s
/// bits, an update that its bound on the parameters cannot vouch for but that stays finite.
#[test]
fn sgd_on_finite_gradients_refuses_what_try_step_refuses() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(9);
    let net = Small::<f32>::new(&mut rng);
    // The learned scalars (the block may end with padding, which no optimiser touches).
    let n = Small::<f32>::PARAMS;
    let mut g = SmallParams::<f32>::zeroed();
    for (i, v) in staticnn::block::as_mut_slice::<f32, _>(&mut g)
        .iter_mut()
        .enumerate()
    {
        *v = (i % 5) as f32 * 0.3 - 0.6;
    }
    for lr in [0.01f32, 0.25, -0.25, 0.5] {
        for spot in [0, n / 2, n - 1] {
            // (parameter, gradient, refused)
            let cases = [
                (f32::MAX, f32::MAX.copysign(-lr), true),
                (-f32::MAX, f32::MAX.copysign(lr), true),
                (f32::NAN, 0.5, true),
                (f32::INFINITY, 0.0, true),
                (3e38, 1.0, false),
                (f32::MAX / 4.0, f32::MAX.copysign(-lr), false),
            ];
            for (p, dp, refused) in cases {
                let (mut params, mut grads) = (*net.params(), g);
                staticnn::block::as_mut_slice::<f32, _>(&mut params)[spot] = p;
                staticnn::block::as_mut_slice::<f32, _>(&mut grads)[spot] = dp;
                // The reference: the full check, then the step it stands for.
                let (mut full, mut stepped) = (params, params);
                let expected = Sgd::new(lr).try_step(&mut full, &grads);
                Sgd::new(lr).step(&mut stepped, &grads);
                let before = params;
                let finite = FiniteGrads::new::<f32>(&grads).expect("finite gradients");
                let got = Sgd::new(lr).try_step_finite(&mut params, finite);
                assert_eq!(got, expected, "lr={lr} spot={spot} p={p} g={dp}");
                assert_eq!(expected.is_err(), refused, "lr={lr} spot={spot} p={p}");
                if got.is_err() {
                    assert_eq!(block(&params), block(&before));
                } else {
                    assert_eq!(block(&params), block(&stepped));
                }
            }
        }
    }
}

/// `train_step` with plain SGD is `forward_train`, the loss, `backward_overwrite` and
/// `step`, bit for bit, whatever its forward found about the parameters (`network!`'s
/// `forward_train_bounded`, with and without residual blocks): within the bound (no check
/// before the update for `|lr| ≤ 1/4`), and with a parameter past it (`3e38 > MAX/4`,
/// on an input that is zero, so that the loss stays finite), where the optimiser checks.
#[test]
fn train_step_with_sgd_is_its_operations_whatever_the_bound() {
    fn same<N: Supervised<f32, 3, 2, Loss = Mse> + Copy + PartialEq + std::fmt::Debug>(mut net: N) {
        let (mut x, t) = batch();
        x.row_mut(0).fill(0.0);
        let mut rng = Xoshiro128PlusPlus::seed_from_u64(6);
        let (mut tape, mut grads) = (N::tape::<4>(), N::gradients());
        let (_, bounded) = net.forward_train_bounded(&x, &mut tape, &mut rng);
        assert_eq!(bounded, staticnn::__private::BOUNDS_IN_FORWARD);
        // A first-layer weight whose gradient is zero (its input is): past the bound.
        let mut dy = SMatrix::<f32, 2, 4>::zeros();
        let y = *net.forward_train(&x, &mut tape, &mut rng);
        Mse.loss_and_grad(&y, &t, &mut dy);
        net.backward_overwrite(&x, &mut tape, &dy, &mut grads, None);
        let spot = (0..N::LAYERS[0].params)
            .find(|&k| staticnn::block::as_slice::<f32, _>(&grads)[k] == 0.0)
            .expect("a weight of the zero input");
        let mut huge = net;
        staticnn::block::as_mut_slice::<f32, _>(huge.params_mut())[spot] = 3e38;
        let (_, bounded) = huge.forward_train_bounded(&x, &mut tape, &mut rng);
        assert!(!bounded);
        for start in [net, huge] {
            for lr in [0.01f32, 0.25, -0.25, 0.3] {
                let (mut a, mut b) = (start, start);
                let (mut rng_a, mut rng_b) = (rng.clone(), rng.clone());
                for _ in 0..3 {
                    let loss = a
                        .train_step(&x, &t, &mut grads, &mut tape, &mut Sgd::new(lr), &mut rng_a)
                        .expect("a finite step");
                    let y = *b.forward_train(&x, &mut tape, &mut rng_b);
                    let by_hand = Mse.loss_and_grad(&y, &t, &mut dy);
                    let mut g = N::gradients();
                    b.backward_overwrite(&x, &mut tape, &dy, &mut g, None);
                    Sgd::new(lr).step(b.params_mut(), &g);
                    assert_eq!(loss.to_bits(), by_hand.to_bits());
                    assert_eq!(bytes(&a), bytes(&b), "lr={lr}");
                }
            }
        }
    }
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(10);
    same(Small::<f32>::new(&mut rng));
    same(Res::<f32>::new(&mut rng));
}

network! {
    /// Layers wide enough for AVX-512's wide forward tiles at a batch of 12, whose packing
    /// bounds the weights (`__private::linear_bounded`).
    struct Wide { input: 8, Linear(64), ReLU, Linear(64), Tanh, Linear(2), loss: Mse }
}

/// `forward_train_bounded` on layers whose product bounds the weights as it packs them:
/// the outputs of `forward_train`, bit for bit, and `true` exactly when every parameter is
/// within `MAX/4` (`params_bounded` of the whole block), whatever the weight past it and
/// wherever it is: in either wide layer, its first or last weight, at `MAX/4` itself (which
/// the packing's sums of squares cannot bound: the layer checks it apart), beyond, NaN.
#[test]
fn the_bound_of_the_wide_layers_is_the_blocks() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(12);
    let net = Wide::<f32>::new(&mut rng);
    let x = SMatrix::<f32, 8, 12>::from_fn(|r, c| (r as f32 - 3.5) * 0.3 + c as f32 * 0.1);
    let (mut tape, mut plain) = (Wide::<f32>::tape::<12>(), Wide::<f32>::tape::<12>());
    let first = Wide::<f32>::LAYERS[0].params;
    let second = first + Wide::<f32>::LAYERS[2].params;
    let mut seen = [0; 2];
    for at in [0, 1, 63, 64 * 8 - 1, first, first + 64 * 64 - 1, second - 1] {
        for bad in [
            f32::MAX / 4.0,
            -f32::MAX / 4.0,
            1e20,
            3e38,
            f32::INFINITY,
            f32::NAN,
        ] {
            let mut net = net;
            staticnn::block::as_mut_slice::<f32, _>(net.params_mut())[at] = bad;
            let within = staticnn::__private::params_bounded::<f32, _>(net.params());
            assert_eq!(within, bad.abs() <= f32::MAX / 4.0);
            let (y, bounded) = net.forward_train_bounded(&x, &mut tape, &mut rng);
            let y = *y;
            let y_plain = *net.forward_train(&x, &mut plain, &mut rng);
            let bits = |m: &SMatrix<f32, 2, 12>| m.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&y), bits(&y_plain), "{at}: {bad}");
            assert_eq!(
                bounded,
                within && staticnn::__private::BOUNDS_IN_FORWARD,
                "{at}: {bad}"
            );
            seen[usize::from(bounded)] += 1;
        }
    }
    assert!(!staticnn::__private::BOUNDS_IN_FORWARD || seen[1] > 0 && seen[0] > 0);
}
