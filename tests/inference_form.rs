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

/// The inference form's summary shows what the deployed network needs: no training tape,
/// and parameter and state bytes without the 64-byte line padding of x86-64 (the padded
/// size, where it differs, is named as such). The trained network's summary is unchanged.
#[test]
fn inference_summary_shows_the_deployed_figures() {
    let (net, _) = trained::<f32>(1);
    let text = net.to_inference().summary().to_string();
    // 12·20+20 + 20·16+16 + 2·16 (bn3) + 16·5+5 learnable scalars; bn3's running statistics.
    assert_eq!(DeepInference::<f32>::PARAMS, 713);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "DeepInference (f32, inference only)", "{text}");
    assert!(!text.contains("train tape"), "{text}");
    let padded = DeepInference::<f32>::PARAM_BYTES;
    let params = if padded == 713 * 4 {
        "parameters: 713 (2852 bytes)".to_string()
    } else {
        format!(
            "parameters: 713 (2852 bytes; {padded} in memory on this target, padded to 64-byte lines)"
        )
    };
    assert!(lines.contains(&params.as_str()), "{text}");
    assert!(lines.contains(&"state: 128 bytes"), "{text}");
    let scratch = format!(
        "inference scratch per sample: {} bytes",
        DeepInference::<f32>::SCRATCH * 4
    );
    assert_eq!(lines.last(), Some(&scratch.as_str()), "{text}");
    if cfg!(target_arch = "x86_64") {
        assert_eq!(padded, 2880);
    }

    let trained_text = net.summary().to_string();
    assert!(trained_text.starts_with("Deep (f32)\n"), "{trained_text}");
    assert!(
        trained_text.contains("train tape per sample: "),
        "{trained_text}"
    );
    assert!(
        trained_text.contains(&format!(
            "parameters: {} ({} bytes)\n",
            Deep::<f32>::PARAMS,
            Deep::<f32>::PARAM_BYTES
        )),
        "{trained_text}"
    );
}
