//! Every read-only function takes any network that runs forward: evaluation, the confusion
//! matrix, prediction, test-time augmentation and ensembles work on a network's
//! `…Inference` twin (batch norm folded, dropout gone) and agree with the trained network.

use staticnn::data::{Dataset, Window, tta};
use staticnn::ensemble::Ensemble;
use staticnn::fit::{Batch, evaluate};
use staticnn::metrics::Confusion;
use staticnn::prelude::*;
use staticnn::rand::rngs::Xoshiro128PlusPlus;
use staticnn::rand::{RngExt, SeedableRng};

network! {
    /// 4×4 single-channel images (or 3×3 crops of them, see `CropNet`) into 3 classes.
    pub struct Net {
        input: 16,
        fc1: Linear(12),
        bn1: BatchNorm(12),
        ReLU,
        Dropout(0.25),
        out: Linear(3),
        loss: SoftmaxCrossEntropy,
    }
}

network! {
    /// Classifies 3×3 crops.
    pub struct CropNet {
        input: 9,
        fc1: Linear(8),
        bn1: BatchNorm(8),
        Tanh,
        out: Linear(3),
        loss: SoftmaxCrossEntropy,
    }
}

/// Random data, and a network trained a few steps so that its batch-norm statistics are
/// far from their initial values (the twin then really differs in its weights).
fn setup() -> (Net<f64>, Vec<[f64; 16]>, Vec<usize>) {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(21);
    let xs: Vec<[f64; 16]> = (0..23)
        .map(|_| core::array::from_fn(|_| rng.random::<f64>() * 2.0 - 0.5))
        .collect();
    let ys: Vec<usize> = (0..23).map(|i| i % 3).collect();
    let mut net = Net::<f64>::new(&mut rng);
    let (mut tape, mut grads) = (Net::<f64>::tape::<8>(), Net::<f64>::gradients());
    let mut sgd = Sgd::new(0.1);
    let x = SMatrix::<f64, 16, 8>::from_fn(|r, c| xs[c][r]);
    let t = core::array::from_fn(|b| ClassIndex::new(ys[b]).unwrap());
    for _ in 0..10 {
        net.train_step(&x, &t, &mut grads, &mut tape, &mut sgd, &mut rng)
            .unwrap();
    }
    (net, xs, ys)
}

#[test]
fn evaluate_and_confusion_take_the_inference_twin() {
    let (net, xs, ys) = setup();
    let data = Dataset::new(&xs, &ys).unwrap();
    let deployed: NetInference<f64> = net.to_inference();
    assert_ne!(
        core::mem::size_of::<NetInference<f64>>(),
        core::mem::size_of::<Net<f64>>()
    );
    // 23 samples: two batches of 8 and a remainder of 7 one at a time.
    let a = evaluate(&deployed, data, SoftmaxCrossEntropy, Batch::<8>);
    let b = evaluate(&net, data, SoftmaxCrossEntropy, Batch::<8>);
    assert_eq!(a.samples, 23);
    assert!((a.loss - b.loss).abs() < 1e-12, "{} vs {}", a.loss, b.loss);
    assert_eq!(a.accuracy, b.accuracy);
    // Another loss is a plain argument too (hinge on the same class labels).
    let h = evaluate(&deployed, data, Hinge, Batch::<4>);
    assert!(h.loss.is_finite() && h.loss > 0.0);

    let c = Confusion::of(&deployed, data, Batch::<8>);
    assert_eq!(c, Confusion::of(&net, data, Batch::<5>));
    assert_eq!(c.total(), 23);
    assert!((c.accuracy() - a.accuracy.unwrap()).abs() < 1e-12);
    let mut by_hand = Confusion::<3>::new();
    for (x, &y) in xs.iter().zip(&ys) {
        by_hand.add(y, deployed.classify(&SVector::from_column_slice(x))[0]);
    }
    assert_eq!(c, by_hand);
}

#[test]
fn predict_tta_and_ensembles_take_the_inference_twin() {
    let (net, xs, _) = setup();
    let deployed = net.to_inference();
    let x = SVector::<f64, 16>::from_column_slice(&xs[0]);
    assert!((net.predict(&x) - deployed.predict(&x)).amax() < 1e-12);

    let mut rng = Xoshiro128PlusPlus::seed_from_u64(22);
    let crop = CropNet::<f64>::new(&mut rng);
    let crop_deployed = crop.to_inference();
    let images = SMatrix::<f64, 16, 5>::from_fn(|r, c| xs[c][r]);
    let views = Window::<1, 4, 4, 3, 3>::TEN_CROP;
    let p = tta::probabilities(&crop_deployed, &images, &views);
    assert!((p - tta::probabilities(&crop, &images, &views)).amax() < 1e-12);
    assert_eq!(
        tta::classify(&crop_deployed, &images, &views),
        tta::classify(&crop, &images, &views)
    );

    let other = Net::<f64>::new(&mut Xoshiro128PlusPlus::seed_from_u64(23));
    let trained = Ensemble {
        members: [net, other],
    };
    let deployed = Ensemble {
        members: [net.to_inference(), other.to_inference()],
    };
    let p = deployed.probabilities(&images);
    assert!((p - trained.probabilities(&images)).amax() < 1e-12);
    assert_eq!(deployed.classify(&images), trained.classify(&images));
}
