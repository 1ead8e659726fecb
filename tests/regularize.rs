//! Regularisers over a whole network's parameter block: L2 and L1 penalty values by hand
//! and their gradients by finite differences, and the max-norm constraint on `Linear` and
//! `Maxout` rows, with and without biases, never touching batch-norm or PReLU parameters.

use staticnn::layout::Role;
use staticnn::optim::DecayScope;
use staticnn::prelude::*;
use staticnn::rand::{RngExt, SeedableRng, rngs::Xoshiro128PlusPlus};
use staticnn::{ParamBlock, block};

network! {
    /// Every parameter role: weights and biases (`Linear`, `Maxout` with two pieces),
    /// normalisation (`BatchNorm`) and other (`PReLU`).
    struct Roles {
        input: 5,
        Linear(20),
        BatchNorm,
        PReLU,
        Maxout(3, k = 2),
        loss: Mse,
    }
}

type Params = RolesParams<f64>;

/// A network whose every parameter is drawn from ±[0.05, 1.05], so none is near 0.
fn random_net(seed: u64) -> Roles<f64> {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(seed);
    let mut net = Roles::<f64>::new(&mut rng);
    for p in block::as_mut_slice::<f64, _>(net.params_mut()) {
        let m = 0.05 + rng.random::<f64>();
        *p = if rng.random::<bool>() { m } else { -m };
    }
    net
}

/// The role of every scalar of the block, in storage order.
fn roles() -> Vec<Role> {
    let roles: Vec<Role> = <Params as ParamBlock<f64>>::segments()
        .flat_map(|(_, s)| std::iter::repeat_n(s.role, s.len))
        .collect();
    // Every scalar but the padding to whole cache lines (x86-64), which is nobody's.
    assert_eq!(
        roles.len(),
        block::len::<f64, Params>() - <Params as ParamBlock<f64>>::PADDING
    );
    for r in [Role::Weight, Role::Bias, Role::Norm, Role::Other] {
        assert!(roles.contains(&r), "the network lacks {r:?}");
    }
    roles
}

const SCOPES: [DecayScope; 2] = [DecayScope::WeightsOnly, DecayScope::All];

#[test]
fn l2_value_is_half_lambda_sum_of_squares_in_scope() {
    let net = random_net(1);
    let p = &net.params;
    let weights = p.layer0.weight.norm_squared()
        + p.layer3
            .weight
            .iter()
            .map(|w| w.norm_squared())
            .sum::<f64>();
    let rest = p.layer0.bias.norm_squared()
        + p.layer1.weight.norm_squared()
        + p.layer1.bias.norm_squared()
        + p.layer2.slope * p.layer2.slope
        + p.layer3.bias.iter().map(|b| b.norm_squared()).sum::<f64>();
    let l2 = L2::new(0.3);
    let close = |a: f64, e: f64| assert!((a - e).abs() < 1e-13 * e.abs(), "{a} vs {e}");
    close(l2.penalty(p), 0.15 * weights);
    let all = L2 {
        scope: DecayScope::All,
        ..l2
    };
    close(all.penalty(p), 0.15 * (weights + rest));
}

#[test]
fn l1_value_is_lambda_sum_of_magnitudes_in_scope() {
    let net = random_net(2);
    let roles = roles();
    let values = block::as_slice::<f64, _>(&net.params);
    for scope in SCOPES {
        let expected: f64 = values
            .iter()
            .zip(&roles)
            .filter(|&(_, r)| scope.includes(*r))
            .map(|(w, _)| 0.7 * w.abs())
            .sum();
        let got = L1 { lambda: 0.7, scope }.penalty(&net.params);
        assert!((got - expected).abs() < 1e-13 * expected, "{scope:?}");
    }
}

/// Central differences of `penalty` against the gradient `penalty_and_grad` adds (on top
/// of gradients already there), for every scalar of the block; out of scope the gradient
/// is left exactly as it was.
fn check_gradient(penalty: &impl Penalty, scope: DecayScope, seed: u64) {
    let mut net = random_net(seed);
    let roles = roles();
    let mut grads = Roles::<f64>::gradients();
    for (i, g) in block::as_mut_slice::<f64, _>(&mut grads)
        .iter_mut()
        .enumerate()
    {
        *g = i as f64 * 0.001 - 0.1;
    }
    let before = grads;
    let value = penalty.penalty_and_grad(&net.params, &mut grads);
    assert_eq!(value, penalty.penalty(&net.params));

    let h = 1e-6;
    for (i, &role) in roles.iter().enumerate() {
        let base = block::as_slice::<f64, _>(&net.params)[i];
        block::as_mut_slice::<f64, _>(&mut net.params)[i] = base + h;
        let up = penalty.penalty(&net.params);
        block::as_mut_slice::<f64, _>(&mut net.params)[i] = base - h;
        let down = penalty.penalty(&net.params);
        block::as_mut_slice::<f64, _>(&mut net.params)[i] = base;
        let numeric = (up - down) / (2.0 * h);

        let added = block::as_slice::<f64, _>(&grads)[i] - block::as_slice::<f64, _>(&before)[i];
        if scope.includes(role) {
            assert!(
                (added - numeric).abs() < 1e-7,
                "{scope:?}: scalar {i} ({role:?}): gradient {added}, finite difference {numeric}",
            );
        } else {
            assert_eq!(
                added, 0.0,
                "{scope:?}: scalar {i} ({role:?}) is out of scope"
            );
            assert_eq!(numeric, 0.0);
        }
    }
}

#[test]
fn l2_gradient_matches_finite_differences() {
    for scope in SCOPES {
        check_gradient(&L2 { lambda: 0.3, scope }, scope, 3);
    }
}

#[test]
fn l1_gradient_matches_finite_differences() {
    for scope in SCOPES {
        check_gradient(&L1 { lambda: 0.7, scope }, scope, 4);
    }
}

#[test]
fn l1_gradient_is_zero_at_zero() {
    let mut net = random_net(5);
    net.params.layer0.weight[(3, 2)] = 0.0;
    net.params.layer0.weight[(4, 0)] = -0.0;
    let mut grads = Roles::<f64>::gradients();
    L1::new(2.0).penalty_and_grad(&net.params, &mut grads);
    assert_eq!(grads.layer0.weight[(3, 2)], 0.0);
    assert_eq!(grads.layer0.weight[(4, 0)], 0.0);
    assert_eq!(grads.layer0.weight[(3, 1)].abs(), 2.0);
}

/// L2 as a loss term is SGD's weight decay: the same step, for the same scope.
#[test]
fn l2_penalty_equals_sgd_weight_decay() {
    for scope in SCOPES {
        let net = random_net(6);
        let grads = {
            let mut g = Roles::<f64>::gradients();
            block::as_mut_slice::<f64, _>(&mut g)
                .iter_mut()
                .enumerate()
                .for_each(|(i, v)| *v = (i % 7) as f64 * 0.01);
            g
        };
        let (mut a, mut b) = (net, net);
        let mut with_penalty = grads;
        L2 {
            lambda: 0.05,
            scope,
        }
        .penalty_and_grad(&a.params, &mut with_penalty);
        Sgd::new(0.1).step(a.params_mut(), &with_penalty);
        let mut decayed = Sgd::new(0.1);
        decayed.config.weight_decay = Decay {
            lambda: 0.05,
            scope,
        };
        decayed.step(b.params_mut(), &grads);
        for (x, y) in block::as_slice::<f64, _>(&a.params)
            .iter()
            .zip(block::as_slice::<f64, _>(&b.params))
        {
            assert!((x - y).abs() < 1e-15, "{scope:?}: {x} vs {y}");
        }
    }
}

/// Norm of row `o` of a matrix, optionally with a bias appended.
fn row_norm<const R: usize, const C: usize>(
    m: &SMatrix<f64, R, C>,
    o: usize,
    bias: Option<f64>,
) -> f64 {
    (m.row(o).norm_squared() + bias.map_or(0.0, |b| b * b)).sqrt()
}

#[test]
fn max_norm_rescales_long_rows_exactly_and_leaves_the_rest() {
    let mut net = random_net(7);
    // Make some rows short and some long, in both layers and both Maxout pieces.
    for o in 0..20 {
        let f = if o % 3 == 0 { 0.05 } else { 3.0 };
        for i in 0..5 {
            net.params.layer0.weight[(o, i)] *= f;
        }
    }
    for (k, w) in net.params.layer3.weight.iter_mut().enumerate() {
        for o in 0..3 {
            let f = if (o + k) % 2 == 0 { 0.05 } else { 3.0 };
            for i in 0..20 {
                w[(o, i)] *= f;
            }
        }
    }
    let c = 1.5;
    let before = net.params;
    let long0: Vec<bool> = (0..20)
        .map(|o| row_norm(&before.layer0.weight, o, None) > c)
        .collect();
    let long3: Vec<[bool; 3]> = before
        .layer3
        .weight
        .iter()
        .map(|w| std::array::from_fn(|o| row_norm(w, o, None) > c))
        .collect();
    let expected_count =
        long0.iter().filter(|&&l| l).count() + long3.iter().flatten().filter(|&&l| l).count();
    assert!(
        expected_count > 0 && expected_count < 26,
        "{expected_count}"
    );

    let rescaled = MaxNorm::new(c).apply(&mut net.params);
    assert_eq!(rescaled, expected_count);

    let check_rows = |after: &SMatrix<f64, 20, 5>, before: &SMatrix<f64, 20, 5>, long: &[bool]| {
        for (o, &l) in long.iter().enumerate() {
            if l {
                let n = row_norm(after, o, None);
                assert!((n - c).abs() < 1e-14, "row {o}: norm {n}");
                // the direction is kept
                let f = after[(o, 0)] / before[(o, 0)];
                for i in 0..5 {
                    assert!((after[(o, i)] - f * before[(o, i)]).abs() < 1e-15);
                }
            } else {
                assert_eq!(after.row(o), before.row(o), "short row {o} changed");
            }
        }
    };
    check_rows(&net.params.layer0.weight, &before.layer0.weight, &long0);
    for ((a, b), long) in net
        .params
        .layer3
        .weight
        .iter()
        .zip(&before.layer3.weight)
        .zip(&long3)
    {
        for (o, &l) in long.iter().enumerate() {
            if l {
                assert!((row_norm(a, o, None) - c).abs() < 1e-14);
            } else {
                assert_eq!(a.row(o), b.row(o));
            }
        }
    }
    // Biases, batch-norm parameters and the PReLU slope are untouched.
    assert_eq!(net.params.layer0.bias, before.layer0.bias);
    assert_eq!(net.params.layer1, before.layer1);
    assert_eq!(net.params.layer2.slope, before.layer2.slope);
    assert_eq!(net.params.layer3.bias, before.layer3.bias);

    // A second application changes nothing: rescaled rows are at `c` up to rounding.
    let once = net.params;
    assert_eq!(MaxNorm::new(c).apply(&mut net.params), 0);
    assert_eq!(net.params, once);
}

#[test]
fn max_norm_with_biases_constrains_each_units_whole_incoming_vector() {
    let mut net = random_net(8);
    let c = 1.0;
    let before = net.params;
    let all = MaxNorm {
        max_norm: c,
        scope: DecayScope::All,
    };
    all.apply(&mut net.params);
    for o in 0..20 {
        let b = before.layer0.bias[o];
        let n_before = row_norm(&before.layer0.weight, o, Some(b));
        let n_after = row_norm(
            &net.params.layer0.weight,
            o,
            Some(net.params.layer0.bias[o]),
        );
        if n_before > c {
            assert!((n_after - c).abs() < 1e-14, "unit {o}: {n_after}");
            let f = net.params.layer0.bias[o] / b;
            assert!((f - c / n_before).abs() < 1e-14);
        } else {
            assert_eq!(net.params.layer0.bias[o], b);
        }
    }
    for k in 0..2 {
        for o in 0..3 {
            let n = row_norm(
                &net.params.layer3.weight[k],
                o,
                Some(net.params.layer3.bias[k][o]),
            );
            assert!(n <= c + 1e-14, "piece {k}, unit {o}: {n}");
        }
    }
    // Normalisation and other parameters belong to no unit's incoming weights.
    assert_eq!(net.params.layer1, before.layer1);
    assert_eq!(net.params.layer2.slope, before.layer2.slope);
}

#[test]
fn max_norm_in_f32_on_wide_layers() {
    network! {
        struct Wide { input: 40, Linear(37), ReLU, Linear(2), loss: Mse }
    }
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(9);
    let mut net = Wide::<f32>::new(&mut rng);
    // rows longer than 16 entries and more than 16 rows: several row groups
    for w in net.params.layer0.weight.iter_mut() {
        *w *= 10.0;
    }
    let bias = net.params.layer0.bias;
    let long2 = (0..2)
        .filter(|&o| net.params.layer2.weight.row(o).norm() > 0.5)
        .count();
    let n = MaxNorm::new(0.5).apply(&mut net.params);
    assert_eq!(n, 37 + long2);
    for o in 0..37 {
        let norm = net.params.layer0.weight.row(o).norm();
        assert!((norm - 0.5).abs() < 1e-6, "row {o}: {norm}");
    }
    assert_eq!(net.params.layer0.bias, bias);
    assert_eq!(
        MaxNorm::new(0.5).apply(&mut net.params),
        0,
        "rescaled rows are at 0.5"
    );
}

/// The max-norm constraint keeps finite weights finite: a max norm below zero, which no
/// vector can meet, used to scale a zero row by `c/0 = −∞` into NaN; it now rescales
/// nothing, as NaN does. And `f64` rows whose sum of squares overflows are rescaled to the
/// norm, not to zero.
#[test]
fn max_norm_never_makes_weights_non_finite() {
    for c in [-1.0, f64::NAN] {
        let mut w = [0.0f64, 3.0, -0.5];
        assert_eq!(MaxNorm::new(c).apply(&mut w), 0, "{c}");
        assert_eq!(w, [0.0, 3.0, -0.5], "{c}");
        let mut w = [0.0f32, 3.0];
        assert_eq!(MaxNorm::new(c).apply(&mut w), 0, "{c}");
        assert_eq!(w, [0.0, 3.0], "{c}");
    }
    // A zero limit zeroes every non-zero vector.
    let mut w = [0.0f64, 3.0];
    assert_eq!(MaxNorm::new(0.0).apply(&mut w), 1);
    assert_eq!(w, [0.0, 0.0]);

    // Each unit of a network: rows of 1e200 (squares overflow f64) come out at norm 2.
    let mut net = random_net(11);
    for w in net.params.layer0.weight.iter_mut() {
        *w = 1e200;
    }
    let rows = net.params.layer0.weight.nrows();
    assert!(MaxNorm::new(2.0).apply(&mut net.params) >= rows);
    for r in 0..rows {
        let norm = net.params.layer0.weight.row(r).norm();
        assert!((norm - 2.0).abs() < 1e-12, "row {r}: {norm}");
    }
}
