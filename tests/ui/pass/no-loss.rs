//! A network without a loss: inference, train-mode forward and backward still work.
use staticnn::prelude::*;
use staticnn::rand::{SeedableRng, rngs::Xoshiro128PlusPlus};

network! {
    struct Embed {
        input: 3,
        Linear(5),
        Softmax,
    }
}

fn main() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(4);
    let mut net = Embed::<f32>::new(&mut rng);
    let x = SMatrix::<f32, 3, 2>::zeros();
    let y = net.forward(&x);
    assert!((y.column(0).sum() - 1.0).abs() < 1e-6);
    let mut tape = Embed::<f32>::tape::<2>();
    let mut grads = Embed::<f32>::gradients();
    let dy = *net.forward_train(&x, &mut tape, &mut rng);
    net.backward(&x, &mut tape, &dy, &mut grads, None);
}
