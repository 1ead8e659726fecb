//! A non-finite loss or gradient stops a training step with a typed error and loses nothing.

use staticnn::network::TrainError;
use staticnn::prelude::*;
use staticnn::rand::SeedableRng;
use staticnn::rand::rngs::Xoshiro128PlusPlus;

network! {
    struct Net {
        input: 3,
        fc: Linear(4),
        bn: BatchNorm,
        ReLU,
        out: Linear(2),
        loss: Mse,
    }
}

/// NaN in the input: `NonFinite`, and parameters and running statistics keep their bits.
#[test]
fn nan_input_is_a_typed_error_and_nothing_changes() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(1);
    let mut net = Net::<f32>::new(&mut rng);
    let mut tape = Net::<f32>::tape::<4>();
    let mut grads = Net::<f32>::gradients();
    let mut sgd = Sgd::new(0.1);
    let good = SMatrix::<f32, 3, 4>::from_fn(|r, c| (r + c) as f32 * 0.3);
    let t = SMatrix::<f32, 2, 4>::repeat(0.5);
    net.train_step(&good, &t, &mut grads, &mut tape, &mut sgd, &mut rng)
        .expect("finite");

    let before = net;
    let mut bad = good;
    bad[(1, 2)] = f32::NAN;
    let err = net
        .train_step(&bad, &t, &mut grads, &mut tape, &mut sgd, &mut rng)
        .unwrap_err();
    assert!(matches!(err, TrainError::NonFinite { .. }), "{err}");
    let bits = |n: &Net<f32>| {
        let p = staticnn::block::as_slice::<f32, _>(&n.params)
            .iter()
            .map(|v| v.to_bits());
        let s = staticnn::block::as_slice::<f32, _>(&n.state)
            .iter()
            .map(|v| v.to_bits());
        p.chain(s).collect::<Vec<_>>()
    };
    assert_eq!(bits(&net), bits(&before));

    // Training carries on from the last finite state.
    let loss = net
        .train_step(&good, &t, &mut grads, &mut tape, &mut sgd, &mut rng)
        .expect("finite");
    assert!(loss.is_finite());
}

/// An infinite target makes the loss infinite: also a typed error.
#[test]
fn infinite_loss_is_a_typed_error() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(2);
    let mut net = Net::<f64>::new(&mut rng);
    let before = net;
    let mut tape = Net::<f64>::tape::<2>();
    let mut grads = Net::<f64>::gradients();
    let x = SMatrix::<f64, 3, 2>::from_column_slice(&[1.0, 2.0, 3.0, -1.0, 0.0, 1.0]);
    let t = SMatrix::<f64, 2, 2>::repeat(f64::INFINITY);
    let r = net.train_step(&x, &t, &mut grads, &mut tape, &mut Sgd::new(0.1), &mut rng);
    assert!(matches!(r, Err(TrainError::NonFinite { .. })));
    assert_eq!(net.params, before.params);
    assert_eq!(net.state.bn.running_mean, before.state.bn.running_mean);
}

/// The messages print the loss briefly: `1e300`, not its 301 digits.
#[test]
fn errors_print_the_loss_briefly() {
    use staticnn::fit::FitError;
    let train = TrainError::NonFinite { loss: 1e300 }.to_string();
    assert_eq!(
        train,
        "non-finite loss or gradient (loss = 1e300); parameters left unchanged"
    );
    let update = TrainError::NonFiniteUpdate { loss: 3e38 }.to_string();
    assert!(update.contains("(loss = 3e38;"), "{update}");
    let fit = FitError::Diverged {
        epoch: 2,
        batch: 7,
        cause: TrainError::NonFinite { loss: -1e-300 },
    }
    .to_string();
    assert_eq!(
        fit,
        "training diverged at epoch 2, batch 7: non-finite loss or gradient (loss = -1e-300); \
         parameters left unchanged; the network keeps its last finite weights"
    );
    for loss in [f64::INFINITY, f64::NAN, 0.25] {
        let text = TrainError::NonFinite { loss }.to_string();
        assert!(text.contains(&format!("(loss = {loss})")), "{text}");
    }
}
