//! Running and training a network touches no heap: every built-in layer and every loss,
//! through `forward`, `forward_train`, `backward`, `Optimizer::step` and `train_step`, and
//! making and running the inference-only form of a network with batch norm and dropout
//! (`to_inference`, `to_inference_into`), residual blocks included, fitting a `Normalize`
//! layer (`fit_normalize`); and, at the benchmarks' size, inference and train steps of the
//! performance issue's W3 and W4 (batches of 64).
//!
//! A counting global allocator (`tests/common/counting_alloc.rs`) records every heap
//! operation made by the current thread while a measurement is armed. Networks, tapes,
//! gradients and data are all created before measuring.

use staticnn::prelude::*;

#[path = "common/counting_alloc.rs"]
mod counting_alloc;
// W3 and W4 are boxed: only the test that needs `alloc` uses them.
#[cfg(feature = "alloc")]
#[path = "common/workloads.rs"]
mod workloads;
use counting_alloc::heap_ops;
use staticnn::rand::rngs::Xoshiro128PlusPlus;
use staticnn::rand::{RngExt, SeedableRng};
#[cfg(feature = "alloc")]
use workloads::*;

/// Samples per batch.
const B: usize = 16;

network! {
    /// Every built-in layer, with `Softmax` as the output and no loss.
    struct Everything {
        input: 24,
        Linear(32),
        BatchNorm,
        Sigmoid,
        Dropout(0.25),
        Linear(32),
        Tanh,
        Linear(48),
        ReLU,
        Maxout(32, k = 2),
        LeakyReLU(slope = 0.05),
        Linear(32),
        PReLU,
        Linear(16),
        ELU(alpha = 0.5),
        Linear(10),
        Softmax,
    }
}

network! {
    /// The same layers as a classifier trained on logits.
    struct Classifier {
        input: 24,
        Linear(32),
        BatchNorm,
        Sigmoid,
        Dropout(0.25),
        Linear(32),
        Tanh,
        Linear(48),
        ReLU,
        Maxout(32, k = 2),
        LeakyReLU(slope = 0.05),
        Linear(32),
        PReLU,
        Linear(16),
        ELU(alpha = 0.5),
        Linear(10),
        loss: SoftmaxCrossEntropy,
    }
}

network! {
    /// Batch norm as the first layer (a train step asks it for no input gradient), and one
    /// after dropout after a linear layer (folded into it by `to_inference`).
    struct Normalised {
        input: 24,
        BatchNorm(24, eps = 1e-3, momentum = 0.2),
        Linear(16),
        Dropout(p = 0.2),
        BatchNorm(16),
        ReLU,
        Linear(10),
        loss: SoftmaxCrossEntropy,
    }
}

network! {
    /// Input standardisation carried by the network (folded by `to_inference`).
    struct Standardised {
        input: 24,
        Normalize,
        Linear(16),
        ReLU,
        Linear(10),
        loss: SoftmaxCrossEntropy,
    }
}

network! {
    /// Per-channel standardisation before a padded convolution (kept by `to_inference`).
    struct StandardisedImage {
        input: [2, 3, 4],
        Normalize,
        Conv2d(3, kernel = 3, padding = 1),
        ReLU,
        Flatten,
        Linear(10),
        loss: SoftmaxCrossEntropy,
    }
}

network! {
    /// The layers of images: convolutions (plain, depthwise without bias), per-channel batch
    /// norm, max and average pooling, global average pooling and flatten, on `[2, 3, 4]`
    /// (24 values, so the same batches feed it).
    struct Image {
        input: [2, 3, 4],
        Conv2d(4, kernel = 3, padding = 1),
        BatchNorm,
        ReLU,
        Conv2d(4, kernel = 3, padding = 1, groups = 4, bias = false),
        BatchNorm,
        MaxPool2d(kernel = 2, stride = 1),
        AvgPool2d(kernel = 2, stride = 1, padding = 1),
        GlobalAvgPool,
        Flatten,
        Linear(10),
        loss: SoftmaxCrossEntropy,
    }
}

network! {
    /// The layers of sequences on `[3, 8]`, with dropout.
    struct Sequence {
        input: [3, 8],
        Conv1d(6, kernel = 3, dilation = 2, bias = false),
        BatchNorm,
        Tanh,
        MaxPool1d(2),
        AvgPool1d(kernel = 3, stride = 1, padding = 1),
        Dropout(0.2),
        Flatten,
        Linear(10),
        loss: SoftmaxCrossEntropy,
    }
}

network! {
    /// A margin classifier.
    struct Margin {
        input: 24,
        Linear(16),
        PReLU,
        Linear(10),
        loss: Hinge,
    }
}

network! {
    /// A multi-label tagger.
    struct Tagger {
        input: 24,
        Maxout(16, k = 3),
        Linear(6),
        loss: BceWithLogits,
    }
}

network! {
    /// A regressor.
    struct Regressor {
        input: 24,
        Linear(16),
        ELU,
        Linear(4),
        loss: Mse,
    }
}

network! {
    /// Residual blocks on an image: with and without a projection, one nested, dropout
    /// inside a block.
    struct Residuals {
        input: [2, 3, 4],
        Conv2d(4, kernel = 3, padding = 1), BatchNorm, ReLU,
        Residual(
            Conv2d(4, kernel = 3, padding = 1), BatchNorm, ReLU,
            Residual(Conv2d(4, kernel = 3, padding = 1)), Dropout(0.1)
        ),
        Residual(
            Conv2d(8, kernel = 3, stride = 2, padding = 1), BatchNorm;
            projection = Conv2d(8, kernel = 1, stride = 2), BatchNorm
        ),
        ReLU, GlobalAvgPool, Flatten, Linear(10),
        loss: SoftmaxCrossEntropy,
    }
}

/// What one measured call did.
struct Measurement {
    network: &'static str,
    call: &'static str,
    heap_ops: usize,
}

fn random<const R: usize, const C: usize>(rng: &mut Xoshiro128PlusPlus) -> SMatrix<f32, R, C> {
    SMatrix::from_fn(|_, _| rng.random_range(-1.0f32..1.0))
}

/// Measures the calls every network has.
fn measure_network<N, const IN: usize, const OUT: usize>(
    name: &'static str,
    net: &mut N,
    x: &SMatrix<f32, IN, B>,
    rng: &mut Xoshiro128PlusPlus,
    out: &mut Vec<Measurement>,
) where
    N: Network<f32, IN, OUT>,
{
    let mut tape = N::tape::<B>();
    let mut grads = N::gradients();
    let mut dx = SMatrix::<f32, IN, B>::zeros();
    let dy = random::<OUT, B>(rng);
    let sample = x.column(0).into_owned();
    let mut sgd = Sgd::new(0.01f32);
    let mut push = |call, heap_ops| {
        out.push(Measurement {
            network: name,
            call,
            heap_ops,
        })
    };

    let (_, n) = heap_ops(|| net.forward(x));
    push("forward", n);
    let (_, n) = heap_ops(|| net.predict(&sample));
    push("predict", n);
    let (_, n) = heap_ops(|| net.classify(x));
    push("classify", n);
    let (_, n) = heap_ops(|| *net.forward_train(x, &mut tape, rng));
    push("forward_train", n);
    let (_, n) = heap_ops(|| net.backward(x, &mut tape, &dy, &mut grads, Some(&mut dx)));
    push("backward (with dx)", n);
    let (_, n) = heap_ops(|| net.backward(x, &mut tape, &dy, &mut grads, None));
    push("backward (no dx)", n);
    let (_, n) = heap_ops(|| sgd.step(net.params_mut(), &grads));
    push("Optimizer::step", n);
    assert!(
        dx.iter().all(|v| v.is_finite()),
        "{name}: non-finite input gradient"
    );
}

/// Measures the calls of a network with a loss: the above, plus `loss` and `train_step`.
fn measure_supervised<N, const IN: usize, const OUT: usize>(
    name: &'static str,
    net: &mut N,
    x: &SMatrix<f32, IN, B>,
    target: &<N::Loss as Loss<f32, OUT>>::Target<B>,
    rng: &mut Xoshiro128PlusPlus,
    out: &mut Vec<Measurement>,
) where
    N: Supervised<f32, IN, OUT>,
{
    measure_network::<N, IN, OUT>(name, net, x, rng, out);
    let mut tape = N::tape::<B>();
    let mut grads = N::gradients();
    let mut sgd = Sgd::new(0.01f32);

    let (_, n) = heap_ops(|| net.loss(x, target));
    out.push(Measurement {
        network: name,
        call: "Supervised::loss",
        heap_ops: n,
    });
    let (losses, n) = heap_ops(|| {
        let mut losses = [0.0f32; 5];
        for l in &mut losses {
            *l = net
                .train_step(x, target, &mut grads, &mut tape, &mut sgd, rng)
                .unwrap_or(f32::NAN);
        }
        losses
    });
    out.push(Measurement {
        network: name,
        call: "train_step (x5)",
        heap_ops: n,
    });
    assert!(
        losses.iter().all(|l| l.is_finite()),
        "{name}: training failed: {losses:?}"
    );
}

fn labels<const N: usize>(rng: &mut Xoshiro128PlusPlus) -> [ClassIndex<N>; B] {
    std::array::from_fn(|_| ClassIndex::new(rng.random_range(0..N)).expect("below N"))
}

#[test]
fn running_and_training_allocate_nothing() {
    // The counter must see an allocation made inside a measurement, or zero proves nothing.
    let (v, n) = heap_ops(|| Vec::<u8>::with_capacity(1));
    drop(v);
    assert!(n >= 1, "the counting allocator is not in effect");

    let mut rng = Xoshiro128PlusPlus::seed_from_u64(11);
    let x = random::<24, B>(&mut rng);
    let mut results = Vec::with_capacity(128);

    let mut everything = Everything::<f32>::new(&mut rng);
    measure_network::<_, 24, 10>("Everything", &mut everything, &x, &mut rng, &mut results);

    let mut classifier = Classifier::<f32>::new(&mut rng);
    let classes = labels::<10>(&mut rng);
    measure_supervised::<_, 24, 10>(
        "Classifier",
        &mut classifier,
        &x,
        &classes,
        &mut rng,
        &mut results,
    );

    let mut normalised = Normalised::<f32>::new(&mut rng);
    measure_supervised::<_, 24, 10>(
        "Normalised",
        &mut normalised,
        &x,
        &classes,
        &mut rng,
        &mut results,
    );

    // The inference-only forms: made by value, made in place, and run.
    macro_rules! measure_inference {
        ($name:literal, $net:ident, $inference:ident) => {{
            let mut push = |call, heap_ops| {
                results.push(Measurement {
                    network: $name,
                    call,
                    heap_ops,
                })
            };
            let (inference, n) = heap_ops(|| $net.to_inference());
            push("to_inference", n);
            let mut into = $inference::<f32>::new(&mut rng);
            let (_, n) = heap_ops(|| $net.to_inference_into(&mut into));
            push("to_inference_into", n);
            let (y, n) = heap_ops(|| inference.forward(&x));
            push("inference forward", n);
            assert!(
                y.iter().all(|v| v.is_finite()),
                "{}: non-finite output",
                $name
            );
        }};
    }
    measure_inference!("Everything", everything, EverythingInference);
    measure_inference!("Classifier", classifier, ClassifierInference);
    measure_inference!("Normalised", normalised, NormalisedInference);

    // Fitting `Normalize` on a data set, training and folding it.
    let samples: Vec<[f32; 24]> = (0..40)
        .map(|_| core::array::from_fn(|_| rng.random_range(-3.0f32..5.0)))
        .collect();
    let data = staticnn::data::Dataset::new(&samples, &[(); 40]).unwrap();
    let mut standardised = Standardised::<f32>::new(&mut rng);
    let (fitted, n) = heap_ops(|| standardised.fit_normalize(&data));
    fitted.unwrap();
    results.push(Measurement {
        network: "Standardised",
        call: "fit_normalize",
        heap_ops: n,
    });
    measure_supervised::<_, 24, 10>(
        "Standardised",
        &mut standardised,
        &x,
        &classes,
        &mut rng,
        &mut results,
    );
    measure_inference!("Standardised", standardised, StandardisedInference);
    let mut standardised_image = StandardisedImage::<f32>::new(&mut rng);
    let (fitted, n) = heap_ops(|| standardised_image.fit_normalize(&data));
    fitted.unwrap();
    results.push(Measurement {
        network: "StandardisedImage",
        call: "fit_normalize",
        heap_ops: n,
    });
    measure_supervised::<_, 24, 10>(
        "StandardisedImage",
        &mut standardised_image,
        &x,
        &classes,
        &mut rng,
        &mut results,
    );
    measure_inference!(
        "StandardisedImage",
        standardised_image,
        StandardisedImageInference
    );

    let mut image = Image::<f32>::new(&mut rng);
    measure_supervised::<_, 24, 10>("Image", &mut image, &x, &classes, &mut rng, &mut results);
    measure_inference!("Image", image, ImageInference);
    let mut sequence = Sequence::<f32>::new(&mut rng);
    measure_supervised::<_, 24, 10>(
        "Sequence",
        &mut sequence,
        &x,
        &classes,
        &mut rng,
        &mut results,
    );
    measure_inference!("Sequence", sequence, SequenceInference);

    let mut residuals = Residuals::<f32>::new(&mut rng);
    measure_supervised::<_, 24, 10>(
        "Residuals",
        &mut residuals,
        &x,
        &classes,
        &mut rng,
        &mut results,
    );
    measure_inference!("Residuals", residuals, ResidualsInference);

    let mut margin = Margin::<f32>::new(&mut rng);
    measure_supervised::<_, 24, 10>("Margin", &mut margin, &x, &classes, &mut rng, &mut results);

    let mut tagger = Tagger::<f32>::new(&mut rng);
    let tags = SMatrix::<f32, 6, B>::from_fn(|_, _| if rng.random::<bool>() { 1.0 } else { 0.0 });
    measure_supervised::<_, 24, 6>("Tagger", &mut tagger, &x, &tags, &mut rng, &mut results);

    let mut regressor = Regressor::<f32>::new(&mut rng);
    let values = random::<4, B>(&mut rng);
    measure_supervised::<_, 24, 4>(
        "Regressor",
        &mut regressor,
        &x,
        &values,
        &mut rng,
        &mut results,
    );

    for m in &results {
        println!(
            "{:<10} {:<20} {} heap operations",
            m.network, m.call, m.heap_ops
        );
    }
    let offenders: Vec<_> = results
        .iter()
        .filter(|m| m.heap_ops != 0)
        .map(|m| (m.network, m.call, m.heap_ops))
        .collect();
    assert!(
        offenders.is_empty(),
        "heap operations while running: {offenders:?}"
    );
    assert_eq!(results.len(), 7 + 10 * 9 + 8 * 3 + 2);
}

/// The training toolkit allocates nothing either: every optimiser's step, gradient
/// clipping, penalties, and a whole `fit` run (loader, augmentation, schedule, early
/// stopping with its snapshot copy, evaluation).
#[test]
fn optimisers_and_fit_allocate_nothing() {
    use staticnn::data::{Dataset, GaussianNoise, Loader, Remainder};
    use staticnn::fit::{
        ClipGradNorm, Control, EarlyStopping, EpochStats, Fit, Penalize, Workspace, on_epoch,
    };
    use staticnn::optim::{AdamConfig, RmsPropConfig, SgdConfig, clip_grad_norm};
    use staticnn::regularize::{L1, L2, MaxNorm, Penalty};
    use staticnn::schedule::CosineAnnealing;

    let mut rng = Xoshiro128PlusPlus::seed_from_u64(11);
    let mut net = Classifier::<f32>::new(&mut rng);
    let x = random::<24, B>(&mut rng);
    let y = labels::<10>(&mut rng);
    let mut tape = Classifier::<f32>::tape::<B>();
    let mut grads = Classifier::<f32>::gradients();
    let mut adam = Adam::with(1e-3, AdamConfig::default());
    let mut adamw = AdamW::new(1e-3);
    let mut rms = RmsProp::with(
        1e-3,
        RmsPropConfig {
            momentum: 0.9,
            centered: true,
            ..RmsPropConfig::default()
        },
    );
    let mut sgd = Sgd::with(
        1e-2,
        SgdConfig {
            momentum: 0.9,
            nesterov: true,
            ..SgdConfig::default()
        },
    );
    let ((), ops) = heap_ops(|| {
        for _ in 0..2 {
            net.train_step(&x, &y, &mut grads, &mut tape, &mut adam, &mut rng)
                .unwrap();
            net.train_step(&x, &y, &mut grads, &mut tape, &mut adamw, &mut rng)
                .unwrap();
            net.train_step(&x, &y, &mut grads, &mut tape, &mut rms, &mut rng)
                .unwrap();
            net.train_step(&x, &y, &mut grads, &mut tape, &mut sgd, &mut rng)
                .unwrap();
        }
        let _ = clip_grad_norm(&mut grads, 1.0f32);
        let _ = L2::new(1e-4).penalty_and_grad(&net.params, &mut grads);
        let _ = L1::new(1e-4).penalty_and_grad(&net.params, &mut grads);
        let _ = MaxNorm::new(3.0).apply(&mut net.params);
    });
    assert_eq!(ops, 0, "optimisers, clipping and penalties");

    let xs: Vec<[f32; 24]> = (0..40)
        .map(|i| core::array::from_fn(|j| ((i * 7 + j) % 11) as f32 * 0.1))
        .collect();
    let ys: Vec<usize> = (0..40).map(|i| i % 10).collect();
    let data = Dataset::new(&xs, &ys).unwrap();
    let mut order = vec![0usize; 40];
    let mut work = Workspace {
        best: net,
        tape,
        grads,
    };
    let mut checkpoint = net;
    let (report, ops) = heap_ops(|| {
        let mut loader = Loader::new(data, &mut order, Remainder::Drop).unwrap();
        Fit::new(3)
            .learning_rate(1e-3)
            .schedule(CosineAnnealing {
                t_max: 3,
                eta_min: 0.0,
            })
            .early_stopping(EarlyStopping::new(2))
            .augment(GaussianNoise { std: 0.1 })
            .callback(on_epoch(|n: &Classifier<f32>, _: &EpochStats| {
                checkpoint = *n;
                Control::Continue
            }))
            .step_hook((ClipGradNorm(1.0), Penalize(L2::new(1e-4))))
            .run(&mut net, &mut adam, &mut loader, data, &mut work, &mut rng)
    });
    assert!(report.is_ok());
    assert_eq!(ops, 0, "a whole fit run, with a callback and step hooks");
}

/// The benchmarks' workloads at their size: W3 and W4 on batches of 64, inference (eval
/// forward, prediction of one sample, and W4's inference form) and full train steps (W3 with
/// SGD and momentum, W4 with Adam), with networks, tapes, gradients and optimisers made on the
/// heap before measuring (they are too large for a test thread's stack).
#[cfg(feature = "alloc")]
#[test]
fn w3_and_w4_infer_and_train_without_heap() {
    use staticnn::block::zeroed_box;
    use staticnn::optim::{AdamConfig, SgdConfig, Velocity};

    const B64: usize = 64;
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(64);
    let mut x = zeroed_box::<SMatrix<f32, 784, B64>>();
    x.iter_mut()
        .for_each(|v| *v = rng.random_range(0.0f32..1.0));
    let y: [ClassIndex<10>; B64] =
        std::array::from_fn(|_| ClassIndex::new(rng.random_range(0..10)).expect("below 10"));
    let sample = x.column(0).into_owned();

    let mut w3 = W3::<f32>::new_boxed(&mut rng);
    let mut w3_tape = zeroed_box::<W3Tape<f32, B64>>();
    let mut w3_grads = zeroed_box::<W3Params<f32>>();
    let mut sgd: Box<Sgd<f32, Velocity<W3Params<f32>>>> = Sgd::boxed(
        1e-2,
        SgdConfig {
            momentum: 0.9,
            ..SgdConfig::default()
        },
    );
    let (out, ops) = heap_ops(|| w3.forward(&x));
    assert_eq!(ops, 0, "W3 forward (B = 64)");
    assert!(out.iter().all(|v| v.is_finite()));
    let (_, ops) = heap_ops(|| w3.predict(&sample));
    assert_eq!(ops, 0, "W3 predict");
    let (losses, ops) = heap_ops(|| {
        [0; 3].map(|_| {
            w3.train_step(&x, &y, &mut w3_grads, &mut w3_tape, &mut *sgd, &mut rng)
                .expect("finite")
        })
    });
    assert_eq!(ops, 0, "W3 train step with SGD momentum (B = 64)");
    assert!(losses.iter().all(|l| l.is_finite()));

    let mut w4 = W4::<f32>::new_boxed(&mut rng);
    let mut w4_tape = zeroed_box::<W4Tape<f32, B64>>();
    let mut w4_grads = zeroed_box::<W4Params<f32>>();
    let mut adam = Adam::<f32, W4Params<f32>>::boxed(1e-3, AdamConfig::default());
    let mut w4_inference = zeroed_box::<W4Inference<f32>>();
    let (losses, ops) = heap_ops(|| {
        [0; 3].map(|_| {
            w4.train_step(&x, &y, &mut w4_grads, &mut w4_tape, &mut *adam, &mut rng)
                .expect("finite")
        })
    });
    assert_eq!(ops, 0, "W4 train step with Adam (B = 64)");
    assert!(losses.iter().all(|l| l.is_finite()));
    let (out, ops) = heap_ops(|| w4.forward(&x));
    assert_eq!(ops, 0, "W4 forward (B = 64)");
    assert!(out.iter().all(|v| v.is_finite()));
    let (_, ops) = heap_ops(|| {
        w4.to_inference_into(&mut w4_inference);
        w4_inference.forward(&x)
    });
    assert_eq!(ops, 0, "W4 inference form, made in place and run (B = 64)");
}

/// One layer's `forward`, `forward_train` and `backward` (input gradient included) over a
/// batch of `N`, with everything made beforehand: the number of heap operations they make.
#[cfg(feature = "alloc")]
fn layer_heap_ops<L: Layer<f32, I, O> + Default, const I: usize, const O: usize, const N: usize>()
-> usize {
    use staticnn::block::zeroed_box;
    let rng = &mut Xoshiro128PlusPlus::seed_from_u64(5);
    let layer = L::default();
    let (mut p, mut s) = (zeroed_box::<L::Params>(), zeroed_box::<L::State>());
    layer.init_params(&mut p, &mut s, rng);
    let mut g = zeroed_box::<L::Params>();
    let mut tape = zeroed_box::<L::Tape<N>>();
    let mut x = zeroed_box::<SMatrix<f32, I, N>>();
    x.iter_mut().for_each(|v| *v = rng.random_range(-1.0..1.0));
    let mut y = zeroed_box::<SMatrix<f32, O, N>>();
    let dy = zeroed_box::<SMatrix<f32, O, N>>();
    let mut dx = zeroed_box::<SMatrix<f32, I, N>>();
    let ((), ops) = heap_ops(|| {
        layer.forward(&p, &s, &x, &mut y);
        layer.forward_train(&p, &mut s, &x, &mut y, &mut tape, rng);
        layer.backward(&p, &x, &y, &tape, &dy, Some(&mut dx), &mut g);
    });
    ops
}

/// The convolutional layers touch no heap: both convolution paths (dense kernels over
/// patches on the stack, and direct loops for depthwise), pooling, global pooling,
/// `Flatten` and the per-channel batch norm.
#[cfg(feature = "alloc")]
#[test]
fn conv_layers_allocate_nothing() {
    type LeNetC2 = Conv2d<6, 14, 14, 16, 10, 10, 5, 5, 1, 1, 0, 0, 1, 1, 1, 150, 16>;
    type Depthwise = Conv2d<8, 6, 5, 8, 6, 5, 3, 3, 1, 1, 1, 1, 1, 1, 8, 9, 0>;
    type Conv1 = Conv1d<2, 30, 4, 14, 3, 2, 0, 1, 1, 6, 4>;
    let counts = [
        layer_heap_ops::<LeNetC2, 1176, 1600, B>(),
        layer_heap_ops::<Depthwise, 240, 240, B>(),
        layer_heap_ops::<Conv1, 60, 56, B>(),
        layer_heap_ops::<MaxPool2d<16, 10, 10, 5, 5, 2, 2, 2, 2, 0, 0>, 1600, 400, B>(),
        layer_heap_ops::<AvgPool1d<4, 14, 7, 2, 2, 0>, 56, 28, B>(),
        layer_heap_ops::<GlobalAvgPool<8, 30>, 240, 8, B>(),
        layer_heap_ops::<Flatten, 240, 240, B>(),
        layer_heap_ops::<SpatialBatchNorm<8, 30>, 240, 240, B>(),
    ];
    assert_eq!(counts, [0; 8]);
}

/// A `fmt::Write` into a fixed buffer, so that formatting can be measured on its own.
struct Sink {
    bytes: [u8; 8192],
    len: usize,
}

impl core::fmt::Write for Sink {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = self.len + s.len();
        self.bytes
            .get_mut(self.len..end)
            .ok_or(core::fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Printing a summary (of a network and of its inference form) and a confusion matrix
/// touches no heap.
#[test]
fn summaries_and_confusion_tables_allocate_nothing() {
    use core::fmt::Write;
    let net = Everything::<f32>::new(&mut Xoshiro128PlusPlus::seed_from_u64(3));
    let inference = net.to_inference();
    let mut confusion = staticnn::metrics::Confusion::<10>::new();
    confusion.add(3, 4);
    let mut sink = Sink {
        bytes: [0; 8192],
        len: 0,
    };
    let (written, ops) = heap_ops(|| {
        write!(
            sink,
            "{}\n{}\n{confusion}",
            net.summary(),
            inference.summary()
        )
    });
    written.unwrap();
    assert_eq!(ops, 0);
    let text = core::str::from_utf8(&sink.bytes[..sink.len]).unwrap();
    assert!(text.contains("(f32, inference only)") && text.contains("true\\pred"));
}

network! {
    /// Every layer kind the int8 path takes: batch norm (folded) and dropout (removed) first.
    struct Quantisable {
        input: 24,
        Linear(32),
        BatchNorm,
        ReLU,
        Dropout(0.2),
        Linear(16),
        Tanh,
        Linear(12),
        Sigmoid,
        Linear(10),
    }
}

#[test]
fn int8_quantising_and_running_allocate_nothing() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(17);
    let net = Quantisable::<f32>::new(&mut rng);
    let samples: Vec<[f32; 24]> = (0..40)
        .map(|_| core::array::from_fn(|_| rng.random::<f32>() * 4.0 - 2.0))
        .collect();
    let labels = vec![0u8; samples.len()];
    let calibration = Dataset::new(&samples, &labels).unwrap();
    let x = random::<24, B>(&mut rng);
    let mut blob = vec![0u8; QuantisableInt8::BLOB_BYTES];

    let (q, n) = heap_ops(|| net.quantize(calibration).unwrap());
    assert_eq!(n, 0, "quantize");
    let (xq, n) = heap_ops(|| q.quantize_input(&x));
    assert_eq!(n, 0, "quantize_input");
    let (y, n) = heap_ops(|| q.forward_int8(&xq));
    assert_eq!(n, 0, "forward_int8");
    let (_, n) = heap_ops(|| q.dequantize_output(&y));
    assert_eq!(n, 0, "dequantize_output");
    let (_, n) = heap_ops(|| q.forward(&x));
    assert_eq!(n, 0, "forward");
    let (_, n) = heap_ops(|| q.classify(&x));
    assert_eq!(n, 0, "classify");
    let (written, n) = heap_ops(|| staticnn::io::int8_to_bytes(&q, &mut blob).unwrap());
    assert_eq!(
        (written, n),
        (QuantisableInt8::BLOB_BYTES, 0),
        "int8_to_bytes"
    );
    let mut back = q;
    back.input.zero_point += 1;
    let (_, n) = heap_ops(|| staticnn::io::int8_from_bytes(&mut back, &blob).unwrap());
    assert_eq!(n, 0, "int8_from_bytes");
    assert_eq!(back, q);
}

network! {
    /// The convolutional int8 path: convolution (batch norm folded, ReLU fused), max
    /// pooling, depthwise convolution, average pooling, global average pooling, Flatten,
    /// Linear.
    struct QuantisableCnn {
        input: [2, 8, 8],
        Conv2d(4, kernel = 3, padding = 1, bias = false),
        BatchNorm,
        ReLU,
        MaxPool2d(2),
        Conv2d(4, kernel = 3, padding = 1, groups = 4),
        ReLU,
        AvgPool2d(kernel = 2),
        GlobalAvgPool,
        Flatten,
        Linear(10),
    }
}

#[test]
fn int8_cnn_quantising_and_running_allocate_nothing() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(18);
    let net = QuantisableCnn::<f32>::new(&mut rng);
    let samples: Vec<[f32; 128]> = (0..20)
        .map(|_| core::array::from_fn(|_| rng.random::<f32>() * 4.0 - 2.0))
        .collect();
    let labels = vec![0u8; samples.len()];
    let calibration = Dataset::new(&samples, &labels).unwrap();
    let x = random::<128, B>(&mut rng);
    let (q, n) = heap_ops(|| net.quantize(calibration).unwrap());
    assert_eq!(n, 0, "quantize");
    let (xq, n) = heap_ops(|| q.quantize_input(&x));
    assert_eq!(n, 0, "quantize_input");
    let (_, n) = heap_ops(|| q.forward_int8(&xq));
    assert_eq!(n, 0, "forward_int8");
    let (_, n) = heap_ops(|| q.classify(&x));
    assert_eq!(n, 0, "classify");
}
