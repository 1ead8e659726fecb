use staticnn::prelude::*;
use staticnn::rand::{SeedableRng, rngs::Xoshiro128PlusPlus};

network! {
    struct Digits {
        input: 64,
        Linear(32),
        ReLU,
        Linear(10),
        loss: SoftmaxCrossEntropy,
    }
}

fn main() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(1);
    let mut net = Digits::<f32>::new(&mut rng);
    let x = SMatrix::<f32, 63, 2>::zeros();
    let labels = [ClassIndex::new(0).unwrap(); 2];
    let mut tape = Digits::<f32>::tape::<2>();
    let mut grads = Digits::<f32>::gradients();
    let mut sgd = Sgd::new(0.1);
    let _ = net.train_step(&x, &labels, &mut grads, &mut tape, &mut sgd, &mut rng);
}
