//! Gradient checks: every backward pass against central finite differences, in f64.
//!
//! For a network the scalar objective is `J = ⟨c, y⟩ = Σ c ⊙ y` over a batch, for a fixed
//! random `c`; backward with `dy = c` then gives `∂J/∂θ` for every parameter `θ` and `∂J/∂x`
//! for every input. For a loss the objective is the loss itself, differentiated with respect
//! to the network output it is given. Each derivative is compared with
//! `(J(θ + h) − J(θ − h)) / 2h`, `h = 1e-6`, by the relative error
//! `|num − ana| / max(|num| + |ana|, FLOOR)`, which must not exceed 1e-6.
//!
//! `FLOOR` is 1e-2, not a token 1e-8: the objectives here are of order 1, and rounding them
//! (≈ 1e-16) over a step of 2e-6 leaves about 1e-10 of noise in every numerical derivative
//! (up to 3e-10 was measured through the deep stack below). A relative error of 1e-6 is only
//! meaningful for derivatives well above 1e-4; smaller ones are held instead to an absolute
//! error of 1e-6 × FLOOR = 1e-8, still some 30 times the noise, and far below the error of
//! any wrong formula. (With a 1e-8 floor, 4 of 200 random seeds failed for the single
//! layers and losses, and 55 of 60 for the stack, each time on a derivative below 1e-4
//! whose two values agreed to within 3e-10.)
//!
//! Batch norm is checked in train mode, where its output depends on the whole batch through
//! the batch mean and variance, so the input gradient includes their derivatives. Dropout is
//! checked in train mode with a fixed mask: every evaluation of `J` (see [`objective`])
//! reseeds the RNG with the same seed before its forward, so every forward draws the same
//! mask, and `J` is a smooth function of the parameters and the input.
//!
//! Finite differences are meaningless across a kink, so the inputs (for the stack, the
//! network too) are drawn again until no ReLU-like pre-activation (ReLU, LeakyReLU, PReLU,
//! ELU), no maxout runner-up and no hinge margin lies within 1e-3 of its kink: far beyond the
//! 1e-6 step, so `J(θ ± h)` stays on one side of each.

use staticnn::block;
use staticnn::layers::MaxoutParams;
use staticnn::prelude::*;
use staticnn::rand::{RngExt, SeedableRng, rngs::Xoshiro128PlusPlus};

/// Finite-difference step.
const STEP: f64 = 1e-6;
/// Largest relative error accepted.
const TOL: f64 = 1e-6;
/// Below this magnitude derivatives are compared in absolute terms, to `TOL · FLOOR`.
const FLOOR: f64 = 1e-2;
/// Smallest distance from a kink accepted for a pre-activation, maxout gap or hinge margin.
const KINK_MARGIN: f64 = 1e-3;
/// Attempts at drawing inputs (or a network) clear of every kink before giving up.
const TRIES: usize = 1000;

/// The relative error of an analytic derivative against a numerical one.
fn rel_error(num: f64, ana: f64) -> f64 {
    (num - ana).abs() / (num.abs() + ana.abs()).max(FLOOR)
}

/// A matrix of values uniform in `[lo, hi)`.
fn uniform<const R: usize, const C: usize>(
    rng: &mut Xoshiro128PlusPlus,
    lo: f64,
    hi: f64,
) -> SMatrix<f64, R, C> {
    SMatrix::from_fn(|_, _| rng.random_range(lo..hi))
}

/// A matrix of values uniform in `[−2, 2)` but at least [`KINK_MARGIN`] away from 0 (values
/// too close are drawn again), for layers whose kink is at 0.
fn clear_of_zero<const R: usize, const C: usize>(
    rng: &mut Xoshiro128PlusPlus,
) -> SMatrix<f64, R, C> {
    SMatrix::from_fn(|_, _| {
        loop {
            let v = rng.random_range(-2.0..2.0);
            if f64::abs(v) >= KINK_MARGIN {
                break v;
            }
        }
    })
}

/// The smallest magnitude among the entries of `m`.
fn min_abs<const R: usize, const C: usize>(m: &SMatrix<f64, R, C>) -> f64 {
    m.iter().fold(f64::INFINITY, |a, v| a.min(v.abs()))
}

/// The smallest gap, over outputs and samples, between the winning maxout piece and the
/// runner-up for input `a`; infinite with one piece.
fn maxout_gap<const I: usize, const O: usize, const K: usize, const B: usize>(
    p: &MaxoutParams<f64, I, O, K>,
    a: &SMatrix<f64, I, B>,
) -> f64 {
    let z: Vec<SMatrix<f64, O, B>> = p
        .weight
        .iter()
        .zip(&p.bias)
        .map(|(w, bias)| SMatrix::from_fn(|o, b| bias[o] + w.row(o).dot(&a.column(b).transpose())))
        .collect();
    let mut gap = f64::INFINITY;
    for b in 0..B {
        for o in 0..O {
            let mut v: Vec<f64> = z.iter().map(|zk| zk[(o, b)]).collect();
            v.sort_by(|x, y| y.total_cmp(x));
            if let [first, second, ..] = v[..] {
                gap = gap.min(first - second);
            }
        }
    }
    gap
}

/// Derivatives that disagree, kept to report the worst.
#[derive(Default)]
struct Mismatches {
    checked: usize,
    failed: Vec<(String, f64, f64, f64)>,
}

impl Mismatches {
    /// Records one comparison of a numerical with an analytic derivative.
    fn compare(&mut self, what: impl FnOnce() -> String, num: f64, ana: f64) {
        self.checked += 1;
        let err = rel_error(num, ana);
        if err.is_nan() || err > TOL {
            self.failed.push((what(), num, ana, err));
        }
    }

    /// Panics, naming the worst derivative, when any disagreed.
    fn assert_none(mut self, name: &str) {
        if self.failed.is_empty() {
            return;
        }
        self.failed.sort_by(|a, b| b.3.total_cmp(&a.3));
        let lines: Vec<String> = self
            .failed
            .iter()
            .take(5)
            .map(|(what, num, ana, err)| {
                format!("  {what}: numerical {num:e}, analytic {ana:e}, relative error {err:e}")
            })
            .collect();
        panic!(
            "{name}: {} of {} derivatives off by more than {TOL:e}; the worst:\n{}",
            self.failed.len(),
            self.checked,
            lines.join("\n")
        );
    }
}

/// The name of the layer owning scalar `i` of a network's parameter block, and the index
/// within that layer's block.
fn param_label<Net: Network<f64, IN, OUT>, const IN: usize, const OUT: usize>(i: usize) -> String {
    let mut start = 0;
    for layer in Net::LAYERS {
        if i < start + layer.params {
            return format!("parameter {}[{}] ({})", layer.name, i - start, layer.kind);
        }
        start += layer.params;
    }
    format!("parameter {i} (beyond the layer table)")
}

/// `J = ⟨c, y⟩` for the train-mode output `y` of `net` on `x`.
fn objective<Net, const IN: usize, const OUT: usize, const B: usize>(
    net: &mut Net,
    x: &SMatrix<f64, IN, B>,
    c: &SMatrix<f64, OUT, B>,
) -> f64
where
    Net: Network<f64, IN, OUT>,
{
    let mut tape = Net::tape::<B>();
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(0);
    c.dot(net.forward_train(x, &mut tape, &mut rng))
}

/// Checks the gradient of `J = ⟨c, y⟩` with respect to every parameter of `net` and every
/// entry of `x`. Also makes sure the check is not vacuous (some derivative is not zero) and
/// that backward writes every entry of the input gradient.
fn check_network<Net, const IN: usize, const OUT: usize, const B: usize>(
    name: &str,
    net: &mut Net,
    x: &SMatrix<f64, IN, B>,
    c: &SMatrix<f64, OUT, B>,
) where
    Net: Network<f64, IN, OUT>,
{
    let mut tape = Net::tape::<B>();
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(0);
    net.forward_train(x, &mut tape, &mut rng);
    let mut grads = Net::gradients();
    let mut dx = SMatrix::<f64, IN, B>::repeat(f64::NAN);
    net.backward(x, &mut tape, c, &mut grads, Some(&mut dx));

    // The overwriting backward of a training step gives the same gradients, bit for bit,
    // whatever the gradient block held before (NaN here, which any read would spread).
    let mut set = Net::gradients();
    block::as_mut_slice::<f64, _>(&mut set).fill(f64::NAN);
    let mut dx_set = SMatrix::<f64, IN, B>::repeat(f64::NAN);
    net.backward_overwrite(x, &mut tape, c, &mut set, Some(&mut dx_set));
    let (added, written) = (
        block::as_slice::<f64, _>(&grads),
        block::as_slice::<f64, _>(&set),
    );
    for (k, (a, w)) in added.iter().zip(written).enumerate() {
        assert_eq!(
            a.to_bits(),
            w.to_bits(),
            "{name}: backward_overwrite, parameter {k}"
        );
    }
    assert_eq!(dx, dx_set, "{name}: backward_overwrite, input gradient");

    // The checking backward of a training step writes the same bits and finds them finite;
    // with `dy` spoilt, it finds what reading the block back finds: not finite, when the
    // network has parameters.
    block::as_mut_slice::<f64, _>(&mut set).fill(f64::NAN);
    dx_set.fill(f64::NAN);
    let finite = net.backward_overwrite_finite(x, &mut tape, c, &mut set, Some(&mut dx_set));
    assert!(
        finite,
        "{name}: backward_overwrite_finite on finite gradients"
    );
    assert_eq!(
        block::as_slice::<f64, _>(&set),
        block::as_slice::<f64, _>(&grads),
        "{name}: backward_overwrite_finite"
    );
    assert_eq!(
        dx, dx_set,
        "{name}: backward_overwrite_finite, input gradient"
    );
    for bad in [f64::NAN, f64::INFINITY] {
        let spoilt = SMatrix::<f64, OUT, B>::repeat(bad);
        let finite = net.backward_overwrite_finite(x, &mut tape, &spoilt, &mut set, None);
        assert_eq!(
            finite,
            block::all_finite::<f64, _>(&set),
            "{name}: backward_overwrite_finite with {bad} in dy"
        );
        let params = block::as_slice::<f64, _>(net.params()).len();
        assert_eq!(
            finite,
            params == 0,
            "{name}: {bad} in dy reaches the gradients"
        );
    }

    let mut mismatches = Mismatches::default();
    let n = block::as_slice::<f64, _>(net.params()).len();
    for i in 0..n {
        let theta = block::as_slice::<f64, _>(net.params())[i];
        block::as_mut_slice::<f64, _>(net.params_mut())[i] = theta + STEP;
        let plus = objective(net, x, c);
        block::as_mut_slice::<f64, _>(net.params_mut())[i] = theta - STEP;
        let minus = objective(net, x, c);
        block::as_mut_slice::<f64, _>(net.params_mut())[i] = theta;
        let ana = block::as_slice::<f64, _>(&grads)[i];
        mismatches.compare(
            || param_label::<Net, IN, OUT>(i),
            (plus - minus) / (2.0 * STEP),
            ana,
        );
    }
    for b in 0..B {
        for r in 0..IN {
            let (mut xp, mut xm) = (*x, *x);
            xp[(r, b)] += STEP;
            xm[(r, b)] -= STEP;
            let num = (objective(net, &xp, c) - objective(net, &xm, c)) / (2.0 * STEP);
            mismatches.compare(
                || format!("input feature {r} of sample {b}"),
                num,
                dx[(r, b)],
            );
        }
    }
    mismatches.assert_none(name);

    let g = block::as_slice::<f64, _>(&grads);
    assert!(
        n == 0 || g.iter().any(|&v| v != 0.0),
        "{name}: every parameter gradient is zero; the check proves nothing"
    );
    assert!(
        dx.iter().any(|&v| v != 0.0),
        "{name}: the input gradient is zero; the check proves nothing"
    );
}

/// Checks the gradient a loss reports with respect to the output `y` it is given, and that
/// the loss it returns alongside equals [`Loss::loss`].
fn check_loss<L, const N: usize, const B: usize>(
    name: &str,
    loss: &L,
    y: &SMatrix<f64, N, B>,
    t: &L::Target<B>,
) where
    L: Loss<f64, N>,
{
    let mut dy = SMatrix::<f64, N, B>::repeat(f64::NAN);
    let value = loss.loss_and_grad(y, t, &mut dy);
    let direct = loss.loss(y, t);
    assert!(
        (value - direct).abs() <= 1e-14 * direct.abs().max(1.0),
        "{name}: loss_and_grad returns {value:e} but loss gives {direct:e}"
    );

    let mut mismatches = Mismatches::default();
    for b in 0..B {
        for k in 0..N {
            let (mut yp, mut ym) = (*y, *y);
            yp[(k, b)] += STEP;
            ym[(k, b)] -= STEP;
            let num = (loss.loss(&yp, t) - loss.loss(&ym, t)) / (2.0 * STEP);
            mismatches.compare(|| format!("output {k} of sample {b}"), num, dy[(k, b)]);
        }
    }
    mismatches.assert_none(name);
    assert!(
        dy.iter().any(|&v| v != 0.0),
        "{name}: the gradient is zero; the check proves nothing"
    );
}

/// `B` random class labels below `N`.
fn classes<const N: usize, const B: usize>(rng: &mut Xoshiro128PlusPlus) -> [ClassIndex<N>; B] {
    core::array::from_fn(|_| ClassIndex::new(rng.random_range(0..N)).expect("below N"))
}

/// Runs [`check_network`] on a freshly initialised `$net` (input `$in` wide, output `$out`)
/// with a batch of 4 inputs clear of zero (the kink of every ReLU-like layer) and a random `c`.
macro_rules! check_single_layer {
    ($net:ident, $in:literal -> $out:literal, seed $seed:literal) => {{
        let mut rng = Xoshiro128PlusPlus::seed_from_u64($seed);
        let mut net = $net::<f64>::new(&mut rng);
        let x: SMatrix<f64, $in, 4> = clear_of_zero(&mut rng);
        let c: SMatrix<f64, $out, 4> = uniform(&mut rng, -1.0, 1.0);
        check_network(stringify!($net), &mut net, &x, &c);
    }};
}

network! { struct LinearNet { input: 5, Linear(3) } }
network! { struct SigmoidNet { input: 5, Sigmoid } }
network! { struct TanhNet { input: 5, Tanh } }
network! { struct ReluNet { input: 5, ReLU } }
network! { struct LeakyNet { input: 5, LeakyReLU(slope = 0.1) } }
network! { struct PreluNet { input: 5, PReLU(init = 0.3) } }
network! { struct EluNet { input: 5, ELU(alpha = 1.5) } }
network! { struct MaxoutNet { input: 5, Maxout(3, k = 3) } }
network! { struct SoftmaxNet { input: 5, Softmax } }

/// Linear: gradients of the weight, the bias and the input.
#[test]
fn linear() {
    check_single_layer!(LinearNet, 5 -> 3, seed 1);
}

/// Sigmoid: gradient of the input.
#[test]
fn sigmoid() {
    check_single_layer!(SigmoidNet, 5 -> 5, seed 2);
}

/// Tanh: gradient of the input.
#[test]
fn tanh() {
    check_single_layer!(TanhNet, 5 -> 5, seed 3);
}

/// ReLU: gradient of the input (inputs clear of 0).
#[test]
fn relu() {
    check_single_layer!(ReluNet, 5 -> 5, seed 4);
}

/// LeakyReLU with slope 0.1: gradient of the input (inputs clear of 0).
#[test]
fn leaky_relu() {
    check_single_layer!(LeakyNet, 5 -> 5, seed 5);
}

/// PReLU (slope 0.3): gradients of the slope and of the input (inputs clear of 0).
#[test]
fn prelu() {
    check_single_layer!(PreluNet, 5 -> 5, seed 6);
}

/// ELU with α = 1.5: gradient of the input (inputs clear of 0).
#[test]
fn elu() {
    check_single_layer!(EluNet, 5 -> 5, seed 7);
}

/// Maxout with 3 pieces: gradients of every piece's weight and bias and of the input, for
/// an input whose winning piece leads the runner-up by at least 1e-3 everywhere.
#[test]
fn maxout() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(8);
    let mut net = MaxoutNet::<f64>::new(&mut rng);
    let x: SMatrix<f64, 5, 4> = (0..TRIES)
        .map(|_| uniform(&mut rng, -2.0, 2.0))
        .find(|x| maxout_gap(&net.params.layer0, x) >= KINK_MARGIN)
        .expect("an input clear of maxout ties");
    let c: SMatrix<f64, 3, 4> = uniform(&mut rng, -1.0, 1.0);
    check_network("MaxoutNet", &mut net, &x, &c);
}

/// Softmax: gradient of the input.
#[test]
fn softmax() {
    check_single_layer!(SoftmaxNet, 5 -> 5, seed 9);
}

network! {
    /// Every layer type in one stack, so that the gradient also has to travel through the
    /// buffers the generated backward passes it along in.
    struct Stack {
        input: 4,
        fc1: Linear(6),
        tanh: Tanh,
        mx: Maxout(5, k = 3),
        prelu: PReLU,
        fc2: Linear(5),
        elu: ELU,
        leaky: LeakyReLU(slope = 0.2),
        sig: Sigmoid,
        fc3: Linear(4),
        relu: ReLU,
        fc4: Linear(3),
        soft: Softmax,
    }
}

/// A `Stack` network and a batch of 5 inputs that keep every kink at least [`KINK_MARGIN`]
/// away and some ReLU unit alive (both are drawn again until they do), and a random `c`.
fn stack_case(seed: u64) -> (Stack<f64>, SMatrix<f64, 4, 5>, SMatrix<f64, 3, 5>) {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(seed);
    let mut tape = Stack::<f64>::tape::<5>();
    for _ in 0..TRIES {
        let mut net = Stack::<f64>::new(&mut rng);
        let x: SMatrix<f64, 4, 5> = uniform(&mut rng, -2.0, 2.0);
        net.forward_train(&x, &mut tape, &mut rng);
        let clear = maxout_gap(&net.params.mx, &tape.tanh) >= KINK_MARGIN
            && min_abs(&tape.mx) >= KINK_MARGIN // PReLU input
            && min_abs(&tape.fc2) >= KINK_MARGIN // ELU input
            && min_abs(&tape.elu) >= KINK_MARGIN // LeakyReLU input
            && min_abs(&tape.fc3) >= KINK_MARGIN // ReLU input
            && tape.fc3.iter().any(|&v| v > 0.0); // some ReLU unit alive, or nothing reaches fc1
        if clear {
            return (net, x, uniform(&mut rng, -1.0, 1.0));
        }
    }
    panic!("no network and input clear of every kink in {TRIES} tries");
}

/// All layer types chained: gradients of every parameter and of the input.
#[test]
fn stack_of_every_layer() {
    let (mut net, x, c) = stack_case(10);
    check_network("Stack", &mut net, &x, &c);
}

network! { struct BatchNormNet { input: 5, BatchNorm } }
network! { struct DropoutNet { input: 5, Dropout(0.4) } }

/// A `BatchNormNet` with `γ` and `β` drawn away from their initial 1 and 0, so that their
/// gradients are not special.
fn batch_norm_net(rng: &mut Xoshiro128PlusPlus) -> BatchNormNet<f64> {
    let mut net = BatchNormNet::<f64>::new(rng);
    net.params.layer0.weight = uniform(rng, 0.5, 1.5);
    net.params.layer0.bias = uniform(rng, -0.5, 0.5);
    net
}

/// Batch norm in train mode, batch of 6: gradients of `γ`, `β` and of the input, through the
/// batch mean and variance.
#[test]
fn batch_norm() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(12);
    let mut net = batch_norm_net(&mut rng);
    let x: SMatrix<f64, 5, 6> = uniform(&mut rng, -2.0, 2.0);
    let c: SMatrix<f64, 5, 6> = uniform(&mut rng, -1.0, 1.0);
    check_network("BatchNormNet", &mut net, &x, &c);
}

/// Batch norm with the smallest batch that has a gradient through the statistics worth
/// checking (with 2 samples each normalised value is ±1 whatever the input).
#[test]
fn batch_norm_batch_of_three() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(13);
    let mut net = batch_norm_net(&mut rng);
    let x: SMatrix<f64, 5, 3> = uniform(&mut rng, -2.0, 2.0);
    let c: SMatrix<f64, 5, 3> = uniform(&mut rng, -1.0, 1.0);
    check_network("BatchNormNet (batch of 3)", &mut net, &x, &c);
}

/// A feature that is the same in every sample of the batch has zero batch variance: it is
/// normalised by `1/√ε` alone. Outputs and gradients stay finite, and the gradients are
/// still right (the variance a perturbation of `STEP` creates, about `STEP²`, is negligible
/// beside `ε = 1e-5`).
#[test]
fn batch_norm_feature_with_zero_variance() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(14);
    let mut net = batch_norm_net(&mut rng);
    let mut x: SMatrix<f64, 5, 4> = uniform(&mut rng, -2.0, 2.0);
    x.row_mut(2).fill(0.75);
    let c: SMatrix<f64, 5, 4> = uniform(&mut rng, -1.0, 1.0);

    let mut tape = BatchNormNet::<f64>::tape::<4>();
    let y = *net.forward_train(&x, &mut tape, &mut rng);
    assert!(y.iter().all(|v| v.is_finite()), "non-finite output {y}");
    for b in 0..4 {
        assert_eq!(
            y[(2, b)],
            net.params.layer0.bias[2],
            "a constant feature normalises to 0, so its output is β"
        );
    }
    let mut grads = BatchNormNet::<f64>::gradients();
    let mut dx = SMatrix::<f64, 5, 4>::zeros();
    net.backward(&x, &mut tape, &c, &mut grads, Some(&mut dx));
    assert!(
        dx.iter()
            .chain(block::as_slice::<f64, _>(&grads))
            .all(|v| v.is_finite()),
        "non-finite gradient: dx = {dx}, grads = {grads:?}"
    );
    assert_eq!(grads.layer0.weight[2], 0.0, "x̂ = 0, so ∂J/∂γ = Σ c·x̂ = 0");
    check_network("BatchNormNet (zero variance)", &mut net, &x, &c);
}

/// The units dropped by a train-mode forward of `net` on `x` after seeding the RNG with 0, as
/// [`objective`] does (`x` has no zero, so a zero output is a dropped unit).
fn dropped<Net, const N: usize, const B: usize>(
    net: &mut Net,
    x: &SMatrix<f64, N, B>,
) -> SMatrix<bool, N, B>
where
    Net: Network<f64, N, N>,
{
    let mut tape = Net::tape::<B>();
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(0);
    net.forward_train(x, &mut tape, &mut rng).map(|v| v == 0.0)
}

/// Dropout with p = 0.4 in train mode: gradient of the input through a fixed mask (zero for
/// dropped units, `1/(1 − p)` for kept ones). The mask must be the same for every input the
/// finite differences try, and must drop some units and keep others, or the check says little.
#[test]
fn dropout() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(15);
    let mut net = DropoutNet::<f64>::new(&mut rng);
    let x: SMatrix<f64, 5, 4> = clear_of_zero(&mut rng);
    let c: SMatrix<f64, 5, 4> = uniform(&mut rng, -1.0, 1.0);
    let mask = dropped(&mut net, &x);
    assert!(
        mask.iter().any(|&d| d) && mask.iter().any(|&d| !d),
        "the mask should drop some units and keep others: {mask}"
    );
    let mut shifted = x;
    shifted[(1, 2)] += STEP;
    assert_eq!(
        mask,
        dropped(&mut net, &shifted),
        "reseeding must give the same mask"
    );
    check_network("DropoutNet", &mut net, &x, &c);
}

network! {
    /// Batch norm and dropout between linear layers and smooth activations (no kinks), so
    /// that the gradient of each reaches the layers before it.
    struct NormStack {
        input: 4,
        fc1: Linear(6),
        bn1: BatchNorm,
        tanh: Tanh,
        drop1: Dropout(0.3),
        fc2: Linear(5),
        bn2: BatchNorm(eps = 1e-3, momentum = 0.2),
        sig: Sigmoid,
        drop2: Dropout(p = 0.5),
        fc3: Linear(3),
    }
}

/// Batch norm and dropout in a stack: gradients of every parameter (the linear layers'
/// through both batch norms and both masks) and of the input.
#[test]
fn stack_with_batch_norm_and_dropout() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(16);
    let mut net = NormStack::<f64>::new(&mut rng);
    net.params.bn1.weight = uniform(&mut rng, 0.5, 1.5);
    net.params.bn1.bias = uniform(&mut rng, -0.5, 0.5);
    net.params.bn2.weight = uniform(&mut rng, 0.5, 1.5);
    net.params.bn2.bias = uniform(&mut rng, -0.5, 0.5);
    let x: SMatrix<f64, 4, 6> = uniform(&mut rng, -2.0, 2.0);
    let c: SMatrix<f64, 3, 6> = uniform(&mut rng, -1.0, 1.0);

    let mut tape = NormStack::<f64>::tape::<6>();
    net.forward_train(&x, &mut tape, &mut Xoshiro128PlusPlus::seed_from_u64(0));
    for (name, out) in [
        ("drop1", tape.drop1.as_slice()),
        ("drop2", tape.drop2.as_slice()),
    ] {
        let zeros = out.iter().filter(|&&v| v == 0.0).count();
        assert!(
            zeros > 0 && zeros < out.len(),
            "{name} should drop some units and keep others ({zeros} of {} dropped)",
            out.len()
        );
    }
    check_network("NormStack", &mut net, &x, &c);
}

/// Backward adds parameter gradients to what `grads` holds, and writes (not adds) the input
/// gradient: a second backward doubles `grads` (up to the rounding of the different
/// summation order) and gives the same `dx`, bit for bit, over a `dx` full of other values.
#[test]
fn backward_adds_parameter_gradients_and_writes_input_gradient() {
    let (mut net, x, c) = stack_case(11);
    let mut tape = Stack::<f64>::tape::<5>();
    net.forward_train(&x, &mut tape, &mut Xoshiro128PlusPlus::seed_from_u64(0));
    let mut once = Stack::<f64>::gradients();
    let mut dx_once = SMatrix::<f64, 4, 5>::zeros();
    net.backward(&x, &mut tape, &c, &mut once, Some(&mut dx_once));
    let mut twice = once;
    let mut dx_twice = SMatrix::<f64, 4, 5>::repeat(1e3);
    net.backward(&x, &mut tape, &c, &mut twice, Some(&mut dx_twice));

    let (g1, g2) = (
        block::as_slice::<f64, _>(&once),
        block::as_slice::<f64, _>(&twice),
    );
    let scale = g1.iter().fold(0.0, |m: f64, v| m.max(v.abs()));
    for (i, (a, b)) in g1.iter().zip(g2).enumerate() {
        let label = param_label::<Stack<f64>, 4, 3>(i);
        assert!(
            (b - 2.0 * a).abs() <= 1e-12 * scale,
            "{label}: {a:e} after one backward pass, {b:e} after two"
        );
    }
    assert_eq!(
        dx_once, dx_twice,
        "the input gradient must be written, not accumulated"
    );
}

/// Softmax cross-entropy: gradient with respect to the logits.
#[test]
fn loss_softmax_cross_entropy() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(20);
    let y: SMatrix<f64, 4, 5> = uniform(&mut rng, -3.0, 3.0);
    let t = classes(&mut rng);
    check_loss("SoftmaxCrossEntropy", &SoftmaxCrossEntropy, &y, &t);
}

/// Multiclass hinge: gradient with respect to the scores, for scores whose margins
/// `y_k − y_t + 1` all lie at least 1e-3 from 0.
#[test]
fn loss_hinge() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(21);
    let t: [ClassIndex<4>; 5] = classes(&mut rng);
    let clear = |y: &SMatrix<f64, 4, 5>| {
        (0..5).all(|b| {
            (0..4)
                .filter(|&k| k != t[b].get())
                .all(|k| f64::abs(y[(k, b)] - y[(t[b].get(), b)] + 1.0) >= KINK_MARGIN)
        })
    };
    let y = (0..TRIES)
        .map(|_| uniform(&mut rng, -2.0, 2.0))
        .find(clear)
        .expect("scores clear of every hinge");
    check_loss("Hinge", &Hinge, &y, &t);
}

/// Binary cross-entropy on logits: gradient with respect to the logits, for soft targets.
#[test]
fn loss_bce_with_logits() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(22);
    let y: SMatrix<f64, 3, 5> = uniform(&mut rng, -4.0, 4.0);
    let t: SMatrix<f64, 3, 5> = uniform(&mut rng, 0.0, 1.0);
    check_loss("BceWithLogits", &BceWithLogits, &y, &t);
}

/// Mean squared error: gradient with respect to the predictions.
#[test]
fn loss_mse() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(23);
    let y: SMatrix<f64, 3, 5> = uniform(&mut rng, -2.0, 2.0);
    let t: SMatrix<f64, 3, 5> = uniform(&mut rng, -2.0, 2.0);
    check_loss("Mse", &Mse, &y, &t);
}
