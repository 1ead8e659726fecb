//! Every read-only function takes any network that runs forward: evaluation, the confusion
//! matrix, prediction, test-time augmentation and ensembles work on a network's
//! `…Inference` twin (batch norm folded, dropout gone) and agree with the trained network,
//! and on the int8 twin `…Int8` (through `Infer`, implemented in this crate by `network!`),
//! agreeing with the twin's own `forward` and `classify`.

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
    let a = evaluate(&deployed, data, SoftmaxCrossEntropy, Batch::<8>).unwrap();
    let b = evaluate(&net, data, SoftmaxCrossEntropy, Batch::<8>).unwrap();
    assert_eq!(a.samples, 23);
    assert!((a.loss - b.loss).abs() < 1e-12, "{} vs {}", a.loss, b.loss);
    assert_eq!(a.accuracy, b.accuracy);
    // Another loss is a plain argument too (hinge on the same class labels).
    let h = evaluate(&deployed, data, Hinge, Batch::<4>).unwrap();
    assert!(h.loss.is_finite() && h.loss > 0.0);

    let c = Confusion::of(&deployed, data, Batch::<8>).unwrap();
    assert_eq!(c, Confusion::of(&net, data, Batch::<5>).unwrap());
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

/// Column-wise softmax of a small output matrix, written out here (not the library's).
fn softmax<const K: usize, const B: usize>(y: &SMatrix<f32, K, B>) -> SMatrix<f32, K, B> {
    let mut p = *y;
    for mut c in p.column_iter_mut() {
        let m = c.max();
        c.apply(|v| *v = (*v - m).exp());
        let s = c.sum();
        c /= s;
    }
    p
}

/// An `f32` network trained a few steps and its int8 twin, calibrated on `xs`.
fn int8_setup() -> (NetInt8, Vec<[f32; 16]>, Vec<usize>) {
    let (net64, xs64, ys) = setup();
    let mut net = Net::<f32>::new(&mut Xoshiro128PlusPlus::seed_from_u64(31));
    // The trained network's batch-norm statistics, so that the folding really does something.
    let trained = net64.state.bn1.running_mean.iter();
    for (a, b) in net.state.bn1.running_mean.iter_mut().zip(trained) {
        *a = *b as f32;
    }
    let xs: Vec<[f32; 16]> = xs64.iter().map(|x| x.map(|v| v as f32)).collect();
    let q = net.quantize(Dataset::new(&xs, &ys).unwrap()).unwrap();
    (q, xs, ys)
}

#[test]
fn evaluate_and_confusion_take_the_int8_twin() {
    let (q, xs, ys) = int8_setup();
    let data = Dataset::new(&xs, &ys).unwrap();
    // 23 samples: two batches of 8 and a remainder of 7 one at a time.
    let e = evaluate(&q, data, SoftmaxCrossEntropy, Batch::<8>).unwrap();
    let (mut loss, mut correct) = (0.0f64, 0usize);
    let mut by_hand = Confusion::<3>::new();
    for (x, &y) in xs.iter().zip(&ys) {
        let x = SVector::<f32, 16>::from_column_slice(x);
        let p = softmax(&q.forward(&x));
        loss -= f64::from(p[y].ln());
        let class = q.classify(&x)[0];
        correct += usize::from(class == y);
        by_hand.add(y, class);
    }
    assert_eq!(e.samples, 23);
    assert!(
        (e.loss - loss / 23.0).abs() < 1e-5,
        "{} vs {}",
        e.loss,
        loss / 23.0
    );
    assert_eq!(e.accuracy, Some(correct as f64 / 23.0));
    // Another batch size counts the same samples.
    let e4 = evaluate(&q, data, SoftmaxCrossEntropy, Batch::<4>).unwrap();
    assert!((e4.loss - e.loss).abs() < 1e-6);

    let c = Confusion::of(&q, data, Batch::<8>).unwrap();
    assert_eq!(c, by_hand);
    assert_eq!(c, Confusion::of(&q, data, Batch::<5>).unwrap());
    assert_eq!(c.total(), 23);
}

#[test]
fn tta_and_ensembles_take_the_int8_twin() {
    let (q, xs, ys) = int8_setup();
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(32);
    let images = SMatrix::<f32, 16, 5>::from_fn(|r, c| xs[c][r]);

    // Test-time augmentation: the mean softmax of the twin's own forward on each crop.
    let crop = CropNet::<f32>::new(&mut rng);
    let crop_xs: Vec<[f32; 9]> = xs
        .iter()
        .map(|x| core::array::from_fn(|i| x[(i / 3) * 4 + i % 3]))
        .collect();
    let qc = crop.quantize(Dataset::new(&crop_xs, &ys).unwrap()).unwrap();
    let views = Window::<1, 4, 4, 3, 3>::TEN_CROP;
    let p = tta::probabilities(&qc, &images, &views);
    let mut mean = SMatrix::<f32, 3, 5>::zeros();
    for view in &views {
        let mut crops = SMatrix::<f32, 9, 5>::zeros();
        view.extract_batch(&images, &mut crops);
        mean += softmax(&qc.forward(&crops));
    }
    mean /= views.len() as f32;
    assert!((p - mean).amax() < 1e-6, "{p} vs {mean}");
    let classes = tta::classify(&qc, &images, &views);
    assert_eq!(classes, staticnn::metrics::argmax(&mean));

    // An ensemble of two int8 twins: the mean of their softmaxes.
    let other = Net::<f32>::new(&mut rng)
        .quantize(Dataset::new(&xs, &ys).unwrap())
        .unwrap();
    let ensemble = Ensemble {
        members: [q, other],
    };
    let p = ensemble.probabilities(&images);
    let mean = (softmax(&q.forward(&images)) + softmax(&other.forward(&images))) / 2.0;
    assert!((p - mean).amax() < 1e-6, "{p} vs {mean}");
    assert_eq!(ensemble.classify(&images), staticnn::metrics::argmax(&mean));
    // A one-member ensemble classifies as the twin itself.
    let single = Ensemble { members: [q] };
    assert_eq!(single.classify(&images), q.classify(&images));
}
