//! Criterion benchmarks of the convolutional networks and layers (f32, one thread):
//!
//! - W6, LeNet-5 on `[1, 28, 28]` (Conv 6@5×5 pad 2, ReLU, MaxPool 2, Conv 16@5×5, ReLU,
//!   MaxPool 2, Flatten, Linear 120, ReLU, Linear 84, ReLU, Linear 10): a train step's
//!   forward, loss gradient and backward at batch 32 through the generated code
//!   (`Supervised`; the optimiser and the input gradient are left out, as in
//!   `scripts/torch_baseline.py`), and the generated `forward` of one sample;
//! - W7, a DS-CNN keyword-spotting network on `[1, 49, 10]` (Conv 64@10×4 stride 2 padding
//!   (4, 1), then four depthwise 3×3 + pointwise 1×1 blocks, each convolution followed by
//!   batch norm and ReLU, global average pooling, Linear 12): the generated `forward` of
//!   one sample, and that of its inference form (`to_inference`, batch norms folded:
//!   "staticnn folded"), as a deployed network runs;
//! - W6 and W7 are declared with `network!`, as users declare them; each convolution of
//!   them alone, forward and backward, through the `Layer` trait (LeNet-5's two also their
//!   backward without the input gradient: "weight gradient"), and LeNet-5's first max
//!   pooling and ReLU (no FLOPs counted: their rate reads 0), and the two in train mode as
//!   the generated train step runs them, fused, next to the layers one after the other.
//! - the digits CNN of `examples/digits_cnn.rs`, int8 (`forward_int8`) next to its `f32`
//!   inference form, at batch 1 and 32 (`SUMMARY_ONLY="digits CNN"`).
//!
//! `cargo bench --features std --bench conv`: criterion on every case (its report gives
//! the time and, as "thrpt … elem/s", the FLOP rate: 2·multiply-adds of the convolutions
//! and linear layers, forward; for a train step also the weight and input gradients, except
//! the first layer's input gradient), then the interleaved summary of `benches/mlp.rs` with
//! the machine's FMA peaks (`SUMMARY_ONLY=` for the summary alone, `SUMMARY_ONLY=W6` for
//! the peaks and W6; see `BENCHMARKS.md`).

include!("common/mod.rs");

network! {
    /// W6, LeNet-5, as a user declares it.
    struct LeNet5 {
        input: [1, 28, 28],
        Conv2d(6, kernel = 5, padding = 2), ReLU, MaxPool2d(2),
        Conv2d(16, kernel = 5), ReLU, MaxPool2d(2),
        Flatten, Linear(120), ReLU, Linear(84), ReLU, Linear(10),
        loss: SoftmaxCrossEntropy,
    }
}

network! {
    /// W7, the DS-CNN keyword-spotting network, as a user declares it (its inference form
    /// `DsCnnNetInference` folds the batch norms into the convolutions).
    struct DsCnnNet {
        input: [1, 49, 10],
        Conv2d(64, kernel = (10, 4), stride = 2, padding = (4, 1)), BatchNorm, ReLU,
        Conv2d(64, kernel = 3, padding = 1, groups = 64), BatchNorm, ReLU,
        Conv2d(64, kernel = 1), BatchNorm, ReLU,
        Conv2d(64, kernel = 3, padding = 1, groups = 64), BatchNorm, ReLU,
        Conv2d(64, kernel = 1), BatchNorm, ReLU,
        Conv2d(64, kernel = 3, padding = 1, groups = 64), BatchNorm, ReLU,
        Conv2d(64, kernel = 1), BatchNorm, ReLU,
        Conv2d(64, kernel = 3, padding = 1, groups = 64), BatchNorm, ReLU,
        Conv2d(64, kernel = 1), BatchNorm, ReLU,
        GlobalAvgPool, Flatten, Linear(12),
        loss: SoftmaxCrossEntropy,
    }
}

/// One layer with its numbers and its train-mode input, output and gradients.
struct Stage<L: Layer<f32, I, O>, const I: usize, const O: usize, const B: usize> {
    layer: L,
    params: Box<L::Params>,
    state: Box<L::State>,
    tape: Box<L::Tape<B>>,
    y: Box<SMatrix<f32, O, B>>,
    dx: Box<SMatrix<f32, I, B>>,
    grads: Box<L::Params>,
}

impl<L: Layer<f32, I, O>, const I: usize, const O: usize, const B: usize> Stage<L, I, O, B> {
    fn new(layer: L, rng: &mut Xoshiro128PlusPlus) -> Self {
        let mut params = zeroed_box::<L::Params>();
        let mut state = zeroed_box::<L::State>();
        layer.init_params(&mut params, &mut state, rng);
        Stage {
            layer,
            params,
            state,
            tape: zeroed_box(),
            y: zeroed_box(),
            dx: zeroed_box(),
            grads: zeroed_box(),
        }
    }

    /// Train-mode forward.
    fn fwd(&mut self, x: &SMatrix<f32, I, B>, rng: &mut Xoshiro128PlusPlus) -> &SMatrix<f32, O, B> {
        let (p, s, t) = (&*self.params, &mut *self.state, &mut *self.tape);
        self.layer.forward_train(p, s, x, &mut self.y, t, rng);
        &self.y
    }

    /// Backward (gradients written), the input gradient when `input_grad`.
    fn back(
        &mut self,
        x: &SMatrix<f32, I, B>,
        dy: &SMatrix<f32, O, B>,
        input_grad: bool,
    ) -> &SMatrix<f32, I, B> {
        let dx = input_grad.then_some(&mut *self.dx);
        let (p, t, g) = (&*self.params, &*self.tape, &mut *self.grads);
        self.layer.backward_overwrite(p, x, &self.y, t, dy, dx, g);
        &self.dx
    }
}

type LeNetC1 = Conv2d<1, 28, 28, 6, 28, 28, 5, 5, 1, 1, 2, 2, 1, 1, 1, 25, 6>;
type LeNetP1 = MaxPool2d<6, 28, 28, 14, 14, 2, 2, 2, 2, 0, 0>;
type LeNetP2 = MaxPool2d<16, 10, 10, 5, 5, 2, 2, 2, 2, 0, 0>;
type LeNetC2 = Conv2d<6, 14, 14, 16, 10, 10, 5, 5, 1, 1, 0, 0, 1, 1, 1, 150, 16>;
/// LeNet-5's FLOPs per sample, forward: 2·multiply-adds of its convolutions and linears.
const LENET_FWD: u64 = 2 * (25 * 6 * 784 + 150 * 16 * 100 + 400 * 120 + 120 * 84 + 84 * 10);
/// LeNet-5's FLOPs per sample of a train step: forward, weight gradients, input gradients
/// of every layer but the first.
const LENET_STEP: u64 = 3 * LENET_FWD - 2 * 25 * 6 * 784;

type DsDepthwise = Conv2d<64, 24, 5, 64, 24, 5, 3, 3, 1, 1, 1, 1, 1, 1, 64, 9, 64>;
type DsPointwise = Conv2d<64, 24, 5, 64, 24, 5, 1, 1, 1, 1, 0, 0, 1, 1, 1, 64, 64>;
/// W7's FLOPs per sample: 2·multiply-adds of its convolutions and the linear.
const DS_FWD: u64 = 2 * (40 * 64 * 120 + 4 * (9 * 64 * 120 + 64 * 64 * 120) + 64 * 12);

/// A random batch.
fn batch<const N: usize, const B: usize>(rng: &mut Xoshiro128PlusPlus) -> Box<SMatrix<f32, N, B>> {
    let mut x = zeroed_box::<SMatrix<f32, N, B>>();
    x.iter_mut().for_each(|v| *v = rng.random_range(-1.0..1.0));
    x
}

/// One convolution alone at batch `B`: a case for its forward and one for its backward
/// (input gradient included).
fn conv_alone<
    L: Layer<f32, I, O> + Default + 'static,
    const I: usize,
    const O: usize,
    const B: usize,
>(
    fwd_group: &'static str,
    back_group: &'static str,
    flops_fwd: u64,
) -> Vec<Case> {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(3);
    let mut s = Stage::<L, I, O, B>::new(L::default(), &mut rng);
    let x = batch::<I, B>(&mut rng);
    let dy = batch::<O, B>(&mut rng);
    s.fwd(&x, &mut rng);
    let mut f = Stage::<L, I, O, B>::new(L::default(), &mut rng);
    let xf = batch::<I, B>(&mut rng);
    let flops = flops_fwd * B as u64;
    vec![
        Case::new(fwd_group, "staticnn", flops, None, move || {
            f.fwd(black_box(&xf), &mut rng);
        }),
        Case::new(back_group, "staticnn", 2 * flops, None, move || {
            black_box(s.back(black_box(&x), &dy, true)[0]);
        }),
    ]
}

/// A `ReLU` and max pooling of LeNet-5 at batch 32, train mode: the two layers one after
/// the other ("layers") and fused as the generated train step runs them ("fused",
/// `ReluMaxPool`), forward (writing both outputs) and backward (the gradient of the
/// `ReLU`'s input), and the eval forward (the `ReLU` in place then the pooling, as other
/// targets run it, against the pooling of each input's `ReLU`, as x86-64 does).
fn relu_pool_cases<P, const I: usize, const O: usize>(
    fwd: &'static str,
    back: &'static str,
    eval: &'static str,
) -> Vec<Case>
where
    P: staticnn::__private::ReluMaxPool<f32, I, O, Params = (), State = (), Tape<32> = ()>
        + Default
        + Copy
        + 'static,
{
    const B: usize = 32;
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(4);
    let pool = P::default();
    let x = batch::<I, B>(&mut rng);
    let dy = batch::<O, B>(&mut rng);
    let mut r = zeroed_box::<SMatrix<f32, I, B>>();
    let mut y = zeroed_box::<SMatrix<f32, O, B>>();
    Layer::<f32, I, I>::forward(&ReLU, &(), &(), &x, &mut r);
    Layer::<f32, I, O>::forward(&pool, &(), &(), &r, &mut y);
    let (x2, x3, dy2) = (x.clone(), x.clone(), dy.clone());
    let (r2, y2, r3, y3) = (r.clone(), y.clone(), r.clone(), y.clone());
    let (mut rf, mut yf) = (r.clone(), y.clone());
    let (mut d1, mut d2) = (
        zeroed_box::<SMatrix<f32, I, B>>(),
        zeroed_box::<SMatrix<f32, I, B>>(),
    );
    let mut df = zeroed_box::<SMatrix<f32, I, B>>();
    let (mut xe, x4) = (x.clone(), x.clone());
    let (mut ye, mut ye2) = (y.clone(), y.clone());
    vec![
        Case::new(eval, "layers", 0, None, move || {
            // The `ReLU` in place (idempotent: the same work every time), then the pooling.
            staticnn::__private::relu_in_place(black_box(&mut *xe));
            Layer::<f32, I, O>::forward(&pool, &(), &(), &xe, &mut ye);
            black_box(ye[0]);
        }),
        Case::new(eval, "fused", 0, Some("layers"), move || {
            pool.relu_forward_eval(black_box(&*x4), &mut ye2);
            black_box(ye2[0]);
        }),
        Case::new(fwd, "layers", 0, None, move || {
            Layer::<f32, I, I>::forward(&ReLU, &(), &(), black_box(&*x), &mut r);
            Layer::<f32, I, O>::forward(&pool, &(), &(), &r, &mut y);
            black_box(y[0]);
        }),
        Case::new(fwd, "fused", 0, Some("layers"), move || {
            pool.relu_forward(black_box(&*x2), &mut rf, &mut yf);
            black_box(yf[0]);
        }),
        Case::new(back, "layers", 0, None, move || {
            let dy = black_box(&*dy);
            Layer::<f32, I, O>::backward(&pool, &(), &r2, &y2, &(), dy, Some(&mut *d1), &mut ());
            Layer::<f32, I, I>::backward(&ReLU, &(), &x3, &r2, &(), &d1, Some(&mut *d2), &mut ());
            black_box(d2[0]);
        }),
        Case::new(back, "fused", 0, Some("layers"), move || {
            pool.relu_backward(&r3, &y3, black_box(&*dy2), &mut df);
            black_box(df[0]);
        }),
    ]
}

/// One convolution's backward alone at batch `B` without the input gradient (its weight
/// and bias gradients: what a network's first layer runs in a train step).
fn conv_weight_grad<
    L: Layer<f32, I, O> + Default + 'static,
    const I: usize,
    const O: usize,
    const B: usize,
>(
    group: &'static str,
    flops_fwd: u64,
) -> Case {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(4);
    let mut s = Stage::<L, I, O, B>::new(L::default(), &mut rng);
    let x = batch::<I, B>(&mut rng);
    let dy = batch::<O, B>(&mut rng);
    s.fwd(&x, &mut rng);
    Case::new(group, "staticnn", flops_fwd * B as u64, None, move || {
        black_box(s.back(black_box(&x), &dy, false)[0]);
    })
}

network! {
    /// The digits CNN of `examples/digits_cnn.rs` (batch norms folded and dropout removed
    /// by its inference and int8 forms), for the int8 comparison.
    struct DigitCnn {
        input: [1, 8, 8],
        conv1: Conv2d(16, kernel = 3, padding = 1, bias = false),
        bn1: BatchNorm,
        ReLU,
        conv2: Conv2d(32, kernel = 3, padding = 1, bias = false),
        bn2: BatchNorm,
        ReLU,
        MaxPool2d(2),
        conv3: Conv2d(64, kernel = 3, padding = 1, bias = false),
        bn3: BatchNorm,
        ReLU,
        MaxPool2d(2),
        Flatten,
        Dropout(0.3),
        out: Linear(10),
    }
}

/// The digits CNN's FLOPs per sample: 2·multiply-adds of its convolutions and the linear.
const DIGITS_CNN_FWD: u64 = 2 * (9 * 16 * 64 + 144 * 32 * 64 + 288 * 64 * 16 + 256 * 10);

/// The digits CNN at batch `B`: its `f32` inference form and its int8 twin
/// (`forward_int8`, integers only) on the same batch, calibrated on 200 samples uniform in
/// `[0, 1)` as the inputs.
fn digits_cnn_cases<const B: usize>(
    group: &'static str,
    rng: &mut Xoshiro128PlusPlus,
) -> Vec<Case> {
    use staticnn::data::Dataset;
    let net = DigitCnn::<f32>::new(rng);
    let calib: Vec<[f32; 64]> = (0..200)
        .map(|_| core::array::from_fn(|_| rng.random::<f32>()))
        .collect();
    let labels = vec![(); calib.len()];
    let q = Box::new(
        net.quantize(Dataset::new(&calib, &labels).unwrap())
            .unwrap(),
    );
    let f = Box::new(net.to_inference());
    let mut x = zeroed_box::<SMatrix<f32, 64, B>>();
    x.iter_mut().for_each(|v| *v = rng.random::<f32>());
    let xq = Box::new(q.quantize_input(&x));
    let flops = DIGITS_CNN_FWD * B as u64;
    vec![
        Case::new(group, "f32", flops, None, move || {
            black_box(f.forward(black_box(&*x)));
        }),
        Case::new(group, "int8", flops, Some("f32"), move || {
            black_box(q.forward_int8(black_box(&*xq)));
        }),
    ]
}

fn main() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(1);
    let mut cases = peak_cases();
    cases.extend(digits_cnn_cases::<1>("D digits CNN int8 B=1", &mut rng));
    cases.extend(digits_cnn_cases::<32>("D digits CNN int8 B=32", &mut rng));

    const B: usize = 32;
    // The generated code, as users run it: forward, loss gradient and backward of W6
    // (`Supervised`, no optimiser, no input gradient), W6's and W7's `forward` at B = 1,
    // and W7's inference form.
    let mut gen6 = LeNet5::<f32>::new_boxed(&mut rng);
    let mut gen_grads = zeroed_box::<<LeNet5<f32> as Network<f32, 784, 10>>::Params>();
    let mut gen_tape = zeroed_box::<<LeNet5<f32> as Network<f32, 784, 10>>::Tape<B>>();
    let gx = batch::<784, B>(&mut rng);
    let gt: [ClassIndex<10>; B] = core::array::from_fn(|b| ClassIndex::new(b % 10).unwrap());
    let mut gen_rng = Xoshiro128PlusPlus::seed_from_u64(5);
    cases.push(Case::new(
        "W6 LeNet-5 train step B=32 (no optimiser)",
        "staticnn",
        LENET_STEP * B as u64,
        None,
        move || {
            let y = *gen6.forward_train(black_box(&*gx), &mut gen_tape, &mut gen_rng);
            let mut dy = SMatrix::<f32, 10, B>::zeros();
            let loss = SoftmaxCrossEntropy.loss_and_grad(&y, &gt, &mut dy);
            gen6.backward_overwrite(&gx, &mut gen_tape, &dy, &mut gen_grads, None);
            black_box(loss);
        },
    ));
    let gen6_1 = LeNet5::<f32>::new_boxed(&mut rng);
    let gx1 = batch::<784, 1>(&mut rng);
    cases.push(Case::new(
        "W6 LeNet-5 inference B=1",
        "staticnn",
        LENET_FWD,
        None,
        move || {
            black_box(gen6_1.forward(black_box(&*gx1)));
        },
    ));
    let gen7 = DsCnnNet::<f32>::new_boxed(&mut rng);
    let mut gen7_inf = zeroed_box::<DsCnnNetInference<f32>>();
    gen7.to_inference_into(&mut gen7_inf);
    let gx7 = batch::<490, 1>(&mut rng);
    let gx7b = gx7.clone();
    cases.push(Case::new(
        "W7 DS-CNN inference B=1",
        "staticnn",
        DS_FWD,
        None,
        move || {
            black_box(gen7.forward(black_box(&*gx7)));
        },
    ));
    cases.push(Case::new(
        "W7 DS-CNN inference B=1",
        "staticnn folded",
        DS_FWD,
        Some("staticnn"),
        move || {
            black_box(gen7_inf.forward(black_box(&*gx7b)));
        },
    ));

    cases.extend(conv_alone::<LeNetC1, 784, 4704, 32>(
        "conv 1->6 5x5 pad 2 28x28 B=32 forward",
        "conv 1->6 5x5 pad 2 28x28 B=32 backward",
        2 * 25 * 6 * 784,
    ));
    cases.push(conv_weight_grad::<LeNetC1, 784, 4704, 32>(
        "conv 1->6 5x5 pad 2 28x28 B=32 weight gradient",
        2 * 25 * 6 * 784,
    ));
    cases.push(conv_weight_grad::<LeNetC2, 1176, 1600, 32>(
        "conv 6->16 5x5 14x14 B=32 weight gradient",
        2 * 150 * 16 * 100,
    ));
    cases.extend(conv_alone::<LeNetC2, 1176, 1600, 32>(
        "conv 6->16 5x5 14x14 B=32 forward",
        "conv 6->16 5x5 14x14 B=32 backward",
        2 * 150 * 16 * 100,
    ));
    cases.extend(conv_alone::<LeNetP1, 4704, 1176, 32>(
        "maxpool 6x28x28 2x2 B=32 forward",
        "maxpool 6x28x28 2x2 B=32 backward",
        0,
    ));
    cases.extend(relu_pool_cases::<LeNetP1, 4704, 1176>(
        "relu+maxpool 6x28x28 B=32 train forward",
        "relu+maxpool 6x28x28 B=32 backward",
        "relu+maxpool 6x28x28 B=32 eval forward",
    ));
    cases.extend(relu_pool_cases::<LeNetP2, 1600, 400>(
        "relu+maxpool 16x10x10 B=32 train forward",
        "relu+maxpool 16x10x10 B=32 backward",
        "relu+maxpool 16x10x10 B=32 eval forward",
    ));
    cases.extend(conv_alone::<ReLU, 4704, 4704, 32>(
        "relu 6x28x28 B=32 forward",
        "relu 6x28x28 B=32 backward",
        0,
    ));
    cases.extend(conv_alone::<DsDepthwise, 7680, 7680, 1>(
        "depthwise 64 3x3 24x5 B=1 forward",
        "depthwise 64 3x3 24x5 B=1 backward",
        2 * 9 * 64 * 120,
    ));
    cases.extend(conv_alone::<DsPointwise, 7680, 7680, 1>(
        "pointwise 64->64 24x5 B=1 forward",
        "pointwise 64->64 24x5 B=1 backward",
        2 * 64 * 64 * 120,
    ));
    bench_main(cases);
}
