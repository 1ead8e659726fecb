//! Issue 16 point 5: the image tools of `staticnn::data` feed a `Conv2d` input as they
//! are. A data set of `[C, H, W]` images (`[f32; C·H·W]` samples, channel-major as
//! `Chw` lays them out) is standardised per channel, split, batched by the loader,
//! augmented (flips, moves, noise, random crops) and evaluated (`evaluate`, `classify`,
//! test-time augmentation over ten crops) with networks declared `input: [C, H, W]`,
//! with no reshaping by the user anywhere.

use staticnn::data::{
    ChannelMean, Chw, Dataset, GaussianNoise, Loader, Preprocess, RandomCrop, RandomFlip,
    RandomTranslate, Ratio, Remainder, Window, split_stratified, tta,
};
use staticnn::fit::{Batch, EarlyStopping, Fit, Workspace, evaluate};
use staticnn::prelude::*;
use staticnn::rand::rngs::Xoshiro128PlusPlus;
use staticnn::rand::{RngExt, SeedableRng};

/// Three colour channels of 8 × 8 pixels.
type Image = Chw<3, 8, 8>;
const PIXELS: usize = Image::LEN;

network! {
    /// Classifies whole 8 × 8 colour images.
    struct Whole {
        input: [3, 8, 8],
        Conv2d(6, kernel = 3, padding = 1),
        ReLU,
        MaxPool2d(2),
        Conv2d(8, kernel = 3),
        ReLU,
        Flatten,
        Linear(32 -> 3),
        loss: SoftmaxCrossEntropy,
    }
}

network! {
    /// Classifies 6 × 6 crops of them.
    struct Cropped {
        input: [3, 6, 6],
        Conv2d(6, kernel = 3, padding = 1),
        BatchNorm,
        ReLU,
        MaxPool2d(2),
        Flatten,
        Linear(54 -> 3),
        loss: SoftmaxCrossEntropy,
    }
}

/// An image of class `c`: a bright 3 × 3 square in channel `c` at a random place, every
/// channel on its own background level, noise everywhere. Flips, moves and crops that
/// keep most of the square keep the class.
fn image(c: usize, rng: &mut Xoshiro128PlusPlus) -> [f32; PIXELS] {
    let mut x = [0.0f32; PIXELS];
    let (top, left) = (rng.random_range(1..5), rng.random_range(1..5));
    for ch in 0..3 {
        for r in 0..8 {
            for w in 0..8 {
                let square =
                    ch == c && (top..top + 3).contains(&r) && (left..left + 3).contains(&w);
                x[Image::index(ch, r, w)] =
                    0.5 * ch as f32 + if square { 1.0 } else { 0.0 } + rng.random_range(-0.2..0.2);
            }
        }
    }
    x
}

/// 240 images, 80 of each class, standardised per channel with the statistics of the
/// whole set (as `ChannelMean` computes them from a `Dataset` of the images).
fn images() -> (Vec<[f32; PIXELS]>, Vec<usize>) {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(16);
    let ys: Vec<usize> = (0..240).map(|i| i % 3).collect();
    let mut xs: Vec<[f32; PIXELS]> = ys.iter().map(|&y| image(y, &mut rng)).collect();
    let mean = ChannelMean::<f32, 3>::fit(&Dataset::new(&xs, &ys).unwrap()).unwrap();
    // Each channel's background level, plus a third of the squares' 9 pixels in 64.
    for (c, m) in mean.mean.iter().enumerate() {
        assert!(
            (m - 0.5 * c as f32 - 0.047).abs() < 0.01,
            "channel {c}: mean {m}"
        );
    }
    for x in &mut xs {
        mean.apply(x);
    }
    (xs, ys)
}

#[test]
fn image_data_set_trains_and_evaluates_a_conv2d_network() {
    // The image shape is the network's input, as a type: no reshaping in between.
    const { assert!(Image::LEN == Whole::<f32>::INPUT) };
    let (xs, ys) = images();
    let all = Dataset::new(&xs, &ys).unwrap();
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(1);
    let mut rows = vec![0usize; ys.len()];
    let split = split_stratified::<3>(
        &ys,
        &mut rows,
        Ratio {
            train: 3,
            validation: 1,
            test: 0,
        },
        &mut rng,
    )
    .unwrap();
    let (train, val) = (
        all.select(split.train).unwrap(),
        all.select(split.validation).unwrap(),
    );
    let mut net = Whole::<f32>::new(&mut rng);
    let before = evaluate(&net, val, SoftmaxCrossEntropy, Batch::<20>).unwrap();
    let mut work = Workspace::new(&net, Batch::<12>);
    let mut adam = Adam::new(0.01f32);
    let mut order = vec![0usize; train.len()];
    let mut loader = Loader::new(train, &mut order, Remainder::Drop).unwrap();
    Fit::new(30)
        .early_stopping(EarlyStopping::new(8))
        .augment((
            RandomFlip::<3, 8, 8>::new(0.5),
            RandomTranslate::<3, 8, 8>::new(1, 1),
            GaussianNoise { std: 0.05 },
        ))
        .run(&mut net, &mut adam, &mut loader, val, &mut work, &mut rng)
        .expect("training stays finite");
    let after = evaluate(&net, val, SoftmaxCrossEntropy, Batch::<20>).unwrap();
    let accuracy = after.accuracy.unwrap();
    assert!(
        after.loss < before.loss && accuracy >= 0.9,
        "validation: loss {} → {}, accuracy {accuracy}",
        before.loss,
        after.loss
    );
    // A batch of images straight from the data set's samples, classified.
    let batch = SMatrix::<f32, PIXELS, 20>::from_fn(|i, b| xs[split.validation[b]][i]);
    let classes: [usize; 20] = net.classify(&batch);
    let right = (0..20)
        .filter(|&b| classes[b] == ys[split.validation[b]])
        .count();
    assert!(right >= 16, "{right} of 20 classified right");
}

#[test]
fn random_crops_train_and_ten_crops_evaluate_a_conv2d_network() {
    const {
        assert!(Window::<3, 8, 8, 6, 6>::OUT == Cropped::<f32>::INPUT);
        assert!(Window::<3, 8, 8, 6, 6>::IN == Image::LEN);
    };
    let (xs, ys) = images();
    let (train, test) = (
        Dataset::new(&xs[..180], &ys[..180]).unwrap(),
        Dataset::new(&xs[180..], &ys[180..]).unwrap(),
    );
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(2);
    let mut net = Cropped::<f32>::new(&mut rng);
    let mut grads = bytemuck::Zeroable::zeroed();
    let mut tape = bytemuck::Zeroable::zeroed();
    let mut adam = Adam::new(0.01f32);
    let mut order = vec![0usize; train.len()];
    let mut loader = Loader::new(train, &mut order, Remainder::Drop).unwrap();
    let mut x = SMatrix::<f32, PIXELS, 15>::zeros();
    let mut crops = SMatrix::<f32, { 3 * 6 * 6 }, 15>::zeros();
    let mut t = [ClassIndex::<3>::default(); 15];
    let crop = RandomCrop::<3, 8, 8, 6, 6>;
    let flip = RandomFlip::<3, 6, 6>::new(0.5);
    let tta_right = |net: &Cropped<f32>| {
        let x = SMatrix::<f32, PIXELS, 60>::from_fn(|i, b| test.get(b).unwrap().0[i]);
        let classes: [usize; 60] = tta::classify(net, &x, &Window::<3, 8, 8, 6, 6>::TEN_CROP);
        (0..60).filter(|&b| classes[b] == ys[180 + b]).count()
    };
    let right_before = tta_right(&net);
    for _ in 0..15 {
        loader.start_epoch(&mut rng);
        while loader.next_batch(&mut x, &mut t, &mut rng).is_some() {
            crop.apply_batch(&x, &mut crops, &mut rng);
            for column in crops.as_mut_slice().as_chunks_mut::<{ 3 * 6 * 6 }>().0 {
                flip.augment(column, &mut rng);
            }
            net.train_step(&crops, &t, &mut grads, &mut tape, &mut adam, &mut rng)
                .expect("finite step");
        }
    }
    let right = tta_right(&net);
    assert!(
        right >= 54 && right > right_before,
        "ten-crop test accuracy: {right_before} → {right} of 60"
    );
}
