//! 01 — XOR: the smallest problem a linear model cannot solve.
//!
//! A 2-8-1 tanh network learns exclusive-or with plain SGD and binary cross-entropy, then
//! classifies all four inputs correctly. Run it with `cargo run --example xor`.

use staticnn::network::TrainError;
use staticnn::prelude::*;
use staticnn::rand::SeedableRng;
use staticnn::rand::rngs::Xoshiro128PlusPlus;

network! {
    /// Learns exclusive-or.
    pub struct Xor {
        input: 2,
        hidden: Linear(2 -> 8, init = xavier_uniform),
        Tanh,
        out: Linear(1),
        loss: BceWithLogits,
    }
}

fn main() -> Result<(), TrainError> {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(1);
    let mut net = Xor::<f32>::new(&mut rng);
    println!("{}\n", net.summary());

    // The four cases, one per column, and their targets.
    let x = SMatrix::<f32, 2, 4>::from_column_slice(&[0., 0., 0., 1., 1., 0., 1., 1.]);
    let t = SMatrix::<f32, 1, 4>::from_column_slice(&[0., 1., 1., 0.]);

    let mut tape = Xor::<f32>::tape::<4>();
    let mut grads = Xor::<f32>::gradients();
    let mut sgd = Sgd::new(0.5);
    for step in 0..=2000 {
        let loss = net.train_step(&x, &t, &mut grads, &mut tape, &mut sgd, &mut rng)?;
        if step % 400 == 0 {
            println!("step {step:>4}: loss {loss:.5}");
        }
    }

    let y = net.forward(&x);
    let mut correct = 0;
    for case in 0..4 {
        let predicted = u8::from(y[case] > 0.0);
        let expected = t[case] as u8;
        correct += usize::from(predicted == expected);
        println!(
            "{} xor {} = {predicted} (logit {:+.3})",
            x[(0, case)],
            x[(1, case)],
            y[case]
        );
    }
    println!("accuracy: {correct}/4");
    assert_eq!(correct, 4, "XOR was not learned");
    Ok(())
}
