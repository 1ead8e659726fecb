use staticnn::prelude::*;
use staticnn::rand::{SeedableRng, rngs::Xoshiro128PlusPlus};

network! {
    struct Regressor {
        input: 4,
        Linear(8),
        Tanh,
        Linear(2),
        loss: Mse,
    }
}

fn main() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(1);
    let mut net = Regressor::<f32>::new(&mut rng);
    let x = SMatrix::<f32, 4, 5>::zeros();
    let target = SMatrix::<f32, 3, 5>::zeros();
    let mut tape = Regressor::<f32>::tape::<5>();
    let mut grads = Regressor::<f32>::gradients();
    let mut sgd = Sgd::new(0.1);
    let _ = net.train_step(&x, &target, &mut grads, &mut tape, &mut sgd, &mut rng);
}
