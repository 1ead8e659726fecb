// The W1 and W2 networks, cases and baselines (`include!`d after `common/mod.rs` by
// `benches/mlp.rs` and `benches/small.rs`; `benches/conv.rs` shares only the machinery).

network! {
    /// W1: tiny inference.
    struct Tiny {
        input: 2,
        fc1: Linear(16),
        Tanh,
        fc2: Linear(16),
        Tanh,
        fc3: Linear(1),
    }
}

network! {
    /// W1 as trained with dropout: its inference twin `TinyTrainedInference` has W1's
    /// layers (the dropout removed), so it runs the same forward, generated for the twin.
    struct TinyTrained {
        input: 2,
        fc1: Linear(16),
        Tanh,
        Dropout(0.1),
        fc2: Linear(16),
        Tanh,
        fc3: Linear(1),
    }
}

network! {
    /// W2: 64-64-64-10 with ReLU, the inference benchmark (the widths of
    /// `tests/common/workloads.rs`'s `W2`, declared here so that `benches/small.rs` declares
    /// no other workload).
    pub struct W2 {
        input: 64,
        fc1: Linear(64),
        ReLU,
        fc2: Linear(64),
        ReLU,
        fc3: Linear(10),
    }
}

/// Necessary FLOPs of inference through layers of widths `dims`, for `b` samples.
fn inference_flops(dims: &[usize], b: usize) -> u64 {
    let macs: usize = dims.windows(2).map(|w| w[0] * w[1]).sum();
    (2 * macs * b) as u64
}

// ---------------------------------------------------------------------------------------
// W1 baseline: straightforward Rust on plain arrays, libm's tanhf.

struct TinyRef {
    w1: [[f32; 2]; 16],
    b1: [f32; 16],
    w2: [[f32; 16]; 16],
    b2: [f32; 16],
    w3: [f32; 16],
    b3: f32,
}

impl TinyRef {
    fn from_net(net: &Tiny<f32>) -> Self {
        let p = &net.params;
        TinyRef {
            w1: std::array::from_fn(|o| std::array::from_fn(|i| p.fc1.weight[(o, i)])),
            b1: std::array::from_fn(|o| p.fc1.bias[o]),
            w2: std::array::from_fn(|o| std::array::from_fn(|i| p.fc2.weight[(o, i)])),
            b2: std::array::from_fn(|o| p.fc2.bias[o]),
            w3: std::array::from_fn(|i| p.fc3.weight[(0, i)]),
            b3: p.fc3.bias[0],
        }
    }

    fn forward(&self, x: [f32; 2]) -> f32 {
        let mut h1 = [0.0f32; 16];
        for (h, (w, b)) in h1.iter_mut().zip(self.w1.iter().zip(&self.b1)) {
            *h = libm::tanhf(b + w[0] * x[0] + w[1] * x[1]);
        }
        let mut h2 = [0.0f32; 16];
        for (h, (w, b)) in h2.iter_mut().zip(self.w2.iter().zip(&self.b2)) {
            let mut s = *b;
            for (wv, hv) in w.iter().zip(&h1) {
                s += wv * hv;
            }
            *h = libm::tanhf(s);
        }
        let mut y = self.b3;
        for (wv, hv) in self.w3.iter().zip(&h2) {
            y += wv * hv;
        }
        y
    }
}

// ---------------------------------------------------------------------------------------
// nalgebra baselines: nalgebra's own (static) products.

/// `y = relu?(W x + b)` column by column, with nalgebra's product.
fn na_affine<const I: usize, const O: usize, const B: usize>(
    w: &SMatrix<f32, O, I>,
    b: &SVector<f32, O>,
    x: &SMatrix<f32, I, B>,
    y: &mut SMatrix<f32, O, B>,
    relu: bool,
) {
    w.mul_to(x, y);
    for mut col in y.column_iter_mut() {
        for (v, bv) in col.iter_mut().zip(b.iter()) {
            *v += bv;
            if relu {
                *v = v.max(0.0);
            }
        }
    }
}

fn random_box<const R: usize, const C: usize>(
    rng: &mut Xoshiro128PlusPlus,
) -> Box<SMatrix<f32, R, C>> {
    let mut m = zeroed_box::<SMatrix<f32, R, C>>();
    m.iter_mut().for_each(|v| *v = rng.random::<f32>());
    m
}
fn w1_cases(rng: &mut Xoshiro128PlusPlus) -> Vec<Case> {
    let flops = inference_flops(&[2, 16, 16, 1], 1);
    let net = Tiny::<f32>::new(rng);
    let reference = TinyRef::from_net(&net);
    // The inference twin of W1 trained with dropout, with W1's parameters: the same
    // operations, so the same bits as W1.
    // (Its own generator, so that W2's draws stay those of earlier sessions.)
    let mut trained = TinyTrained::<f32>::new(&mut Xoshiro128PlusPlus::seed_from_u64(20));
    trained.params.fc1 = net.params.fc1;
    trained.params.fc2 = net.params.fc2;
    trained.params.fc3 = net.params.fc3;
    let twin = trained.to_inference();
    let x = SVector::<f32, 2>::new(0.3, -0.7);
    let (ours, theirs) = (net.predict(&x)[0], reference.forward([x[0], x[1]]));
    assert!(
        (ours - theirs).abs() <= 1e-5 * (1.0 + theirs.abs()),
        "W1 mismatch: {ours} vs {theirs}"
    );
    let twins = twin.predict(&x)[0];
    assert!(
        twins.to_bits() == ours.to_bits(),
        "W1 inference twin: {twins} vs {ours}"
    );
    vec![
        Case::new(
            "W1 2-16-16-1 tanh B=1",
            "staticnn",
            flops,
            Some("arrays+libm"),
            move || {
                black_box(net.predict(black_box(&x)));
            },
        ),
        Case::new(
            "W1 2-16-16-1 tanh B=1",
            "staticnn inference",
            flops,
            Some("arrays+libm"),
            move || {
                black_box(twin.predict(black_box(&x)));
            },
        ),
        Case::new(
            "W1 2-16-16-1 tanh B=1",
            "arrays+libm",
            flops,
            None,
            move || {
                black_box(reference.forward(black_box([x[0], x[1]])));
            },
        ),
    ]
}

fn w2_cases<const B: usize>(group: &'static str, rng: &mut Xoshiro128PlusPlus) -> Vec<Case> {
    let flops = inference_flops(&[64, 64, 64, 10], B);
    let net = Box::new(W2::<f32>::new(rng));
    let x = random_box::<64, B>(rng);
    let x2 = x.clone();
    let p = net.params;
    let baseline = move || {
        let mut h1 = SMatrix::<f32, 64, B>::zeros();
        let mut h2 = SMatrix::<f32, 64, B>::zeros();
        let mut y = SMatrix::<f32, 10, B>::zeros();
        na_affine(&p.fc1.weight, &p.fc1.bias, black_box(&*x2), &mut h1, true);
        na_affine(&p.fc2.weight, &p.fc2.bias, &h1, &mut h2, true);
        na_affine(&p.fc3.weight, &p.fc3.bias, &h2, &mut y, false);
        y
    };
    let (ours, theirs) = (net.forward(&x), baseline());
    assert!(
        (ours - theirs).amax() <= 1e-4,
        "W2 mismatch: {}",
        (ours - theirs).amax()
    );
    vec![
        Case::new(group, "staticnn", flops, Some("nalgebra"), move || {
            black_box(net.forward(black_box(&*x)));
        }),
        Case::new(group, "nalgebra", flops, None, move || {
            black_box(baseline());
        }),
    ]
}

/// W1's train-mode forward (`forward_train`, what a training step runs first) on `B`
/// samples, against the arrays+libm eval forward of one sample: tiny batches of a small
/// network, issue #20's second round.
/// (Its own generator, so that the other workloads' draws stay those of earlier sessions.)
fn w1_train_cases<const B: usize>(group: &'static str) -> Vec<Case> {
    let flops = inference_flops(&[2, 16, 16, 1], B);
    let mut net = Box::new(Tiny::<f32>::new(&mut Xoshiro128PlusPlus::seed_from_u64(21)));
    let x = SMatrix::<f32, 2, B>::from_fn(|r, c| ((r * 7 + c * 3) % 11) as f32 / 4.0 - 1.2);
    let mut tape = zeroed_box::<<Tiny<f32> as Network<f32, 2, 1>>::Tape<B>>();
    let mut draws = Xoshiro128PlusPlus::seed_from_u64(B as u64);
    let eval = net.forward(&x);
    let train = *net.forward_train(&x, &mut tape, &mut draws);
    assert!(eval == train, "W1 forward_train differs from forward");
    vec![Case::new(
        group,
        "staticnn",
        flops,
        Some("W1 2-16-16-1 tanh B=1/arrays+libm"),
        move || {
            black_box(net.forward_train(black_box(&x), &mut tape, &mut draws));
        },
    )]
}
