use staticnn::prelude::*;
use staticnn::rand::{SeedableRng, rngs::Xoshiro128PlusPlus};

network! {
    struct Net {
        input: 4,
        Linear(8),
        BatchNorm,
        ReLU,
        Linear(3),
    }
}

fn main() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(1);
    let mut net = Net::<f32>::new(&mut rng);
    let mut tape = Net::<f32>::tape::<1>();
    let x = SMatrix::<f32, 4, 1>::zeros();
    let _ = net.forward_train(&x, &mut tape, &mut rng);
}
