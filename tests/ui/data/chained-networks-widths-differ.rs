use staticnn::prelude::*;
use staticnn::rand::{SeedableRng, rngs::Xoshiro128PlusPlus};

network! {
    struct Encoder {
        input: 4,
        Linear(8),
        Tanh,
    }
}

network! {
    struct Head {
        input: 6,
        Linear(2),
    }
}

fn main() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(1);
    let encoder = Encoder::<f32>::new(&mut rng);
    let head = Head::<f32>::new(&mut rng);
    let x = SMatrix::<f32, 4, 1>::zeros();
    let _ = head.forward(&encoder.forward(&x));
}
