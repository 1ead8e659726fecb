//! Residual blocks: `Residual(...)` in `network!`, with and without a projection, nested,
//! first and last in a network.
//!
//! - Gradients against f64 central finite differences of `J = ⟨c, y⟩` over a batch of
//!   three, through train-mode forward (batch norm with batch statistics) and `backward`:
//!   every parameter and the input, with the criterion of `tests/conv_gradcheck.rs`. The
//!   layers are smooth (`Tanh`, not `ReLU`), so no kink lies between the two evaluations.
//! - Eval-mode `forward` (scratch slots) against the train-mode forward (the tape) where the
//!   two agree, and small blocks against the sum written out by hand.
//! - The layer table, the summary, the weight-file keys, the inference form's folding.

use staticnn::block;
use staticnn::prelude::*;
use staticnn::rand::{RngExt, SeedableRng, rngs::Xoshiro128PlusPlus};

const STEP: f64 = 1e-5;
const TOL: f64 = 1e-6;
const FLOOR: f64 = 1e-2;
const B: usize = 3;

network! {
    /// A block without projection between two layers.
    struct Identity {
        input: [2, 5, 5],
        Conv2d(3, kernel = 3, padding = 1),
        Residual(
            Conv2d(3, kernel = 3, padding = 1),
            BatchNorm,
            Tanh,
            Conv2d(3, kernel = 3, padding = 1),
            BatchNorm,
        ),
        Tanh,
        GlobalAvgPool,
        Flatten,
        Linear(4),
    }
}

network! {
    /// A block with a strided projection, first in the network (so the input gradient sums
    /// both paths into the caller's `dx`).
    struct Projected {
        input: [2, 6, 6],
        Residual(
            Conv2d(4, kernel = 3, stride = 2, padding = 1),
            BatchNorm,
            Tanh,
            Conv2d(4, kernel = 3, padding = 1);
            projection = Conv2d(4, kernel = 1, stride = 2), BatchNorm
        ),
        Tanh,
        Flatten,
        Linear(3),
    }
}

network! {
    /// Flat features, a block nested in a block, a `Linear` projection, and a block last.
    struct Nested {
        input: 6,
        Residual(Linear(6), Tanh, Residual(Linear(6), Tanh), Linear(6)),
        Residual(Linear(4), Tanh; projection = Linear(4)),
        Residual(Tanh, Linear(4)),
    }
}

/// `J = ⟨c, y⟩` of a train-mode forward of a copy of `net`.
fn objective<N: Network<f64, I, O> + Copy, const I: usize, const O: usize>(
    net: &N,
    x: &SMatrix<f64, I, B>,
    c: &SMatrix<f64, O, B>,
) -> f64 {
    let mut net = *net;
    let mut tape = block::zeroed_box::<N::Tape<B>>();
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(0);
    let y = net.forward_train(x, &mut tape, &mut rng);
    y.component_mul(c).sum()
}

/// Checks every parameter gradient and the input gradient of `net` at `x`.
fn check<N: Network<f64, I, O> + Copy, const I: usize, const O: usize>(name: &str, seed: u64) {
    let rng = &mut Xoshiro128PlusPlus::seed_from_u64(seed);
    let mut net = N::new(rng);
    for v in block::as_mut_slice::<f64, _>(net.params_mut()) {
        *v += rng.random_range(-0.3..0.3);
    }
    let x = SMatrix::<f64, I, B>::from_fn(|_, _| rng.random_range(-2.0..2.0));
    let c = SMatrix::<f64, O, B>::from_fn(|_, _| rng.random_range(-1.0..1.0));

    let mut copy = net;
    let mut tape = block::zeroed_box::<N::Tape<B>>();
    let mut r0 = Xoshiro128PlusPlus::seed_from_u64(0);
    copy.forward_train(&x, &mut tape, &mut r0);
    let mut g = block::zeroed_box::<N::Params>();
    block::as_mut_slice::<f64, _>(&mut *g).fill(1.0);
    let mut dx = SMatrix::<f64, I, B>::from_element(f64::NAN);
    copy.backward(&x, &mut tape, &c, &mut g, Some(&mut dx));

    let mut worst = (0.0, String::new());
    let mut compare = |what: String, num: f64, ana: f64| {
        let e = (num - ana).abs() / (num.abs() + ana.abs()).max(FLOOR);
        if e > worst.0 || e.is_nan() {
            worst = (e, format!("{what}: numerical {num:e}, analytic {ana:e}"));
        }
    };
    let n: usize = N::LAYERS.iter().map(|l| l.params).sum();
    for i in 0..n {
        let (mut plus, mut minus) = (net, net);
        block::as_mut_slice::<f64, _>(plus.params_mut())[i] += STEP;
        block::as_mut_slice::<f64, _>(minus.params_mut())[i] -= STEP;
        let num = (objective(&plus, &x, &c) - objective(&minus, &x, &c)) / (2.0 * STEP);
        compare(
            format!("parameter {i}"),
            num,
            block::as_slice::<f64, _>(&*g)[i] - 1.0,
        );
    }
    for i in 0..I * B {
        let (mut plus, mut minus) = (x, x);
        plus[i] += STEP;
        minus[i] -= STEP;
        let num = (objective(&net, &plus, &c) - objective(&net, &minus, &c)) / (2.0 * STEP);
        compare(format!("input {i}"), num, dx[i]);
    }
    assert!(worst.0 <= TOL, "{name}: worst {worst:?}");
    println!(
        "{name}: {n} parameters, {} inputs, worst {:.1e}",
        I * B,
        worst.0
    );
}

#[test]
fn gradients_without_projection() {
    check::<Identity<f64>, 50, 4>("identity block", 1);
}

#[test]
fn gradients_with_projection() {
    check::<Projected<f64>, 72, 3>("projected block, first layer", 2);
}

#[test]
fn gradients_nested_and_last() {
    check::<Nested<f64>, 6, 4>("nested blocks, block last", 3);
}

network! {
    /// `x + W·x + b`, and a projected block `(W₁·h + b₁) + (W₂·h + b₂)`.
    struct Small {
        input: 3,
        Residual(Linear(3)),
        Residual(Linear(2); projection = Linear(2)),
    }
}

#[test]
fn forward_is_the_sum_written_out() {
    let rng = &mut Xoshiro128PlusPlus::seed_from_u64(4);
    let net = Small::<f64>::new(rng);
    let x = SMatrix::<f64, 3, 2>::from_fn(|_, _| rng.random_range(-1.0..1.0));
    let p = &net.params;
    let h = x + p.layer0_body0.weight * x + p.layer0_body0.bias * SMatrix::<f64, 1, 2>::repeat(1.0);
    let ones = SMatrix::<f64, 1, 2>::repeat(1.0);
    let expected = p.layer1_body0.weight * h
        + p.layer1_body0.bias * ones
        + p.layer1_projection0.weight * h
        + p.layer1_projection0.bias * ones;
    let y = net.forward(&x);
    assert!((y - expected).abs().max() < 1e-14, "{y} vs {expected}");
    // The train-mode forward (values in the tape) gives the same bits.
    let mut tape = Small::<f64>::tape::<2>();
    let mut copy = net;
    let t = *copy.forward_train(&x, &mut tape, rng);
    assert_eq!(t, y);
    assert_eq!(tape.layer0, h);
}

#[test]
fn eval_forward_matches_train_forward_without_batch_statistics() {
    // `Nested` has no batch norm or dropout: its eval-mode forward (scratch slots) and its
    // train-mode forward (the tape) compute the same thing, bit for bit.
    let rng = &mut Xoshiro128PlusPlus::seed_from_u64(5);
    let mut net = Nested::<f64>::new(rng);
    let x = SMatrix::<f64, 6, 5>::from_fn(|_, _| rng.random_range(-2.0..2.0));
    let y = net.forward(&x);
    let mut tape = Nested::<f64>::tape::<5>();
    assert_eq!(*net.forward_train(&x, &mut tape, rng), y);
    // With batch norm, the eval forward after a train forward equals the inference form's.
    let mut net = Identity::<f64>::new(rng);
    let x = SMatrix::<f64, 50, 4>::from_fn(|_, _| rng.random_range(-2.0..2.0));
    let mut tape = Identity::<f64>::tape::<4>();
    net.forward_train(&x, &mut tape, rng);
    let folded = net.to_inference();
    let (a, b) = (net.forward(&x), folded.forward(&x));
    assert!((a - b).abs().max() < 1e-12, "{a} vs {b}");
}

network! {
    /// A batch norm first in a block's body, after a convolution outside it, and one right
    /// after a block: neither may be folded (the convolution's output also feeds the skip
    /// path; the block's output is a sum); the one inside the body after a convolution is.
    struct Boundaries {
        input: [1, 4, 4],
        Conv2d(2, kernel = 3, padding = 1),
        Residual(BatchNorm, Conv2d(2, kernel = 3, padding = 1), BatchNorm),
        BatchNorm,
        Flatten,
        Linear(2),
    }
}

#[test]
fn inference_form_folds_within_a_sequence_only() {
    let rng = &mut Xoshiro128PlusPlus::seed_from_u64(6);
    let mut net = Boundaries::<f64>::new(rng);
    let x = SMatrix::<f64, 16, 3>::from_fn(|_, _| rng.random_range(-2.0..2.0));
    let mut tape = Boundaries::<f64>::tape::<3>();
    for _ in 0..3 {
        net.forward_train(&x, &mut tape, rng);
    }
    let folded = net.to_inference();
    let (a, b) = (net.forward(&x), folded.forward(&x));
    assert!((a - b).abs().max() < 1e-12, "{a} vs {b}");
    let kinds: Vec<(&str, &str)> = <BoundariesInference<f64> as Network<f64, 16, 2>>::LAYERS
        .iter()
        .map(|l| (l.path, l.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            ("0", "Conv2d"),
            ("1", "Residual"),
            ("1.body.0", "BatchNorm"),
            ("1.body.1", "Conv2d"),
            ("2", "BatchNorm"),
            ("3", "Flatten"),
            ("4", "Linear"),
        ]
    );
}

#[test]
fn layer_table_summary_and_weight_keys() {
    use staticnn::io::{Naming, tensors};
    let layers = <Projected<f32> as Network<f32, 72, 3>>::LAYERS;
    type Row = (
        &'static str,
        &'static str,
        &'static str,
        &'static [usize],
        &'static [usize],
    );
    let rows: Vec<Row> = layers
        .iter()
        .map(|l| (l.name, l.path, l.kind, l.in_shape, l.out_shape))
        .collect();
    assert_eq!(
        rows[0],
        ("layer0", "0", "Residual", &[2, 6, 6][..], &[4, 3, 3][..])
    );
    assert_eq!(
        rows[5],
        (
            "layer0.projection.0",
            "0.projection.0",
            "Conv2d",
            &[2, 6, 6][..],
            &[4, 3, 3][..]
        )
    );
    assert_eq!(
        rows[7],
        ("layer1", "1", "Tanh", &[4, 3, 3][..], &[4, 3, 3][..])
    );
    let summary = Projected::<f32>::zeroed().summary().to_string();
    assert!(summary.contains("layer0.body.3"), "{summary}");
    assert!(summary.contains("layer0.projection.1"), "{summary}");
    // The eval-mode scratch is the slots' (the layer table alone does not tell it), in the
    // summary of the network and of its inference form.
    let scratch = format!(
        "inference scratch per sample: {} bytes",
        Projected::<f32>::SCRATCH * 4
    );
    assert!(summary.contains(&scratch), "{summary}");
    assert_eq!(Projected::<f32>::SCRATCH % Projected::<f32>::WIDEST, 0);
    let deployed = Projected::<f32>::zeroed()
        .to_inference()
        .summary()
        .to_string();
    let scratch = format!(
        "inference scratch per sample: {} bytes",
        ProjectedInference::<f32>::SCRATCH * 4
    );
    assert!(deployed.contains(&scratch), "{deployed}");
    let keys: Vec<String> = tensors(layers, Naming::Sequential)
        .map(|t| t.to_string())
        .collect();
    assert_eq!(&keys[..2], ["0.body.0.weight", "0.body.0.bias"]);
    assert!(keys.contains(&"0.projection.1.running_var".to_string()));
    assert_eq!(&keys[keys.len() - 2..], ["3.weight", "3.bias"]);

    network! {
        struct NamedBlock { input: 4, res: Residual(Linear(4), Tanh; projection = Linear(4)), out: Linear(2) }
    }
    let named: Vec<String> = tensors(
        <NamedBlock<f32> as Network<f32, 4, 2>>::LAYERS,
        Naming::Names,
    )
    .map(|t| t.to_string())
    .collect();
    assert_eq!(
        named,
        [
            "res.body.0.weight",
            "res.body.0.bias",
            "res.projection.0.weight",
            "res.projection.0.bias",
            "out.weight",
            "out.bias"
        ]
    );
    // The fields of the blocks: the header's output, then its layers.
    let net = NamedBlock::<f32>::zeroed();
    let _: &SMatrix<f32, 4, 4> = &net.params.res_body0.weight;
    let _: &SMatrix<f32, 4, 4> = &net.params.res_projection0.weight;
}

network! {
    /// The same layers as `BodyOnly` with the last one as the projection.
    struct WithProjection { input: 4, Residual(Linear(4); projection = Linear(4)) }
}
network! {
    struct BodyOnly { input: 4, Residual(Linear(4), Linear(4)) }
}

#[test]
fn fingerprints_tell_body_from_projection() {
    assert_ne!(
        WithProjection::<f32>::FINGERPRINT,
        BodyOnly::<f32>::FINGERPRINT
    );
    let mut bytes = vec![0u8; WithProjection::<f32>::BLOB_BYTES];
    let rng = &mut Xoshiro128PlusPlus::seed_from_u64(7);
    let net = WithProjection::<f32>::new(rng);
    staticnn::io::to_bytes(&net, &mut bytes).expect("room for the blob");
    let mut other = BodyOnly::<f32>::zeroed();
    assert!(staticnn::io::from_bytes(&mut other, &bytes).is_err());
    let mut same = WithProjection::<f32>::zeroed();
    staticnn::io::from_bytes(&mut same, &bytes).expect("its own blob");
    assert_eq!(same, net);
}

#[test]
fn sizes_count_every_layer_of_a_block() {
    // Parameters and FLOPs: the layers', plus one addition per output of each block.
    assert_eq!(Nested::<f32>::PARAMS, 42 * 3 + 28 * 2 + 20);
    assert_eq!(Nested::<f32>::FLOPS, 444);
    let segments: usize = <NestedParams<f32> as staticnn::ParamBlock<f32>>::segments()
        .map(|(_, s)| s.len)
        .sum();
    assert_eq!(segments, Nested::<f32>::PARAMS);
    // The tape holds every layer's output, the blocks' sums included.
    let outputs = 6 * 7 + 4 * 4 + 4 * 3;
    assert!(Nested::<f32>::tape_bytes::<1>() >= outputs * 4);
}

#[test]
fn every_parameter_trains() {
    // One SGD step with weight decay moves every weight of every block.
    let rng = &mut Xoshiro128PlusPlus::seed_from_u64(8);
    let mut net = Nested::<f64>::new(rng);
    let before = net;
    let x = SMatrix::<f64, 6, 4>::from_fn(|_, _| rng.random_range(-1.0..1.0));
    let target = SMatrix::<f64, 4, 4>::from_fn(|_, _| rng.random_range(-1.0..1.0));
    network! { struct NestedMse { input: 6,
        Residual(Linear(6), Tanh, Residual(Linear(6), Tanh), Linear(6)),
        Residual(Linear(4), Tanh; projection = Linear(4)),
        Residual(Tanh, Linear(4)),
        loss: Mse,
    } }
    let mut trained = NestedMse::<f64>::zeroed();
    trained.params = bytemuck::cast(net.params);
    let mut opt = Sgd::new(0.1);
    let mut grads = NestedMse::<f64>::gradients();
    let mut tape = NestedMse::<f64>::tape::<4>();
    trained
        .train_step(&x, &target, &mut grads, &mut tape, &mut opt, rng)
        .expect("a finite step");
    net.params = bytemuck::cast(trained.params);
    let (a, b) = (
        block::as_slice::<f64, _>(&before.params),
        block::as_slice::<f64, _>(&net.params),
    );
    let n = Nested::<f64>::PARAMS;
    let moved = a[..n].iter().zip(&b[..n]).filter(|(x, y)| x != y).count();
    assert_eq!(moved, n);
}
