//! staticnn's optimisers against PyTorch's: the parameters after each of three
//! `train_step`s on one batch, from the fixture's initial weights, compared with
//! `expected.step<k>.<key>` of the `opt_*` and `deep_mixed` fixtures (see
//! `tests/fixtures/torch/README.md`). In f64 they match to 1e-10 and in f32 (weights and
//! inputs rounded to f32) to 1e-5, relative with a floor of 1 (`|a − e| ≤ tol · max(1, |e|)`).
//!
//! PyTorch decays every parameter; the cases with weight decay use [`DecayScope::All`].
//! Further tests check the decay scopes on a network with every parameter role, and that
//! optimisers for large networks are built and stepped without their state touching the
//! stack.

// The fixture reader is shared with `torch_vectors.rs`, which uses more of it.
#[allow(dead_code)]
mod common;

use common::{Fixture, FromTarget, row_major};
use staticnn::layout::Role;
use staticnn::optim::{Decay, DecayScope};
use staticnn::prelude::*;
use staticnn::rand::{SeedableRng, rngs::Xoshiro128PlusPlus};
use staticnn::{ParamBlock, block};

/// Tolerance of the f64 runs.
const F64_TOL: f64 = 1e-10;
/// Tolerance of the f32 runs.
const F32_TOL: f64 = 1e-5;

network! {
    /// The network of every `opt_*` case: Linear(5, 7), Tanh, Linear(7, 3).
    struct Small {
        input: 5,
        Linear(5 -> 7),
        Tanh,
        Linear(3),
        loss: SoftmaxCrossEntropy,
    }
}

network! {
    /// The network of `deep_mixed`.
    struct Deep {
        input: 12,
        Linear(12 -> 20),
        BatchNorm,
        LeakyReLU(slope = 0.1),
        Linear(20),
        ELU(alpha = 1.0),
        Linear(16),
        BatchNorm(16),
        Sigmoid,
        Linear(6),
        loss: SoftmaxCrossEntropy,
    }
}

/// Every parameter of a network by its PyTorch key (`<k>.weight`, `<k>.bias`), row-major.
type Snapshot = Vec<(String, Vec<f64>)>;

/// Loads the fixture's initial parameters (`model.<key>.weight`, `.bias`) into the listed
/// fields, and lists the same fields' values for comparison.
macro_rules! fields {
    (load $fx:expr, $net:expr, [$($field:ident = $key:literal),+]) => {
        $(
            $net.params.$field.weight = $fx.matrix(concat!("model.", $key, ".weight"));
            $net.params.$field.bias = $fx.matrix(concat!("model.", $key, ".bias"));
        )+
    };
    (snapshot $net:expr, [$($field:ident = $key:literal),+]) => {
        vec![$(
            (concat!($key, ".weight").to_string(), row_major(&$net.params.$field.weight)),
            (concat!($key, ".bias").to_string(), row_major(&$net.params.$field.bias)),
        )+]
    };
}

/// Takes three `train_step`s with `opt` on the fixture's batch and compares the parameters
/// after each with `expected.step<k>.*`, and the first step's loss with `expected.loss`.
/// Checks that every `expected.step` tensor of the fixture was compared, except those whose
/// key is in `skip`.
fn run_steps<T, Net, O, const IN: usize, const OUT: usize, const B: usize>(
    fx: &Fixture,
    net: &mut Net,
    opt: &mut O,
    tol: f64,
    skip: &[&str],
    snapshot: impl Fn(&Net) -> Snapshot,
) where
    T: Scalar,
    Net: Supervised<T, IN, OUT>,
    O: Optimizer<T, Net::Params>,
    <Net::Loss as Loss<T, OUT>>::Target<B>: FromTarget,
{
    let x = fx.batch::<T, IN, B>("input");
    let target =
        <<Net::Loss as Loss<T, OUT>>::Target<B> as FromTarget>::from_target(fx.get("target"));
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(0);
    let mut tape = Net::tape::<B>();
    let mut grads = Net::gradients();
    let mut compared = Vec::new();
    for k in 1..=3 {
        let loss = net
            .train_step(&x, &target, &mut grads, &mut tape, opt, &mut rng)
            .unwrap_or_else(|e| panic!("{}: step {k}: {e}", fx.case()));
        if k == 1 {
            fx.assert_close("expected.loss", &[loss.as_f64()], tol);
        }
        for (key, values) in snapshot(net) {
            let name = format!("expected.step{k}.{key}");
            if !skip.contains(&key.as_str()) {
                fx.assert_close(&name, &values, tol);
            }
            compared.push(name);
        }
    }
    compared.sort_unstable();
    assert_eq!(
        compared,
        fx.names("expected.step"),
        "{}: every step tensor must be compared",
        fx.case()
    );
}

/// Runs an `opt_*` case on [`Small`] in scalar `T`.
fn small_case<T: Scalar, O: Optimizer<T, SmallParams<T>>>(case: &str, mut opt: O, tol: f64) {
    let fx = Fixture::load(case);
    let mut net = Small::<T>::new(&mut Xoshiro128PlusPlus::seed_from_u64(1));
    fields!(load fx, net, [layer0 = "0", layer2 = "2"]);
    run_steps::<T, _, _, 5, 3, 7>(
        &fx,
        &mut net,
        &mut opt,
        tol,
        &[],
        |net| fields!(snapshot net, [layer0 = "0", layer2 = "2"]),
    );
}

/// Declares the f64 and f32 tests of one `opt_*` case, given its optimiser as a function of
/// the scalar type `T`.
macro_rules! opt_case {
    ($(#[doc = $doc:literal])* $case:ident, |$t:ident| $opt:expr) => {
        $(#[doc = $doc])*
        mod $case {
            use super::*;

            fn optimiser<$t: Scalar>() -> impl Optimizer<$t, SmallParams<$t>> {
                $opt
            }

            #[test]
            fn f64_matches_torch() {
                small_case::<f64, _>(stringify!($case), optimiser::<f64>(), F64_TOL);
            }

            #[test]
            fn f32_matches_torch() {
                small_case::<f32, _>(stringify!($case), optimiser::<f32>(), F32_TOL);
            }
        }
    };
}

opt_case! {
    /// `SGD(lr=0.1)`.
    opt_sgd, |T| Sgd::new(T::of(0.1))
}

opt_case! {
    /// `SGD(lr=0.1, momentum=0.9)`.
    opt_sgd_momentum, |T| Sgd::with(T::of(0.1), SgdConfig { momentum: 0.9, ..Default::default() })
}

opt_case! {
    /// `SGD(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)`: PyTorch decays the
    /// biases too.
    opt_sgd_nesterov_wd, |T| Sgd::with(
        T::of(0.1),
        SgdConfig { momentum: 0.9, nesterov: true, weight_decay: Decay::all(0.01), ..Default::default() },
    )
}

opt_case! {
    /// `Adam(lr=0.01, betas=(0.9, 0.999), eps=1e-8)`.
    opt_adam, |T| Adam::with(
        T::of(0.01),
        AdamConfig { betas: (0.9, 0.999), eps: 1e-8, ..Default::default() },
    )
}

opt_case! {
    /// `AdamW(lr=0.01, weight_decay=0.05)`: decoupled decay of every parameter.
    opt_adamw, |T| AdamW::with(
        T::of(0.01),
        AdamWConfig { weight_decay: Decay::all(0.05), ..Default::default() },
    )
}

opt_case! {
    /// `RMSprop(lr=0.01, alpha=0.99, eps=1e-8)`.
    opt_rmsprop, |T| RmsProp::with(
        T::of(0.01),
        RmsPropConfig { alpha: 0.99, eps: 1e-8, ..Default::default() },
    )
}

opt_case! {
    /// `RMSprop(lr=0.01, alpha=0.9, momentum=0.5)`.
    opt_rmsprop_momentum, |T| RmsProp::with(
        T::of(0.01),
        RmsPropConfig { alpha: 0.9, momentum: 0.5, ..Default::default() },
    )
}

/// `deep_mixed`: `Adam(lr=0.005)` on a network with batch norm (whose `γ` and `β` Adam
/// updates like every other parameter), leaky ReLU, ELU and sigmoid, in train mode.
///
/// The biases of the two `Linear` layers in front of a batch norm (`0.bias`, `5.bias`) have
/// a gradient of exactly zero in exact arithmetic (the batch norm subtracts their effect),
/// so what either side computes is rounding noise, which Adam divides by its own magnitude:
/// in f64 the noise (about 1e-17) is far below `ε = 1e-8` and the update vanishes on both
/// sides, but in f32 the noise (about 1e-9) is comparable to `ε` and moves those biases by a
/// fraction of the learning rate in a direction set by rounding. The f32 run does not
/// compare them. (In f64 they agree to about 4e-11, every other parameter to 1e-15.)
fn deep_mixed<T: Scalar>(tol: f64, skip: &[&str]) {
    let fx = Fixture::load("deep_mixed");
    let mut net = Deep::<T>::new(&mut Xoshiro128PlusPlus::seed_from_u64(1));
    fields!(load fx, net, [layer0 = "0", layer1 = "1", layer3 = "3", layer5 = "5", layer6 = "6", layer8 = "8"]);
    net.state.layer1.running_mean = fx.matrix("model.1.running_mean");
    net.state.layer1.running_var = fx.matrix("model.1.running_var");
    net.state.layer6.running_mean = fx.matrix("model.6.running_mean");
    net.state.layer6.running_var = fx.matrix("model.6.running_var");
    let mut adam = Adam::<T, DeepParams<T>>::new(T::of(0.005));
    run_steps::<T, _, _, 12, 6, 11>(
        &fx,
        &mut net,
        &mut adam,
        tol,
        skip,
        |net| fields!(snapshot net, [layer0 = "0", layer1 = "1", layer3 = "3", layer5 = "5", layer6 = "6", layer8 = "8"]),
    );
    assert_eq!(adam.steps(), 3);
}

#[test]
fn deep_mixed_f64_matches_torch() {
    deep_mixed::<f64>(F64_TOL, &[]);
}

#[test]
fn deep_mixed_f32_matches_torch() {
    deep_mixed::<f32>(F32_TOL, &["0.bias", "5.bias"]);
}

network! {
    /// Every parameter role: weights and biases (`Linear`, `Maxout`), normalisation
    /// (`BatchNorm`) and other (`PReLU`).
    struct Roles {
        input: 3,
        Linear(4),
        BatchNorm,
        PReLU,
        Maxout(2, k = 2),
        loss: Mse,
    }
}

/// A `Roles` network with every parameter nonzero.
fn roles_net() -> Roles<f64> {
    let mut net = Roles::<f64>::new(&mut Xoshiro128PlusPlus::seed_from_u64(5));
    for (i, p) in block::as_mut_slice::<f64, _>(net.params_mut())
        .iter_mut()
        .enumerate()
    {
        *p = if i % 2 == 0 { 0.5 } else { -0.75 } + i as f64 * 0.01;
    }
    net
}

/// One step with zero gradients moves only what weight decay reaches: with
/// [`DecayScope::WeightsOnly`] every weight and no other parameter, with
/// [`DecayScope::All`] every parameter.
fn check_scope(what: &str, scope: DecayScope, opt: &mut impl Optimizer<f64, RolesParams<f64>>) {
    let mut net = roles_net();
    let before = *net.params();
    opt.step(net.params_mut(), &Roles::<f64>::gradients());
    let (b, a) = (
        block::as_slice::<f64, _>(&before),
        block::as_slice::<f64, _>(net.params()),
    );
    let mut roles_seen = Vec::new();
    for (at, seg) in <RolesParams<f64> as ParamBlock<f64>>::segments() {
        roles_seen.push(seg.role);
        for i in at..at + seg.len {
            if scope.includes(seg.role) {
                assert!(
                    a[i].abs() < b[i].abs(),
                    "{what}, {scope:?}: {:?} parameter {i} not decayed: {} -> {}",
                    seg.role,
                    b[i],
                    a[i]
                );
            } else {
                assert_eq!(
                    a[i].to_bits(),
                    b[i].to_bits(),
                    "{what}, {scope:?}: {:?} parameter {i} moved",
                    seg.role
                );
            }
        }
    }
    for role in [Role::Weight, Role::Bias, Role::Norm, Role::Other] {
        assert!(roles_seen.contains(&role), "the network lacks {role:?}");
    }
}

#[test]
fn weight_decay_scope_decides_what_decays() {
    for scope in [DecayScope::WeightsOnly, DecayScope::All] {
        let decay = Decay { lambda: 0.1, scope };
        let mut plain = Sgd::new(0.5);
        plain.config.weight_decay = decay;
        check_scope("Sgd::new", scope, &mut plain);
        let sgd = SgdConfig {
            momentum: 0.9,
            weight_decay: decay,
            ..Default::default()
        };
        check_scope("Sgd::with", scope, &mut Sgd::with(0.5, sgd));
        let adam = AdamConfig {
            weight_decay: decay,
            ..Default::default()
        };
        check_scope("Adam", scope, &mut Adam::with(0.01, adam));
        let adamw = AdamWConfig {
            weight_decay: decay,
            ..Default::default()
        };
        check_scope("AdamW", scope, &mut AdamW::with(0.01, adamw));
        let rms = RmsPropConfig {
            weight_decay: decay,
            momentum: 0.5,
            centered: true,
            ..Default::default()
        };
        check_scope("RmsProp", scope, &mut RmsProp::with(0.01, rms));
    }
}

#[test]
fn defaults_decay_weights_only() {
    assert_eq!(Decay::default().scope, DecayScope::WeightsOnly);
    assert_eq!(AdamWConfig::default().weight_decay, Decay::weights(0.01));
    check_scope(
        "AdamW default",
        DecayScope::WeightsOnly,
        &mut AdamW::new(0.1),
    );
}

/// Clipping before the step, in a loop written out: with a threshold above the gradient's
/// norm it changes nothing; below, the step is the one for the rescaled gradient.
#[test]
fn clipping_in_a_training_loop() {
    let fx = Fixture::load("opt_sgd");
    let mut net = Small::<f64>::new(&mut Xoshiro128PlusPlus::seed_from_u64(1));
    fields!(load fx, net, [layer0 = "0", layer2 = "2"]);
    let x = fx.batch::<f64, 5, 7>("input");
    let target = <[ClassIndex<3>; 7]>::from_target(fx.get("target"));
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(0);
    let mut tape = Small::<f64>::tape::<7>();
    let mut grads = Small::<f64>::gradients();
    let mut dy = SMatrix::<f64, 3, 7>::zeros();
    let y = net.forward_train(&x, &mut tape, &mut rng);
    SoftmaxCrossEntropy.loss_and_grad(y, &target, &mut dy);
    net.backward(&x, &mut tape, &dy, &mut grads, None);

    let g: Vec<f64> = block::as_slice::<f64, _>(&grads).to_vec();
    let norm = g.iter().map(|v| v * v).sum::<f64>().sqrt();
    let expected: Vec<f64> = ["0.weight", "0.bias", "2.weight", "2.bias"]
        .iter()
        .flat_map(|k| fx.get(&format!("expected.grad.{k}")).data.clone())
        .collect();
    let torch_norm = expected.iter().map(|v| v * v).sum::<f64>().sqrt();
    assert!((norm - torch_norm).abs() < 1e-12, "{norm} vs {torch_norm}");

    let mut unclipped = grads;
    assert_eq!(clip_grad_norm(&mut unclipped, norm * 2.0), norm);
    assert_eq!(block::as_slice::<f64, _>(&unclipped), &g[..]);

    let max = norm / 4.0;
    assert_eq!(clip_grad_norm(&mut grads, max), norm);
    let c = max / (norm + 1e-6);
    for (a, e) in block::as_slice::<f64, _>(&grads).iter().zip(&g) {
        assert_eq!(*a, e * c);
    }
    let before = *net.params();
    Sgd::new(0.1).step(net.params_mut(), &grads);
    for ((p, b), g) in block::as_slice::<f64, _>(net.params())
        .iter()
        .zip(block::as_slice::<f64, _>(&before))
        .zip(&g)
    {
        assert_eq!(*p, b - 0.1 * (g * c));
    }
}

/// Optimisers for large networks are built on the heap and stepped without their state
/// passing through the test thread's 2 MiB stack: every block here is 4 MiB.
#[cfg(feature = "alloc")]
#[test]
fn large_optimisers_live_on_the_heap() {
    use staticnn::optim::{Sgd as SgdOpt, Velocity};
    type Big = [f32; 1 << 20];
    const { assert!(size_of::<Big>() > 2 << 20) };
    let mut params = block::zeroed_box::<Big>();
    let mut grads = block::zeroed_box::<Big>();
    params.fill(1.0);
    grads.fill(0.5);

    let mut sgd = SgdOpt::<f32, Velocity<Big>>::boxed(
        0.1,
        SgdConfig {
            momentum: 0.9,
            ..Default::default()
        },
    );
    sgd.step(&mut *params, &*grads);
    assert_eq!((params[0], params[(1 << 20) - 1]), (0.95, 0.95));

    let mut adam = Adam::<f32, Big>::boxed(0.01, AdamConfig::default());
    adam.step(&mut *params, &*grads);
    assert!((params[7] - 0.94).abs() < 1e-6);
    adam.reset();
    assert_eq!(adam.steps(), 0);

    let mut adamw = AdamW::<f32, Big>::boxed(0.01, AdamWConfig::default());
    adamw.step(&mut *params, &*grads);
    let mut rms = RmsProp::<f32, Big>::boxed(0.01, RmsPropConfig::default());
    rms.step(&mut *params, &*grads);
    rms.reset();
    assert!(params.iter().all(|p| p.is_finite()));

    // The same through a plain zeroed box, then setting the hyperparameters.
    let mut zeroed = block::zeroed_box::<Adam<f32, Big>>();
    zeroed.lr = 0.01;
    zeroed.config = AdamConfig::default();
    let before = params[0];
    zeroed.step(&mut *params, &*grads);
    assert!((params[0] - (before - 0.01)).abs() < 1e-6);
}
