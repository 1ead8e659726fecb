//! The `Normalize` layer: statistics fitted on a data set, carried by the network (saved,
//! loaded, in the blob and the summary), untouched by optimisers, its gradient, and its
//! exact folding into the next `Linear` layer or unpadded convolution by `to_inference()`.

use staticnn::data::{ChannelMean, Dataset, Preprocess, Standardise};
use staticnn::io::{self, Naming};
use staticnn::layers::{Normalize, NormalizeState};
use staticnn::prelude::*;
use staticnn::rand::rngs::Xoshiro128PlusPlus;
use staticnn::rand::{RngExt, SeedableRng};

network! {
    /// Tabular data: standardised features, then an MLP.
    pub struct Tabular {
        input: 6,
        Normalize,
        fc: Linear(8),
        BatchNorm,
        ReLU,
        Dropout(0.2),
        Linear(3),
        loss: SoftmaxCrossEntropy,
    }
}

network! {
    /// Images normalised per channel, then flattened into a `Linear` layer.
    pub struct Flat {
        input: [2, 3, 3],
        Normalize,
        Dropout(0.1),
        Flatten,
        Linear(4),
        loss: SoftmaxCrossEntropy,
    }
}

network! {
    /// Per-channel normalisation into an unpadded grouped convolution without bias.
    pub struct Unpadded {
        input: [4, 5, 5],
        Normalize,
        Conv2d(6, kernel = 3, groups = 2, bias = false),
        BatchNorm,
        ReLU,
        GlobalAvgPool,
        Flatten,
        Linear(3),
        loss: SoftmaxCrossEntropy,
    }
}

network! {
    /// A padded convolution: folding would not be exact at the borders, so the layer stays.
    pub struct Padded {
        input: [2, 4],
        Normalize,
        Conv1d(3, kernel = 3, padding = 1),
        Tanh,
        Flatten,
        Linear(2),
        loss: SoftmaxCrossEntropy,
    }
}

/// `n` samples whose features have very different means and spreads.
fn samples<const N: usize>(n: usize, seed: u64) -> Vec<[f64; N]> {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            core::array::from_fn(|k| {
                let (centre, spread) = (10.0 * k as f64 - 20.0, 0.5 + k as f64);
                centre + spread * (rng.random::<f64>() * 2.0 - 1.0)
            })
        })
        .collect()
}

fn batch<const N: usize, const B: usize>(xs: &[[f64; N]]) -> SMatrix<f64, N, B> {
    SMatrix::from_fn(|i, b| xs[b][i])
}

/// On flat inputs the fitted statistics are `Standardise`'s, bit for bit; on images, the
/// mean and population standard deviation of every value of each channel.
#[test]
fn fitted_statistics_are_standardise_and_per_channel() {
    let xs = samples::<6>(50, 1);
    let data = Dataset::new(&xs, &[(); 50]).unwrap();
    let mut net = Tabular::<f64>::new(&mut Xoshiro128PlusPlus::seed_from_u64(2));
    let before = net.params;
    net.fit_normalize(&data).unwrap();
    assert_eq!(net.params, before, "fitting changes only the statistics");
    let s = Standardise::fit(&data).unwrap();
    assert_eq!(net.state.layer0, NormalizeState::from(s));
    let mut x = xs[7];
    s.apply(&mut x);
    let y = net.state.layer0;
    for k in 0..6 {
        assert_eq!((xs[7][k] - y.mean[k]) / y.std[k], x[k]);
    }

    let imgs = samples::<18>(20, 3);
    let data = Dataset::new(&imgs, &[(); 20]).unwrap();
    let mut img = Flat::<f64>::new(&mut Xoshiro128PlusPlus::seed_from_u64(4));
    img.fit_normalize(&data).unwrap();
    for c in 0..2 {
        let values: Vec<f64> = imgs
            .iter()
            .flat_map(|x| x[c * 9..c * 9 + 9].to_vec())
            .collect();
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64;
        assert!((img.state.layer0.mean[c] - mean).abs() < 1e-12);
        assert!((img.state.layer0.std[c] - var.sqrt()).abs() < 1e-12);
    }
    // `ChannelMean` gives the same means (with σ = 1).
    let cm = ChannelMean::<f64, 2>::fit(&data).unwrap();
    let st = NormalizeState::from(cm);
    assert!((st.mean - img.state.layer0.mean).amax() < 1e-12);
    assert_eq!(st.std.as_slice(), &[1.0, 1.0]);

    // An empty data set is an error and changes nothing.
    let copy = img.state;
    let none: [[f64; 18]; 0] = [];
    assert_eq!(
        img.fit_normalize(&Dataset::new(&none, &[(); 0]).unwrap()),
        Err(staticnn::data::DataError::Empty)
    );
    assert_eq!(img.state, copy);
}

/// The layer computes `(x − μ)/σ` per feature; a network's outputs depend on it.
#[test]
fn forward_standardises() {
    let xs = samples::<6>(40, 5);
    let data = Dataset::new(&xs, &[(); 40]).unwrap();
    let mut net = Tabular::<f64>::new(&mut Xoshiro128PlusPlus::seed_from_u64(6));
    let x = batch::<6, 4>(&xs);
    let identity = net.forward(&x);
    net.fit_normalize(&data).unwrap();
    let st = net.state.layer0;
    let mut y = SMatrix::<f64, 6, 4>::zeros();
    Layer::<f64, 6, 6>::forward(&Normalize::<6, 1>, &(), &st, &x, &mut y);
    for b in 0..4 {
        for k in 0..6 {
            assert_eq!(y[(k, b)], (x[(k, b)] - st.mean[k]) / st.std[k]);
        }
    }
    assert_ne!(net.forward(&x), identity);
}

/// Optimisers do not touch the statistics; training steps leave them bit for bit.
#[test]
fn training_leaves_the_statistics_alone() {
    let xs = samples::<6>(32, 7);
    let mut net = Tabular::<f64>::new(&mut Xoshiro128PlusPlus::seed_from_u64(8));
    net.fit_normalize(&Dataset::new(&xs, &[(); 32]).unwrap())
        .unwrap();
    let before = net.state.layer0;
    let x = batch::<6, 8>(&xs);
    let y = core::array::from_fn(|b| ClassIndex::new(b % 3).unwrap());
    let (mut tape, mut grads) = (Tabular::<f64>::tape::<8>(), Tabular::<f64>::gradients());
    let mut adam = Adam::new(0.01);
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(9);
    let first = net.loss(&x, &y);
    for _ in 0..30 {
        net.train_step(&x, &y, &mut grads, &mut tape, &mut adam, &mut rng)
            .unwrap();
    }
    assert!(net.loss(&x, &y) < first);
    assert_eq!(net.state.layer0, before);
}

/// Gradient check in f64: the input gradient through `(x − μ)/σ` is `dy/σ`, compared
/// with central differences of a loss of the whole network.
#[test]
fn input_gradient_matches_finite_differences() {
    let xs = samples::<18>(30, 10);
    let mut net = Flat::<f64>::new(&mut Xoshiro128PlusPlus::seed_from_u64(11));
    net.fit_normalize(&Dataset::new(&xs, &[(); 30]).unwrap())
        .unwrap();
    let x = batch::<18, 3>(&xs);
    let y = [0, 3, 1].map(|c| ClassIndex::new(c).unwrap());
    // Dropout draws from the RNG: run each forward with the same seed.
    let loss_at = |net: &mut Flat<f64>, x: &SMatrix<f64, 18, 3>| {
        let mut tape = Flat::<f64>::tape::<3>();
        let out = *net.forward_train(x, &mut tape, &mut Xoshiro128PlusPlus::seed_from_u64(12));
        SoftmaxCrossEntropy.loss(&out, &y).as_f64()
    };
    let mut tape = Flat::<f64>::tape::<3>();
    let out = *net.forward_train(&x, &mut tape, &mut Xoshiro128PlusPlus::seed_from_u64(12));
    let mut dy = SMatrix::<f64, 4, 3>::zeros();
    SoftmaxCrossEntropy.loss_and_grad(&out, &y, &mut dy);
    let (mut grads, mut dx) = (Flat::<f64>::gradients(), SMatrix::<f64, 18, 3>::zeros());
    net.backward(&x, &mut tape, &dy, &mut grads, Some(&mut dx));
    let mut worst = 0.0f64;
    for i in 0..18 {
        for b in 0..3 {
            let h = 1e-5 * x[(i, b)].abs().max(1.0);
            let (mut up, mut down) = (x, x);
            up[(i, b)] += h;
            down[(i, b)] -= h;
            let num = (loss_at(&mut net, &up) - loss_at(&mut net, &down)) / (2.0 * h);
            let err = (num - dx[(i, b)]).abs() / num.abs().max(dx[(i, b)].abs()).max(1e-8);
            worst = worst.max(err);
        }
    }
    assert!(worst < 1e-6, "worst relative error {worst}");
    assert!(dx.amax() > 0.0);
}

/// Fit, save (safetensors with the `safetensors` feature, and blob), load into a fresh
/// network, predict: the same bits.
#[test]
fn fit_save_load_predict_is_identical() {
    let xs = samples::<6>(64, 13);
    let mut net = Tabular::<f64>::new(&mut Xoshiro128PlusPlus::seed_from_u64(14));
    net.fit_normalize(&Dataset::new(&xs, &[(); 64]).unwrap())
        .unwrap();
    let x = batch::<6, 5>(&xs);

    #[cfg(feature = "safetensors")]
    for naming in [Naming::Sequential, Naming::Names] {
        let file = io::save_safetensors(&net, naming);
        let mut fresh = Tabular::<f64>::new(&mut Xoshiro128PlusPlus::seed_from_u64(99));
        io::load_safetensors(&mut fresh, &file, &io::LoadOptions::new()).unwrap();
        assert_eq!(fresh.state.layer0, net.state.layer0);
        assert_eq!(fresh.forward(&x), net.forward(&x));
    }
    // The tensors' keys and values, as a PyTorch `Normalize` module's buffers.
    let keys: Vec<String> = io::tensors(Tabular::<f64>::LAYERS, Naming::Sequential)
        .map(|t| t.to_string())
        .collect();
    assert_eq!(&keys[..2], ["0.mean", "0.std"]);

    let mut blob = vec![0u8; Tabular::<f64>::BLOB_BYTES];
    io::to_bytes(&net, &mut blob).unwrap();
    let mut fresh = Tabular::<f64>::new(&mut Xoshiro128PlusPlus::seed_from_u64(98));
    io::from_bytes(&mut fresh, &blob).unwrap();
    assert_eq!(fresh.forward(&x), net.forward(&x));
}

/// `summary()` lists the layer with its state.
#[test]
fn summary_shows_the_layer() {
    let net = Tabular::<f32>::new(&mut Xoshiro128PlusPlus::seed_from_u64(15));
    let text = net.summary().to_string();
    let line = text.lines().find(|l| l.contains("Normalize")).expect(&text);
    assert!(line.contains("6 → 6") && line.contains("12"), "{line}");
    assert_eq!(Tabular::<f32>::LAYERS[0].state, 12);
    assert_eq!(Tabular::<f32>::LAYERS[0].params, 0);
}

network! {
    /// Standardisation before a residual block: the skip path reads the standardised input
    /// too, so the layer cannot be folded into the block's first `Linear`.
    pub struct BeforeBlock {
        input: 4,
        Normalize,
        Residual(Linear(4), Tanh),
        Linear(3),
        loss: SoftmaxCrossEntropy,
    }
}

/// Before a residual block `Normalize` is kept (folding it into the body's first layer would
/// leave the skip path unstandardised), and the inference form gives the same bits.
#[test]
fn before_a_residual_block_it_is_kept() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(30);
    let mut net = BeforeBlock::<f64>::new(&mut rng);
    trained(&mut net, 31);
    let x = batch::<4, 16>(&samples::<4>(16, 32));
    let inf = net.to_inference();
    assert_eq!(BeforeBlockInference::<f64>::LAYERS[0].kind, "Normalize");
    assert_eq!(net.forward(&x), inf.forward(&x));
}

/// Trains a little so that every statistic and parameter is far from its start.
fn trained<N, const IN: usize, const OUT: usize>(net: &mut N, seed: u64)
where
    N: Supervised<f64, IN, OUT, Loss = SoftmaxCrossEntropy>,
{
    let xs = samples::<IN>(16, seed);
    net.fit_normalize(&Dataset::new(&xs, &[(); 16]).unwrap())
        .unwrap();
    let x = batch::<IN, 16>(&xs);
    let y: [ClassIndex<OUT>; 16] = core::array::from_fn(|b| ClassIndex::new(b % OUT).unwrap());
    let mut tape = N::tape::<16>();
    let mut grads = N::gradients();
    let mut sgd = Sgd::new(0.02);
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(seed);
    for _ in 0..10 {
        net.train_step(&x, &y, &mut grads, &mut tape, &mut sgd, &mut rng)
            .unwrap();
    }
}

/// Folded into the next `Linear` layer (through a batch norm folded after it, through
/// dropout and flatten) or into an unpadded convolution (which gains a bias), the inference
/// form equals the trained network's eval outputs within 1e-12 in f64 (`to_inference_into`
/// gives the same whatever `out` held); before a padded
/// convolution the layer is kept and the outputs are the same bits.
#[test]
fn folding_is_exact() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(16);

    let mut tab = Tabular::<f64>::new(&mut rng);
    trained(&mut tab, 17);
    let x = batch::<6, 16>(&samples::<6>(16, 18));
    let inf = tab.to_inference();
    let kinds: Vec<&str> = TabularInference::<f64>::LAYERS
        .iter()
        .map(|l| l.kind)
        .collect();
    assert_eq!(kinds, ["Linear", "ReLU", "Linear"]);
    let (a, b) = (tab.forward(&x), inf.forward(&x));
    assert!((a - b).amax() < 1e-12 * a.amax().max(1.0), "{a} vs {b}");

    let mut flat = Flat::<f64>::new(&mut rng);
    trained(&mut flat, 19);
    let x = batch::<18, 16>(&samples::<18>(16, 20));
    let inf = flat.to_inference();
    assert!(
        !FlatInference::<f64>::LAYERS
            .iter()
            .any(|l| l.kind == "Normalize")
    );
    let (a, b) = (flat.forward(&x), inf.forward(&x));
    assert!((a - b).amax() < 1e-12 * a.amax().max(1.0), "{a} vs {b}");

    let mut conv = Unpadded::<f64>::new(&mut rng);
    trained(&mut conv, 21);
    let x = batch::<100, 16>(&samples::<100>(16, 22));
    let inf = conv.to_inference();
    let kinds: Vec<&str> = UnpaddedInference::<f64>::LAYERS
        .iter()
        .map(|l| l.kind)
        .collect();
    assert_eq!(kinds[0], "Conv2d");
    assert_eq!(UnpaddedInference::<f64>::LAYERS[0].params, 6 * 2 * 9 + 6);
    let (a, b) = (conv.forward(&x), inf.forward(&x));
    assert!((a - b).amax() < 1e-12 * a.amax().max(1.0), "{a} vs {b}");
    // Written over a network that is not zero (the bias the inference form adds included),
    // the result is the same.
    let mut into = UnpaddedInference::<f64>::new(&mut rng);
    conv.to_inference_into(&mut into);
    assert_eq!(into, inf);

    let mut padded = Padded::<f64>::new(&mut rng);
    trained(&mut padded, 23);
    let x = batch::<8, 16>(&samples::<8>(16, 24));
    let inf = padded.to_inference();
    assert_eq!(PaddedInference::<f64>::LAYERS[0].kind, "Normalize");
    assert_eq!(inf.state.layer0, padded.state.layer0);
    assert_eq!(padded.forward(&x), inf.forward(&x));
}
