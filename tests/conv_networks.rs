//! Convolutional networks work with the rest of the library: the compact blob and
//! safetensors round trips, the inference form against eval mode, `fit` with image
//! augmentation and early stopping, ensembles and the size constants.

use staticnn::data::{Dataset, Loader, RandomFlip, RandomTranslate, Remainder};
use staticnn::ensemble::Ensemble;
use staticnn::fit::{Batch, EarlyStopping, Fit, Workspace};
use staticnn::io::{BlobError, from_bytes, to_bytes};
use staticnn::prelude::*;
use staticnn::rand::rngs::Xoshiro128PlusPlus;
use staticnn::rand::{RngExt, SeedableRng};

network! {
    /// Two images classes told apart by where the bright square is.
    struct Small {
        input: [1, 6, 6],
        conv: Conv2d(4, kernel = 3, padding = 1, bias = false),
        bn: BatchNorm,
        ReLU,
        MaxPool2d(2),
        Conv2d(8, kernel = 3),
        ReLU,
        Flatten,
        Dropout(0.1),
        Linear(8 -> 2),
        loss: SoftmaxCrossEntropy,
    }
}

/// An image with a bright 2 × 2 square in the top half (class 0) or the bottom half (1).
fn image(class: usize, rng: &mut Xoshiro128PlusPlus) -> [f32; 36] {
    let mut x = [0.0f32; 36];
    let row = if class == 0 {
        rng.random_range(0..2)
    } else {
        rng.random_range(3..5)
    };
    let col = rng.random_range(0..5);
    for (r, c) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
        x[(row + r) * 6 + col + c] = 1.0;
    }
    for v in &mut x {
        *v += rng.random_range(-0.1..0.1);
    }
    x
}

#[test]
fn blob_round_trip_and_refusal() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(3);
    let net = Small::<f32>::new(&mut rng);
    let mut bytes = vec![0u8; Small::<f32>::BLOB_BYTES];
    let n = to_bytes(&net, &mut bytes).expect("the buffer fits");
    assert_eq!(n, bytes.len());
    let mut back = Small::<f32>::zeroed();
    from_bytes(&mut back, &bytes).expect("a blob of this network");
    assert_eq!(back, net);
    // A blob of another architecture (a different kernel) is refused.
    network! {
        struct Other {
            input: [1, 6, 6],
            conv: Conv2d(4, kernel = 5, padding = 2, bias = false),
            bn: BatchNorm,
            ReLU,
            MaxPool2d(2),
            Conv2d(8, kernel = 3),
            ReLU,
            Flatten,
            Dropout(0.1),
            Linear(8 -> 2),
            loss: SoftmaxCrossEntropy,
        }
    }
    assert_ne!(Other::<f32>::FINGERPRINT, Small::<f32>::FINGERPRINT);
    let mut other = Other::<f32>::zeroed();
    let before = other;
    let mut other_bytes = vec![0u8; Other::<f32>::BLOB_BYTES];
    to_bytes(&Other::<f32>::new(&mut rng), &mut other_bytes).expect("fits");
    assert!(matches!(
        from_bytes(&mut back, &other_bytes),
        Err(BlobError::WrongArchitecture { .. })
    ));
    assert!(from_bytes(&mut other, &bytes).is_err());
    assert_eq!(other, before);
}

#[cfg(feature = "safetensors")]
#[test]
fn safetensors_round_trip() {
    use staticnn::io::{LoadOptions, Naming, load_safetensors, save_safetensors};
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(4);
    let net = Small::<f64>::new(&mut rng);
    let file = save_safetensors(&net, Naming::Sequential);
    let mut back = Small::<f64>::zeroed();
    load_safetensors(&mut back, &file, &LoadOptions::new()).expect("its own file");
    assert_eq!(back, net);
}

#[test]
fn sizes_and_summary() {
    // conv 4·1·9 (no bias) + bn 2·4 + conv 8·4·9 + 8 + linear 8·2 + 2.
    assert_eq!(Small::<f32>::PARAMS, 36 + 8 + 288 + 8 + 16 + 2);
    assert_eq!(Small::<f32>::INPUT, 36);
    let text = Small::<f32>::zeroed().summary().to_string();
    assert!(text.contains("[1, 6, 6] → [4, 6, 6]"), "{text}");
    assert!(text.contains("[8, 1, 1] → 8"), "{text}");
}

#[test]
fn fit_ensemble_and_inference_form() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(5);
    let ys: Vec<usize> = (0..256).map(|i| i % 2).collect();
    let xs: Vec<[f32; 36]> = ys.iter().map(|&y| image(y, &mut rng)).collect();
    let (train, val) = (
        Dataset::new(&xs[..192], &ys[..192]).unwrap(),
        Dataset::new(&xs[192..], &ys[192..]).unwrap(),
    );
    let mut members = Vec::new();
    for seed in 0..3 {
        let mut rng = Xoshiro128PlusPlus::seed_from_u64(10 + seed);
        let mut net = Small::<f32>::new(&mut rng);
        let mut work = Workspace::new(&net, Batch::<16>);
        let mut adam = Adam::new(0.01f32);
        let mut order = vec![0usize; train.len()];
        let mut loader = Loader::new(train, &mut order, Remainder::Drop).unwrap();
        Fit::new(15)
            .early_stopping(EarlyStopping::new(5))
            // A horizontal flip and a one-pixel move keep each image's class.
            .augment((
                RandomFlip::<1, 6, 6>::new(0.5),
                RandomTranslate::<1, 6, 6>::new(0, 1),
            ))
            .run(&mut net, &mut adam, &mut loader, val, &mut work, &mut rng)
            .expect("training stays finite");
        // The inference form (batch norm folded into the convolution, dropout removed)
        // agrees with eval mode.
        let deployed = net.to_inference();
        for x in &xs[192..] {
            let x = SVector::<f32, 36>::from_column_slice(x);
            let (a, b) = (net.forward(&x), deployed.forward(&x));
            assert!((a - b).amax() < 1e-4, "{a} vs {b}");
        }
        members.push(deployed);
    }
    let ensemble = Ensemble::<_, 3> {
        members: core::array::from_fn(|m| members[m]),
    };
    let correct = xs[192..]
        .iter()
        .zip(&ys[192..])
        .filter(|(x, y)| {
            ensemble.classify(&SVector::<f32, 36>::from_column_slice(&x[..]))[0] == **y
        })
        .count();
    assert!(correct >= 60, "ensemble: {correct} of 64 correct");
}
