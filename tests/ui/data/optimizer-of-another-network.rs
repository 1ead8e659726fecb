use staticnn::prelude::*;
use staticnn::rand::{SeedableRng, rngs::Xoshiro128PlusPlus};

network! {
    struct NetA {
        input: 4,
        Linear(8),
        ReLU,
        Linear(3),
        loss: SoftmaxCrossEntropy,
    }
}

network! {
    struct NetB {
        input: 4,
        Linear(3),
        loss: SoftmaxCrossEntropy,
    }
}

fn main() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(1);
    let mut net = NetB::<f32>::new(&mut rng);
    let mut adam: Adam<f32, NetAParams<f32>> = Adam::new(0.01);
    let x = SMatrix::<f32, 4, 2>::zeros();
    let y = [ClassIndex::new(0).unwrap(); 2];
    let mut tape = NetB::<f32>::tape::<2>();
    let mut grads = NetB::<f32>::gradients();
    let _ = net.train_step(&x, &y, &mut grads, &mut tape, &mut adam, &mut rng);
}
