//! An MNIST-sized network (784-256-128-10, about 235 000 parameters) lives, trains and runs
//! inside a test thread's default 2 MiB stack, even unoptimised.
//!
//! The network (0.9 MiB), its gradients (0.9 MiB), its training tape for 64 samples
//! (0.3 MiB) and the input batch (0.2 MiB) together exceed the stack, so each is built zeroed
//! on the heap and never passes through the stack. What remains on the stack is the eval
//! forward's scratch, two 256 × 64 buffers (128 KiB), and `train_step`'s 10 × 64 output
//! gradient; unoptimised code keeps a few temporary copies besides, and the whole test was
//! measured to need about 0.6 MiB of stack at `opt-level = 0` (0.2 MiB at `opt-level = 1`).
//!
//! Needs the `alloc` feature (`cargo test --all-features`).
#![cfg(feature = "alloc")]

use staticnn::block::zeroed_box;
use staticnn::prelude::*;
use staticnn::rand::rngs::Xoshiro128PlusPlus;
use staticnn::rand::{RngExt, SeedableRng};

network! {
    /// A multilayer perceptron for 28 × 28 images in ten classes.
    struct Mnist {
        input: 784,
        Linear(256),
        ReLU,
        Linear(128),
        ReLU,
        Linear(10),
        loss: SoftmaxCrossEntropy,
    }
}

/// Samples per batch.
const B: usize = 64;

type Tape = <Mnist as Network<f32, 784, 10>>::Tape<B>;
type Params = <Mnist as Network<f32, 784, 10>>::Params;

#[test]
fn mnist_sized_network_trains_on_the_default_test_stack() {
    // Everything large is built zeroed on the heap.
    const { assert!(size_of::<Mnist>() > 900 * 1024) };
    const { assert!(size_of::<Tape>() > 256 * 1024) };
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(784);
    let mut net = Mnist::new_boxed(&mut rng);
    let mut grads = zeroed_box::<Params>();
    let mut tape = zeroed_box::<Tape>();
    let mut x = zeroed_box::<SMatrix<f32, 784, B>>();
    x.iter_mut().for_each(|v| *v = rng.random::<f32>());
    let t: [ClassIndex<10>; B] =
        std::array::from_fn(|b| ClassIndex::new(b % 10).expect("below 10"));
    let mut sgd = Sgd::new(0.05f32);

    assert_eq!(
        Mnist::<f32>::PARAMS,
        784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10
    );
    let before = net.loss(&x, &t);
    assert!(before.is_finite(), "initial loss {before}");

    let mut losses = [0.0f32; 5];
    for l in &mut losses {
        *l = net
            .train_step(&x, &t, &mut grads, &mut tape, &mut sgd, &mut rng)
            .expect("finite step");
    }
    // The first step reports the loss before any update, which eval mode must match.
    assert!(
        (losses[0] - before).abs() < 1e-4,
        "train-mode loss {} vs eval loss {before}",
        losses[0]
    );

    let after = net.loss(&x, &t);
    assert!(after.is_finite(), "final loss {after}");
    assert!(losses.iter().all(|l| l.is_finite()), "losses {losses:?}");
    assert!(
        after < before,
        "loss did not decrease: {before} -> {after} (steps {losses:?})"
    );
    assert!(
        losses.windows(2).all(|w| w[1] < w[0]),
        "loss rose during training: {losses:?}"
    );

    // Inference on the whole batch; its scratch lives on the stack.
    let y = net.forward(&x);
    assert!(y.iter().all(|v| v.is_finite()));
    let predicted = net.classify(&x);
    assert!(predicted.iter().all(|&k| k < 10));
}
