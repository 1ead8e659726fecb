//! Criterion benchmarks of the convolutional layers (f32, one thread), chained by hand
//! through the `Layer` trait until `network!` declares convolutional networks:
//!
//! - W6, LeNet-5 on `[1, 28, 28]` (Conv 6@5×5 pad 2, ReLU, MaxPool 2, Conv 16@5×5, ReLU,
//!   MaxPool 2, Flatten, Linear 120, ReLU, Linear 84, ReLU, Linear 10): a train step's
//!   forward, loss gradient and backward at batch 32 (the optimiser is left out), and the
//!   inference of one sample;
//! - W7, a DS-CNN keyword-spotting network on `[1, 49, 10]` (Conv 64@10×4 stride 2 padding
//!   (4, 1), then four depthwise 3×3 + pointwise 1×1 blocks, each convolution followed by
//!   batch norm and ReLU, global average pooling, Linear 12): the inference of one sample;
//! - each convolution of them alone, forward and backward, and LeNet-5's first max pooling
//!   and ReLU (no FLOPs counted: their rate reads 0).
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

    /// Eval-mode forward into `y`.
    fn eval(&self, x: &SMatrix<f32, I, B>, y: &mut SMatrix<f32, O, B>) {
        self.layer.forward(&self.params, &self.state, x, y);
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
type LeNetC2 = Conv2d<6, 14, 14, 16, 10, 10, 5, 5, 1, 1, 0, 0, 1, 1, 1, 150, 16>;
type LeNetP2 = MaxPool2d<16, 10, 10, 5, 5, 2, 2, 2, 2, 0, 0>;

/// LeNet-5 by hand, batch `B`.
struct LeNet<const B: usize> {
    c1: Stage<LeNetC1, 784, 4704, B>,
    r1: Stage<ReLU, 4704, 4704, B>,
    p1: Stage<LeNetP1, 4704, 1176, B>,
    c2: Stage<LeNetC2, 1176, 1600, B>,
    r2: Stage<ReLU, 1600, 1600, B>,
    p2: Stage<LeNetP2, 1600, 400, B>,
    l1: Stage<Linear, 400, 120, B>,
    r3: Stage<ReLU, 120, 120, B>,
    l2: Stage<Linear, 120, 84, B>,
    r4: Stage<ReLU, 84, 84, B>,
    l3: Stage<Linear, 84, 10, B>,
}

impl<const B: usize> LeNet<B> {
    fn new(rng: &mut Xoshiro128PlusPlus) -> Self {
        LeNet {
            c1: Stage::new(LeNetC1::default(), rng),
            r1: Stage::new(ReLU, rng),
            p1: Stage::new(LeNetP1::default(), rng),
            c2: Stage::new(LeNetC2::default(), rng),
            r2: Stage::new(ReLU, rng),
            p2: Stage::new(LeNetP2::default(), rng),
            l1: Stage::new(Linear::default(), rng),
            r3: Stage::new(ReLU, rng),
            l2: Stage::new(Linear::default(), rng),
            r4: Stage::new(ReLU, rng),
            l3: Stage::new(Linear::default(), rng),
        }
    }

    /// Forward, softmax cross-entropy gradient, backward: returns the loss.
    fn step(
        &mut self,
        x: &SMatrix<f32, 784, B>,
        t: &[ClassIndex<10>; B],
        rng: &mut Xoshiro128PlusPlus,
    ) -> f32 {
        let n = self;
        n.c1.fwd(x, rng);
        n.r1.fwd(&n.c1.y, rng);
        n.p1.fwd(&n.r1.y, rng);
        n.c2.fwd(&n.p1.y, rng);
        n.r2.fwd(&n.c2.y, rng);
        n.p2.fwd(&n.r2.y, rng);
        n.l1.fwd(&n.p2.y, rng);
        n.r3.fwd(&n.l1.y, rng);
        n.l2.fwd(&n.r3.y, rng);
        n.r4.fwd(&n.l2.y, rng);
        n.l3.fwd(&n.r4.y, rng);
        let mut dy = SMatrix::<f32, 10, B>::zeros();
        let loss = SoftmaxCrossEntropy.loss_and_grad(&n.l3.y, t, &mut dy);
        let d = n.l3.back(&n.r4.y, &dy, true);
        let d = n.r4.back(&n.l2.y, d, true);
        let d = n.l2.back(&n.r3.y, d, true);
        let d = n.r3.back(&n.l1.y, d, true);
        let d = n.l1.back(&n.p2.y, d, true);
        let d = n.p2.back(&n.r2.y, d, true);
        let d = n.r2.back(&n.c2.y, d, true);
        let d = n.c2.back(&n.p1.y, d, true);
        let d = n.p1.back(&n.r1.y, d, true);
        let d = n.r1.back(&n.c1.y, d, true);
        n.c1.back(x, d, false);
        loss
    }

    /// Eval-mode forward, through the activations in `a`.
    fn infer(&self, x: &SMatrix<f32, 784, B>, a: &mut LeNetActs<B>) -> SMatrix<f32, 10, B> {
        let n = self;
        n.c1.eval(x, &mut a.c1);
        n.r1.eval(&a.c1, &mut a.r1);
        n.p1.eval(&a.r1, &mut a.p1);
        n.c2.eval(&a.p1, &mut a.c2);
        n.r2.eval(&a.c2, &mut a.r2);
        n.p2.eval(&a.r2, &mut a.p2);
        n.l1.eval(&a.p2, &mut a.l1);
        n.r3.eval(&a.l1, &mut a.r3);
        n.l2.eval(&a.r3, &mut a.l2);
        n.r4.eval(&a.l2, &mut a.r4);
        let mut y = SMatrix::<f32, 10, B>::zeros();
        n.l3.eval(&a.r4, &mut y);
        y
    }
}

/// LeNet-5's activations for [`LeNet::infer`], allocated once.
struct LeNetActs<const B: usize> {
    c1: Box<SMatrix<f32, 4704, B>>,
    r1: Box<SMatrix<f32, 4704, B>>,
    p1: Box<SMatrix<f32, 1176, B>>,
    c2: Box<SMatrix<f32, 1600, B>>,
    r2: Box<SMatrix<f32, 1600, B>>,
    p2: Box<SMatrix<f32, 400, B>>,
    l1: Box<SMatrix<f32, 120, B>>,
    r3: Box<SMatrix<f32, 120, B>>,
    l2: Box<SMatrix<f32, 84, B>>,
    r4: Box<SMatrix<f32, 84, B>>,
}

impl<const B: usize> LeNetActs<B> {
    fn new() -> Self {
        LeNetActs {
            c1: zeroed_box(),
            r1: zeroed_box(),
            p1: zeroed_box(),
            c2: zeroed_box(),
            r2: zeroed_box(),
            p2: zeroed_box(),
            l1: zeroed_box(),
            r3: zeroed_box(),
            l2: zeroed_box(),
            r4: zeroed_box(),
        }
    }
}

/// LeNet-5's FLOPs per sample, forward: 2·multiply-adds of its convolutions and linears.
const LENET_FWD: u64 = 2 * (25 * 6 * 784 + 150 * 16 * 100 + 400 * 120 + 120 * 84 + 84 * 10);
/// LeNet-5's FLOPs per sample of a train step: forward, weight gradients, input gradients
/// of every layer but the first.
const LENET_STEP: u64 = 3 * LENET_FWD - 2 * 25 * 6 * 784;

type DsFirst = Conv2d<1, 49, 10, 64, 24, 5, 10, 4, 2, 2, 4, 1, 1, 1, 1, 40, 64>;
type DsDepthwise = Conv2d<64, 24, 5, 64, 24, 5, 3, 3, 1, 1, 1, 1, 1, 1, 64, 9, 64>;
type DsPointwise = Conv2d<64, 24, 5, 64, 24, 5, 1, 1, 1, 1, 0, 0, 1, 1, 1, 64, 64>;
type DsNorm = SpatialBatchNorm<64, 120>;

/// One depthwise-separable block of the DS-CNN (batch one).
struct DsBlock {
    dw: Stage<DsDepthwise, 7680, 7680, 1>,
    bn1: Stage<DsNorm, 7680, 7680, 1>,
    pw: Stage<DsPointwise, 7680, 7680, 1>,
    bn2: Stage<DsNorm, 7680, 7680, 1>,
}

/// W7 by hand, one sample.
struct DsCnn {
    first: Stage<DsFirst, 490, 7680, 1>,
    bn: Stage<DsNorm, 7680, 7680, 1>,
    blocks: [DsBlock; 4],
    pool: Stage<GlobalAvgPool<64, 120>, 7680, 64, 1>,
    fc: Stage<Linear, 64, 12, 1>,
}

impl DsCnn {
    fn new(rng: &mut Xoshiro128PlusPlus) -> Self {
        DsCnn {
            first: Stage::new(DsFirst::default(), rng),
            bn: Stage::new(DsNorm::default(), rng),
            blocks: core::array::from_fn(|_| DsBlock {
                dw: Stage::new(DsDepthwise::default(), rng),
                bn1: Stage::new(DsNorm::default(), rng),
                pw: Stage::new(DsPointwise::default(), rng),
                bn2: Stage::new(DsNorm::default(), rng),
            }),
            pool: Stage::new(GlobalAvgPool, rng),
            fc: Stage::new(Linear::default(), rng),
        }
    }

    /// Eval-mode forward (batch norm not folded, ReLU in place after each).
    fn infer(
        &self,
        x: &SMatrix<f32, 490, 1>,
        a: &mut SMatrix<f32, 7680, 1>,
        b: &mut SMatrix<f32, 7680, 1>,
    ) -> SMatrix<f32, 12, 1> {
        // The `ReLU` layer's formula in place, on the slice (nalgebra's `iter_mut` over a
        // matrix is a strided iterator, several times slower than the layer).
        let relu = |m: &mut SMatrix<f32, 7680, 1>| {
            for v in m.as_mut_slice() {
                *v = if *v > 0.0 { *v } else { 0.0 };
            }
        };
        self.first.eval(x, a);
        self.bn.eval(a, b);
        relu(b);
        for blk in &self.blocks {
            blk.dw.eval(b, a);
            blk.bn1.eval(a, b);
            relu(b);
            blk.pw.eval(b, a);
            blk.bn2.eval(a, b);
            relu(b);
        }
        let mut p = SMatrix::<f32, 64, 1>::zeros();
        self.pool.eval(b, &mut p);
        let mut y = SMatrix::<f32, 12, 1>::zeros();
        self.fc.eval(&p, &mut y);
        y
    }
}

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

fn main() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(1);
    let mut cases = peak_cases();

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
        "network!",
        LENET_STEP * B as u64,
        Some("staticnn"),
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
        "network!",
        LENET_FWD,
        Some("staticnn"),
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
        "network!",
        DS_FWD,
        Some("staticnn"),
        move || {
            black_box(gen7.forward(black_box(&*gx7)));
        },
    ));
    cases.push(Case::new(
        "W7 DS-CNN inference B=1",
        "network! folded",
        DS_FWD,
        Some("network!"),
        move || {
            black_box(gen7_inf.forward(black_box(&*gx7b)));
        },
    ));

    let mut net = Box::new(LeNet::<B>::new(&mut rng));
    let x = batch::<784, B>(&mut rng);
    let t: [ClassIndex<10>; B] = core::array::from_fn(|b| ClassIndex::new(b % 10).unwrap());
    let mut step_rng = Xoshiro128PlusPlus::seed_from_u64(5);
    cases.push(Case::new(
        "W6 LeNet-5 train step B=32 (no optimiser)",
        "staticnn",
        LENET_STEP * B as u64,
        None,
        move || {
            black_box(net.step(black_box(&x), &t, &mut step_rng));
        },
    ));
    let net1 = Box::new(LeNet::<1>::new(&mut rng));
    let x1 = batch::<784, 1>(&mut rng);
    let mut acts = LeNetActs::<1>::new();
    cases.push(Case::new(
        "W6 LeNet-5 inference B=1",
        "staticnn",
        LENET_FWD,
        None,
        move || {
            black_box(net1.infer(black_box(&x1), &mut acts));
        },
    ));

    let ds = Box::new(DsCnn::new(&mut rng));
    let x7 = batch::<490, 1>(&mut rng);
    let (mut a, mut b) = (zeroed_box(), zeroed_box());
    cases.push(Case::new(
        "W7 DS-CNN inference B=1",
        "staticnn",
        DS_FWD,
        None,
        move || {
            black_box(ds.infer(black_box(&x7), &mut a, &mut b));
        },
    ));

    cases.extend(conv_alone::<LeNetC1, 784, 4704, 32>(
        "conv 1->6 5x5 pad 2 28x28 B=32 forward",
        "conv 1->6 5x5 pad 2 28x28 B=32 backward",
        2 * 25 * 6 * 784,
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
