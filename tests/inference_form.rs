//! `to_inference()`: batch norms folded into the preceding `Linear`, dropout removed, and the
//! same eval-mode outputs as the trained network.

use staticnn::prelude::*;
use staticnn::rand::rngs::Xoshiro128PlusPlus;
use staticnn::rand::{RngExt, SeedableRng};

network! {
    /// Batch norm after a Linear (folded), through a dropout (folded), after an activation
    /// (kept), and dropout everywhere (removed).
    pub struct Deep {
        input: 12,
        fc1: Linear(20),
        bn1: BatchNorm(20),
        ReLU,
        drop1: Dropout(0.3),
        fc2: Linear(16),
        drop2: Dropout(0.2),
        bn2: BatchNorm(16, eps = 1e-3, momentum = 0.2),
        Tanh,
        bn3: BatchNorm,
        out: Linear(5),
        loss: SoftmaxCrossEntropy,
    }
}

/// Trains a few steps (so running statistics and affine parameters are far from their
/// initial values), then compares the inference form with the eval-mode forward.
fn trained<T: Scalar>(seed: u64) -> (Deep<T>, SMatrix<T, 12, 8>) {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(seed);
    let mut net = Deep::<T>::new(&mut rng);
    let mut tape = Deep::<T>::tape::<8>();
    let mut grads = Deep::<T>::gradients();
    let mut sgd = Sgd::new(T::of(0.05));
    let x = SMatrix::<T, 12, 8>::from_fn(|_, _| T::of(rng.random::<f64>() * 4.0 - 1.0));
    let y = core::array::from_fn(|b| ClassIndex::new(b % 5).unwrap());
    for _ in 0..20 {
        net.train_step(&x, &y, &mut grads, &mut tape, &mut sgd, &mut rng)
            .unwrap();
    }
    (net, x)
}

/// Eval outputs match within 1e-5 relative in f32 (and 1e-12 in f64).
#[test]
fn inference_form_matches_eval_outputs() {
    let (net, x) = trained::<f32>(5);
    let inf = net.to_inference();
    let (a, b) = (net.forward(&x), inf.forward(&x));
    let scale = a.amax().max(1.0);
    assert!((a - b).amax() <= 1e-5 * scale, "{a} vs {b}");

    let (net, x) = trained::<f64>(5);
    let inf = net.to_inference();
    assert!((net.forward(&x) - inf.forward(&x)).amax() < 1e-12);
}

/// Folded batch norms and dropout are gone from the inference type: it is smaller, has
/// fewer parameters, and its summary shows only the kept layers.
#[test]
fn inference_form_is_smaller() {
    let kinds: Vec<&str> = <DeepInference<f32> as Network<f32, 12, 5>>::LAYERS
        .iter()
        .map(|l| l.kind)
        .collect();
    assert_eq!(
        kinds,
        ["Linear", "ReLU", "Linear", "Tanh", "BatchNorm", "Linear"]
    );
    assert_eq!(
        Deep::<f32>::PARAMS - DeepInference::<f32>::PARAMS,
        2 * 20 + 2 * 16
    );
    const { assert!(DeepInference::<f32>::STATE_BYTES < Deep::<f32>::STATE_BYTES) };
    const { assert!(DeepInference::<f32>::FLOPS < Deep::<f32>::FLOPS) };
    let (net, _) = trained::<f32>(1);
    let text = format!("{}", net.to_inference().summary());
    assert!(
        text.contains("DeepInference") && !text.contains("Dropout"),
        "{text}"
    );
}
