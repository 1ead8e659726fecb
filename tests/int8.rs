//! The int8 twin beyond TensorFlow Lite's fixtures: quantising networks with batch norm and
//! dropout, the typed errors, and the blob (round trip, wrong kind, corrupt values).

use proptest::prelude::*;
use staticnn::data::Dataset;
use staticnn::io::{BlobError, INT8_TAG, from_bytes, int8_from_bytes, int8_to_bytes, to_bytes};
use staticnn::nalgebra::SMatrix;
use staticnn::prelude::*;
use staticnn::quant::conv::Pool;
use staticnn::quant::{QParams, QuantError};
use staticnn::rand::rngs::Xoshiro128PlusPlus;
use staticnn::rand::{RngExt, SeedableRng};

network! {
    /// Batch norm folded, dropout removed, ReLU fused, tanh as a table.
    struct Small {
        input: 4,
        fc: Linear(6),
        bn: BatchNorm,
        act: ReLU,
        drop: Dropout(0.3),
        mid: Linear(5),
        squash: Tanh,
        out: Linear(3),
        loss: SoftmaxCrossEntropy,
    }
}

network! {
    /// Same widths, another architecture (no table between `mid` and `out`).
    struct Other {
        input: 4,
        fc: Linear(6),
        act: ReLU,
        mid: Linear(5),
        out: Linear(3),
    }
}

network! {
    /// `Small` with a sigmoid table where it has a tanh table: same widths and bytes, another
    /// architecture.
    struct SmallSigmoid {
        input: 4,
        fc: Linear(6),
        bn: BatchNorm,
        act: ReLU,
        drop: Dropout(0.3),
        mid: Linear(5),
        squash: Sigmoid,
        out: Linear(3),
        loss: SoftmaxCrossEntropy,
    }
}

network! {
    /// 1-D layers: a convolution with its batch norm folded and ReLU fused, max pooling, a
    /// depthwise convolution with stride and dilation, average pooling with padding.
    struct Convolutional {
        input: [2, 24],
        conv: Conv1d(4, kernel = 3, padding = 1, bias = false),
        BatchNorm,
        ReLU,
        mp: MaxPool1d(2),
        dw: Conv1d(4, kernel = 3, stride = 2, padding = 2, dilation = 2, groups = 4),
        ReLU,
        ap: AvgPool1d(kernel = 3, stride = 1, padding = 1),
        Flatten,
        out: Linear(3),
    }
}

network! {
    /// A `Normalize` before a padded convolution does not fold (the border would see
    /// `−μ/σ`): the int8 twin applies it in `f32` at its input.
    struct NormalizedPadded {
        input: [1, 4, 4],
        norm: Normalize,
        Conv2d(2, kernel = 3, padding = 1),
        Flatten,
        Linear(2),
    }
}

network! {
    /// `NormalizedPadded` without its `Normalize`.
    struct PaddedPlain {
        input: [1, 4, 4],
        conv: Conv2d(2, kernel = 3, padding = 1),
        Flatten,
        out: Linear(2),
    }
}

network! {
    /// A `Normalize` before a residual block does not fold either.
    struct NormalizedResidual {
        input: 4,
        norm: Normalize,
        Residual(Linear(4), ReLU, Linear(4)),
        ReLU,
        out: Linear(2),
    }
}

network! {
    /// Maxout layers, one with a ReLU after it (fused).
    struct Pieces { input: 4, mo: Maxout(6, k = 3), ReLU, m2: Maxout(5, k = 2), Linear(2) }
}

network! {
    /// A batch norm after a ReLU is not folded: a depthwise 1×1 convolution, with the
    /// ReLU after it fused.
    struct Unfolded { input: 4, Linear(8), ReLU, bn: BatchNorm, ReLU, out: Linear(3) }
}

network! {
    /// A batch norm on the input (nothing before it to fold into) and a second batch norm
    /// after one folded into `fc`: both kept.
    struct Leading {
        input: 4,
        lead: BatchNorm,
        fc: Linear(6),
        b1: BatchNorm,
        b2: BatchNorm,
        out: Linear(2),
    }
}

network! {
    /// A spatial batch norm after a ReLU (not folded), last.
    struct UnfoldedCnn {
        input: [2, 6, 6],
        Conv2d(3, kernel = 3, padding = 1),
        ReLU,
        bn: BatchNorm,
    }
}

/// Doubles its input: a user's layer, which has no int8 form.
#[derive(Default)]
pub struct Double;

impl<T: Scalar, const N: usize> Layer<T, N, N> for Double {
    type Params = ();
    type State = ();
    type Tape<const B: usize> = ();
    const KIND: &'static str = "Double";
    const FLOPS: usize = N;

    fn init_params<R: staticnn::rand::Rng + ?Sized>(&self, _: &mut (), _: &mut (), _: &mut R) {}
    fn forward<const B: usize>(
        &self,
        _: &(),
        _: &(),
        x: &SMatrix<T, N, B>,
        y: &mut SMatrix<T, N, B>,
    ) {
        *y = x * T::of(2.0);
    }
    fn backward<const B: usize>(
        &self,
        _: &(),
        _: &SMatrix<T, N, B>,
        _: &SMatrix<T, N, B>,
        _: &(),
        dy: &SMatrix<T, N, B>,
        dx: Option<&mut SMatrix<T, N, B>>,
        _: &mut (),
    ) {
        if let Some(dx) = dx {
            *dx = dy * T::of(2.0);
        }
    }
}

network! {
    /// A user's layer has no int8 form.
    struct WithCustom { input: 4, Linear(3), twice: Custom(Double), Linear(2) }
}

network! {
    /// A softmax last (TensorFlow Lite's int8 `SOFTMAX`).
    struct Soft { input: 4, Linear(6), ReLU, Linear(5), sm: Softmax }
}

network! {
    /// Every convolution and pooling the int8 twin has: a convolution with its batch norm
    /// folded and ReLU fused, max pooling with padding, a depthwise convolution with stride
    /// and dilation, average pooling, Flatten, and dropout removed.
    struct SmallCnn {
        input: [2, 9, 9],
        c1: Conv2d(4, kernel = 3, padding = 1, bias = false),
        bn: BatchNorm,
        ReLU,
        mp: MaxPool2d(kernel = 2, stride = 1, padding = 1),
        dw: Conv2d(4, kernel = 3, stride = 2, padding = 2, dilation = 2, groups = 4),
        ReLU,
        ap: AvgPool2d(kernel = 2, stride = 1),
        Flatten,
        Dropout(0.2),
        out: Linear(3),
        loss: SoftmaxCrossEntropy,
    }
}

network! {
    /// Global average pooling after a convolution.
    struct GapCnn {
        input: [2, 6, 6],
        Conv2d(4, kernel = 3, padding = 1),
        ReLU,
        gap: GlobalAvgPool,
        Flatten,
        out: Linear(3),
    }
}

network! {
    /// Average pooling with padding: staticnn divides by the whole window (PyTorch's
    /// `count_include_pad`), TensorFlow Lite by the points inside.
    struct PaddedAverage {
        input: [1, 4, 4],
        Conv2d(2, kernel = 3, padding = 1),
        ap: AvgPool2d(kernel = 2, stride = 1, padding = 1),
        Flatten,
        Linear(3),
    }
}

network! {
    /// Grouped convolutions, groups between 1 and the channels: 2-D (2 input and 3
    /// output channels per group, ReLU fused) and 1-D (3 in, 2 out per group).
    struct Grouped {
        input: [4, 5, 5],
        g: Conv2d(6, kernel = 3, padding = 1, groups = 2),
        ReLU,
        Flatten,
        out: Linear(3),
    }
}

network! {
    /// A grouped 1-D convolution.
    struct GroupedSeq {
        input: [6, 8],
        g: Conv1d(4, kernel = 3, stride = 2, padding = 1, groups = 2),
        Flatten,
        out: Linear(2),
    }
}

network! {
    /// Element-wise activations as tables: ELU, PReLU, a ReLU after a table (nothing to
    /// fuse it into), LeakyReLU.
    struct Smooth {
        input: 4,
        Linear(8),
        elu: ELU(alpha = 0.7),
        Linear(8),
        pr: PReLU,
        Linear(6),
        Tanh,
        lone: ReLU,
        Linear(6),
        leaky: LeakyReLU(slope = 0.1),
        Linear(2),
    }
}

network! {
    /// Residual blocks: the identity with batch norms folded and a ReLU after the sum
    /// (fused into it), a strided block with a projection, a nested block.
    struct ResCnn {
        input: [2, 6, 6],
        stem: Conv2d(4, kernel = 3, padding = 1),
        ReLU,
        id: Residual(
            Conv2d(4, kernel = 3, padding = 1, bias = false),
            BatchNorm,
            ReLU,
            Conv2d(4, kernel = 3, padding = 1),
            BatchNorm,
        ),
        ReLU,
        down: Residual(
            Conv2d(6, kernel = 3, stride = 2, padding = 1),
            ReLU,
            Residual(Conv2d(6, kernel = 3, padding = 1), Tanh),
            Conv2d(6, kernel = 3, padding = 1);
            projection = Conv2d(6, kernel = 1, stride = 2),
        ),
        gap: GlobalAvgPool,
        Flatten,
        out: Linear(3),
    }
}

network! {
    /// A residual MLP: a block first in the network (its skip path is the input).
    struct ResMlp {
        input: 4,
        first: Residual(Linear(4), ReLU, Linear(4)),
        ReLU,
        out: Linear(2),
    }
}

fn samples(seed: u64, n: usize) -> Vec<[f32; 4]> {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(seed);
    (0..n)
        .map(|_| core::array::from_fn(|_| rng.random::<f32>() * 4.0 - 2.0))
        .collect()
}

/// A trained `Small` (so that the batch norm's statistics are not the identity).
fn trained() -> Small<f32> {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(3);
    let mut net = Small::<f32>::new(&mut rng);
    let mut tape = Small::<f32>::tape::<16>();
    let mut grads = Small::<f32>::gradients();
    let mut sgd = Sgd::new(0.05);
    let xs = samples(4, 16);
    let x = SMatrix::<f32, 4, 16>::from_fn(|r, c| xs[c][r] * 1.5 + 0.7);
    let y = core::array::from_fn(|b| ClassIndex::new(b % 3).unwrap());
    for _ in 0..30 {
        net.train_step(&x, &y, &mut grads, &mut tape, &mut sgd, &mut rng)
            .unwrap();
    }
    net
}

#[test]
fn quantised_network_follows_the_folded_float_network() {
    let net = trained();
    let calib = samples(5, 100);
    let labels = vec![(); calib.len()];
    let q = net
        .quantize(Dataset::new(&calib, &labels).unwrap())
        .unwrap();
    // The ReLU is fused: the first layer's outputs never go below its zero point.
    assert_eq!(i32::from(q.fc.min), q.fc.output.zero_point);
    assert_eq!(q.squash.output, QParams::TANH);
    // The dequantised outputs stay within a few output steps of the float network's.
    let deployed = net.to_inference();
    let test = samples(6, 64);
    let step = q.output_params().scale;
    let mut worst = 0f32;
    for s in &test {
        let x = SVector::<f32, 4>::from_column_slice(s);
        let (a, b) = (deployed.forward(&x), q.forward(&x));
        worst = worst.max((a - b).amax());
    }
    assert!(worst <= 4.0 * step, "worst {worst} for a step of {step}");
    // Without batch norm folding (the eval-mode float network), the same.
    let eval = net.forward(&SVector::<f32, 4>::from_column_slice(&test[0]));
    assert!(
        (eval - q.forward(&SVector::<f32, 4>::from_column_slice(&test[0]))).amax() <= 4.0 * step
    );
}

#[test]
fn quantised_cnn_follows_the_folded_float_network() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(21);
    let mut net = SmallCnn::<f32>::new(&mut rng);
    // Batch-norm statistics that the fold must carry.
    net.state.bn.running_mean.iter_mut().for_each(|m| *m = 0.3);
    net.state.bn.running_var.iter_mut().for_each(|v| *v = 2.0);
    let images: Vec<[f32; 162]> = (0..200)
        .map(|_| core::array::from_fn(|_| rng.random::<f32>() * 2.0 - 0.5))
        .collect();
    let labels = vec![(); images.len()];
    let (calib, test) = images.split_at(150);
    let q = net
        .quantize(Dataset::new(calib, &labels[..150]).unwrap())
        .unwrap();
    assert!(q.dw.depthwise && !q.c1.depthwise);
    let float = net.to_inference();
    let (mut worst, mut range) = (0f32, 0f32);
    for x in test {
        let x = SMatrix::<f32, 162, 1>::from_column_slice(x);
        let (a, b) = (float.forward(&x), q.forward(&x));
        worst = worst.max((a - b).amax());
        range = range.max(a.amax());
    }
    // Within a few output steps of the float network.
    let step = q.output_params().scale;
    assert!(
        worst <= 6.0 * step,
        "worst {worst}, step {step}, range {range}"
    );

    // The blob round trip.
    let mut blob = vec![0u8; SmallCnnInt8::BLOB_BYTES];
    int8_to_bytes(&q, &mut blob).unwrap();
    let mut back = q;
    back.c1.bias[0] += 3;
    back.out.weight[0][0] ^= 1;
    int8_from_bytes(&mut back, &blob).unwrap();
    assert_eq!(back, q);
}

#[test]
fn quantised_global_average_pooling_follows_the_float_network() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(22);
    let net = GapCnn::<f32>::new(&mut rng);
    let images: Vec<[f32; 72]> = (0..150)
        .map(|_| core::array::from_fn(|_| rng.random::<f32>() * 2.0 - 0.5))
        .collect();
    let labels = vec![(); images.len()];
    let (calib, test) = images.split_at(100);
    let q = net
        .quantize(Dataset::new(calib, &labels[..100]).unwrap())
        .unwrap();
    assert_eq!(q.gap.positions, 36);
    let step = q.output_params().scale;
    let (mut worst, mut range) = (0f32, 0f32);
    for x in test {
        let x = SMatrix::<f32, 72, 1>::from_column_slice(x);
        let (a, b) = (net.forward(&x), q.forward(&x));
        worst = worst.max((a - b).amax());
        range = range.max(a.amax());
    }
    assert!(worst <= 4.0 * step, "worst {worst}, step {step}");
    assert!(
        range >= 20.0 * step,
        "outputs span few steps: {range} / {step}"
    );
}

#[test]
fn quantised_residual_networks_follow_the_float_network() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(23);
    let mut net = ResCnn::<f32>::new(&mut rng);
    net.state
        .id_body1
        .running_mean
        .iter_mut()
        .for_each(|m| *m = 0.2);
    net.state
        .id_body1
        .running_var
        .iter_mut()
        .for_each(|v| *v = 1.5);
    let images: Vec<[f32; 72]> = (0..150)
        .map(|_| core::array::from_fn(|_| rng.random::<f32>() * 2.0 - 0.5))
        .collect();
    let labels = vec![(); images.len()];
    let (calib, test) = images.split_at(100);
    let q = net
        .quantize(Dataset::new(calib, &labels[..100]).unwrap())
        .unwrap();
    // The sums' inputs are the body's and the skip path's tensors, the ReLU after `id`
    // is fused into its range.
    assert_eq!(q.id.zero_point_b, q.stem.output.zero_point);
    assert_eq!(q.id.min, q.id.output.zero_point as i8);
    assert_eq!(q.down.zero_point_a, q.down_body3.output.zero_point);
    assert_eq!(q.down.zero_point_b, q.down_projection0.output.zero_point);
    assert_eq!((q.down.min, q.down.max), (-128, 127));
    let step = q.output_params().scale;
    let (mut worst, mut range) = (0f32, 0f32);
    for x in test {
        let x = SMatrix::<f32, 72, 1>::from_column_slice(x);
        let (a, b) = (net.forward(&x), q.forward(&x));
        worst = worst.max((a - b).amax());
        range = range.max(a.amax());
    }
    assert!(worst <= 6.0 * step, "worst {worst}, step {step}");
    assert!(
        range >= 20.0 * step,
        "outputs span few steps: {range} / {step}"
    );
    // The blob round trip.
    let mut blob = vec![0u8; ResCnnInt8::BLOB_BYTES];
    int8_to_bytes(&q, &mut blob).unwrap();
    let mut back = q;
    back.id.multiplier_a.0 += 1;
    int8_from_bytes(&mut back, &blob).unwrap();
    assert_eq!(back, q);

    let mlp = ResMlp::<f32>::new(&mut rng);
    let calib = samples(7, 100);
    let q = mlp
        .quantize(Dataset::new(&calib, &labels[..100]).unwrap())
        .unwrap();
    assert_eq!(q.first.zero_point_b, q.input.zero_point);
    let step = q.output_params().scale;
    let mut worst = 0f32;
    for x in samples(8, 50) {
        let x = SMatrix::<f32, 4, 1>::from_column_slice(&x);
        worst = worst.max((mlp.forward(&x) - q.forward(&x)).amax());
    }
    assert!(worst <= 4.0 * step, "worst {worst}, step {step}");
}

#[test]
fn quantised_1d_networks_follow_the_folded_float_network() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(24);
    let mut net = Convolutional::<f32>::new(&mut rng);
    net.state
        .layer1
        .running_mean
        .iter_mut()
        .for_each(|m| *m = 0.3);
    net.state
        .layer1
        .running_var
        .iter_mut()
        .for_each(|v| *v = 2.0);
    let signals: Vec<[f32; 48]> = (0..150)
        .map(|_| core::array::from_fn(|_| rng.random::<f32>() * 2.0 - 0.5))
        .collect();
    let labels = vec![(); signals.len()];
    let (calib, test) = signals.split_at(100);
    let q = net
        .quantize(Dataset::new(calib, &labels[..100]).unwrap())
        .unwrap();
    assert!(q.dw.depthwise && !q.conv.depthwise);
    assert_eq!((q.dw.window.in_h, q.dw.window.dil_w), (1, 2));
    assert!(matches!(q.ap.pool, Pool::AverageWithPadding { .. }));
    let float = net.to_inference();
    let step = q.output_params().scale;
    let (mut worst, mut range) = (0f32, 0f32);
    for x in test {
        let x = SMatrix::<f32, 48, 1>::from_column_slice(x);
        let (a, b) = (float.forward(&x), q.forward(&x));
        worst = worst.max((a - b).amax());
        range = range.max(a.amax());
    }
    assert!(worst <= 6.0 * step, "worst {worst}, step {step}");
    assert!(
        range >= 20.0 * step,
        "outputs span few steps: {range} / {step}"
    );
}

/// Padded average pooling against the float layer: staticnn's semantics (PyTorch's
/// `count_include_pad = true`) are not TensorFlow Lite's, whose padded average divides by
/// the points inside the input, so there is no fixture; on every window of random int8
/// inputs the int8 pool must be the float pool of the dequantised input within one step
/// (the rounding of the mean: at most half a step).
#[test]
fn padded_average_pooling_is_the_float_pool_within_one_step() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(25);
    let net = PaddedAverage::<f32>::new(&mut rng);
    let images: Vec<[f32; 16]> = (0..20)
        .map(|_| core::array::from_fn(|_| rng.random::<f32>() * 2.0 - 1.0))
        .collect();
    let labels = vec![(); images.len()];
    let q = net
        .quantize(Dataset::new(&images, &labels).unwrap())
        .unwrap();
    let p = q.ap.output;
    assert!(p.zero_point != 0, "a zero point that padding must use");
    let float = staticnn::layers::AvgPool2d::<2, 4, 4, 5, 5, 2, 2, 1, 1, 1, 1>;
    let mut worst = 0f32;
    for _ in 0..200 {
        let x = SMatrix::<i8, 32, 1>::from_fn(|_, _| rng.random::<i8>());
        let mut y = SMatrix::<i8, 50, 1>::zeros();
        q.ap.forward(&x, &mut y);
        let xf = x.map(|v| p.dequantize(v));
        let mut yf = SMatrix::<f32, 50, 1>::zeros();
        staticnn::Layer::<f32, 32, 50>::forward(&float, &(), &(), &xf, &mut yf);
        for (a, b) in y.iter().zip(yf.iter()) {
            worst = worst.max((p.dequantize(*a) - b).abs() / p.scale);
        }
    }
    assert!(worst <= 0.5 + 1e-3, "{worst} steps");
}

/// ELU, PReLU, a lone ReLU and LeakyReLU as 256-entry tables. TensorFlow Lite has no
/// fixture for the first three here (its converter leaves ELU in float, its reference
/// resolver has no ELU kernel, a ReLU after a table is not what Keras models give it, and
/// its PRELU quantises the slope; LeakyReLU is bit-exact on `tests/int8_tflite.rs`), so
/// each table is checked against the float layer: on every int8 input whose float result
/// lies inside the output's range, within half an output step (the rounding; one step for
/// LeakyReLU's integer kernel). Then the whole network against the float network.
#[test]
fn activation_tables_follow_the_float_layers() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(26);
    let mut net = Smooth::<f32>::new(&mut rng);
    net.params.pr.slope = 0.3;
    let calib = samples(9, 200);
    let labels = vec![(); calib.len()];
    let q = net
        .quantize(Dataset::new(&calib, &labels).unwrap())
        .unwrap();
    // Each table's name, input and output parameters, and float function. LeakyReLU's
    // table is TensorFlow Lite's integer kernel (fixed-point multipliers, double
    // rounding): within one step; the others are the float function rounded once.
    type Check<'a> = (&'a str, QParams, QParams, &'a dyn Fn(f32) -> f32);
    let elu = |x: f32| if x > 0.0 { x } else { 0.7 * (x.exp() - 1.0) };
    let prelu = |x: f32| if x > 0.0 { x } else { 0.3 * x };
    let relu = |x: f32| x.max(0.0);
    let leaky = |x: f32| if x > 0.0 { x } else { 0.1 * x };
    let checks: [Check; 4] = [
        ("elu", q.layer0.output, q.elu.output, &elu),
        ("pr", q.layer2.output, q.pr.output, &prelu),
        ("lone", q.layer5.output, q.lone.output, &relu),
        ("leaky", q.layer7.output, q.leaky.output, &leaky),
    ];
    let tables = [&q.elu, &q.pr, &q.lone, &q.leaky];
    for ((name, pin, pout, f), t) in checks.iter().zip(tables) {
        assert_eq!(t.output, *pout);
        let mut checked = 0;
        for v in -128i32..=127 {
            let want = f(pin.dequantize(v as i8));
            let lo = pout.dequantize(-128);
            let hi = pout.dequantize(127);
            if want < lo || want > hi {
                continue;
            }
            let got = pout.dequantize(t.table[usize::from(v as i8 as u8)]);
            let steps = (got - want).abs() / pout.scale;
            let bound = if *name == "leaky" { 1.0 } else { 0.5 + 1e-3 };
            assert!(steps <= bound, "{name}: input {v}: {steps} steps");
            checked += 1;
        }
        assert!(checked >= 64, "{name}: {checked} inputs in range");
    }
    let step = q.output_params().scale;
    let mut worst = 0f32;
    for x in samples(10, 100) {
        let x = SMatrix::<f32, 4, 1>::from_column_slice(&x);
        worst = worst.max((net.forward(&x) - q.forward(&x)).amax());
    }
    assert!(worst <= 6.0 * step, "worst {worst}, step {step}");
}

/// Maxout: TensorFlow Lite has no such op (a converted model would calibrate each piece
/// separately), so the int8 layer is checked against the float one: the pieces share the
/// layer's output range, so their int8 maximum is the rounded float maximum; the network
/// within a few output steps of the float network, and the blob round trip.
#[test]
fn quantised_maxout_follows_the_float_network() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(27);
    let net = Pieces::<f32>::new(&mut rng);
    let calib = samples(11, 200);
    let labels = vec![(); calib.len()];
    let q = net
        .quantize(Dataset::new(&calib, &labels).unwrap())
        .unwrap();
    assert!(q.mo.pieces.iter().all(|p| p.output == q.mo.output));
    assert_eq!(q.mo.pieces[0].min, q.mo.output.zero_point as i8);
    assert_eq!(q.m2.pieces[1].min, -128);
    // The layer: on the dequantised int8 input, the float Maxout (and ReLU), clamped to
    // the output's range, within one step (weights rounded, the maximum rounded once).
    let mut layer_worst = 0f32;
    let p = q.mo.output;
    for x in samples(12, 100) {
        let xq = q.quantize_input(&SMatrix::<f32, 4, 1>::from_column_slice(&x));
        let mut y = SMatrix::<i8, 6, 1>::zeros();
        q.mo.forward(&xq, &mut y);
        let xd = xq.map(|v| q.input.dequantize(v));
        let mut yf = SMatrix::<f32, 6, 1>::zeros();
        let float = staticnn::layers::Maxout::<3>::default();
        staticnn::Layer::<f32, 4, 6>::forward(&float, &net.params.mo, &(), &xd, &mut yf);
        for (a, b) in y.iter().zip(yf.iter()) {
            let want = b.max(0.0).min(p.dequantize(127));
            layer_worst = layer_worst.max((p.dequantize(*a) - want).abs() / p.scale);
        }
    }
    assert!(layer_worst <= 1.0, "{layer_worst} steps");
    // The network, on samples inside the calibrated ranges.
    let step = q.output_params().scale;
    let (mut worst, mut range) = (0f32, 0f32);
    for x in &calib[..100] {
        let x = SMatrix::<f32, 4, 1>::from_column_slice(x);
        let (a, b) = (net.forward(&x), q.forward(&x));
        worst = worst.max((a - b).amax());
        range = range.max(a.amax());
    }
    assert!(worst <= 4.0 * step, "worst {worst}, step {step}");
    assert!(
        range >= 10.0 * step,
        "outputs span few steps: {range} / {step}"
    );
    let mut blob = vec![0u8; PiecesInt8::BLOB_BYTES];
    int8_to_bytes(&q, &mut blob).unwrap();
    let mut back = q;
    back.mo.pieces[2].bias[0] += 1;
    int8_from_bytes(&mut back, &blob).unwrap();
    assert_eq!(back, q);
}

/// The dequantised outputs of `q` on `xs` against the float network's `f`: the worst
/// difference and the largest output.
fn worst_of<const N: usize, const O: usize>(
    xs: &[[f32; N]],
    f: impl Fn(&SMatrix<f32, N, 1>) -> SMatrix<f32, O, 1>,
    q: impl Fn(&SMatrix<f32, N, 1>) -> SMatrix<f32, O, 1>,
) -> (f32, f32) {
    let (mut worst, mut range) = (0f32, 0f32);
    for x in xs {
        let x = SMatrix::<f32, N, 1>::from_column_slice(x);
        let (a, b) = (f(&x), q(&x));
        worst = worst.max((a - b).amax());
        range = range.max(a.amax());
    }
    (worst, range)
}

/// Grouped convolutions (1 < groups < channels, issue 17) quantise: within a few output
/// steps of the float network, 2-D and 1-D; the blob round trip and the `const` reader.
#[test]
fn quantised_grouped_convolutions_follow_the_float_network() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(41);
    let net = Grouped::<f32>::new(&mut rng);
    let images: Vec<[f32; 100]> = (0..200)
        .map(|_| core::array::from_fn(|_| rng.random::<f32>() * 2.0 - 0.5))
        .collect();
    let labels = vec![(); images.len()];
    let q = net
        .quantize(Dataset::new(&images[..150], &labels[..150]).unwrap())
        .unwrap();
    assert!(q.g.groups == 2 && !q.g.depthwise);
    assert_eq!(i32::from(q.g.min), q.g.output.zero_point);
    let step = q.output_params().scale;
    let (worst, range) = worst_of(&images[150..], |x| net.forward(x), |x| q.forward(x));
    assert!(worst <= 4.0 * step, "worst {worst}, step {step}");
    assert!(
        range >= 10.0 * step,
        "outputs span few steps: {range} / {step}"
    );
    let mut blob = vec![0u8; GroupedInt8::BLOB_BYTES];
    int8_to_bytes(&q, &mut blob).unwrap();
    let mut back = q;
    back.g.weight[5][17] ^= 1;
    int8_from_bytes(&mut back, &blob).unwrap();
    assert_eq!(back, q);
    assert_eq!(GroupedInt8::__staticnn_from_payload(&blob[40..]), Some(q));

    let seq = GroupedSeq::<f32>::new(&mut rng);
    let series: Vec<[f32; 48]> = (0..200)
        .map(|_| core::array::from_fn(|_| rng.random::<f32>() * 3.0 - 1.5))
        .collect();
    let q = seq
        .quantize(Dataset::new(&series[..150], &labels[..150]).unwrap())
        .unwrap();
    assert!(q.g.groups == 2 && !q.g.depthwise && q.g.weight[0].len() == 9);
    let step = q.output_params().scale;
    let (worst, range) = worst_of(&series[150..], |x| seq.forward(x), |x| q.forward(x));
    assert!(worst <= 4.0 * step, "worst {worst}, step {step}");
    assert!(
        range >= 10.0 * step,
        "outputs span few steps: {range} / {step}"
    );
    let mut blob = vec![0u8; GroupedSeqInt8::BLOB_BYTES];
    int8_to_bytes(&q, &mut blob).unwrap();
    let mut back = q;
    back.g.bias[3] += 1;
    int8_from_bytes(&mut back, &blob).unwrap();
    assert_eq!(back, q);
    assert_eq!(
        GroupedSeqInt8::__staticnn_from_payload(&blob[40..]),
        Some(q)
    );
}

/// Random running statistics and affine parameters for a batch norm of `N` channels.
fn randomise_bn<const N: usize>(
    rng: &mut Xoshiro128PlusPlus,
    p: &mut staticnn::layers::BatchNormParams<f32, N>,
    s: &mut staticnn::layers::BatchNormState<f32, N>,
) {
    for c in 0..N {
        p.weight[c] = rng.random::<f32>() * 3.0 - 1.0;
        p.bias[c] = rng.random::<f32>() - 0.5;
        s.running_mean[c] = rng.random::<f32>() * 0.5;
        s.running_var[c] = rng.random::<f32>() * 2.0 + 0.1;
    }
}

/// A batch norm the inference form keeps (after a ReLU) quantises as a depthwise 1×1
/// convolution (issue 17): flat (a ReLU after it fused) and spatial, within a few output
/// steps of the float network; the blob round trip and the `const` reader.
#[test]
fn quantised_unfolded_batch_norms_follow_the_float_network() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(43);
    let mut net = Unfolded::<f32>::new(&mut rng);
    randomise_bn(&mut rng, &mut net.params.bn, &mut net.state.bn);
    let calib = samples(44, 200);
    let labels = vec![(); calib.len()];
    let q = net
        .quantize(Dataset::new(&calib[..150], &labels[..150]).unwrap())
        .unwrap();
    assert!(q.bn.depthwise && q.bn.groups == 8 && q.bn.weight.len() == 8);
    assert_eq!((q.bn.window.in_h, q.bn.window.in_w), (1, 1));
    // The ReLU after it is fused.
    assert_eq!(i32::from(q.bn.min), q.bn.output.zero_point);
    // A negative γ gives a negative weight (symmetric per channel: ±127 at the largest).
    for c in 0..8 {
        assert_eq!(
            q.bn.weight[c][0],
            if net.params.bn.weight[c] < 0.0 {
                -127
            } else {
                127
            }
        );
    }
    let step = q.output_params().scale;
    let (worst, range) = worst_of(&calib[150..], |x| net.forward(x), |x| q.forward(x));
    assert!(worst <= 4.0 * step, "worst {worst}, step {step}");
    assert!(
        range >= 10.0 * step,
        "outputs span few steps: {range} / {step}"
    );
    let mut blob = vec![0u8; UnfoldedInt8::BLOB_BYTES];
    int8_to_bytes(&q, &mut blob).unwrap();
    let mut back = q;
    back.bn.bias[3] += 1;
    int8_from_bytes(&mut back, &blob).unwrap();
    assert_eq!(back, q);
    assert_eq!(UnfoldedInt8::__staticnn_from_payload(&blob[40..]), Some(q));

    // A batch norm first reads the int8 input; one after a folded one reads the `Linear`.
    let mut lead = Leading::<f32>::new(&mut rng);
    randomise_bn(&mut rng, &mut lead.params.lead, &mut lead.state.lead);
    randomise_bn(&mut rng, &mut lead.params.b1, &mut lead.state.b1);
    randomise_bn(&mut rng, &mut lead.params.b2, &mut lead.state.b2);
    let q = lead
        .quantize(Dataset::new(&calib[..150], &labels[..150]).unwrap())
        .unwrap();
    assert!(q.lead.groups == 4 && q.b2.groups == 6 && q.lead.min == -128);
    let step = q.output_params().scale;
    let (worst, range) = worst_of(&calib[150..], |x| lead.forward(x), |x| q.forward(x));
    assert!(worst <= 4.0 * step, "worst {worst}, step {step}");
    assert!(
        range >= 10.0 * step,
        "outputs span few steps: {range} / {step}"
    );
    let mut blob = vec![0u8; LeadingInt8::BLOB_BYTES];
    int8_to_bytes(&q, &mut blob).unwrap();
    assert_eq!(LeadingInt8::__staticnn_from_payload(&blob[40..]), Some(q));

    let mut cnn = UnfoldedCnn::<f32>::new(&mut rng);
    randomise_bn(&mut rng, &mut cnn.params.bn, &mut cnn.state.bn);
    let images: Vec<[f32; 72]> = (0..200)
        .map(|_| core::array::from_fn(|_| rng.random::<f32>() * 2.0 - 0.5))
        .collect();
    let q = cnn
        .quantize(Dataset::new(&images[..150], &labels[..150]).unwrap())
        .unwrap();
    assert!(q.bn.depthwise && q.bn.groups == 3);
    assert_eq!((q.bn.window.in_h, q.bn.window.in_w), (36, 1));
    assert_eq!(q.bn.min, -128);
    let step = q.output_params().scale;
    let (worst, range) = worst_of(&images[150..], |x| cnn.forward(x), |x| q.forward(x));
    assert!(worst <= 4.0 * step, "worst {worst}, step {step}");
    assert!(
        range >= 10.0 * step,
        "outputs span few steps: {range} / {step}"
    );
    let mut blob = vec![0u8; UnfoldedCnnInt8::BLOB_BYTES];
    int8_to_bytes(&q, &mut blob).unwrap();
    let mut back = q;
    back.bn.multiplier[1] ^= 1;
    int8_from_bytes(&mut back, &blob).unwrap();
    assert_eq!(back, q);
    assert_eq!(
        UnfoldedCnnInt8::__staticnn_from_payload(&blob[40..]),
        Some(q)
    );
}

/// A softmax last: TensorFlow Lite's kernel (bit for bit on `tests/int8_tflite.rs`'s
/// `mlp_softmax` fixture) is within a few steps of 1/256 of the float softmax, its
/// columns sum to about 1, and the blob carries it.
#[test]
fn quantised_softmax_follows_the_float_network() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(27);
    let mut net = Soft::<f32>::new(&mut rng);
    net.params.layer2.weight *= 4.0; // logits a few units apart
    let calib = samples(10, 200);
    let labels = vec![(); calib.len()];
    let q = net
        .quantize(Dataset::new(&calib, &labels).unwrap())
        .unwrap();
    assert_eq!(q.output_params(), QParams::SOFTMAX);
    assert!(q.sm.diff_min < 0 && q.sm.input_left_shift > 0, "{:?}", q.sm);
    let (mut worst, mut peak) = (0f32, 0f32);
    for x in samples(11, 100) {
        let x = SMatrix::<f32, 4, 1>::from_column_slice(&x);
        let (a, b) = (net.forward(&x), q.forward(&x));
        worst = worst.max((a - b).amax());
        peak = peak.max(a.amax());
        let total: f32 = b.iter().sum();
        assert!((total - 1.0).abs() <= 8.0 / 256.0, "sum {total}");
    }
    assert!(worst <= 4.0 / 256.0, "worst {worst}");
    assert!(peak > 0.5, "a softmax that never commits: {peak}");
    let mut blob = vec![0u8; SoftInt8::BLOB_BYTES];
    int8_to_bytes(&q, &mut blob).unwrap();
    let mut back = q;
    back.sm.diff_min = 0;
    int8_from_bytes(&mut back, &blob).unwrap();
    assert_eq!(back, q);
    // A left shift out of range is refused.
    let at = blob.len() - 20 + 4;
    blob[at..at + 4].copy_from_slice(&31i32.to_le_bytes());
    reseal(&mut blob);
    assert_eq!(
        int8_from_bytes(&mut back, &blob),
        Err(BlobError::CorruptPayload)
    );
}

/// Inputs far from 0 with a small spread, the case `Normalize` is for.
fn offset_samples<const N: usize>(rng: &mut Xoshiro128PlusPlus, n: usize) -> Vec<[f32; N]> {
    (0..n)
        .map(|_| core::array::from_fn(|i| 20.0 + i as f32 * 0.1 + rng.random::<f32>() * 0.8))
        .collect()
}

/// A `Normalize` that the inference form keeps (before a padded convolution, before a
/// residual block) is applied in `f32` by `quantize_input`: the twin is the twin of the
/// same network without it, quantised on normalised samples, and its statistics travel in
/// the blob.
#[test]
fn unfolded_normalize_is_applied_at_the_float_boundary() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(24);
    let images = offset_samples::<16>(&mut rng, 200);
    let labels = vec![(); images.len()];
    let (calib, test) = images.split_at(150);
    let mut net = NormalizedPadded::<f32>::new(&mut rng);
    net.fit_normalize(&Dataset::new(calib, &labels[..150]).unwrap())
        .unwrap();
    let q = net
        .quantize(Dataset::new(calib, &labels[..150]).unwrap())
        .unwrap();
    assert_eq!(q.norm.mean[0], net.state.norm.mean[0]);
    assert_eq!(q.norm.std[0], net.state.norm.std[0]);
    // The int8 input is the normalised sample's: a range of a few units around 0, not
    // the raw [20, 22].
    let p = q.input;
    assert!(p.scale < 0.05 && p.zero_point.abs() < 100, "{p:?}");
    // Within a few output steps of the float network on the calibration samples (whose
    // outputs are inside the calibrated range).
    let float = net.to_inference();
    let step = q.output_params().scale;
    let (mut worst, mut range) = (0f32, 0f32);
    for x in calib {
        let x = SMatrix::<f32, 16, 1>::from_column_slice(x);
        let (a, b) = (float.forward(&x), q.forward(&x));
        worst = worst.max((a - b).amax());
        range = range.max(a.amax());
    }
    assert!(worst <= 6.0 * step, "worst {worst}, step {step}");
    assert!(
        range >= 10.0 * step,
        "outputs span few steps: {range} / {step}"
    );
    // The same network without `Normalize`, quantised on normalised samples, is the same
    // integer network and gives the same outputs on normalised held-out samples.
    let (m, sd) = (net.state.norm.mean[0], net.state.norm.std[0]);
    let normalise = |x: &[f32; 16]| x.map(|v| (v - m) / sd);
    let mut plain = PaddedPlain::<f32>::new(&mut rng);
    plain.params.conv = net.params.layer1;
    plain.params.out = net.params.layer3;
    let normalised: Vec<[f32; 16]> = calib.iter().map(normalise).collect();
    let qp = plain
        .quantize(Dataset::new(&normalised, &labels[..150]).unwrap())
        .unwrap();
    assert_eq!((qp.input, qp.conv, qp.out), (q.input, q.layer1, q.layer3));
    for x in test {
        let raw = SMatrix::<f32, 16, 1>::from_column_slice(x);
        let n = SMatrix::<f32, 16, 1>::from_column_slice(&normalise(x));
        assert_eq!(q.quantize_input(&raw), qp.quantize_input(&n));
        assert_eq!(q.forward(&raw), qp.forward(&n));
    }

    // The blob round trip carries the statistics; a zero σ is refused.
    let mut blob = vec![0u8; NormalizedPaddedInt8::BLOB_BYTES];
    int8_to_bytes(&q, &mut blob).unwrap();
    let mut back = q;
    back.norm.mean[0] += 1.0;
    back.norm.std[0] *= 2.0;
    int8_from_bytes(&mut back, &blob).unwrap();
    assert_eq!(back, q);
    let std_at = 40 + 8 + 4; // header, input, the one mean
    assert_eq!(blob[std_at..std_at + 4], q.norm.std[0].to_le_bytes());
    let mut bad = blob.clone();
    bad[std_at..std_at + 4].copy_from_slice(&0f32.to_le_bytes());
    reseal(&mut bad);
    assert_eq!(
        int8_from_bytes(&mut back, &bad),
        Err(BlobError::CorruptPayload)
    );

    // Before a residual block, per feature.
    let rows = offset_samples::<4>(&mut rng, 150);
    let mut net = NormalizedResidual::<f32>::new(&mut rng);
    net.fit_normalize(&Dataset::new(&rows, &labels[..150]).unwrap())
        .unwrap();
    let q = net
        .quantize(Dataset::new(&rows, &labels[..150]).unwrap())
        .unwrap();
    assert_eq!(q.norm.std[3], net.state.norm.std[3]);
    // The skip path reads the normalised input.
    assert_eq!(q.layer1.zero_point_b, q.input.zero_point);
    let float = net.to_inference();
    let step = q.output_params().scale;
    let mut worst = 0f32;
    for x in &rows {
        let x = SMatrix::<f32, 4, 1>::from_column_slice(x);
        worst = worst.max((float.forward(&x) - q.forward(&x)).amax());
    }
    assert!(worst <= 4.0 * step, "worst {worst}, step {step}");
    let mut blob = vec![0u8; NormalizedResidualInt8::BLOB_BYTES];
    int8_to_bytes(&q, &mut blob).unwrap();
    // Header, input, 4 means and 4 σ, the body's two layers, the sum, `out`.
    let body = 16 + 48 + 14;
    assert_eq!(blob.len(), 40 + 8 + 32 + 2 * body + 42 + (8 + 24 + 14));
    let mut back = q;
    back.norm.mean[2] = 0.0;
    int8_from_bytes(&mut back, &blob).unwrap();
    assert_eq!(back, q);
}

#[test]
fn unquantisable_networks_and_empty_calibration_are_typed_errors() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(1);
    let labels = vec![(); 3];
    let custom = WithCustom::<f32>::new(&mut rng);
    let err = custom
        .quantize(Dataset::new(&samples(3, 3), &labels).unwrap())
        .unwrap_err();
    assert!(
        matches!(err, QuantError::Unsupported { layer: "twice", .. }),
        "{err}"
    );
    assert!(err.to_string().contains("`twice`"), "{err}");
    let mut unfolded = Unfolded::<f32>::new(&mut rng);
    unfolded.state.bn.running_var[2] = -1e-5;
    assert_eq!(
        unfolded
            .quantize(Dataset::new(&samples(3, 3), &labels).unwrap())
            .unwrap_err(),
        QuantError::NonFinite
    );
    let mut normalized = NormalizedPadded::<f32>::new(&mut rng);
    normalized.state.norm.std[0] = 0.0;
    let images = vec![[0.5f32; 16]; 3];
    assert_eq!(
        normalized
            .quantize(Dataset::new(&images, &labels).unwrap())
            .unwrap_err(),
        QuantError::NonFinite
    );

    let mut prelu = Smooth::<f32>::new(&mut rng);
    prelu.params.pr.slope = f32::NAN;
    assert_eq!(
        prelu
            .quantize(Dataset::new(&samples(2, 3), &labels).unwrap())
            .unwrap_err(),
        QuantError::NonFinite
    );

    let none: Vec<[f32; 4]> = Vec::new();
    let no_labels: Vec<()> = Vec::new();
    let err = trained()
        .quantize(Dataset::new(&none, &no_labels).unwrap())
        .unwrap_err();
    assert_eq!(err, QuantError::EmptyCalibration);

    let bad = vec![[f32::NAN, 0.0, 0.0, 0.0]];
    let err = trained()
        .quantize(Dataset::new(&bad, &labels[..1]).unwrap())
        .unwrap_err();
    assert_eq!(err, QuantError::NonFinite);
}

fn quantised() -> SmallInt8 {
    let calib = samples(5, 50);
    let labels = vec![(); calib.len()];
    trained()
        .quantize(Dataset::new(&calib, &labels).unwrap())
        .unwrap()
}

/// zlib's CRC-32, bit by bit (to forge blobs whose checksums match).
fn crc32(bytes: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in bytes {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}

fn reseal(blob: &mut [u8]) {
    let payload = crc32(&blob[40..]);
    blob[32..36].copy_from_slice(&payload.to_le_bytes());
    let header = crc32(&blob[..36]);
    blob[36..40].copy_from_slice(&header.to_le_bytes());
}

#[test]
fn int8_blob_round_trips_and_refuses_the_wrong_kind() {
    let q = quantised();
    let mut blob = [0u8; SmallInt8::BLOB_BYTES];
    assert_eq!(int8_to_bytes(&q, &mut blob), Ok(SmallInt8::BLOB_BYTES));
    assert_eq!(blob[6], INT8_TAG);
    // 8 (input) + fc 4·6 + 6·12 + 14 + table 264 ... as the layers count them.
    let payload = 8 + (24 + 72 + 14) + (30 + 60 + 14) + (256 + 8) + (15 + 36 + 14);
    assert_eq!(SmallInt8::BLOB_BYTES, 40 + payload);

    let mut back = q;
    back.mid.bias[0] += 7;
    back.squash.table[3] = 0;
    int8_from_bytes(&mut back, &blob).unwrap();
    assert_eq!(back, q);
    let mut again = [0u8; SmallInt8::BLOB_BYTES];
    int8_to_bytes(&back, &mut again).unwrap();
    assert_eq!(again, blob);

    // A float network's blob into the int8 network, and the reverse.
    let float = trained().to_inference();
    let mut fblob = [0u8; SmallInference::<f32>::BLOB_BYTES];
    to_bytes(&float, &mut fblob).unwrap();
    assert_eq!(
        int8_from_bytes(&mut back, &fblob),
        Err(BlobError::WrongKind {
            expected: INT8_TAG,
            found: 4
        })
    );
    let mut f = float;
    let err = from_bytes(&mut f, &blob).unwrap_err();
    assert_eq!(
        err,
        BlobError::WrongKind {
            expected: 4,
            found: INT8_TAG
        }
    );
    assert!(err.to_string().contains("int8"), "{err}");
    assert_eq!(f, float);

    // Another int8 architecture of the same size.
    let calib = samples(5, 50);
    let labels = vec![(); calib.len()];
    let other = Other::<f32>::new(&mut Xoshiro128PlusPlus::seed_from_u64(9))
        .quantize(Dataset::new(&calib, &labels).unwrap())
        .unwrap();
    let mut other_blob = [0u8; OtherInt8::BLOB_BYTES];
    int8_to_bytes(&other, &mut other_blob).unwrap();
    assert!(matches!(
        int8_from_bytes(&mut back, &other_blob),
        Err(BlobError::WrongArchitecture { .. })
    ));

    // A sigmoid table where the blob has a tanh table, and the reverse: same bytes, but the
    // table would compute another function.
    let sig = SmallSigmoid::<f32>::new(&mut Xoshiro128PlusPlus::seed_from_u64(9))
        .quantize(Dataset::new(&calib, &labels).unwrap())
        .unwrap();
    assert_eq!(SmallSigmoidInt8::BLOB_BYTES, SmallInt8::BLOB_BYTES);
    let mut sig_back = sig;
    assert!(matches!(
        int8_from_bytes(&mut sig_back, &blob),
        Err(BlobError::WrongArchitecture { .. })
    ));
    assert_eq!(sig_back, sig);
    let mut sig_blob = [0u8; SmallSigmoidInt8::BLOB_BYTES];
    int8_to_bytes(&sig, &mut sig_blob).unwrap();
    assert!(matches!(
        int8_from_bytes(&mut back, &sig_blob),
        Err(BlobError::WrongArchitecture { .. })
    ));

    // Too small a buffer; a flipped payload bit; truncation.
    assert_eq!(
        int8_to_bytes(&q, &mut [0u8; 10]),
        Err(BlobError::BufferTooSmall {
            needed: SmallInt8::BLOB_BYTES,
            found: 10
        })
    );
    let mut flipped = blob;
    flipped[100] ^= 1;
    assert_eq!(
        int8_from_bytes(&mut back, &flipped),
        Err(BlobError::CorruptPayload)
    );
    assert!(matches!(
        int8_from_bytes(&mut back, &blob[..blob.len() - 1]),
        Err(BlobError::WrongLength { .. })
    ));
    assert_eq!(back, q);
}

#[test]
fn int8_blob_with_matching_checksums_but_unusable_values_is_refused() {
    let q = quantised();
    let mut blob = [0u8; SmallInt8::BLOB_BYTES];
    int8_to_bytes(&q, &mut blob).unwrap();
    let fc_shift = 40 + 8 + 24 + 2 * 24; // header, input, weights, biases, multipliers
    let out_scale = fc_shift + 24 + 4; // shifts, input zero point
    let cases: [(usize, [u8; 4]); 3] = [
        (fc_shift, 40i32.to_le_bytes()),      // a shift out of range
        (out_scale, (-1.0f32).to_le_bytes()), // a negative output scale
        (40, f32::INFINITY.to_le_bytes()),    // an infinite input scale
    ];
    for (at, bytes) in cases {
        let mut bad = blob;
        bad[at..at + 4].copy_from_slice(&bytes);
        reseal(&mut bad);
        let mut back = q;
        assert_eq!(
            int8_from_bytes(&mut back, &bad),
            Err(BlobError::CorruptPayload),
            "at {at}"
        );
        assert_eq!(back, q);
    }
    // Resealing an unchanged blob keeps it valid: the refusals above come from the value
    // checks, not from the checksums.
    let mut fine = blob;
    reseal(&mut fine);
    let mut back = q;
    assert_eq!(int8_from_bytes(&mut back, &fine), Ok(()));
}

/// Reads `bytes` into a copy of `q`: an error leaves it unchanged, a success reads a blob that
/// the network writes back byte for byte, and the network then runs without panicking.
fn check_int8_blob(q: &SmallInt8, bytes: &[u8]) -> Result<(), TestCaseError> {
    let mut net = *q;
    match int8_from_bytes(&mut net, bytes) {
        Err(e) => {
            prop_assert_eq!(net, *q);
            prop_assert!(!e.to_string().is_empty());
        }
        Ok(()) => {
            let mut again = [0u8; SmallInt8::BLOB_BYTES];
            int8_to_bytes(&net, &mut again).unwrap();
            prop_assert_eq!(bytes, &again[..]);
            let x = SMatrix::<i8, 4, 3>::from_fn(|r, c| (r as i8 - 2) * 60 + c as i8);
            let _ = net.forward_int8(&x);
            let _ = net.classify(&SMatrix::<f32, 4, 2>::from_element(0.5));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    /// Edited valid blobs, resealed (checksums recomputed) or not: every outcome is an
    /// error with the network unchanged, or a blob that round-trips and runs.
    #[test]
    fn edited_int8_blobs_never_panic(
        edits in prop::collection::vec((any::<usize>(), any::<u8>()), 1..6),
        resealed in any::<bool>(),
    ) {
        let q = quantised();
        let mut blob = [0u8; SmallInt8::BLOB_BYTES];
        int8_to_bytes(&q, &mut blob).unwrap();
        for (at, v) in edits {
            // Mostly the payload, where the values are.
            let at = 40 + at % (blob.len() - 40);
            blob[at] = v;
        }
        if resealed {
            reseal(&mut blob);
        }
        check_int8_blob(&q, &blob)?;
    }

    /// Arbitrary payloads behind a valid header.
    #[test]
    fn arbitrary_int8_payloads_never_panic(payload in prop::collection::vec(any::<u8>(), SmallInt8::BLOB_BYTES - 40)) {
        let q = quantised();
        let mut blob = [0u8; SmallInt8::BLOB_BYTES];
        int8_to_bytes(&q, &mut blob).unwrap();
        blob[40..].copy_from_slice(&payload);
        reseal(&mut blob);
        check_int8_blob(&q, &blob)?;
    }
}

/// The inference form quantises to the same integer network as the trained network it
/// came from (batch norm folded and dropout removed), so a deployed network, one loaded
/// from a file or kept alone in firmware, can be quantised; and an unquantisable network's
/// inference form says so too. (A network with nothing to fold has no separate inference
/// form: `to_inference()` gives the network itself.)
#[test]
fn the_inference_form_quantises_as_the_trained_network() {
    let net = trained();
    let calib = samples(21, 40);
    let units = vec![(); calib.len()];
    let data = Dataset::new(&calib, &units).unwrap();
    let deployed: SmallInference<f32> = net.to_inference();
    assert_eq!(
        deployed.quantize(data).unwrap(),
        net.quantize(data).unwrap()
    );

    let unfolded = Unfolded::<f32>::new(&mut Xoshiro128PlusPlus::seed_from_u64(22));
    assert_eq!(
        unfolded.to_inference().quantize(data).unwrap(),
        unfolded.quantize(data).unwrap()
    );
}
