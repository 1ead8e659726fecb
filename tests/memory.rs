//! The memory every network needs, known at compile time: parameters, gradients, optimiser
//! state, the training tape for a batch and eval-mode scratch, for the two networks of the
//! performance issue, W3 (784-128-64-10, ReLU) and W4 (784-128(BN, ReLU, dropout 0.5)-64(BN,
//! ReLU)-10).
//!
//! Every figure is derived here by hand from the layer widths, not from the macro's formulas,
//! and checked both in `const` items (the build fails when one is wrong) and in ordinary
//! assertions (so that the test run reports them). The heap side (zero heap operations in
//! inference and in a train step of W3 and W4) is in `tests/no_alloc.rs`.

use staticnn::optim::Velocity;
use staticnn::prelude::*;

#[path = "common/workloads.rs"]
mod workloads;
use workloads::*;

/// Bytes of an `f32`.
const F32: usize = 4;
/// Bytes of an `f64`.
const F64: usize = 8;
/// The benchmarks' batch.
const B: usize = 64;

/// Scalars of a parameter or state block holding `n`: on x86-64 the blocks are padded to
/// whole 64-byte lines, a multiple of 16 scalars (see `staticnn::block`); elsewhere exact.
const fn padded(n: usize) -> usize {
    if cfg!(target_arch = "x86_64") {
        n.next_multiple_of(16)
    } else {
        n
    }
}

// --- W3 -----------------------------------------------------------------------------------

/// Weights and biases of the three linear layers.
const W3_SCALARS: usize = (784 * 128 + 128) + (128 * 64 + 64) + (64 * 10 + 10);
/// Tape: every layer's output for the batch (Linear 128, ReLU 128, Linear 64, ReLU 64,
/// Linear 10), then backward's two gradient buffers of the widest layer (128 rows). Linear
/// and ReLU save nothing else.
const W3_TAPE_SCALARS: usize = (128 + 128 + 64 + 64 + 10) * B + 2 * 128 * B;
/// Scratch rows: each `Linear` and the `ReLU` after it are one step of `forward` (the ReLU
/// applied as the product is stored), so the first step writes 128 rows (it reads the
/// caller's input), the second reads 128 and writes 64, the last reads 64 (it writes the
/// returned matrix). The largest is the second step's.
const W3_SCRATCH_ROWS: usize = 128 + 64;

const _: () = assert!(W3_SCALARS == 109_386);
const _: () = assert!(W3::<f32>::PARAMS == W3_SCALARS);
#[cfg(target_arch = "x86_64")]
const _: () = assert!(W3::<f32>::PARAM_BYTES == 437_568);
#[cfg(not(target_arch = "x86_64"))]
const _: () = assert!(W3::<f32>::PARAM_BYTES == 437_544);
const _: () = assert!(W3::<f64>::PARAM_BYTES == padded(W3_SCALARS) * F64);
const _: () = assert!(W3::<f32>::BLOB_BYTES == staticnn::io::HEADER_BYTES + W3_SCALARS * F32);
const _: () = assert!(W3::<f32>::STATE_BYTES == 0);
const _: () = assert!(W3::<f32>::tape_bytes::<B>() == 166_400);
const _: () = assert!(W3::<f32>::tape_bytes::<B>() == W3_TAPE_SCALARS * F32);
const _: () = assert!(W3::<f32>::SCRATCH == W3_SCRATCH_ROWS);
const _: () = assert!(W3::<f32>::scratch_bytes::<1>() == 768);
const _: () = assert!(W3::<f32>::scratch_bytes::<B>() == W3_SCRATCH_ROWS * B * F32);
// Optimiser state: SGD with momentum keeps one velocity block, Adam two moment blocks,
// plain SGD nothing.
const _: () = assert!(
    <Sgd<f32, Velocity<W3Params<f32>>> as Optimizer<f32, W3Params<f32>>>::STATE_BYTES
        == padded(W3_SCALARS) * F32
);
const _: () = assert!(
    <Adam<f32, W3Params<f32>> as Optimizer<f32, W3Params<f32>>>::STATE_BYTES
        == 2 * padded(W3_SCALARS) * F32
);
const _: () = assert!(<Sgd<f32> as Optimizer<f32, W3Params<f32>>>::STATE_BYTES == 0);

// --- W4 -----------------------------------------------------------------------------------

/// The linear layers of W3, plus `γ` and `β` of the two batch norms (128 and 64 features).
const W4_SCALARS: usize = W3_SCALARS + 2 * 128 + 2 * 64;
/// Running mean and variance of the two batch norms.
const W4_STATE_SCALARS: usize = 2 * 128 + 2 * 64;
/// Tape: the outputs (Linear 128, BatchNorm 128, ReLU 128, Dropout 128, Linear 64,
/// BatchNorm 64, ReLU 64, Linear 10); each batch norm's `x̂` (features × batch) and `1/σ`
/// (one per feature); the dropout mask (128 × batch); backward's two buffers of 128 rows.
const W4_TAPE_SCALARS: usize =
    (4 * 128 + 3 * 64 + 10) * B + (128 * B + 128) + (64 * B + 64) + 128 * B + 2 * 128 * B;
/// Scratch rows: the layers at width 128 after the first (batch norm with the ReLU after
/// it as one step, dropout) each read 128 and write 128.
const W4_SCRATCH_ROWS: usize = 128 + 128;

const _: () = assert!(W4_SCALARS == 109_770);
const _: () = assert!(W4::<f32>::PARAMS == W4_SCALARS);
#[cfg(target_arch = "x86_64")]
const _: () = assert!(W4::<f32>::PARAM_BYTES == 439_104);
#[cfg(not(target_arch = "x86_64"))]
const _: () = assert!(W4::<f32>::PARAM_BYTES == 439_080);
const _: () = assert!(W4::<f32>::PARAM_BYTES == padded(W4_SCALARS) * F32);
const _: () = assert!(W4::<f32>::STATE_BYTES == padded(W4_STATE_SCALARS) * F32);
const _: () = assert!(W4::<f32>::STATE_BYTES == 1536);
const _: () = assert!(W4::<f32>::tape_bytes::<B>() == 331_008);
const _: () = assert!(W4::<f32>::tape_bytes::<B>() == W4_TAPE_SCALARS * F32);
const _: () = assert!(W4::<f32>::SCRATCH == W4_SCRATCH_ROWS);
const _: () = assert!(W4::<f32>::scratch_bytes::<B>() == W4_SCRATCH_ROWS * B * F32);
const _: () = assert!(
    <Adam<f32, W4Params<f32>> as Optimizer<f32, W4Params<f32>>>::STATE_BYTES
        == 2 * padded(W4_SCALARS) * F32
);
const _: () = assert!(
    <AdamW<f32, W4Params<f32>> as Optimizer<f32, W4Params<f32>>>::STATE_BYTES
        == 2 * padded(W4_SCALARS) * F32
);
const _: () = assert!(
    <RmsProp<f32, W4Params<f32>> as Optimizer<f32, W4Params<f32>>>::STATE_BYTES
        == 3 * padded(W4_SCALARS) * F32
);

// The inference form of W4 (batch norms folded into the linear layers, dropout removed) is
// W3's shape: W3's parameters, no state, W3's scratch.
const _: () = assert!(W4Inference::<f32>::PARAMS == W3_SCALARS);
const _: () = assert!(W4Inference::<f32>::STATE_BYTES == 0);
const _: () = assert!(W4Inference::<f32>::scratch_bytes::<1>() == W3_SCRATCH_ROWS * F32);

/// Zeroed networks, gradients and tapes are `const`: statics need no `unsafe`.
static W3_NET: W3<f32> = W3::zeroed();
static W4_GRADS: W4Params<f32> = W4Params::zeroed();
static W4_STATE: W4State<f32> = W4State::zeroed();
static W3_TAPE: W3Tape<f32, 2> = W3Tape::zeroed();

#[test]
fn sizes_are_the_hand_derived_ones() {
    // The same figures as the `const` assertions, reported by the test run.
    let cases = [
        (
            "W3 parameters",
            W3::<f32>::PARAM_BYTES,
            padded(W3_SCALARS) * F32,
        ),
        (
            "W3 gradients",
            size_of::<W3Params<f32>>(),
            padded(W3_SCALARS) * F32,
        ),
        (
            "W3 SGD momentum",
            <Sgd<f32, Velocity<W3Params<f32>>> as Optimizer<f32, W3Params<f32>>>::STATE_BYTES,
            padded(W3_SCALARS) * F32,
        ),
        (
            "W3 Adam",
            <Adam<f32, W3Params<f32>> as Optimizer<f32, W3Params<f32>>>::STATE_BYTES,
            2 * padded(W3_SCALARS) * F32,
        ),
        ("W3 tape (B = 64)", W3::<f32>::tape_bytes::<64>(), 166_400),
        ("W3 scratch (B = 1)", W3::<f32>::scratch_bytes::<1>(), 768),
        (
            "W3 scratch (B = 64)",
            W3::<f32>::scratch_bytes::<64>(),
            49_152,
        ),
        (
            "W4 parameters",
            W4::<f32>::PARAM_BYTES,
            padded(W4_SCALARS) * F32,
        ),
        ("W4 state", W4::<f32>::STATE_BYTES, 1536),
        (
            "W4 Adam",
            <Adam<f32, W4Params<f32>> as Optimizer<f32, W4Params<f32>>>::STATE_BYTES,
            2 * padded(W4_SCALARS) * F32,
        ),
        ("W4 tape (B = 64)", W4::<f32>::tape_bytes::<64>(), 331_008),
        (
            "W4 scratch (B = 64)",
            W4::<f32>::scratch_bytes::<64>(),
            65_536,
        ),
    ];
    for (what, got, want) in cases {
        assert_eq!(got, want, "{what}");
    }
}

#[test]
fn optimiser_values_hold_their_state_and_a_little_configuration() {
    // The whole optimiser value is its state plus configuration and counters: at most two
    // cache lines more (the state blocks are aligned to lines on x86-64, which rounds the
    // value up to whole lines).
    let adam = size_of::<Adam<f32, W4Params<f32>>>();
    let state = <Adam<f32, W4Params<f32>> as Optimizer<f32, W4Params<f32>>>::STATE_BYTES;
    assert!(adam >= state && adam - state <= 128, "{adam} vs {state}");
    let sgd = size_of::<Sgd<f32, Velocity<W3Params<f32>>>>();
    assert!(
        sgd >= padded(W3_SCALARS) * F32 && sgd - padded(W3_SCALARS) * F32 <= 128,
        "{sgd}"
    );
}

#[test]
fn summary_reports_the_scratch() {
    let text = W3::<f32>::zeroed().summary().to_string();
    assert!(
        text.contains("inference scratch per sample: 768 bytes"),
        "{text}"
    );
    assert!(text.contains("train tape per sample: "), "{text}");
    let w4 = W4::<f32>::zeroed().summary().to_string();
    assert!(w4.contains("state: 1536 bytes"), "{w4}");
}

#[test]
fn const_zeroed_values_are_all_zero() {
    assert!(
        staticnn::block::as_slice::<f32, _>(&W3_NET.params)
            .iter()
            .all(|&v| v == 0.0)
    );
    assert!(
        staticnn::block::as_slice::<f32, _>(&W4_GRADS)
            .iter()
            .all(|&v| v == 0.0)
    );
    assert!(
        staticnn::block::as_slice::<f32, _>(&W4_STATE)
            .iter()
            .all(|&v| v == 0.0)
    );
    assert!(W3_TAPE.layer4.iter().all(|&v| v == 0.0));
}

/// Scratch layout: an eval-mode forward through the one scratch buffer gives the network
/// output a train-mode forward computes layer by layer into the tape (no dropout or batch
/// norm in W3, so both modes are the same function), for odd and even layer counts.
#[test]
fn forward_through_one_scratch_buffer_matches_the_tape() {
    use staticnn::rand::SeedableRng;
    use staticnn::rand::rngs::Xoshiro128PlusPlus;

    network! {
        struct Even {
            input: 3,
            Linear(5),
            Tanh,
            Linear(2),
            Sigmoid,
            loss: Mse,
        }
    }
    network! {
        struct One {
            input: 3,
            Linear(2),
            loss: Mse,
        }
    }
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(3);
    let x = SMatrix::<f64, 3, 4>::from_fn(|i, j| (i as f64 - 1.0) * 0.7 + j as f64 * 0.3);

    let mut even = Even::<f64>::new(&mut rng);
    let mut tape = Even::<f64>::tape::<4>();
    let train = *even.forward_train(&x, &mut tape, &mut rng);
    assert_eq!(even.forward(&x), train);
    assert_eq!(Even::<f64>::SCRATCH, 5 + 5);

    let mut one = One::<f64>::new(&mut rng);
    let mut tape = One::<f64>::tape::<4>();
    let train = *one.forward_train(&x, &mut tape, &mut rng);
    assert_eq!(one.forward(&x), train);
    assert_eq!(One::<f64>::scratch_bytes::<4>(), 0);

    let mut w3 = W3::<f64>::new(&mut rng);
    let mut tape = W3::<f64>::tape::<2>();
    let x = SMatrix::<f64, 784, 2>::from_fn(|i, j| ((i * 7 + j * 3) % 11) as f64 / 11.0 - 0.5);
    let train = *w3.forward_train(&x, &mut tape, &mut rng);
    assert_eq!(w3.forward(&x), train);
}

/// The blocks' padding to whole cache lines (x86-64): aligned blocks, a padding nobody
/// trains, which backward zeroes, and blobs without it.
// Boxes W4, its gradients, tape and Adam: needs `alloc` (the other tests run without it).
#[cfg(feature = "alloc")]
#[test]
fn padding_is_aligned_zero_and_not_stored() {
    use staticnn::block;
    use staticnn::rand::SeedableRng;
    use staticnn::rand::rngs::Xoshiro128PlusPlus;

    type P = W4Params<f32>;
    let pad = <P as staticnn::ParamBlock<f32>>::PADDING;
    if cfg!(target_arch = "x86_64") {
        assert_eq!(align_of::<P>(), 64);
        assert_eq!(align_of::<W4State<f32>>(), 64);
        assert_eq!(align_of::<W3Tape<f32, 2>>(), 64);
        assert_eq!(pad, padded(W4_SCALARS) - W4_SCALARS);
        assert!(pad > 0, "W4's 109 770 scalars leave a partial line");
    } else {
        assert_eq!(pad, 0);
    }
    assert_eq!(block::len::<f32, P>(), W4_SCALARS + pad);

    let mut rng = Xoshiro128PlusPlus::seed_from_u64(3);
    let mut net = W4::<f32>::new_boxed(&mut rng);
    let x = SMatrix::<f32, 784, 4>::from_fn(|r, c| ((r * 7 + c * 3) % 11) as f32 / 11.0);
    let target: [ClassIndex<10>; 4] = core::array::from_fn(|b| ClassIndex::new(b * 3).unwrap());
    let mut grads = block::zeroed_box::<P>();
    // Whatever the gradient block held, the padding comes back zero; Adam leaves the
    // parameters' padding alone (a NaN there would otherwise spread to nothing, but a
    // whole-block norm would see it).
    block::as_mut_slice::<f32, _>(&mut *grads).fill(f32::NAN);
    let mut tape = block::zeroed_box::<W4Tape<f32, 4>>();
    let mut adam = Adam::<f32, P>::boxed(1e-3, Default::default());
    for _ in 0..3 {
        net.train_step(&x, &target, &mut grads, &mut tape, &mut *adam, &mut rng)
            .unwrap();
    }
    let tail = |b: &P| block::as_slice::<f32, _>(b)[W4_SCALARS..].to_vec();
    assert!(
        tail(&grads).iter().all(|&v| v.to_bits() == 0),
        "{:?}",
        tail(&grads)
    );
    assert!(tail(&net.params).iter().all(|&v| v.to_bits() == 0));
    // Optimisers and clipping do not read the padding, whatever it holds.
    block::as_mut_slice::<f32, _>(&mut *grads)[W4_SCALARS..].fill(f32::NAN);
    Sgd::new(0.1f32).step(&mut net.params, &*grads);
    adam.step(&mut net.params, &*grads);
    assert!(tail(&net.params).iter().all(|&v| v.to_bits() == 0));
    assert!(staticnn::optim::grad_norm::<f32, P>(&grads).is_finite());

    // A blob holds the described scalars only, the same on every target.
    let mut blob = vec![0u8; W4::<f32>::BLOB_BYTES];
    let n = staticnn::io::to_bytes(&*net, &mut blob).unwrap();
    assert_eq!(
        n,
        staticnn::io::HEADER_BYTES + (W4_SCALARS + W4_STATE_SCALARS) * F32
    );
    let mut back = W4::<f32>::zeroed();
    staticnn::io::from_bytes(&mut back, &blob).unwrap();
    assert_eq!(back, *net);
}

/// The padding is nobody's: `Debug` shows the layers' blocks only.
#[test]
fn debug_shows_the_layers_not_the_padding() {
    network! { struct Tiny { input: 2, first: Linear(3), Tanh, last: Linear(1) } }
    let text = format!("{:?}", TinyParams::<f32>::zeroed());
    assert!(text.starts_with("TinyParams { first: "), "{text}");
    assert!(text.contains("last: ") && !text.contains("pad"), "{text}");
    assert_eq!(
        format!("{:?}", TinyState::<f32>::zeroed())
            .matches("()")
            .count(),
        3
    );
}
